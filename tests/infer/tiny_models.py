"""Tiny generator configs and inputs shared by the inference tests (8 kHz, hop 32, 8 mels)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from vocoder.config import RunConfig, config_from_dict
from vocoder.models.artifact import write_model
from vocoder.models.factory import build_generator

FEATURES = {"sample_rate": 8000, "n_fft": 128, "hop": 32, "n_mels": 8, "fmax": None}
HOP, N_MELS = 32, 8
TINY = {
    "pwg": {"layers": 6, "stacks": 2, "residual_channels": 8, "gate_channels": 16, "skip_channels": 8},
    "istftnet": {
        "upsample_rates": [4, 2], "upsample_kernel_sizes": [8, 4], "upsample_initial_channel": 16,
        "resblock_kernel_sizes": [3, 5], "resblock_dilation_sizes": [[1, 2], [1, 2]],
        "istft_n_fft": 16, "istft_hop": 4,
    },
    "wavehax": {"channels": 8, "num_blocks": 2, "kernel_size": [5, 3], "prior_kernel": 3, "framewise_norm": True},
}
# HiFi-GAN is the istftnet generator without the iSTFT (istft_n_fft 0); test cases name the registry entry
TINY["hifigan"] = {
    "upsample_rates": [4, 4, 2], "upsample_kernel_sizes": [8, 8, 4], "upsample_initial_channel": 16,
    "resblock_kernel_sizes": [3, 5], "resblock_dilation_sizes": [[1, 2], [1, 2]], "istft_n_fft": 0, "istft_hop": 1,
}
REGISTRY_NAME = {"hifigan": "istftnet"}
GENERATORS = tuple(TINY)


def tiny_config(name: str, **params) -> RunConfig:
    generator = {"name": REGISTRY_NAME.get(name, name), "params": {**TINY[name], **params}}
    return config_from_dict({"features": FEATURES, "generator": generator})


def spread_weights(generator: torch.nn.Module) -> None:
    """Redraw every parameter at unit scale (weight-norm gains N(0, 1), weights N(0, 1 / fan_in)).

    A fresh iSTFTNet (HiFi-GAN's N(0, 0.01) init) barely depends on its mel (output change 3e-4 of its
    size for a new mel), which would let too-small streaming contexts pass; after this it is ~0.6.
    """
    with torch.no_grad():
        for name, p in generator.named_parameters():
            if name.endswith("original0"):
                p.normal_(0.0, 1.0)
            else:
                p.normal_(0.0, 1.0 / math.sqrt(p[0].numel() if p.dim() >= 2 else 1))


def make_checkpoint(folder: Path, name: str, seed: int = 0, **params) -> Path:
    """Write a freshly initialised tiny generator as a checkpoint folder (random but non-trivial weights)."""
    cfg = tiny_config(name, **params)
    torch.manual_seed(seed)
    generator = build_generator(cfg)
    if name in ("istftnet", "hifigan"):
        spread_weights(generator)
    write_model(folder, generator, cfg)
    return folder


def mel_and_f0(frames: int, batch: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A standard-normal mel ``(n_mels, T)`` (or ``(B, n_mels, T)``) and an F0 glide with unvoiced frames."""
    rng = np.random.default_rng(seed)
    shape = (N_MELS, frames) if batch is None else (batch, N_MELS, frames)
    # a log-mel level (ln of magnitudes around 1e-3): values a real front end gives, as the input checks want
    mel = (rng.standard_normal(shape) - 6.0).astype(np.float32)
    f0 = np.linspace(80.0, 390.0, frames, dtype=np.float32)
    f0[frames // 3 : frames // 3 + frames // 8] = 0.0
    if batch is not None:
        f0 = np.stack([f0 * (1.0 + 0.1 * b) for b in range(batch)])
    return mel, f0
