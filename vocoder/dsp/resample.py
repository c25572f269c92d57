"""Rate changes by a factor of 2 with a zero-phase Kaiser-windowed sinc half-band FIR, in plain torch.

`Upsample2x` maps ``(B, 1, L) -> (B, 1, 2L)`` and `Downsample2x` maps ``(B, 1, L) -> (B, 1, L // 2)``.
Both are fixed ``conv1d`` filters held in non-persistent buffers (no parameters, nothing in a
state dict), so gradients flow to the input, the modules follow ``.to(device)``, and no scipy or
torchaudio is needed. Edges are zero-padded, so the first and last ``half_width`` input samples see
a truncated filter.

Filter: the half-band prototype ``h[m] = 0.5 * sinc(m / 2) * kaiser(m)`` for ``|m| < 2 * half_width``
(cut-off at half the higher rate's Nyquist); its even taps are zero except ``h[0] = 0.5``. With
the defaults (``half_width=32``, ``beta=8``) the gain is within 1e-3 of 1 up to 0.46 * fs_low and
images/aliases stay below 1e-4 (-80 dB) from 0.54 * fs_low on, fs_low being the lower of the two rates.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vocoder.errors import ConfigError, InputError


def halfband_interpolation_taps(half_width: int = 32, beta: float = 8.0) -> Tensor:
    """Taps ``g``, shape ``(2 * half_width,)``: ``x[n + 1/2] ~ sum_j g[j] x[n - half_width + 1 + j]``.

    They are the odd-indexed taps of the half-band prototype (times 2), scaled so they sum to exactly 1
    (unit gain at DC). float64.
    """
    if half_width < 1:
        raise ConfigError(f"half-band filter half_width must be >= 1, got {half_width}")
    if beta < 0:
        raise ConfigError(f"half-band filter Kaiser beta must be >= 0, got {beta}")
    j = torch.arange(-(half_width - 1), half_width + 1, dtype=torch.float64)
    m = 2.0 * j - 1.0  # position of the tap on the higher-rate grid
    arg = (1.0 - (m / (2.0 * half_width)) ** 2).clamp_min(0.0)
    window = torch.special.i0(beta * arg.sqrt()) / torch.special.i0(torch.tensor(beta, dtype=torch.float64))
    taps = torch.sinc(j - 0.5) * window
    return taps / taps.sum()


def halfband_lowpass(half_width: int = 32, beta: float = 8.0) -> Tensor:
    """The zero-phase half-band low-pass prototype, shape ``(4 * half_width - 1,)``, DC gain 1, float64."""
    odd = halfband_interpolation_taps(half_width, beta) / 2.0
    h = torch.zeros(4 * half_width - 1, dtype=torch.float64)
    h[0::2] = odd  # odd offsets m = -(2hw-1), ..., 2hw-1 sit at the even indices
    h[2 * half_width - 1] = 0.5  # centre tap (m = 0)
    return h


def _check_wave(x: Tensor, who: str) -> None:
    if x.dim() != 3 or x.shape[1] != 1:
        raise InputError(f"{who} expects a waveform of shape (B, 1, L), got {tuple(x.shape)}")


class Upsample2x(nn.Module):
    """Band-limited 2x upsampler ``(B, 1, L) -> (B, 1, 2L)``.

    Polyphase form of zero-stuffing followed by the half-band low-pass (gain 2): even output samples are
    the input samples themselves, odd ones are the half-sample interpolation ``conv1d(x, g)``. Zero
    phase: output sample ``2n`` is input sample ``n``.
    """

    def __init__(self, half_width: int = 32, beta: float = 8.0) -> None:
        super().__init__()
        self.half_width = half_width
        taps = halfband_interpolation_taps(half_width, beta).to(torch.float32)
        self.register_buffer("taps", taps.view(1, 1, -1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        _check_wave(x, "Upsample2x")
        hw = self.half_width
        odd = F.conv1d(F.pad(x, (hw - 1, hw)), self.taps.to(x.dtype))
        return torch.stack((x, odd), dim=-1).reshape(x.shape[0], 1, 2 * x.shape[-1])


class Downsample2x(nn.Module):
    """Anti-aliased 2x decimator ``(B, 1, L) -> (B, 1, L // 2)``; output ``n`` is centred on input ``2n``.

    The half-band low-pass runs with stride 2 and the result is cut to exactly ``L // 2`` samples (floor),
    so hops that are divisible by 2 keep frame counts equal across decimations; ``L`` may be 0 or 1.
    """

    def __init__(self, half_width: int = 32, beta: float = 8.0) -> None:
        super().__init__()
        self.half_width = half_width
        h = halfband_lowpass(half_width, beta).to(torch.float32)
        self.register_buffer("taps", h.view(1, 1, -1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        _check_wave(x, "Downsample2x")
        pad = 2 * self.half_width - 1
        # One extra zero on the right so even an empty input yields a (discarded) output sample.
        y = F.conv1d(F.pad(x, (pad, pad + 1)), self.taps.to(x.dtype), stride=2)
        return y[..., : x.shape[-1] // 2]
