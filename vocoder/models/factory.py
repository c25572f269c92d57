"""Build the models a config names, and count what a generator costs."""

from __future__ import annotations

import torch

from vocoder import registry
from vocoder.config import RunConfig


def build_generator(cfg: RunConfig, where: str = "config"):
    """The generator of ``cfg`` with the feature settings (sample rate, hop, n_mels) filled in."""
    f = cfg.features
    return registry.build(
        "generator", cfg.generator.name, cfg.generator.params, where=where,
        sample_rate=f.sample_rate, hop=f.hop, n_mels=f.n_mels,
    )


def build_discriminator(cfg: RunConfig):
    """A :class:`CombinedDiscriminator` of every entry in ``cfg.discriminators`` (None if empty)."""
    if not cfg.discriminators:
        return None
    from vocoder.models.discriminators.combined import CombinedDiscriminator

    specs = [{"name": d.name, "params": d.params} for d in cfg.discriminators]
    return CombinedDiscriminator(cfg.features.sample_rate, specs)


def generator_cost(generator: torch.nn.Module, seconds: float = 1.0) -> tuple[int, float]:
    """(parameters, GMAC per second of audio) of an inference forward, counted with
    ``torch.utils.flop_counter`` (matmuls and convolutions; FFT-free since our STFT is a conv)."""
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in generator.parameters())
    frames = max(1, round(seconds * generator.sample_rate / generator.hop))
    inputs = generator.example_inputs(batch=1, frames=frames)
    was_training = generator.training
    generator.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        generator(**inputs)
    generator.train(was_training)
    seconds_done = frames * generator.hop / generator.sample_rate
    return params, counter.get_total_flops() / 2 / seconds_done / 1e9
