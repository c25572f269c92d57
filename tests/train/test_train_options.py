"""Training options: train.freeze (named generator parameters stay fixed while the rest trains, bad prefixes are
one line), train.valid_mos (Distill-MOS of the validation clips in the metrics) and train.generator_start (a
critic warm-up: D alone trains against the fixed generator)."""

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


def test_init_from_restores_the_discriminator_from_trainer_state_or_its_safetensors(tmp_path, recipe_factory):
    """train.init_from loads D too when the source has D weights (a run's trainer.pt, or a shipped folder's
    discriminator.safetensors); another discriminator set starts fresh and the report says why."""
    from safetensors.torch import save_file

    from vocoder.models.artifact import DISCRIMINATOR_FILE
    from vocoder.train.checkpoint import load_state

    base = recipe_factory("istftnet", ("pwg",), steps=2)
    base["train"].update(save_every=2, eval_every=100)
    Trainer(config_from_dict(base), tmp_path / "a", progress=False).fit()
    step = tmp_path / "a" / "checkpoints" / "step-00000002"
    source_d = load_state(step)["discriminator"]

    tuned = Trainer(config_from_dict(base, overrides=[f"train.init_from={tmp_path / 'a'}"]), tmp_path / "b",
                    progress=False)
    assert all(torch.equal(v, source_d[k]) for k, v in tuned.discriminator.state_dict().items())
    assert tuned.step == 0

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for name in ("model.safetensors", "config.yaml"):
        (shipped / name).write_bytes((step / name).read_bytes())
    save_file({k: v.contiguous() for k, v in source_d.items()}, str(shipped / DISCRIMINATOR_FILE))
    from vocoder.train.warm_start import warm_start

    fresh = Trainer(config_from_dict(base), tmp_path / "c", progress=False)
    report = warm_start(str(shipped), fresh.generator, fresh.discriminator)
    assert report.discriminator == f"initialised from {shipped}"
    assert all(torch.equal(v, source_d[k]) for k, v in fresh.discriminator.state_dict().items())

    other = recipe_factory("istftnet", ("msstft",), steps=2)
    other_trainer = Trainer(config_from_dict(other), tmp_path / "d", progress=False)
    report = warm_start(str(shipped), other_trainer.generator, other_trainer.discriminator)
    assert report.discriminator.startswith("fresh (the source's discriminators differ")


def test_generator_start_trains_only_the_discriminator_before_it(tmp_path, recipe_factory):
    """train.generator_start: the steps before it update D alone (a critic warm-up), G and its schedule stay
    put; from that step on both train. With generator_start >= max_steps the run is D-only."""
    recipe = recipe_factory("pwg", ("pwg",), steps=2)
    recipe["train"].update(generator_start=2, eval_every=100, save_every=100, log_every=1)
    trainer = Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    g0 = {k: v.detach().clone() for k, v in trainer.generator.state_dict().items()}
    d0 = {k: v.detach().clone() for k, v in trainer.discriminator.state_dict().items()}
    logs = trainer.train_step(trainer.train_data.batch(2, 0), 0)
    assert "loss/d_real" in logs and "loss/d_fake" in logs and logs["grad_norm/d"] > 0.0
    assert not any(k.startswith(("loss/g", "loss/mel", "grad_norm/g")) for k in logs)
    assert all(torch.equal(g0[k], v) for k, v in trainer.generator.state_dict().items())
    changed = [k for k, v in trainer.discriminator.state_dict().items() if not torch.equal(d0[k], v)]
    assert changed
    g_before = {k: v.detach().clone() for k, v in trainer.generator.state_dict().items()}
    logs = trainer.train_step(trainer.train_data.batch(2, 2), 2)  # at generator_start: G trains too
    assert logs["loss/g_total"] > 0.0 and logs["grad_norm/g"] > 0.0
    assert any(not torch.equal(g_before[k], v) for k, v in trainer.generator.state_dict().items())


@pytest.mark.parametrize("train,message", [
    ({"generator_start": 5}, "the recipe has no discriminators"),
    ({"generator_start": 5, "discriminator_start": 2}, "the steps before both would train nothing"),
    ({"generator_start": -1}, "must be >= 0"),
])
def test_bad_generator_start_is_one_line(tmp_path, recipe_factory, train, message):
    recipe = recipe_factory("pwg", () if "no discriminators" in message else ("pwg",), steps=2)
    recipe["train"].update(train)
    with pytest.raises(ConfigError, match=message) as err:
        Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    assert "\n" not in str(err.value) and not (tmp_path / "run").exists()
