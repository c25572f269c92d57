"""The contract every generator keeps.

A generator maps a log-mel ``(B, n_mels, T)`` (plus F0 ``(B, T)`` in Hz, 0 = unvoiced, when
``needs_f0``; plus optional Gaussian ``noise`` ``(B, 1, T * hop)`` and start ``phase`` ``(B, 1)`` in
cycles when ``needs_noise``) to a waveform ``(B, 1, T * hop)`` — exactly ``T * hop`` samples.
When ``noise``/``phase`` are None they are drawn at random; passing them makes the output
deterministic (needed for ONNX parity and streaming).
"""

from __future__ import annotations

import inspect

import torch
from torch import nn
from torch.nn.utils import parametrize

from vocoder.errors import InputError


class Generator(nn.Module):
    """Base class: stores ``sample_rate``, ``hop``, ``n_mels`` and checks inputs.

    Subclasses set the class attributes ``needs_f0`` and ``needs_noise`` and implement ``forward``.
    """

    needs_f0: bool = False
    needs_noise: bool = False
    has_unused_parameters: bool = False  # parameters that never reach the output (DDP needs to know)
    onnx_conv1d_as_conv2d: bool = False  # export Conv1d layers as 2-D convs (faster in onnxruntime for some)

    def __init__(self, sample_rate: int, hop: int, n_mels: int) -> None:
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self.n_mels = int(n_mels)

    def check_inputs(self, mel: torch.Tensor, f0: torch.Tensor | None = None) -> None:
        """Raise :class:`InputError` unless ``mel`` is ``(B, n_mels, T)`` and ``f0`` fits it."""
        if mel.dim() != 3 or mel.shape[1] != self.n_mels:
            raise InputError(f"mel must be (batch, {self.n_mels}, frames), got {tuple(mel.shape)}")
        if self.needs_f0:
            if f0 is None:
                raise InputError(f"{type(self).__name__} needs F0 (one value per mel frame)")
            if f0.dim() == 3:
                f0 = f0.squeeze(1)
            want = (mel.shape[0], mel.shape[2])
            if tuple(f0.shape) != want:
                raise InputError(f"f0 must be (batch, frames) = {want}, got {tuple(f0.shape)}")

    def remove_weight_norm(self) -> None:
        """Fold every weight-norm parametrization into a plain weight (inference/export form)."""
        for module in self.modules():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def example_inputs(self, batch: int = 1, frames: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
        """Inputs for tests and export: ``mel`` always; ``f0`` (200 Hz, voiced) when needed;
        ``noise`` (and ``phase`` for F0-driven priors) when the generator takes them."""
        g = torch.Generator().manual_seed(seed)
        inputs = {"mel": torch.randn(batch, self.n_mels, frames, generator=g)}
        if self.needs_f0:
            inputs["f0"] = torch.full((batch, frames), 200.0)
        if self.needs_noise:
            inputs["noise"] = torch.randn(batch, 1, frames * self.hop, generator=g)
            if "phase" in inspect.signature(self.forward).parameters and self.needs_f0:
                inputs["phase"] = torch.rand(batch, 1, generator=g)
        return inputs
