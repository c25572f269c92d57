"""torch inference engine: :class:`TorchVocoder` runs a run, checkpoint or model folder (weight norm folded).

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
from vocoder.infer.base import Vocoder
from vocoder.models.artifact import load_generator


class TorchVocoder(Vocoder):
    """A generator on torch (CPU). ``threads`` sets ``torch.set_num_threads`` (process-wide).

    See :class:`~vocoder.infer.base.Vocoder` for the API; ``generator`` is the eval-mode module.
    """

    backend = "torch"

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        generator, cfg = load_generator(path)
        self._setup(generator, cfg, str(path), threads)

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
