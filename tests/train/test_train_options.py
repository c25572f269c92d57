"""Training options: train.freeze (named generator parameters stay fixed while the rest trains, bad prefixes are
one line) and train.valid_mos (Distill-MOS of the validation clips in the metrics)."""

from __future__ import annotations

import pytest
import torch

from vocoder.config import config_from_dict
from vocoder.errors import ConfigError
from vocoder.train.trainer import Trainer


def test_frozen_prefix_keeps_its_weights_and_the_rest_trains(tmp_path, recipe_factory):
    recipe = recipe_factory("istftnet", steps=2)
    recipe["train"].update(freeze=["conv_pre.", "ups."], eval_every=100, save_every=100)
    trainer = Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    before = {k: v.detach().clone() for k, v in trainer.generator.state_dict().items()}
    trainer.fit()
    after = trainer.generator.state_dict()
    frozen = [k for k in before if k.startswith(("conv_pre.", "ups."))]
    trained = [k for k in before if k.startswith("conv_post.")]
    assert frozen and trained
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert all(not torch.equal(before[k], after[k]) for k in trained)


@pytest.mark.parametrize("freeze,message", [(["nothing."], "no generator parameter starts with"),
                                            ([""], "leaves no generator parameter")])
def test_bad_freeze_is_one_line(tmp_path, recipe_factory, freeze, message):
    recipe = recipe_factory("istftnet", steps=2)
    recipe["train"]["freeze"] = freeze
    with pytest.raises(ConfigError, match=message) as err:
        Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    assert "\n" not in str(err.value) and not (tmp_path / "run").exists()


def test_validation_logs_distill_mos_when_asked(tmp_path, recipe_factory):
    """train.valid_mos: the validation metrics carry the mean Distill-MOS of the generated clips (1..5)."""
    recipe = recipe_factory("istftnet", steps=2)
    recipe["train"]["valid_mos"] = True
    trainer = Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    metrics = trainer.validate(log_media=False)
    assert 1.0 <= metrics["valid/distill_mos"] <= 5.0
    trainer.cfg.train.valid_mos = False
    assert "valid/distill_mos" not in trainer.validate(log_media=False)
