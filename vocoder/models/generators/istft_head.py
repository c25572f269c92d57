"""iSTFT head: the last step of a generator that predicts a spectrogram and lets an inverse STFT make the
waveform (iSTFTNet, Wavehax; a Vocos-style generator is a backbone plus this head).

Input: two planes ``a``, ``b``, each ``(B, F, T)`` with ``F = n_fft // 2 + 1`` bins and ``T`` frames, the
output of the generator's own last layer (iSTFTNet's ``conv_post``, Wavehax's ``output_proj``). That layer
stays in the generator, so the head has no parameters and no state-dict entries (the ISTFT bases are
non-persistent buffers). How the planes give the spectrum (``form``):

* ``"cartesian"`` (Wavehax): ``real = a``, ``imag = b``.
* ``"polar"`` (iSTFTNet): magnitude from the log-magnitude channels ``a`` (:func:`magnitude`, kind
  ``magnitude``), phase ``pi * sin(b)``; ``real = mag * cos(phase)``, ``imag = mag * sin(phase)``.

Then :class:`~vocoder.dsp.stft.ISTFT` with ``padding`` "same" (``T * hop`` samples) or "center"
(``(T - 1) * hop`` samples) -> waveform ``(B, 1, L)``.

ONNX: the head has no export-specific code (no ``is_in_onnx_export()`` branch); the traced graph is the
same elementwise maths and the ISTFT's two ``conv_transpose1d`` with fixed bases. It holds no
``nn.Conv1d``, so the exporter's ``onnx_conv1d_as_conv2d`` rewrite of a generator leaves it unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vocoder.dsp.stft import ISTFT
from vocoder.errors import ConfigError

FORMS = ("cartesian", "polar")
MAGNITUDES = ("bounded", "softplus", "exp")
# Upper bound of the "bounded" magnitude, as Vocos' clip at 1e2. A full-scale sine gives |X| <= n_fft / 2
# with a Hann window, i.e. <= 64 for the largest n_fft (128) used by iSTFTNet.
LOG_MAGNITUDE_MAX = math.log(100.0)


def magnitude(x: Tensor, kind: str) -> Tensor:
    """Magnitude from log-magnitude channels ``x`` (any shape, elementwise).

    "bounded": ``exp`` of a smooth upper clamp of ``x`` at :data:`LOG_MAGNITUDE_MAX`,
    ``max - softplus(max - x)``; the result is ``exp(x) / (1 + exp(x) / 100)``: ``exp(x)`` well below
    100, never above it, and unlike Vocos' hard clip it keeps a gradient above the bound.
    "softplus": ``softplus(x)``, linear growth. "exp": the iSTFTNet reference's unbounded ``exp(x)``
    (rishikksh20/iSTFTNet-pytorch issue #5), kept only for comparison.
    """
    if kind == "bounded":
        return torch.exp(LOG_MAGNITUDE_MAX - F.softplus(LOG_MAGNITUDE_MAX - x))
    if kind == "softplus":
        return F.softplus(x)
    return torch.exp(x)


class ISTFTHead(nn.Module):
    """Spectrum planes ``a, b`` each ``(B, n_fft // 2 + 1, T)`` -> waveform ``(B, 1, L)``, with
    ``L = T * hop`` ("same") or ``(T - 1) * hop`` ("center"); see the module docstring for ``form``
    (``magnitude`` is used by "polar" only).
    """

    def __init__(
        self,
        n_fft: int,
        hop: int,
        padding: str = "same",
        form: str = "cartesian",
        magnitude: str = "bounded",
    ) -> None:
        super().__init__()
        if form not in FORMS:
            raise ConfigError(f"istft head: form must be one of {', '.join(FORMS)}, got {form!r}")
        if form == "polar" and magnitude not in MAGNITUDES:
            raise ConfigError(f"istft head: magnitude must be one of {', '.join(MAGNITUDES)}, got {magnitude!r}")
        self.istft = ISTFT(n_fft, hop, padding=padding)
        self.n_fft, self.hop, self.padding = n_fft, hop, padding
        self.n_bins = self.istft.n_bins
        self.form, self.magnitude = form, magnitude

    def spectrum(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        """Planes ``a, b`` ``(B, F, T)`` -> ``(real, imag)``, each ``(B, F, T)``."""
        if self.form == "cartesian":
            return a, b
        mag = magnitude(a, self.magnitude)
        # rishikksh20 uses phase = sin(x), which confines the phase to +-1 rad; pi * sin(x) covers the circle.
        phase = math.pi * torch.sin(b)
        return mag * torch.cos(phase), mag * torch.sin(phase)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """Planes ``a, b`` ``(B, F, T)`` -> waveform ``(B, 1, L)``."""
        return self.istft(*self.spectrum(a, b)).unsqueeze(1)

    def extra_repr(self) -> str:
        kind = f", magnitude={self.magnitude!r}" if self.form == "polar" else ""
        return f"n_fft={self.n_fft}, hop={self.hop}, padding={self.padding!r}, form={self.form!r}{kind}"
