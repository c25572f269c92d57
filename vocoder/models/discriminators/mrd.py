"""UnivNet's multi-resolution discriminator: 2-D convs over linear magnitude spectrograms.

Input ``(B, 1, L)``. Per resolution ``(n_fft, hop, win)``: reflect-pad ``(n_fft - hop) // 2`` on both
sides, STFT with ``center=False``, magnitude ``(B, 1, F, T)`` with ``F = n_fft // 2 + 1`` and
``T = 1 + (L + 2 * ((n_fft - hop) // 2) - n_fft) // hop``. Axis 2 is frequency and axis 3 is time (as in
UnivNet): kernels are (3, 9) = (freq, time) and the three stride-(1, 2) convs halve time,
``T -> (T - 1) // 2 + 1``. Logits ``(B, 1, F, T_last)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from vocoder.dsp.windows import window_torch
from vocoder.errors import ConfigError
from vocoder.models.discriminators.base import Discriminator, SubOutput, conv_stack, positive_ints
from vocoder.registry import register_discriminator

WINDOWS = ("rectangular", "hann")


class ResolutionDiscriminator(nn.Module):
    """One resolution: conv (3, 9), 3 x conv (3, 9) stride (1, 2), conv (3, 3), post conv (3, 3) -> 1.

    Feature maps: the 5 conv outputs after LeakyReLU, then the logits map (as UnivNet does).
    """

    def __init__(
        self,
        n_fft: int,
        hop: int,
        win: int,
        window: str,
        channels: int,
        negative_slope: float,
        use_weight_norm: bool,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop, self.win = n_fft, hop, win
        self.pad = (n_fft - hop) // 2
        self.negative_slope = negative_slope
        # UnivNet calls torch.stft without a window, i.e. a rectangular window of ``win`` samples.
        w = torch.ones(win) if window == "rectangular" else window_torch("hann", win)
        self.register_buffer("window", w, persistent=False)
        norm = weight_norm if use_weight_norm else (lambda m: m)
        self.convs = nn.ModuleList(
            [
                norm(nn.Conv2d(1, channels, (3, 9), padding=(1, 4))),
                norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4))),
                norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4))),
                norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4))),
                norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))),
            ]
        )
        self.post = norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, 1, L)`` -> linear magnitude ``(B, 1, F, T)``."""
        x = F.pad(wav, (self.pad, self.pad), mode="reflect").squeeze(1)
        spec = torch.stft(
            x,
            self.n_fft,
            hop_length=self.hop,
            win_length=self.win,
            window=self.window,
            center=False,
            return_complex=True,
        )
        return spec.abs().unsqueeze(1)

    def forward(self, wav: torch.Tensor) -> SubOutput:
        x = self.magnitude(wav)
        return conv_stack(self.convs, self.post, x, self.negative_slope, logits_as_feature=True)


@register_discriminator("mrd")
class MultiResolutionDiscriminator(Discriminator):
    """Multi-resolution spectrogram discriminator (MRD) of UnivNet.

    Reference: Jang, Lim, Yoon, Kim, Kim, "UnivNet: A Neural Vocoder with Multi-Resolution Spectrogram
    Discriminators for High-Fidelity Waveform Generation", Interspeech 2021 (arXiv 2106.07889);
    maum-ai/univnet ``model/mrd.py`` (also used by BigVGAN-v1). Defaults: resolutions (n_fft, hop, win)
    (1024, 120, 600), (2048, 240, 1200), (512, 50, 240); 32 channels; LeakyReLU 0.2 (UnivNet's config;
    BigVGAN uses 0.1); weight norm; rectangular window (the reference passes none): 280,902 parameters.

    Output: one pair per resolution, ``(logits (B, 1, F, T_last), [5 maps (B, channels, F, T_i), logits])``.
    """

    def __init__(
        self,
        sample_rate: int,
        resolutions: Sequence[Sequence[int]] = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240)),
        channels: int = 32,
        negative_slope: float = 0.2,
        window: str = "rectangular",
        use_weight_norm: bool = True,
    ) -> None:
        super().__init__(sample_rate)
        owner = type(self).__name__
        if window not in WINDOWS:
            raise ConfigError(f"{owner}: window must be one of {', '.join(WINDOWS)}, got {window!r}")
        (channels,) = positive_ints((channels,), "channels", owner)
        res = []
        for r in resolutions:
            triple = positive_ints(r, "resolutions", owner) if isinstance(r, Sequence) else ()
            if len(triple) != 3 or triple[1] > triple[0] or triple[2] > triple[0]:
                raise ConfigError(f"{owner}: resolutions need [n_fft, hop, win] with hop, win <= n_fft, got {r!r}")
            res.append(triple)
        if not res:
            raise ConfigError(f"{owner}: resolutions must not be empty")
        self.resolutions = tuple(res)
        self.discriminators = nn.ModuleList(
            ResolutionDiscriminator(n, h, w, window, channels, float(negative_slope), use_weight_norm)
            for n, h, w in self.resolutions
        )

    def forward(self, wav: torch.Tensor) -> list[SubOutput]:
        # Reflect padding needs more samples than it adds, and every resolution needs one full frame.
        self.check_wav(wav, min_length=max(max(d.pad + 1, d.n_fft - 2 * d.pad) for d in self.discriminators))
        return [d(wav) for d in self.discriminators]
