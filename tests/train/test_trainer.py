"""End-to-end training through the CLI: train, checkpoint, resume, TensorBoard contents; overfitting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from vocoder.config import config_from_dict
from vocoder.errors import ConfigError
from vocoder.train import checkpoint as ckpt
from vocoder.train.run_folder import resume_config
from vocoder.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vocoder", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.slow
def test_train_checkpoint_resume_and_tensorboard(tmp_path, recipe_factory):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(recipe_factory("wavehax", ("msstft",), steps=20)))
    run = tmp_path / "run"
    out = cli("train", str(recipe), "--out", str(run), "--set", "train.max_steps=12",
              "--set", "train.save_every=6", "--set", "train.eval_every=6", "--set", "train.log_every=3")
    assert out.returncode == 0, out.stderr[-2000:]
    root = run / "checkpoints"
    assert [p.name for p in ckpt.list_checkpoints(root)] == ["step-00000006", "step-00000012"]
    assert (root / "latest").read_text().strip() == "step-00000012"
    assert (root / "best" / "model.safetensors").is_file()
    assert (run / "config.yaml").is_file() and (run / "manifest.json").is_file()
    state = ckpt.load_state(root / "step-00000012")
    assert state["step"] == 12 and "discriminator" in state and "opt_d" in state

    # the run's saved config wins over the recipe (max_steps 12 from the --set above): --set raises it
    out = cli("train", str(recipe), "--out", str(run), "--resume", "--set", "train.max_steps=20")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resumed from" in out.stdout and "step 12" in out.stdout
    assert "differs from the run's saved config" in out.stderr and "train.max_steps" in out.stderr
    assert ckpt.load_state(root / "latest".replace("latest", "step-00000020"))["step"] == 20
    assert [p.name for p in ckpt.list_checkpoints(root)] == ["step-00000018", "step-00000020"]  # keep_last 2

    events = EventAccumulator(str(run / "logs"), size_guidance={"audio": 0, "images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    for tag in ("loss/g_total", "loss/mel", "loss/mrstft", "loss/d_real", "loss/g_adv", "loss/feature_matching",
                "lr/g", "grad_norm/g", "speed/steps_per_s", "speed/data_wait_fraction", "valid/mel_l1"):
        assert tag in tags["scalars"], tag
    steps = [e.step for e in events.Scalars("loss/g_total")]
    assert steps[0] == 3 and steps[-1] == 20
    assert any(t.startswith("generated/") for t in tags["audio"]) and any(t.startswith("real/") for t in tags["audio"])
    assert any(t.startswith("mel/") for t in tags["images"])


def _write_old_config_form(run: Path, recipe: dict) -> None:
    """Rewrite the run's saved configs as written before ``losses:`` became a list: the old mapping, and
    ``train.amp`` / ``train.num_workers`` present."""
    by_name = {entry["name"]: entry for entry in recipe["losses"]}
    old_losses = {"mrstft": {k: by_name["mrstft"][k] for k in ("weight", "params")},
                  "mel": {k: by_name["mel"][k] for k in ("weight", "params")}, "multiscale_mel": None,
                  "adversarial_kind": "lsgan", "adversarial_weight": 1.0, "feature_matching_weight": 2.0}
    for saved in [run / "config.yaml", *(run / "checkpoints").glob("step-*/config.yaml")]:
        data = yaml.safe_load(saved.read_text())
        data["losses"] = old_losses
        data["train"].update(num_workers=0, amp="none")
        saved.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("old_form", [False, True], ids=["saved", "saved-in-the-old-config-form"])
def test_resume_matches_uninterrupted_run(tmp_path, recipe_factory, old_form):
    """4 steps straight == 2 steps, stop, resume to 4 (same batches, noise and optimizer state); also for a
    run folder saved in the old config form, resumed through --resume's config path."""
    base = recipe_factory("pwg", ("pwg",), steps=4)
    base["train"].update(save_every=2, eval_every=100)
    straight = Trainer(config_from_dict(base), tmp_path / "a", progress=False)
    straight.fit()
    half = config_from_dict(base, overrides=["train.max_steps=2"])
    Trainer(half, tmp_path / "b", progress=False).fit()
    cfg = config_from_dict(base)
    if old_form:
        _write_old_config_form(tmp_path / "b", base)
        cfg = resume_config(tmp_path / "b", tmp_path / "b", ["train.max_steps=4"])
        assert cfg.to_dict() == config_from_dict(base).to_dict()
    resumed = Trainer(cfg, tmp_path / "b", resume=True, progress=False)
    assert resumed.step == 2
    resumed.fit()
    a = load_file(str(tmp_path / "a" / "checkpoints" / "step-00000004" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "checkpoints" / "step-00000004" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_init_from_starts_from_another_runs_generator(tmp_path, recipe_factory):
    """train.init_from copies the generator weights; optimiser and step start fresh; a misfit is one line."""
    base = recipe_factory("wavehax", steps=2)
    base["train"].update(save_every=2, eval_every=100)
    Trainer(config_from_dict(base), tmp_path / "a", progress=False).fit()
    source = load_file(str(tmp_path / "a" / "checkpoints" / "step-00000002" / "model.safetensors"))
    tuned = Trainer(config_from_dict(base, overrides=[f"train.init_from={tmp_path / 'a'}"]), tmp_path / "b",
                    progress=False)
    assert tuned.step == 0
    for k, v in tuned.generator.state_dict().items():
        assert torch.equal(v, source[k]), k
    fresh = Trainer(config_from_dict(base), tmp_path / "c", progress=False)
    assert not all(torch.equal(v, source[k]) for k, v in fresh.generator.state_dict().items())

    other = recipe_factory("istftnet", steps=2)
    other["train"]["init_from"] = str(tmp_path / "a")
    with pytest.raises(ConfigError) as err:
        Trainer(config_from_dict(other), tmp_path / "d", progress=False)
    assert "train.init_from" in str(err.value) and "do not fit" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("generator", ["istftnet", "wavehax", "pwg"])
def test_overfitting_one_segment_lowers_reconstruction_loss(tmp_path, recipe_factory, generator):
    recipe = recipe_factory(generator, steps=60)
    recipe["optim"]["generator"]["lr"] = 3e-3
    trainer = Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    batch = trainer.train_data.batch(2, step=0)
    losses = []
    for _ in range(60):
        logs = trainer.train_step(batch, step=0)  # same segment, same noise every step
        losses.append(logs["loss/mel"])
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.7 * first, (first, last)


def test_one_gan_step_with_msstft_and_cqt(tmp_path, recipe_factory):
    for generator in ("pwg", "istftnet", "wavehax"):
        recipe = recipe_factory(generator, ("msstft", "mssbcqt"), steps=1)
        trainer = Trainer(config_from_dict(recipe), tmp_path / generator, progress=False)
        before = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
        logs = trainer.train_step(trainer.train_data.batch(2, step=0), step=0)
        assert logs is not None and all(torch.isfinite(torch.tensor(v)) for v in logs.values())
        for key in ("loss/d_real", "loss/d_fake", "loss/g_adv", "loss/feature_matching", "loss/mel"):
            assert key in logs
        after = trainer.discriminator.state_dict()
        assert any(not torch.equal(before[k], after[k]) for k in before)  # D was updated
