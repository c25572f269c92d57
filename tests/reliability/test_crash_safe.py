"""Crash-safe training: kill -9 at random moments (checkpoint writes included) leaves a loadable checkpoint
and ``--resume`` reaches bit-identical weights; a corrupt latest checkpoint falls back to the one before
with a one-line warning; non-finite steps are skipped and counted, and too many in a row stop training
with a one-line error and a usable checkpoint.

Tiny Parallel WaveGAN + PWG discriminator (GAN: discriminator and both optimizers are resumed too),
a checkpoint every step, one torch thread (bitwise-reproducible CPU arithmetic).
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from vocoder.config import config_from_dict
from vocoder.data.dataset import SegmentSampler
from vocoder.models import artifact
from vocoder.train import checkpoint as ckpt
from vocoder.train.trainer import Trainer, TrainingError

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("train_recipes", ROOT / "tests" / "train" / "conftest.py")
train_recipes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_recipes)

STEPS = 10
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

# `python -c` wrapper around the CLI that turns every batch from step 2 on into NaN audio
NAN_CLI = """
import sys
from vocoder.data.dataset import SegmentSampler
real_batch = SegmentSampler.batch
def batch(self, size, step, rank=0):
    b = real_batch(self, size, step, rank)
    if step >= 2:
        b.wav.fill_(float("nan"))
    return b
SegmentSampler.batch = batch
from vocoder.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def recipe_dict(folder: Path, steps: int = STEPS) -> dict:
    recipe = train_recipes.tiny_recipe(folder, "pwg", ("pwg",), steps)
    recipe["train"].update(save_every=1, eval_every=1000, log_every=1, keep_last=3, threads=1)
    return recipe


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("recipe")
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe_dict(folder)))
    return path


@pytest.fixture(scope="module")
def reference(recipe, tmp_path_factory) -> Path:
    """An uninterrupted run of ``STEPS`` steps."""
    run = tmp_path_factory.mktemp("reference") / "run"
    out = cli("train", str(recipe), "--out", str(run))
    assert out.returncode == 0, out.stderr[-2000:]
    return run


def cli(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    head = [sys.executable, "-c", code] if code else [sys.executable, "-m", "vocoder"]
    return subprocess.run([*head, *args], capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=300)


def step_folder(run: Path, step: int) -> Path:
    return run / "checkpoints" / f"step-{step:08d}"


def assert_same_training_state(a: Path, b: Path) -> None:
    """Generator weights, discriminator weights and both optimizers' tensors are bitwise equal."""
    wa, wb = load_file(str(a / artifact.MODEL_FILE)), load_file(str(b / artifact.MODEL_FILE))
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    sa, sb = ckpt.load_state(a), ckpt.load_state(b)
    assert sa["step"] == sb["step"]
    for part in ("discriminator",):
        assert sa[part].keys() == sb[part].keys()
        for k in sa[part]:
            assert torch.equal(sa[part][k], sb[part][k]), (part, k)
    for part in ("opt_g", "opt_d"):
        for idx, st in sa[part]["state"].items():
            for k, v in st.items():
                assert torch.equal(v, sb[part]["state"][idx][k]), (part, idx, k)


def hidden_leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".")) if root.is_dir() else []


def writes_seen(root: Path, proc: subprocess.Popen, count: int, timeout: float = 120.0) -> None:
    """Poll ``root`` every ~1 ms until the ``count``-th new ``.step-*.tmp`` folder appears (a checkpoint
    write in progress; each lasts some 20-40 ms, mostly fsync)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        assert proc.poll() is None, "training ended before the kill"
        assert time.monotonic() < deadline, "no checkpoint write seen"
        try:
            names = os.listdir(root)
        except FileNotFoundError:
            names = []
        seen.update(n for n in names if n.startswith(".step-") and n.endswith(ckpt.TMP_SUFFIX))
        time.sleep(0.001)


@pytest.mark.slow
def test_kill9_at_random_moments_then_resume_matches_uninterrupted(recipe, reference, tmp_path):
    rng = random.Random(1234)
    run = tmp_path / "run"
    root = run / "checkpoints"
    # (writes to wait for, then seconds until SIGKILL): right inside a write, or a random moment later
    plans = [(2, rng.uniform(0.0, 0.005)), (1, rng.uniform(0.0, 0.25)), (2, rng.uniform(0.0, 0.005))]
    hits, steps = 0, []
    for writes, delay in plans:
        resume = ckpt.latest_resumable(root, warn=None) is not None
        cmd = [sys.executable, "-m", "vocoder", "train", str(recipe), "--out", str(run)] + (["--resume"] * resume)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            writes_seen(root, proc, writes)
            time.sleep(delay)
        finally:
            proc.kill()  # SIGKILL
            proc.wait()
        assert proc.returncode == -9
        hits += any(n.endswith(ckpt.TMP_SUFFIX) for n in hidden_leftovers(root))

        problems: list[str] = []
        found = ckpt.latest_resumable(root, warn=problems.append)
        assert found is not None and problems == []  # a kill never leaves a broken checkpoint behind
        folder, state, _ = found
        assert folder.name == f"step-{state['step']:08d}"
        steps.append(state["step"])
        generator, cfg = artifact.load_generator(run)
        assert cfg.generator.name == "pwg" and generator.hop == 160

    assert hits >= 1, "no kill landed inside a checkpoint write"
    assert steps == sorted(steps) and 1 <= steps[0] and steps[-1] < STEPS, steps

    out = cli("train", str(recipe), "--out", str(run), "--resume")
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"at step {steps[-1]}\n" in out.stdout
    assert hidden_leftovers(root) == []  # the leftovers of the kills were cleaned when training started
    assert (root / ckpt.LATEST_FILE).read_text().strip() == f"step-{STEPS:08d}"
    assert_same_training_state(step_folder(run, STEPS), step_folder(reference, STEPS))


@pytest.mark.slow
def test_corrupt_latest_checkpoints_fall_back_with_one_line_warnings(recipe, reference, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    for step, name in ((STEPS, ckpt.STATE_FILE), (STEPS - 1, artifact.MODEL_FILE)):
        path = step_folder(run, step) / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated, as by a full disk

    out = cli("train", str(recipe), "--out", str(run), "--resume")
    assert out.returncode == 0, out.stderr[-2000:]
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2, out.stderr
    assert f"step-{STEPS:08d}/trainer.pt: cannot load trainer state" in warnings[0]
    assert f"step-{STEPS - 1:08d}/model.safetensors: not a valid safetensors file" in warnings[1]
    assert "Traceback" not in out.stderr and "Warning:" not in out.stderr  # no Python warning with file:line
    assert f"resumed from {step_folder(run, STEPS - 2)} at step {STEPS - 2}\n" in out.stdout
    # the broken checkpoints were rewritten by the resumed run, equal to the uninterrupted ones
    for step in (STEPS - 1, STEPS):
        assert_same_training_state(step_folder(run, step), step_folder(reference, step))


def nan_batches(monkeypatch, first: int, calls: list[int] | None = None, last: int = 10**9) -> None:
    """Batches of steps ``first..last`` hold NaN audio; every drawn step is recorded in ``calls``."""
    real_batch = SegmentSampler.batch

    def batch(self, size, step, rank=0):
        if calls is not None:
            calls.append(step)
        b = real_batch(self, size, step, rank)
        if first <= step <= last:
            b.wav.fill_(float("nan"))
        return b

    monkeypatch.setattr(SegmentSampler, "batch", batch)


def test_nonfinite_step_is_skipped_counted_and_not_retried(tmp_path, monkeypatch, capsys):
    recipe = recipe_dict(tmp_path, steps=5)
    recipe["train"].update(save_every=100, log_every=5)
    calls: list[int] = []
    nan_batches(monkeypatch, first=2, last=2, calls=calls)
    trainer = Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    trainer.fit()
    assert trainer.step == 5 and trainer.nonfinite_total == 1 and trainer.nonfinite_run == 0
    assert calls == [0, 1, 2, 3, 4]  # the bad batch was consumed, not drawn again
    assert "warning: step 2: non-finite discriminator loss, step skipped\n" in capsys.readouterr().err
    assert ckpt.load_state(step_folder(tmp_path / "run", 5))["nonfinite_total"] == 1
    events = EventAccumulator(str(tmp_path / "run" / "logs"), size_guidance={"scalars": 0})
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("train/nonfinite_steps")] == [(5, 1.0)]


def test_nonfinite_steps_in_a_row_stop_training_with_a_usable_checkpoint(tmp_path, monkeypatch):
    recipe = recipe_dict(tmp_path)
    recipe["train"].update(max_nonfinite=3, keep_last=10)
    nan_batches(monkeypatch, first=2)
    trainer = Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    with pytest.raises(TrainingError) as info:
        trainer.fit()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("3 non-finite losses in a row (steps 2-4); stopped (last good checkpoint: ")
    assert trainer.step == 5 and trainer.nonfinite_total == 3
    root = tmp_path / "run" / "checkpoints"
    folder, state, weights = ckpt.latest_resumable(root)
    assert folder == step_folder(tmp_path / "run", 5) and str(folder) in message and state["step"] == 5
    # the skipped steps 2, 3, 4 changed nothing: the weights equal those saved after step 1
    after_step_1 = load_file(str(step_folder(tmp_path / "run", 2) / artifact.MODEL_FILE))
    assert weights.keys() == after_step_1.keys()
    assert all(torch.equal(weights[k], after_step_1[k]) for k in weights)
    before = load_file(str(step_folder(tmp_path / "run", 1) / artifact.MODEL_FILE))
    assert not all(torch.equal(before[k], after_step_1[k]) for k in weights)  # step 1 did update
    generator, _ = artifact.load_generator(tmp_path / "run")
    assert all(torch.isfinite(p).all() for p in generator.parameters())


def test_nonfinite_weights_are_not_saved_on_stop(tmp_path, monkeypatch, capsys):
    recipe = recipe_dict(tmp_path)
    recipe["train"].update(max_nonfinite=2)
    trainer = Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    real_step = trainer.train_step

    def poisoned(batch, step):
        if step == 3:
            with torch.no_grad():
                next(trainer.generator.parameters()).fill_(float("inf"))
        return real_step(batch, step)

    monkeypatch.setattr(trainer, "train_step", poisoned)
    with pytest.raises(TrainingError, match=r"\(steps 3-4\); stopped \(last good checkpoint: .*step-00000003\)"):
        trainer.fit()
    assert [p.name for p in ckpt.list_checkpoints(tmp_path / "run" / "checkpoints")][-1] == "step-00000003"
    assert "warning: step 4: weights are not finite, checkpoint not written\n" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_stops_on_nonfinite_losses_with_one_error_line(recipe, tmp_path):
    run = tmp_path / "run"
    out = cli("train", str(recipe), "--out", str(run), "--set", "train.max_nonfinite=2", code=NAN_CLI)
    assert out.returncode == 1, out.stderr[-2000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in out.stderr, out.stderr
    assert errors[0].startswith("error: 2 non-finite losses in a row (steps 2-3); stopped (last good checkpoint: ")
    assert sum(line.startswith("warning: step ") for line in out.stderr.splitlines()) == 2
    folder, state, _ = ckpt.latest_resumable(run / "checkpoints")
    assert folder.name == "step-00000004" and state["nonfinite_total"] == 2
    artifact.load_generator(run)


def test_clean_incomplete_repairs_what_a_kill_leaves(tmp_path):
    root = tmp_path / "checkpoints"
    for name in ("step-00000002", "best", ".step-00000003.old", ".best.old", ".step-00000004.tmp",
                 ".step-00000001.trash"):
        (root / name).mkdir(parents=True)
        (root / name / "marker").write_text(name)
    (root / ".latest.tmp").write_text("half")
    (root / "latest").write_text("step-00000004\n")  # a pointer ahead of the folders
    removed = ckpt.clean_incomplete(root)
    assert sorted(removed) == sorted([".step-00000003.old", ".best.old", ".step-00000004.tmp",
                                      ".step-00000001.trash", ".latest.tmp"])
    assert sorted(p.name for p in root.iterdir()) == ["best", "latest", "step-00000002", "step-00000003"]
    assert (root / "step-00000003" / "marker").read_text() == ".step-00000003.old"  # put back: no replacement
    assert (root / "best" / "marker").read_text() == "best"  # kept: its replacement had arrived
    assert (root / "latest").read_text() == "step-00000003\n"
