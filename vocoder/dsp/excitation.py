"""Excitation signals made from frame-rate F0: the PCPH harmonic prior of Wavehax and a plain sine source.

Both modules map F0 ``(B, T)`` (or ``(B, 1, T)``) in Hz, <= 0 = unvoiced, to a waveform ``(B, 1, T * hop)``
float32. F0 is upsampled by nearest repetition: frame ``t`` covers samples ``[t * hop, (t + 1) * hop)``.

Inputs that are random by default can be given instead:

* ``noise`` ``(B, 1, T * hop)``: standard Gaussian noise, scaled inside by ``noise_amplitude``;
* ``phase`` ``(B, 1)``: the phase of the first sample, in cycles (any real; taken modulo 1).

With both given the output is deterministic. Nothing depends on the data for its shape (the harmonic
count is fixed by the config, there is no ``.item()``), so the modules trace and export to ONNX with
dynamic batch and time.

Phase: sample ``n`` has phase ``phase + sum_{j < n} f0[j] / sr`` cycles. The per-frame increments
``f0 * hop / sr`` are reduced modulo 1 and summed in float64 over frames (only ``T`` values, and ONNX
CumSum takes double in onnxruntime), so there is no float32 drift over long inputs; only the ramp inside
a frame (at most ``hop`` samples) is float32. ``end_phase`` returns the phase after the last sample, so
chunked synthesis continues the waveform seamlessly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from vocoder.errors import ConfigError, InputError


def _as_frames(f0: Tensor) -> Tensor:
    """F0 ``(B, T)`` or ``(B, 1, T)`` -> ``(B, T)`` with unvoiced (<= 0) frames set to 0."""
    if not torch.jit.is_tracing():
        if f0.dim() == 3 and f0.shape[1] != 1:
            raise InputError(f"f0: expected shape (B, T) or (B, 1, T), got {tuple(f0.shape)}")
        if f0.dim() not in (2, 3):
            raise InputError(f"f0: expected shape (B, T) or (B, 1, T), got {tuple(f0.shape)}")
        if not f0.is_floating_point():
            raise InputError(f"f0: expected a floating-point tensor, got {f0.dtype}")
    if f0.dim() == 3:
        f0 = f0.squeeze(1)
    return torch.clamp(f0, min=0.0)


def _frame_start_phase(f0: Tensor, hop: int, sample_rate: int, phase: Tensor) -> Tensor:
    """Phase at the first sample of each frame, float64 ``(B, T)`` in ``[0, 1)``.

    ``f0`` is ``(B, T)`` with unvoiced frames at 0, ``phase`` ``(B, 1)`` in cycles.
    """
    inc = f0.double() * (hop / sample_rate)
    # Whole cycles change nothing; dropping them keeps the running sum below T so float64 stays exact.
    inc = inc - torch.floor(inc)
    start = torch.cumsum(inc, dim=1) - inc + phase.double()
    return start - torch.floor(start)


def sample_phase(f0: Tensor, hop: int, sample_rate: int, phase: Tensor) -> Tensor:
    """Phase of every sample in cycles, wrapped to ``[-0.5, 0.5]``: ``(B, T)`` F0 -> ``(B, T, hop)``.

    Reshape to ``(B, T * hop)`` for the sample sequence. ``phase`` ``(B, 1)`` is the phase of sample 0.
    """
    f0 = _as_frames(f0)
    start = _frame_start_phase(f0, hop, sample_rate, phase).to(f0.dtype)
    ramp = torch.arange(hop, dtype=f0.dtype, device=f0.device)
    phi = start.unsqueeze(-1) + (f0 / sample_rate).unsqueeze(-1) * ramp
    # Centred on 0 so that sin(pi * phi), the Dirichlet-kernel denominator, is accurate near whole cycles.
    return phi - torch.round(phi)


class _Excitation(nn.Module):
    """Shared input handling: shapes, noise and start phase, and the phase carried between chunks."""

    def __init__(self, sample_rate: int, hop: int, f0_floor: float, max_freq: float | None,
                 noise_amplitude: float) -> None:
        super().__init__()
        name = type(self).__name__
        if sample_rate <= 0 or hop <= 0:
            raise ConfigError(f"{name}: sample_rate and hop must be positive, got {sample_rate} and {hop}")
        if f0_floor <= 0:
            raise ConfigError(f"{name}: f0_floor must be positive, got {f0_floor}")
        if max_freq is not None and max_freq <= 0:
            raise ConfigError(f"{name}: max_freq must be positive or None, got {max_freq}")
        if noise_amplitude < 0:
            raise ConfigError(f"{name}: noise_amplitude must be >= 0, got {noise_amplitude}")
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self.f0_floor = float(f0_floor)
        self.max_freq = float(max_freq) if max_freq is not None else sample_rate / 2
        self.noise_amplitude = float(noise_amplitude)

    def _inputs(self, f0: Tensor, noise: Tensor | None, phase: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """Validate, and draw what is missing: returns ``f0 (B, T)``, ``noise (B, 1, T * hop)``, ``phase (B, 1)``."""
        f0 = _as_frames(f0)
        batch, frames = f0.shape
        if noise is None:
            noise = torch.randn(batch, 1, frames * self.hop, dtype=f0.dtype, device=f0.device)
        elif not torch.jit.is_tracing() and tuple(noise.shape) != (batch, 1, frames * self.hop):
            raise InputError(f"noise: expected shape {(batch, 1, frames * self.hop)}, got {tuple(noise.shape)}")
        if phase is None:
            phase = torch.rand(batch, 1, dtype=f0.dtype, device=f0.device)
        elif not torch.jit.is_tracing() and tuple(phase.shape) != (batch, 1):
            raise InputError(f"phase: expected shape {(batch, 1)}, got {tuple(phase.shape)}")
        return f0, noise, phase

    def end_phase(self, f0: Tensor, phase: Tensor | None = None) -> Tensor:
        """Phase after the last sample, float64 ``(B, 1)`` in ``[0, 1)``, to start the next chunk with.

        ``prior(f0[:, :a], phase=p)`` followed by ``prior(f0[:, a:], phase=end_phase(f0[:, :a], p))``
        equals ``prior(f0, phase=p)``. It is float64 so carrying it over many chunks loses nothing;
        ``forward`` takes float32 or float64. ``phase`` None means 0.
        """
        f0 = _as_frames(f0)
        if phase is None:
            phase = torch.zeros(f0.shape[0], 1, dtype=torch.float64, device=f0.device)
        inc = f0.double() * (self.hop / self.sample_rate)
        end = phase.double() + torch.sum(inc - torch.floor(inc), dim=1, keepdim=True)
        return end - torch.floor(end)


class PCPHPrior(_Excitation):
    """Pseudo-constant-power harmonics (Wavehax): ``sum_k a * sin(2 pi k phi)`` plus Gaussian noise.

    ``f0 (B, T)`` Hz -> ``(B, 1, T * hop)``. Every harmonic ``k`` of a voiced frame with ``k * f0 < sr / 2``
    and ``k <= num_harmonics`` gets the same amplitude ``a = power_factor * sqrt(2 / N_h)``, where
    ``N_h = (sr / 2) / f0``, so the harmonic power ``~ power_factor ** 2`` whatever the F0 (flat
    envelope). ``num_harmonics = int(max_freq // f0_floor)`` is fixed; as in Wavehax, ``max_freq`` only
    sets this count, so it binds for F0 below ``f0_floor`` and the Nyquist mask binds above it.
    Unvoiced frames carry only ``noise_amplitude * noise``.

    Equal amplitudes over a prefix of harmonics make the sum a Dirichlet kernel,
    ``sin(pi M phi) sin(pi (M + 1) phi) / sin(pi phi)`` with ``M`` the per-frame harmonic count, so the
    cost and memory are O(B * T * hop) instead of O(B * K * T * hop) for the explicit sum.
    """

    def __init__(self, sample_rate: int, hop: int, f0_floor: float = 60.0, max_freq: float | None = None,
                 power_factor: float = 0.1, noise_amplitude: float = 0.01) -> None:
        super().__init__(sample_rate, hop, f0_floor, max_freq, noise_amplitude)
        self.power_factor = float(power_factor)
        self.num_harmonics = int(self.max_freq // self.f0_floor)
        if self.num_harmonics < 1:
            raise ConfigError(
                f"PCPHPrior: max_freq {self.max_freq} // f0_floor {self.f0_floor} gives no harmonic"
            )

    def forward(self, f0: Tensor, noise: Tensor | None = None, phase: Tensor | None = None) -> Tensor:
        f0, noise, phase = self._inputs(f0, noise, phase)
        psi = sample_phase(f0, self.hop, self.sample_rate, phase)  # (B, T, hop)
        half = self.sample_rate / 2
        # a = pf * sqrt(2 / N_h) = pf * sqrt(2 f0 / (sr / 2)): zero for unvoiced frames with no division.
        amp = self.power_factor * torch.sqrt(f0 * (2.0 / half))
        # Harmonics strictly below Nyquist; unvoiced frames get the cap K but have amplitude 0.
        count = torch.ceil(half / torch.clamp(f0, min=1e-3)) - 1.0
        # Per-frame values are (B, T, 1) so they broadcast over the hop samples of each frame.
        count = torch.clamp(count, min=0.0, max=float(self.num_harmonics)).unsqueeze(-1)
        x = math.pi * psi
        den = torch.sin(x)
        # At phi = 0 the numerator is 0 too and the limit is 0: dividing by 1 there gives it.
        den = torch.where(den == 0.0, torch.ones_like(den), den)
        harmonics = torch.sin(count * x) * torch.sin((count + 1.0) * x) / den
        out = amp.unsqueeze(-1) * harmonics
        return out.flatten(1).unsqueeze(1) + self.noise_amplitude * noise


class SineSource(_Excitation):
    """A sine at F0 plus Gaussian noise (the NSF / Parallel WaveGAN style source; Wavehax's "sine").

    ``f0 (B, T)`` Hz -> ``(B, 1, T * hop)`` = ``amplitude * sin(2 pi phi)`` on voiced frames with
    ``f0 < min(max_freq, sr / 2)``, plus ``noise_amplitude * noise`` everywhere. Defaults 0.1 and 0.03
    follow Wavehax's sine prior. ``f0_floor`` is accepted so both sources share one constructor
    signature; a single sine needs no harmonic count.
    """

    def __init__(self, sample_rate: int, hop: int, f0_floor: float = 60.0, max_freq: float | None = None,
                 amplitude: float = 0.1, noise_amplitude: float = 0.03) -> None:
        super().__init__(sample_rate, hop, f0_floor, max_freq, noise_amplitude)
        self.amplitude = float(amplitude)

    def forward(self, f0: Tensor, noise: Tensor | None = None, phase: Tensor | None = None) -> Tensor:
        f0, noise, phase = self._inputs(f0, noise, phase)
        psi = sample_phase(f0, self.hop, self.sample_rate, phase)  # (B, T, hop)
        top = min(self.max_freq, self.sample_rate / 2)
        amp = self.amplitude * ((f0 > 0) & (f0 < top)).to(f0.dtype)
        out = amp.unsqueeze(-1) * torch.sin((2.0 * math.pi) * psi)
        return out.flatten(1).unsqueeze(1) + self.noise_amplitude * noise
