"""Helpers of the mel-file and batch-synthesis tests: tiny untrained demo-16k checkpoints (iSTFTNet
without F0, Wavehax with F0) and real log-mels of the bundled demo corpus."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from vocoder.audio.io import read_audio
from vocoder.audio.mel_numpy import log_mel_numpy
from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig, config_from_dict
from vocoder.models.artifact import write_model
from vocoder.models.factory import build_generator

ROOT = Path(__file__).resolve().parents[2]
DEMO_WAVS = sorted((ROOT / "recipes" / "demo" / "wavs").glob("*.flac"))
DEMO = resolve_features({"preset": "demo-16k"})
HOP, N_MELS, SR = DEMO.hop, DEMO.n_mels, DEMO.sample_rate

TINY = {
    "istftnet": {
        "upsample_rates": [8, 5], "upsample_kernel_sizes": [16, 11], "upsample_initial_channel": 16,
        "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1]], "istft_n_fft": 16, "istft_hop": 4,
    },
    "wavehax": {"channels": 8, "num_blocks": 2, "kernel_size": [5, 3], "prior_kernel": 3, "framewise_norm": True},
}


def make_demo_checkpoint(folder: Path, name: str, seed: int = 0) -> Path:
    """An untrained tiny ``name`` generator on demo-16k features, written as a checkpoint folder."""
    cfg = config_from_dict({"features": {"preset": "demo-16k"}, "generator": {"name": name, "params": TINY[name]}})
    torch.manual_seed(seed)
    write_model(folder, build_generator(cfg), cfg)
    return folder


@lru_cache(maxsize=32)
def demo_audio(index: int, sample_rate: int = SR) -> np.ndarray:
    """Demo corpus file ``index`` as float32 ``(L,)`` at ``sample_rate``."""
    return read_audio(DEMO_WAVS[index], sample_rate)


def demo_mel(index: int, features: FeatureConfig = DEMO, gain: float = 1.0, silence: float = 0.0) -> np.ndarray:
    """Log-mel ``(n_mels, T)`` of demo file ``index`` with ``features``, scaled by ``gain`` and followed by
    ``silence`` seconds of digital zeros (so the mel reaches its clamp floor)."""
    wav = demo_audio(index, features.sample_rate) * gain
    wav = np.concatenate([wav, np.zeros(int(silence * features.sample_rate), dtype=np.float32)])
    return log_mel_numpy(np.clip(wav, -1.0, 1.0).astype(np.float32), features)
