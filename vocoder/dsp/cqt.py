"""Multi-rate constant-Q transform (the CQT2010 scheme) as fixed ``conv1d`` filters in torch.

Input ``(B, 1, L)`` or ``(B, L)``; output ``(B, 2, n_bins, T)`` with channel 0 the real part and
channel 1 the imaginary part, bins from low to high frequency, and ``T = L // hop_length + 1``.
Frame ``t`` is centred on sample ``t * hop_length`` (the signal is zero-padded at both ends).

How: complex kernels are built only for the top octave. Each lower octave reuses them on the signal
low-passed and decimated by 2 once more, with the hop halved, so every octave yields the same ``T``
frames; hence ``hop_length`` must be divisible by ``2 ** (n_octaves - 1)``. The kernels follow
nnAudio's ``CQT2010v2``: ``Q = filter_scale / (2 ** (1 / bins_per_octave) - 1)``, a bin at ``f`` has
``ceil(Q * sr / f)`` taps of a Hann window times ``exp(2j * pi * f * tau / sr)``, L1-normalised. With
``normalize=True`` (nnAudio's ``normalization_type="librosa"``) every bin is then scaled by
``sqrt(ceil(Q * sample_rate / f))``, so magnitudes are comparable with nnAudio's and librosa's.
A sine of amplitude ``a`` at a bin's centre gives ``|X| = a / 2`` before that scaling.

Differences from nnAudio (magnitudes agree to a correlation above 0.99): a zero-phase odd-length
Kaiser half-band decimator instead of a 256-tap ``firwin2`` one (which shifts each octave by half a
sample), no early downsampling, and constant (zero) padding only. Kernels are built once in
``__init__`` with torch and kept in non-persistent buffers; the transform has no parameters and
gradients flow to the input.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vocoder.dsp.resample import Downsample2x
from vocoder.errors import ConfigError, InputError

DEFAULT_FMIN = 32.70  # C1, nnAudio's default


def cqt_top_frequency(fmin: float, n_octaves: int, bins_per_octave: int) -> float:
    """Centre frequency in Hz of the highest bin of an ``n_octaves * bins_per_octave`` CQT."""
    return fmin * 2.0 ** ((n_octaves * bins_per_octave - 1) / bins_per_octave)


def max_cqt_octaves(sample_rate: float, fmin: float, bins_per_octave: int) -> int:
    """The largest number of whole octaves whose top bin is at or below the Nyquist ``sample_rate / 2``."""
    n = 0
    while cqt_top_frequency(fmin, n + 1, bins_per_octave) <= sample_rate / 2:
        n += 1
    return n


class ConstantQTransform(nn.Module):
    """CQT2010-style transform ``(B, 1, L) -> (B, 2, n_bins, T)``, real part in channel 0, imaginary in 1.

    ``n_bins = n_octaves * bins_per_octave``, bin ``k`` at ``fmin * 2 ** (k / bins_per_octave)`` Hz,
    ``T = L // hop_length + 1``. See the module docstring for the scheme and the normalisation.
    """

    def __init__(
        self,
        sample_rate: int,
        hop_length: int = 512,
        fmin: float = DEFAULT_FMIN,
        n_octaves: int = 7,
        bins_per_octave: int = 12,
        filter_scale: float = 1.0,
        normalize: bool = True,
        decimation_half_width: int = 32,
    ) -> None:
        super().__init__()
        for name, value in (
            ("sample_rate", sample_rate),
            ("hop_length", hop_length),
            ("n_octaves", n_octaves),
            ("bins_per_octave", bins_per_octave),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"CQT {name} must be a positive integer, got {value!r}")
        if not fmin > 0:
            raise ConfigError(f"CQT fmin must be > 0 Hz, got {fmin}")
        if not filter_scale > 0:
            raise ConfigError(f"CQT filter_scale must be > 0, got {filter_scale}")
        top = cqt_top_frequency(fmin, n_octaves, bins_per_octave)
        if top > sample_rate / 2:
            raise ConfigError(
                f"CQT top bin {top:.1f} Hz is above the Nyquist frequency {sample_rate / 2:g} Hz of "
                f"sample_rate {sample_rate} (fmin {fmin} Hz, {n_octaves} octaves of {bins_per_octave} bins); "
                f"use at most {max_cqt_octaves(sample_rate, fmin, bins_per_octave)} octaves or a lower fmin"
            )
        step = 2 ** (n_octaves - 1)
        if hop_length % step:
            raise ConfigError(
                f"CQT hop_length {hop_length} is not divisible by 2**(n_octaves-1) = {step} "
                f"(n_octaves {n_octaves}): each lower octave halves the hop"
            )

        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.fmin = float(fmin)
        self.n_octaves = n_octaves
        self.bins_per_octave = bins_per_octave
        self.n_bins = n_octaves * bins_per_octave
        self.filter_scale = float(filter_scale)
        self.normalize = normalize
        q = filter_scale / (2.0 ** (1.0 / bins_per_octave) - 1.0)

        # Top-octave kernels at the full rate, bin k placed so that tap index `center` is tau = 0.
        bins = torch.arange(self.n_bins, dtype=torch.float64)
        freqs = self.fmin * 2.0 ** (bins / bins_per_octave)
        top_freqs = freqs[-bins_per_octave:]
        lengths = torch.ceil(q * sample_rate / top_freqs).long()
        center = (int(lengths.max()) + 1) // 2
        n_taps = 2 * center
        real = torch.zeros(bins_per_octave, n_taps, dtype=torch.float64)
        imag = torch.zeros(bins_per_octave, n_taps, dtype=torch.float64)
        for k, (f, n) in enumerate(zip(top_freqs.tolist(), lengths.tolist())):
            tau = torch.arange(n, dtype=torch.float64) - n // 2
            window = 0.5 + 0.5 * torch.cos(2.0 * math.pi * tau / n)  # periodic Hann, peak at tau = 0
            window = window / window.sum()  # L1 norm of the complex kernel = 1
            phase = 2.0 * math.pi * f * tau / sample_rate
            start = center - n // 2
            real[k, start : start + n] = window * torch.cos(phase)
            # Correlating with the conjugate kernel: X = sum x[tau] w[tau] exp(-i w tau).
            imag[k, start : start + n] = -window * torch.sin(phase)
        kernels = torch.cat((real, imag), dim=0).unsqueeze(1).to(torch.float32)
        self.register_buffer("kernels", kernels, persistent=False)  # (2 * bins_per_octave, 1, n_taps)
        self.kernel_center = center

        if normalize:
            scale = torch.sqrt(torch.ceil(q * sample_rate / freqs))
        else:
            scale = torch.ones(self.n_bins, dtype=torch.float64)
        self.register_buffer("scale", scale.to(torch.float32).view(1, 1, -1, 1), persistent=False)
        self.register_buffer("frequencies", freqs.to(torch.float32), persistent=False)
        self.downsample = Downsample2x(half_width=decimation_half_width)

    def n_frames(self, length: int) -> int:
        """Frames produced for ``length`` input samples: ``length // hop_length + 1``."""
        return length // self.hop_length + 1

    def _octave(self, x: Tensor, hop: int) -> Tensor:
        c = self.kernel_center
        y = F.conv1d(F.pad(x, (c, c)), self.kernels.to(x.dtype), stride=hop)  # (B, 2 * bpo, T)
        return y.view(x.shape[0], 2, self.bins_per_octave, -1)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 1, L)`` or ``(B, L)`` waveform -> ``(B, 2, n_bins, T)`` (real, imag)."""
        if x.dim() == 2:
            x = x.unsqueeze(1)
        if x.dim() != 3 or x.shape[1] != 1:
            raise InputError(
                f"ConstantQTransform expects a waveform (B, 1, L) or (B, L), got {tuple(x.shape)}"
            )
        hop = self.hop_length
        octaves = [self._octave(x, hop)]
        for _ in range(self.n_octaves - 1):
            x = self.downsample(x)
            hop //= 2
            octaves.append(self._octave(x, hop))
        out = torch.cat(octaves[::-1], dim=2)  # lowest octave first
        return out * self.scale.to(out.dtype)

    def magnitude(self, x: Tensor, eps: float = 1e-12) -> Tensor:
        """``(B, n_bins, T)`` magnitude; ``eps`` under the square root keeps the gradient finite at 0."""
        z = self.forward(x)
        return torch.sqrt(z[:, 0] ** 2 + z[:, 1] ** 2 + eps)
