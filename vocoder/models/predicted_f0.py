"""An F0-driven generator and its F0 predictor as one mel vocoder: mel -> F0 -> waveform, for ONNX export.

:class:`PredictedF0Generator` keeps the :class:`~vocoder.models.generators.base.Generator` contract, so the
exporter and its parity check take it like any generator. Its inputs are the generator's minus ``f0``,
plus ``f0_scale`` ``(B, 1)`` float32 (1 = the predicted pitch; a pitch shift otherwise):

    mel (B, n_mels, T), noise (B, 1, T * hop), phase (B, 1) float64, f0_scale (B, 1) -> wav (B, 1, T * hop)

F0 is ``predictor.predict(mel) * f0_scale`` (Hz, 0 = unvoiced), computed inside the graph. Streaming and
chunked synthesis of such a graph are not exact: a window's harmonic prior integrates the F0 predicted
inside the window from its first frame, and the frames near the window's left edge lack the predictor's
context; the torch model folder (which predicts F0 over the whole input first) and graphs exported with
F0 as an input stream exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vocoder.infer.base import StreamContext
from vocoder.models.f0_predictor import F0Predictor
from vocoder.models.generators.base import Generator

SCALE_INPUT = "f0_scale"


class _MelToWaveform(nn.Module):
    """Export form: the predictor, then the generator's own export module, on keyword inputs."""

    def __init__(self, predictor: F0Predictor, generator: nn.Module) -> None:
        super().__init__()
        self.predictor = predictor
        self.generator = generator

    def forward(
        self, mel: Tensor, noise: Tensor | None = None, phase: Tensor | None = None, f0_scale: Tensor | None = None
    ) -> Tensor:
        f0 = self.predictor.predict(mel)
        if f0_scale is not None:
            f0 = f0 * f0_scale
        return self.generator(mel=mel, f0=f0, noise=noise, phase=phase)


class PredictedF0Generator(Generator):
    """``generator`` (``needs_f0``) fed by ``predictor``; see the module docstring for inputs and shapes."""

    needs_f0 = False

    def __init__(self, generator: Generator, predictor: F0Predictor) -> None:
        if not generator.needs_f0:
            raise ValueError(f"{type(generator).__name__} takes no F0; there is nothing to predict")
        super().__init__(generator.sample_rate, generator.hop, generator.n_mels)
        self.generator = generator
        self.predictor = predictor
        self.needs_noise = generator.needs_noise
        self.takes_phase = generator.takes_phase
        self.min_frames = generator.min_frames

    @property
    def input_names(self) -> list[str]:
        return [n for n in self.generator.input_names if n != "f0"] + [SCALE_INPUT]

    def stream_context(self) -> StreamContext:
        return StreamContext(
            0, 0, exact=False,
            reason="F0 is predicted inside this graph, so a window's harmonic prior cannot continue the whole "
            "utterance's; stream with the model folder or a graph exported with --f0-input",
        )

    def example_inputs(self, batch: int = 1, frames: int = 32, seed: int = 0) -> dict[str, Tensor]:
        inputs = self.generator.example_inputs(batch, frames, seed)
        inputs.pop("f0", None)
        inputs[SCALE_INPUT] = 1.0 + 0.25 * torch.arange(batch, dtype=torch.float32).unsqueeze(1)
        return inputs

    def export_module(self) -> nn.Module:
        return _MelToWaveform(self.predictor, self.generator.export_module())

    def forward(
        self, mel: Tensor, f0: Tensor | None = None, noise: Tensor | None = None, phase: Tensor | None = None,
        f0_scale: Tensor | None = None,
    ) -> Tensor:
        """mel ``(B, n_mels, T)`` (+ noise, phase, f0_scale) -> waveform ``(B, 1, T * hop)``; ``f0`` is not
        an input of this model (predicted from the mel)."""
        return _MelToWaveform(self.predictor, self.generator)(mel, noise, phase, f0_scale)
