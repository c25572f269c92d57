"""Tiny recipes for training tests: a few bundled demo clips, tiny generators, fast settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "recipes" / "demo" / "wavs"

# Tiny generators at 16 kHz / hop 160 (the demo-16k preset): real structure, few channels.
TINY_GENERATORS = {
    "pwg": {"layers": 3, "stacks": 1, "residual_channels": 8, "gate_channels": 16, "skip_channels": 8,
            "upsample_scales": [4, 4, 10]},
    "istftnet": {"upsample_rates": [8, 5], "upsample_kernel_sizes": [16, 11], "upsample_initial_channel": 16,
                 "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1]], "istft_n_fft": 16, "istft_hop": 4},
    "wavehax": {"channels": 8, "num_blocks": 1, "mult": 2},
}
TINY_DISCRIMINATORS = {
    "msstft": {"n_ffts": [256, 128], "filters": 4},
    "mssbcqt": {"filters": 4, "hops": [256, 256], "bins_per_octave": [12, 12], "n_octaves": [6, 6]},
    "mpd": {"periods": [2, 3], "channels": 4, "max_channels": 16},
    "pwg": {"layers": 3, "channels": 8},
}


def tiny_data(folder: Path, count: int = 6) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = [f for f in sorted(DEMO.glob("*.flac")) if sf.info(f).duration < 4.0][:count]
    for f in files:
        shutil.copy(f, folder / f.name)
    return folder


def tiny_recipe(tmp: Path, generator: str, discriminators: tuple[str, ...] = (), steps: int = 4) -> dict:
    return {
        "features": {"preset": "demo-16k", "f0_min": 100.0, "f0_max": 500.0},
        "generator": {"name": generator, "params": TINY_GENERATORS[generator]},
        "discriminators": [{"name": d, "params": TINY_DISCRIMINATORS[d]} for d in discriminators],
        "losses": [{"name": "mrstft", "weight": 1.0, "params": {"fft_sizes": [512, 256], "hop_sizes": [64, 32],
                                                              "win_lengths": [256, 128]}},
                   {"name": "mel", "weight": 45.0, "params": {"n_fft": 512, "hop": 160, "n_mels": 64}},
                   {"name": "adversarial", "weight": 1.0, "params": {"kind": "lsgan"}},
                   {"name": "feature_matching", "weight": 2.0}],
        "optim": {"generator": {"lr": 1e-3, "grad_clip": 10.0}, "discriminator": {"lr": 2e-4, "grad_clip": 10.0}},
        "train": {"max_steps": steps, "batch_size": 2, "segment_frames": 16, "log_every": 2, "eval_every": 2,
                  "save_every": 2, "keep_last": 2, "eval_utterances": 1, "audio_log_utterances": 1, "seed": 7,
                  "valid_mos": False},
        "data": {"root": str(tiny_data(tmp / "wavs")), "valid_count": 1, "test_count": 1,
                 "cache_dir": str(tmp / "cache")},
    }


@pytest.fixture
def recipe_factory(tmp_path):
    def make(generator: str, discriminators: tuple[str, ...] = (), steps: int = 4) -> dict:
        return tiny_recipe(tmp_path, generator, discriminators, steps)

    return make
