"""Log-mel spectrogram as a differentiable torch module (data features, mel losses), plus the mel API.

:class:`MelSpectrogram`: ``(B, L)`` or ``(B, 1, L)`` -> ``(B, n_mels, T)``, ``T = L // hop``. Samples past
``T * hop`` are ignored; framing, window and filterbank follow :mod:`vocoder.audio.mel_numpy`, so
:func:`log_mel_numpy` gives the same numbers without torch.

The torch-free parts live in :mod:`vocoder.audio.mel_presets` (``PRESETS``, ``resolve_features``) and
:mod:`vocoder.audio.mel_numpy` (``log_mel_numpy``, ``frames_for``, ``align_audio``, ``mel_filterbank``);
they are re-exported here. Import those modules directly where torch must not be loaded (ONNX runtime).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vocoder.audio.mel_numpy import (
    align_audio,
    check_length,
    frames_for,
    hann_window,
    log_mel_numpy,
    mel_filterbank,
    padding_for,
)
from vocoder.audio.mel_presets import PRESETS, find_preset, resolve_features
from vocoder.config import FeatureConfig
from vocoder.errors import InputError

__all__ = [
    "PRESETS",
    "MelSpectrogram",
    "align_audio",
    "find_preset",
    "frames_for",
    "log_mel_numpy",
    "mel_filterbank",
    "resolve_features",
]

# Floor under |X|^2 before the square root: keeps the gradient finite at exact zeros (sqrt'(0) = inf)
# while moving a magnitude by at most 1e-15, far below every clamp we use (>= 1e-10).
_POWER_FLOOR = 1e-30


class MelSpectrogram(nn.Module):
    """``wav (B, L) | (B, 1, L)`` -> log-mel ``(B, n_mels, T)``, ``T = L // hop``; same dtype as ``wav``.

    ``cfg`` is resolved (preset applied) and validated here. The window and filterbank are
    non-persistent buffers: they are rebuilt from the config, never read from a checkpoint.
    Precision: float32 input is exact to ~1e-7 of each frame's peak magnitude, so bins 100+ dB below the
    peak (e.g. the empty top band of upsampled audio) carry float32 FFT noise; pass float64 to get the
    same numbers as :func:`log_mel_numpy` there (on CPU it costs about the same).
    """

    window: Tensor
    mel_basis: Tensor
    mean: Tensor | None
    std: Tensor | None

    def __init__(self, cfg: FeatureConfig) -> None:
        super().__init__()
        self.cfg = resolve_features(cfg)
        self.sample_rate, self.hop, self.n_mels = self.cfg.sample_rate, self.cfg.hop, self.cfg.n_mels
        self.pad = padding_for(self.cfg)
        window, basis = torch.from_numpy(hann_window(self.cfg)), torch.from_numpy(mel_filterbank(self.cfg))
        mean = std = None
        if self.cfg.mean is not None:
            mean = torch.tensor(self.cfg.mean, dtype=torch.float64)[:, None]
            std = torch.tensor(self.cfg.std, dtype=torch.float64)[:, None]
        # float64 copies for float64 input (a float32 window alone leaks ~1e-8 of the peak into empty
        # bands); plain attributes, not buffers, so the module still moves to devices without float64 (MPS)
        self._float64 = (window, basis, mean, std)
        self.register_buffer("window", window.float(), persistent=False)
        self.register_buffer("mel_basis", basis.float(), persistent=False)
        # None registers no tensor but keeps the names as buffers, so .to() handles both cases alike
        self.register_buffer("mean", None if mean is None else mean.float(), persistent=False)
        self.register_buffer("std", None if std is None else std.float(), persistent=False)

    def forward(self, wav: Tensor) -> Tensor:
        if wav.dim() == 3:
            if wav.size(1) != 1:
                raise InputError(f"MelSpectrogram expects (B, L) or (B, 1, L), got {tuple(wav.shape)}")
            wav = wav[:, 0]
        if wav.dim() != 2:
            raise InputError(f"MelSpectrogram expects (B, L) or (B, 1, L), got {tuple(wav.shape)}")
        if not wav.is_floating_point():
            raise InputError(f"MelSpectrogram expects a float waveform, got {wav.dtype}")
        cfg = self.cfg
        frames = check_length(wav.shape[-1], cfg)
        x = F.pad(wav[:, : frames * cfg.hop].unsqueeze(1), self.pad, mode=cfg.pad_mode).squeeze(1)
        window, basis, mean, std = self.window, self.mel_basis, self.mean, self.std
        if x.dtype == torch.float64:
            window, basis, mean, std = (None if t is None else t.to(x.device) for t in self._float64)
        spec = torch.stft(
            x, cfg.n_fft, hop_length=cfg.hop, win_length=cfg.n_fft, window=window.to(x.dtype),
            center=False, return_complex=True,
        )[..., :frames]
        power = spec.real.square() + spec.imag.square()
        mag = power if cfg.power == 2.0 else power.clamp_min(_POWER_FLOOR).sqrt()
        mel = torch.matmul(basis.to(mag.dtype), mag).clamp_min(cfg.clamp)
        mel = mel.log() if cfg.log == "ln" else mel.log10()
        if mean is not None:
            mel = (mel - mean.to(mel.dtype)) / std.to(mel.dtype)
        return mel

    def extra_repr(self) -> str:
        c = self.cfg
        return (
            f"preset={c.preset}, sample_rate={c.sample_rate}, n_fft={c.n_fft}, hop={c.hop}, win={c.win}, "
            f"n_mels={c.n_mels}, padding={c.padding}, log={c.log}"
        )
