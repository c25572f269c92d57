"""data.input_root: input mels from paired source files, targets from data.root, sample-aligned."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from vocoder.config import config_from_dict
from vocoder.errors import ConfigError
from vocoder.train.trainer import Trainer


def _halved_sources(recipe: dict, folder) -> None:
    """Source files with the targets' names (as .wav) holding the target audio at half amplitude."""
    folder.mkdir()
    for f in sorted(__import__("pathlib").Path(recipe["data"]["root"]).glob("*.flac")):
        wav, sr = sf.read(f, dtype="float32")
        sf.write(folder / f"{f.stem}.wav", 0.5 * wav, sr, subtype="FLOAT")


def test_batches_pair_source_and_target_sample_for_sample(tmp_path, recipe_factory):
    recipe = recipe_factory("istftnet", steps=2)
    _halved_sources(recipe, tmp_path / "sources")
    recipe["data"]["input_root"] = str(tmp_path / "sources")
    trainer = Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    batch = trainer.train_data.batch(3, step=5)
    assert batch.source is not None and batch.source.shape == batch.wav.shape
    assert torch.allclose(batch.source, 0.5 * batch.wav, atol=1e-4)
    assert float(batch.wav.abs().max()) > 0.05
    valid = trainer.valid_data.utterance(0)
    assert torch.allclose(valid.source, 0.5 * valid.wav, atol=1e-4)
    logs = trainer.train_step(batch, 0)
    assert logs is not None and np.isfinite(logs["loss/g_total"])


def test_unpaired_batches_have_no_source(tmp_path, recipe_factory):
    trainer = Trainer(config_from_dict(recipe_factory("istftnet", steps=2)), tmp_path / "run", progress=False)
    assert trainer.train_data.batch(2, step=0).source is None


def test_missing_source_is_one_line(tmp_path, recipe_factory):
    recipe = recipe_factory("istftnet", steps=2)
    (tmp_path / "empty").mkdir()
    recipe["data"]["input_root"] = str(tmp_path / "empty")
    with pytest.raises(ConfigError, match="no source audio for") as err:
        Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    assert "\n" not in str(err.value)
