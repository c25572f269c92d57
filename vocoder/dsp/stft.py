"""STFT and ISTFT as convolutions with fixed DFT bases, so that both export to ONNX.

ONNX has no ISTFT operator, and neither ``torch.istft`` nor ``torch.fft`` exports with the TorchScript
exporter, so both transforms are written with ``conv1d`` / ``conv_transpose1d`` and precomputed bases:

* :class:`STFT`: ``(B, L)`` or ``(B, 1, L)`` -> ``(real, imag)``, each ``(B, n_fft // 2 + 1, T)``.
* :class:`ISTFT`: ``(real, imag)``, each ``(B, n_fft // 2 + 1, T)`` -> ``(B, L)``.

Framing ("padding", the rules of :mod:`vocoder.dsp.framing`):

* ``"same"``: the signal is padded by ``(n_fft - hop) // 2`` on the left and the rest of ``n_fft - hop``
  on the right, with no centring, so ``L = T * hop`` samples give exactly ``T`` frames, and the ISTFT
  returns exactly ``T * hop`` samples (Vocos' "same" ISTFT).
* ``"center"``: as ``torch.stft(center=True)``: ``n_fft // 2`` on both sides, ``1 + L // hop`` frames
  (for even ``n_fft``; odd ``n_fft`` gives ``1 + (L - 1) // hop``, as torch does); the ISTFT returns
  ``(T - 1) * hop`` samples, as ``torch.istft(center=True, length=(T - 1) * hop)``.

The window is periodic and zero-padded centrally to ``n_fft`` when ``win_length < n_fft``, as torch does
(:func:`vocoder.dsp.windows.window_torch`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vocoder.dsp.framing import PADDINGS, frame_pads, num_frames, overlap_add_trims
from vocoder.dsp.windows import window_torch
from vocoder.errors import ConfigError, InputError

WINDOWS = ("hann", "hamming", "blackman")
PAD_MODES = ("reflect", "replicate", "constant")

# Samples whose squared-window envelope is below this are not covered by any frame; dividing by the
# clamped value keeps them finite (they are zero after overlap-add anyway).
ENVELOPE_FLOOR = 1e-11


def make_window(n_fft: int, win_length: int, window: str = "hann") -> Tensor:
    """Periodic analysis window ``(n_fft,)`` in float64, zero-padded centrally to ``n_fft``."""
    if window not in WINDOWS:
        raise ConfigError(f"stft window: unknown window {window!r} (expected one of {', '.join(WINDOWS)})")
    return window_torch(window, win_length, n_fft, dtype=torch.float64)


def _check_sizes(n_fft: int, hop: int, win_length: int | None, window: str, padding: str) -> int:
    """Validate the common constructor arguments; return the effective window length."""
    if not isinstance(n_fft, int) or n_fft < 2:
        raise ConfigError(f"stft n_fft: must be an integer >= 2, got {n_fft!r}")
    if not isinstance(hop, int) or not 1 <= hop <= n_fft:
        raise ConfigError(f"stft hop: must be an integer in [1, n_fft={n_fft}], got {hop!r}")
    win = n_fft if win_length is None else win_length
    if not isinstance(win, int) or not 1 <= win <= n_fft:
        raise ConfigError(f"stft win_length: must be an integer in [1, n_fft={n_fft}], got {win_length!r}")
    if window not in WINDOWS:
        raise ConfigError(f"stft window: unknown window {window!r} (expected one of {', '.join(WINDOWS)})")
    if padding not in PADDINGS:
        raise ConfigError(f"stft padding: unknown padding {padding!r} (expected 'same' or 'center')")
    return win


def _dft_angles(n_fft: int) -> Tensor:
    """``2 pi k n / n_fft`` as ``(n_fft // 2 + 1, n_fft)`` float64, with ``k n`` reduced mod ``n_fft``."""
    k = torch.arange(n_fft // 2 + 1, dtype=torch.int64)
    n = torch.arange(n_fft, dtype=torch.int64)
    # Reducing the integer product first keeps the float64 angles (and so the bases) exact to ~1e-16.
    return (torch.outer(k, n) % n_fft).to(torch.float64) * (2.0 * math.pi / n_fft)


class STFT(nn.Module):
    """Short-time Fourier transform as a strided ``conv1d`` with a windowed cos / -sin basis.

    Input ``(B, L)`` or ``(B, 1, L)``; output ``(real, imag)``, each ``(B, n_fft // 2 + 1, T)``, equal to
    ``torch.stft(..., window=window, onesided=True, normalized=False)`` with the framing of ``padding``.
    """

    basis: Tensor

    def __init__(
        self,
        n_fft: int,
        hop: int,
        win_length: int | None = None,
        window: str = "hann",
        padding: str = "same",
        pad_mode: str = "reflect",
    ) -> None:
        super().__init__()
        win = _check_sizes(n_fft, hop, win_length, window, padding)
        if pad_mode not in PAD_MODES:
            choices = ", ".join(PAD_MODES)
            raise ConfigError(f"stft pad_mode: unknown mode {pad_mode!r} (expected one of {choices})")
        self.n_fft, self.hop, self.win_length = n_fft, hop, win
        self.window, self.padding, self.pad_mode = window, padding, pad_mode
        self.n_bins = n_fft // 2 + 1
        self.pad_left, self.pad_right = frame_pads(n_fft, hop, padding)
        w = make_window(n_fft, win, window)
        angles = _dft_angles(n_fft)
        basis = torch.cat([torch.cos(angles) * w, -torch.sin(angles) * w], dim=0)  # (2F, n_fft)
        self.register_buffer("basis", basis.unsqueeze(1).to(torch.float32), persistent=False)

    def min_length(self) -> int:
        """Shortest input that the framing accepts (reflect padding needs more samples than it adds)."""
        if self.pad_mode == "reflect":
            return max(self.pad_left, self.pad_right) + 1
        return self.hop if self.padding == "same" else 1

    def num_frames(self, length: int) -> int:
        """Frames produced for ``length`` input samples."""
        return num_frames(length, self.n_fft, self.hop, self.padding)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, L) or (B, 1, L) -> (real, imag), each (B, n_fft // 2 + 1, T).

        'same': L = T * hop gives T frames; 'center': 1 + L // hop frames (even n_fft).
        """
        if x.dim() == 2:
            x = x.unsqueeze(1)
        if not torch.jit.is_tracing():
            if x.dim() != 3 or x.shape[1] != 1:
                raise InputError(f"STFT input: expected shape (B, L) or (B, 1, L), got {tuple(x.shape)}")
            if x.shape[-1] < self.min_length():
                raise InputError(
                    f"STFT input: {x.shape[-1]} samples is too short for n_fft={self.n_fft}, hop={self.hop}, "
                    f"padding={self.padding!r} (need at least {self.min_length()})"
                )
        x = F.pad(x, (self.pad_left, self.pad_right), mode=self.pad_mode)
        spec = F.conv1d(x, self.basis, stride=self.hop)  # (B, 2F, T)
        return spec[:, : self.n_bins], spec[:, self.n_bins :]


class ISTFT(nn.Module):
    """Inverse STFT as one ``conv_transpose1d`` (inverse real DFT + window + overlap-add), then division
    by the squared-window envelope.

    Input ``real, imag``, each ``(B, n_fft // 2 + 1, T)``; output ``(B, L)`` with ``L = T * hop`` for
    "same" and ``L = (T - 1) * hop`` for "center" (``torch.istft(center=True, length=(T - 1) * hop)``).
    As with ``irfft``, the imaginary parts of the DC (and, for even ``n_fft``, Nyquist) bins are ignored.
    """

    basis: Tensor
    window_sq: Tensor

    def __init__(
        self,
        n_fft: int,
        hop: int,
        win_length: int | None = None,
        window: str = "hann",
        padding: str = "same",
    ) -> None:
        super().__init__()
        win = _check_sizes(n_fft, hop, win_length, window, padding)
        self.n_fft, self.hop, self.win_length = n_fft, hop, win
        self.window, self.padding = window, padding
        self.n_bins = n_fft // 2 + 1
        w = make_window(n_fft, win, window)
        angles = _dft_angles(n_fft)
        # A real signal's spectrum holds each bin but DC and Nyquist twice (k and n_fft - k).
        scale = torch.full((self.n_bins, 1), 2.0, dtype=torch.float64)
        scale[0] = 1.0
        if n_fft % 2 == 0:
            scale[-1] = 1.0
        cos_part = torch.cos(angles) * scale / n_fft
        sin_part = -torch.sin(angles) * scale / n_fft
        sin_part[0] = 0.0
        if n_fft % 2 == 0:
            sin_part[-1] = 0.0
        basis = torch.cat([cos_part, sin_part], dim=0) * w  # (2F, n_fft)
        self.register_buffer("basis", basis.unsqueeze(1).to(torch.float32), persistent=False)
        self.register_buffer("window_sq", (w**2).view(1, 1, n_fft).to(torch.float32), persistent=False)
        # Both trims are constants, so the exported graph never turns T into a fixed number.
        self.trim_left, self.trim_right = overlap_add_trims(n_fft, hop, padding)

    def forward(self, real: Tensor, imag: Tensor) -> Tensor:
        """real, imag (B, n_fft // 2 + 1, T) -> (B, L): L = T * hop ('same') or (T - 1) * hop ('center')."""
        if not torch.jit.is_tracing():
            if real.dim() != 3 or real.shape[1] != self.n_bins or real.shape != imag.shape:
                raise InputError(
                    f"ISTFT input: expected real and imag of shape (B, {self.n_bins}, T), "
                    f"got {tuple(real.shape)} and {tuple(imag.shape)}"
                )
            if real.shape[-1] < 1 or (self.padding == "center" and real.shape[-1] < 2):
                raise InputError(
                    f"ISTFT input: {real.shape[-1]} frames is too few for padding={self.padding!r}"
                )
        spec = torch.cat([real, imag], dim=1)  # (B, 2F, T)
        y = F.conv_transpose1d(spec, self.basis, stride=self.hop)  # (B, 1, (T - 1) * hop + n_fft)
        # The envelope is built from a ones tensor shaped like the frames, so it follows T in ONNX too.
        ones = torch.ones_like(real[:1, :1, :])
        envelope = F.conv_transpose1d(ones, self.window_sq, stride=self.hop)  # (1, 1, same length as y)
        y = y / envelope.clamp(min=ENVELOPE_FLOOR)
        y = y[..., self.trim_left : (-self.trim_right if self.trim_right > 0 else None)]
        return y.squeeze(1)
