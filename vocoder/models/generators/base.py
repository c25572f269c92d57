"""The contract every generator keeps: what it takes, what it needs around a chunk, what it exports.

A generator maps a log-mel ``(B, n_mels, T)`` (plus F0 ``(B, T)`` in Hz, 0 = unvoiced, when
``needs_f0``; plus optional Gaussian ``noise`` ``(B, 1, T * hop)`` when ``needs_noise`` and a start
``phase`` ``(B, 1)`` in cycles when ``takes_phase``) to a waveform ``(B, 1, T * hop)`` — exactly
``T * hop`` samples. When ``noise``/``phase`` are None they are drawn at random; passing them makes the
output deterministic (needed for ONNX parity and streaming).

Everything the rest of the package asks of a generator is here, so a new generator is one file (a
subclass, registered with :func:`vocoder.registry.register_generator`) plus a recipe:

* flags ``needs_f0``, ``needs_noise``, ``takes_phase`` and :attr:`Generator.input_names` (the ONNX graph's
  inputs, the runtimes' checks), ``min_frames`` (the shortest mel accepted);
* :meth:`Generator.stream_context`: the mel frames left and right of a chunk that can change its output
  (streaming, chunked long inputs; stored in every ONNX file);
* the random inputs: :meth:`Generator.random_inputs` draws them from a seed with the numpy rule of
  :mod:`vocoder.infer.noise`, the one both runtimes, the export and its parity check use (equal seeds,
  equal waveforms on torch and onnxruntime); :meth:`Generator.training_inputs` draws training's from a
  ``torch.Generator`` (the stream every training run and resume has used);
* :meth:`Generator.export_module`: the module the ONNX exporter traces (by default the generator itself);
* ``reference_config``: the published configuration ``vocoder bench --generators <name>`` measures.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn.utils import parametrize

from vocoder.errors import InputError
from vocoder.infer import noise as seeded
from vocoder.infer.base import StreamContext

MARGIN_FRAMES = 1  # frames added on each side of a computed streaming context


def context_frames(left_samples: float, right_samples: float, hop: int, extra: int = 0) -> StreamContext:
    """A :class:`StreamContext` from a reach in samples: each side rounded up to frames, plus ``extra``
    frames and :data:`MARGIN_FRAMES`."""
    return StreamContext(
        left=math.ceil(left_samples / hop) + extra + MARGIN_FRAMES,
        right=math.ceil(right_samples / hop) + extra + MARGIN_FRAMES,
    )


def conv_reach(conv: nn.Module) -> tuple[int, int]:
    """(left, right) reach of a stride-1 Conv1d in its own units: output j reads inputs j - p .. j - p + (k-1)d."""
    k, d, p = conv.kernel_size[0], conv.dilation[0], conv.padding[0]
    return p, (k - 1) * d - p


class Generator(nn.Module):
    """Base class: stores ``sample_rate``, ``hop``, ``n_mels``, checks inputs and holds the contract.

    Subclasses set the class attributes ``needs_f0``, ``needs_noise`` (and ``takes_phase``, ``min_frames``
    when they differ from the defaults), implement ``forward(mel, f0=None, noise=None, phase=None)`` (the
    torch runtime passes all four, None where the model takes no such input) and, to stream, :meth:`stream_context`.
    """

    needs_f0: bool = False
    needs_noise: bool = False
    takes_phase: bool = False  # a start-phase input (B, 1) in cycles, float64 in the ONNX graph
    min_frames: int = 1  # the shortest mel the generator accepts (e.g. reflect padding needs more)
    has_unused_parameters: bool = False  # parameters that never reach the output (DDP needs to know)
    # The published configuration, benchmarked under the registry name: ``recipe`` (under recipes/) and,
    # for an installed package without recipes, the mel ``preset`` and generator ``params`` to use instead.
    # None: ``vocoder bench`` names the generator only through its demo recipe (recipes/demo/<name>.yaml).
    reference_config: ClassVar[dict[str, Any] | None] = None

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

    @property
    def input_names(self) -> list[str]:
        """Inputs of the forward (and graph inputs of the ONNX export), in order: ``mel``, then ``f0``,
        ``noise``, ``phase`` as the flags say."""
        flags = {"f0": self.needs_f0, "noise": self.needs_noise, "phase": self.takes_phase}
        return ["mel", *(name for name, wanted in flags.items() if wanted)]

    def stream_context(self) -> StreamContext:
        """Mel frames a chunk needs on each side for chunked synthesis to equal offline synthesis.

        Default: unknown (``exact=False``), so the model synthesizes whole inputs and streaming refuses it
        with the reason; generators that stream compute it from their layer sizes."""
        return StreamContext(
            0, 0, exact=False,
            reason=f"generator {type(self).__name__} does not define its streaming context (stream_context)",
        )

    def random_inputs(self, seed: int, batch: int, start: int, frames: int) -> dict[str, torch.Tensor]:
        """The seeded inference inputs this generator takes for frames ``[start, start + frames)``:
        ``noise`` ``(B, 1, frames * hop)`` float32 and ``phase`` ``(B, 1)`` float64, drawn by
        :func:`vocoder.infer.noise.random_inputs` (the numbers both runtimes use for ``seed``)."""
        noise, phase = seeded.random_inputs(seed, batch, start, frames, self.hop, self.needs_noise, self.takes_phase)
        drawn = {"noise": noise, "phase": phase}
        return {name: torch.from_numpy(value) for name, value in drawn.items() if value is not None}

    def training_inputs(self, rng: torch.Generator, batch: int, frames: int) -> dict[str, torch.Tensor]:
        """Training's random inputs from ``rng``: standard-normal ``noise`` ``(B, 1, frames * hop)``, then a
        uniform start ``phase`` ``(B, 1)`` float32, each when the generator takes it (this order and these
        dtypes are the stream every run so far trained and resumed with)."""
        if not self.needs_noise:
            return {}
        inputs = {"noise": torch.randn(batch, 1, frames * self.hop, generator=rng)}
        if self.takes_phase:
            inputs["phase"] = torch.rand(batch, 1, generator=rng)
        return inputs

    def example_inputs(self, batch: int = 1, frames: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
        """Inputs for tracing, the parity check, costs and tests: a standard-normal ``mel`` (torch RNG of
        ``seed``), ``f0`` gliding over 70..400 Hz with an unvoiced stretch (item ``b`` scaled by
        ``1 + 0.1 b``) and the seeded ``noise``/``phase`` of :meth:`random_inputs`, as the model takes them."""
        g = torch.Generator().manual_seed(seed)
        inputs = {"mel": torch.randn(batch, self.n_mels, frames, generator=g)}
        if self.needs_f0:
            f0 = torch.linspace(70.0, 400.0, frames).repeat(batch, 1)
            f0[:, frames // 3 : frames // 3 + max(1, frames // 6)] = 0.0
            inputs["f0"] = f0 * (1.0 + 0.1 * torch.arange(batch).unsqueeze(1))
        return {**inputs, **self.random_inputs(seed, batch, 0, frames)}

    def export_module(self) -> nn.Module:
        """The module the ONNX exporter traces, called with :attr:`input_names` as keywords; it must compute
        what :meth:`forward` does (the parity check compares them). Default: the generator itself."""
        return self
