"""Log-mel spectrogram in numpy only, plus the mel's length check shared with the torch module.

Imports numpy and the package's config only (no torch, no librosa: importing ``librosa.filters`` costs
about 2 s of numba start-up), so the ONNX runtime can compute mels from audio.

Framing (the rules live in :mod:`vocoder.dsp.framing`): ``T = L // hop`` frames; samples past ``T * hop``
are ignored, so a mel never depends on a partial last hop. "same" pads ``(n_fft - hop) // 2`` left and
the rest of ``n_fft - hop`` right; "center" pads ``n_fft // 2`` on both sides (librosa ``center=True``)
and keeps the first ``T`` frames. Frame ``t`` starts at padded sample ``t * hop``; the Hann window
(periodic, length ``win``, :func:`vocoder.dsp.windows.hann_numpy`) sits centred in ``n_fft``.

* :func:`mel_filterbank`: ``(n_mels, n_fft // 2 + 1)``, equal to ``librosa.filters.mel``.
* :func:`log_mel_numpy`: ``(L,)`` -> ``(n_mels, T)`` float32.
"""

from __future__ import annotations

import numpy as np

from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig
from vocoder.dsp.framing import align_audio, frame_pads, frames_for
from vocoder.dsp.windows import hann_numpy
from vocoder.errors import InputError

_CHUNK_FRAMES = 2048  # bounds the (frames, n_fft) float64 work array on long files


def padding_for(cfg: FeatureConfig) -> tuple[int, int]:
    """(left, right) samples added before framing an aligned signal of ``T * hop`` samples."""
    return frame_pads(cfg.n_fft, cfg.hop, cfg.padding)


def check_length(num_samples: int, cfg: FeatureConfig) -> int:
    """Frames ``T`` for an input of ``num_samples``; InputError when there is none or reflection can't pad."""
    frames = frames_for(num_samples, cfg.hop)
    if frames == 0:
        raise InputError(f"waveform of {num_samples} samples is shorter than one hop ({cfg.hop} samples)")
    widest = max(padding_for(cfg))
    if cfg.pad_mode == "reflect" and widest >= frames * cfg.hop:
        raise InputError(
            f"waveform of {num_samples} samples is too short for {cfg.padding!r} reflect padding "
            f"of {widest} samples (need at least {(widest // cfg.hop + 1) * cfg.hop})"
        )
    return frames


def hann_window(cfg: FeatureConfig) -> np.ndarray:
    """The mel's periodic Hann window ``(n_fft,)`` float64: length ``win``, zero-padded to ``n_fft``, centred."""
    return hann_numpy(cfg.win, cfg.n_fft)


def _hz_to_mel(hz: np.ndarray, scale: str) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    # Slaney (Auditory Toolbox): linear below 1 kHz, logarithmic above
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    mel = hz / f_sp
    above = hz >= min_log_hz
    return np.where(above, min_log_mel + np.log(np.maximum(hz, min_log_hz) / min_log_hz) / logstep, mel)


def _mel_to_hz(mel: np.ndarray, scale: str) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    above = mel >= min_log_mel
    return np.where(above, min_log_hz * np.exp(logstep * (np.maximum(mel, min_log_mel) - min_log_mel)), f_sp * mel)


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)`` float64, the same numbers as
    ``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=mel_scale == "htk", norm=mel_norm)``."""
    fmax = cfg.sample_rate / 2 if cfg.fmax is None else cfg.fmax
    fft_hz = np.arange(cfg.n_fft // 2 + 1) * (cfg.sample_rate / cfg.n_fft)  # rfft bin centres, odd n_fft too
    lo, hi = _hz_to_mel(np.array([cfg.fmin, fmax]), cfg.mel_scale)
    edges_hz = _mel_to_hz(np.linspace(lo, hi, cfg.n_mels + 2), cfg.mel_scale)
    widths = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if cfg.mel_norm == "slaney":
        # equal area per filter, so a flat spectrum gives a flat mel
        weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return weights


def log_mel_numpy(wav: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Log-mel ``(n_mels, T)`` float32 of a mono ``(L,)`` signal, ``T = L // hop``; computed in float64.

    Same numbers as :class:`vocoder.audio.mel.MelSpectrogram` (to float32 rounding).
    """
    cfg = resolve_features(cfg)
    x = np.asarray(wav)
    if x.ndim != 1:
        raise InputError(f"log_mel_numpy expects a mono (L,) waveform, got shape {tuple(x.shape)}")
    if not np.issubdtype(x.dtype, np.floating):
        raise InputError(f"log_mel_numpy expects a float waveform, got dtype {x.dtype}")
    frames = check_length(x.shape[0], cfg)
    if not np.isfinite(x).all():
        raise InputError("log_mel_numpy: waveform contains NaN or Inf")
    x = align_audio(x.astype(np.float64), cfg.hop)
    mode = "reflect" if cfg.pad_mode == "reflect" else "constant"
    x = np.pad(x, padding_for(cfg), mode=mode)
    window = hann_window(cfg)
    basis = mel_filterbank(cfg)
    view = np.lib.stride_tricks.sliding_window_view(x, cfg.n_fft)[:: cfg.hop][:frames]
    mel = np.empty((cfg.n_mels, frames))
    for start in range(0, frames, _CHUNK_FRAMES):
        spec = np.fft.rfft(view[start : start + _CHUNK_FRAMES] * window, axis=-1)
        power = spec.real**2 + spec.imag**2
        mag = power if cfg.power == 2.0 else np.sqrt(power)
        mel[:, start : start + _CHUNK_FRAMES] = basis @ mag.T
    mel = np.maximum(mel, cfg.clamp)
    mel = np.log(mel) if cfg.log == "ln" else np.log10(mel)
    if cfg.mean is not None:
        mel = (mel - np.asarray(cfg.mean)[:, None]) / np.asarray(cfg.std)[:, None]
    return mel.astype(np.float32)
