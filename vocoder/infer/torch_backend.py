"""torch inference engine: :class:`TorchVocoder` runs a run, checkpoint or model folder (weight norm folded).

A model folder with an F0 predictor (``f0_predictor.safetensors``) gives F0 to an F0-driven generator
when none is given (:meth:`TorchVocoder.predict_f0`); the predictor's reach enters the streaming context.

Same interface and numbers as :class:`~vocoder.infer.runtime.OnnxVocoder` (up to float rounding): the
noise and start phase are drawn with numpy from the seed (:mod:`vocoder.infer.noise`) and passed in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from vocoder.audio.mel_presets import resolve_features
from vocoder.config import RunConfig
from vocoder.infer.base import StreamContext, Vocoder
from vocoder.models.artifact import load_generator, resolve_model
from vocoder.models.f0_predictor import F0Predictor, load_f0_predictor

PREDICT_FRAMES = 4000


class TorchVocoder(Vocoder):
    """A generator on torch (CPU). ``threads`` sets ``torch.set_num_threads`` (process-wide).

    See :class:`~vocoder.infer.base.Vocoder` for the API; ``generator`` is the eval-mode module.
    """

    backend = "torch"
    f0_predictor: F0Predictor | None = None

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        generator, cfg = load_generator(path)
        self._setup(generator, cfg, str(path), threads)
        if self.needs_f0:
            self._attach_f0_predictor(load_f0_predictor(resolve_model(path)))

    @classmethod
    def from_generator(
        cls, generator: nn.Module, cfg: RunConfig, source: str = "<memory>", threads: int | None = None
    ) -> TorchVocoder:
        """Wrap an in-memory generator (put in eval mode; weight norm is left as it is)."""
        self = cls.__new__(cls)
        self._setup(generator.eval(), cfg, source, threads)
        return self

    def _setup(self, generator: nn.Module, cfg: RunConfig, source: str, threads: int | None) -> None:
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.generator = generator
        self.config = cfg
        self.features = resolve_features(cfg.features)
        self.source = source
        self.generator_name = cfg.generator.name
        self.sample_rate, self.hop, self.n_mels = generator.sample_rate, generator.hop, generator.n_mels
        self.needs_f0, self.needs_noise = bool(generator.needs_f0), bool(generator.needs_noise)
        self.input_names = list(generator.input_names)
        self.min_frames = int(generator.min_frames)
        self.context = generator.stream_context()

    def _attach_f0_predictor(self, predictor: F0Predictor | None) -> None:
        """Use ``predictor`` when no F0 is given; its reach widens the streaming context."""
        self.f0_predictor = predictor
        if predictor is None:
            return
        self.predicts_f0 = True
        self.f0_context = c = predictor.context
        ctx = self.context
        self.context = StreamContext(ctx.left + c, ctx.right + c, ctx.exact, ctx.reason)

    def predict_f0_checked(self, mel: np.ndarray) -> np.ndarray:
        """mel ``(B, n_mels, T)`` -> F0 ``(B, T)`` float32 Hz from the model's predictor, computed in windows of
        at most ``PREDICT_FRAMES`` frames plus the predictor's reach (equal to one whole pass)."""
        if self.f0_predictor is None:
            return super().predict_f0_checked(mel)
        from vocoder.infer.chunking import plan_blocks

        c, frames = self.f0_predictor.context, mel.shape[2]
        out = np.zeros((mel.shape[0], frames), dtype=np.float32)
        with torch.inference_mode():
            for start, end in plan_blocks(frames, PREDICT_FRAMES):
                a, b = max(0, start - c), min(frames, end + c)
                f0 = self.f0_predictor.predict(torch.from_numpy(np.ascontiguousarray(mel[:, :, a:b])))
                out[:, start:end] = f0[:, start - a : end - a].numpy()
        return out

    def run_checked(
        self, mel: np.ndarray, f0: np.ndarray | None, noise: np.ndarray | None, phase: np.ndarray | None
    ) -> np.ndarray:
        def tensor(x: np.ndarray | None) -> torch.Tensor | None:
            return None if x is None else torch.from_numpy(np.ascontiguousarray(x))

        with torch.inference_mode():
            wav = self.generator(tensor(mel), f0=tensor(f0), noise=tensor(noise), phase=tensor(phase))
        return wav[:, 0].numpy()

    # The generator checks what it is given itself (Generator.check_inputs, the torch-side check) and draws
    # noise and phase when they are None, so arrays from a caller go to it as they are.
    run = run_checked
