"""Run folders are safe: ``vocoder train`` never trains into a folder holding a run unless ``--resume`` (which
uses the run's saved config) or ``--force`` (which deletes only a folder that is nothing but a run); a run that
does not start writes nothing; Ctrl-C writes a checkpoint of the current step and prints the resume command.

Each refusal goes through the real CLI (``vocoder.cli.main`` with capsys, or ``python -m vocoder``): exit code
1, exactly one ``error:`` line naming the path and the problem, no traceback, and every file of the folder
byte-for-byte and timestamp-for-timestamp as it was.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from vocoder.cli import main
from vocoder.config import config_from_dict, load_config
from vocoder.data.dataset import SegmentSampler
from vocoder.errors import ConfigError
from vocoder.train import checkpoint as ckpt
from vocoder.train.trainer import Trainer, TrainingInterrupted, train

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("train_recipes", ROOT / "tests" / "train" / "conftest.py")
train_recipes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_recipes)
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def recipe_dict(folder: Path, steps: int = 4) -> dict:
    recipe = train_recipes.tiny_recipe(folder, "pwg", ("pwg",), steps)
    recipe["train"].update(save_every=2, eval_every=1000, log_every=2, keep_last=10, threads=1)
    return recipe


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("recipe")
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe_dict(folder)))
    return path


@pytest.fixture(scope="module")
def trained(recipe, tmp_path_factory) -> Path:
    """A finished run of the recipe with ``--set train.max_steps=2`` (checkpoint step-00000002)."""
    run = tmp_path_factory.mktemp("trained") / "run"
    train(load_config(recipe, ["train.max_steps=2"]), run, progress=False)
    return run


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A private copy of the finished run."""
    return Path(shutil.copytree(trained, tmp_path / "run"))


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every file and folder below ``folder`` (hidden ones too): kind, size, mtime and content hash."""
    if not folder.exists():
        return {}
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_dir():
            found[rel] = ("dir",)
        else:
            st = path.stat()
            found[rel] = ("file", st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def refused(capsys, *argv, names: tuple[str, ...]) -> str:
    """Run the CLI; assert exit 1, no traceback and exactly one ``error:`` line holding each of ``names``."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1, (code, err[-2000:])
    assert "Traceback" not in err and len(errors) == 1, err[-2000:]
    for name in names:
        assert name in errors[0], (name, errors[0])
    assert "resumed from" not in out and "run folder:" not in out  # nothing started
    return errors[0]


def test_train_into_a_folder_holding_a_run_is_refused(capsys, recipe, run):
    before = snapshot(run)
    line = refused(capsys, "train", recipe, "--out", run, names=(f"{run}: holds a run already", "--resume", "--force"))
    assert "config.yaml" in line and "checkpoints/" in line
    refused(capsys, "train", run, "--out", run, names=(f"{run}: holds a run already",))
    # the API refuses too
    with pytest.raises(ConfigError, match="holds a run already"):
        Trainer(load_config(recipe), run, progress=False)
    assert snapshot(run) == before


def test_force_replaces_a_run_and_only_a_run(capsys, recipe, run, tmp_path):
    old_events = sorted(p.name for p in (run / "logs").iterdir())
    assert main(["train", str(recipe), "--out", str(run), "--force", "--set", "train.max_steps=4",
                 "--set", "train.save_every=4"]) == 0
    capsys.readouterr()
    # the old run's checkpoints and logs are gone, not mixed with the new run's
    assert [p.name for p in ckpt.list_checkpoints(run / "checkpoints")] == ["step-00000004"]
    assert not set(old_events) & {p.name for p in (run / "logs").iterdir()}
    assert len(list((run / "logs").iterdir())) == 1
    assert load_config(run).train.save_every == 4

    # a run folder that holds something else too: --force deletes nothing
    (run / "notes.txt").write_text("mine")
    (run / "checkpoints" / "export.onnx").write_text("mine too")
    before = snapshot(run)
    line = refused(capsys, "train", recipe, "--out", run, "--force",
                   names=(f"{run}: --force refused", "does not look like a run folder", "notes.txt"))
    assert "checkpoints/export.onnx" in line
    assert snapshot(run) == before

    # a folder that holds no run at all: --force has nothing to replace and deletes nothing
    other = tmp_path / "documents"
    other.mkdir()
    (other / "thesis.tex").write_text("mine")
    refused(capsys, "train", recipe, "--out", other, "--force", names=(f"{other}: --force refused", "thesis.tex"))
    assert snapshot(other) and [p.name for p in other.iterdir()] == ["thesis.tex"]

    refused(capsys, "train", recipe, "--out", run, "--force", "--resume", names=(f"{run}: --resume and --force",))
    assert snapshot(run) == before


def test_resume_uses_the_saved_config_and_only_the_sets_given(capsys, recipe, run, tmp_path):
    # the recipe was edited after the run started: the run's own config (save_every 2) still wins
    edited = yaml.safe_load(recipe.read_text())
    edited["train"]["save_every"] = 1
    edited_path = tmp_path / "edited.yaml"
    edited_path.write_text(yaml.safe_dump(edited))
    assert main(["train", str(edited_path), "--out", str(run), "--resume", "--set", "train.max_steps=4"]) == 0
    out, err = capsys.readouterr()
    assert f"resumed from {run / 'checkpoints' / 'step-00000002'} at step 2" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "train.save_every" in warnings[0] and "train.max_steps" in warnings[0], err
    assert [p.name for p in ckpt.list_checkpoints(run / "checkpoints")] == ["step-00000002", "step-00000004"]
    saved = load_config(run)
    assert (saved.train.max_steps, saved.train.save_every) == (4, 2)  # the --set applied, nothing else

    # the run folder as its own recipe: no comparison, no warning
    assert main(["train", str(run), "--out", str(run), "--resume", "--set", "train.max_steps=6"]) == 0
    out, err = capsys.readouterr()
    assert "at step 4" in out and "warning" not in err, err
    assert ckpt.load_state(run / "checkpoints" / "step-00000006")["step"] == 6


@pytest.mark.parametrize("override, what", [
    ("generator.params.residual_channels=16", "generator"),
    ("discriminators.0.params.channels=16", "discriminator"),
])
def test_resume_refuses_a_set_that_changes_a_shape_before_writing(capsys, recipe, run, override, what):
    before = snapshot(run)
    folder = run / "checkpoints" / "step-00000002"
    line = refused(capsys, "train", run, "--out", run, "--resume", "--set", override,
                   names=(f"{folder}: the checkpoint's {what} does not fit the config", "differ in shape"))
    assert "cannot resume this run" in line
    refused(capsys, "train", recipe, "--out", run, "--resume", "--set", override, names=(str(folder),))
    assert snapshot(run) == before  # config.yaml and manifest.json were not rewritten


def test_resume_refuses_a_recipe_with_another_generator(capsys, recipe, run, tmp_path):
    other = tmp_path / "istftnet.yaml"
    other.write_text(yaml.safe_dump(train_recipes.tiny_recipe(tmp_path, "istftnet", (), 4)))
    before = snapshot(run)
    refused(capsys, "train", other, "--out", run, "--resume",
            names=(f"{other}: --resume refused", "generator is istftnet", "the run's is pwg", str(run)))
    assert snapshot(run) == before


def test_resume_without_a_run_writes_nothing(capsys, recipe, tmp_path):
    missing = tmp_path / "missing"
    refused(capsys, "train", recipe, "--out", missing, "--resume", names=(f"{missing}: --resume given",))
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(capsys, "train", recipe, "--out", empty, "--resume", names=(f"{empty}: --resume given", "no run"))
    assert list(empty.iterdir()) == []
    # a run folder without any usable checkpoint (e.g. killed before its first save)
    started = tmp_path / "started"
    started.mkdir()
    shutil.copy(recipe, started / "config.yaml")
    (started / "checkpoints").mkdir()
    before = snapshot(started)
    refused(capsys, "train", recipe, "--out", started, "--resume",
            names=(f"{started / 'checkpoints'}: --resume given but no usable checkpoint found",))
    assert snapshot(started) == before
    with pytest.raises(ConfigError, match="no run"):
        Trainer(load_config(recipe), empty, resume=True, progress=False)
    assert list(empty.iterdir()) == []


def test_unwritable_run_folder_is_one_line(capsys, recipe, tmp_path):
    # a path below a regular file cannot be created, whoever runs the test (root too)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    below = blocker / "run"
    refused(capsys, "train", recipe, "--out", below, names=(f"{below}: cannot write the run folder",))
    refused(capsys, "train", recipe, "--out", blocker, names=(f"{blocker}: not a folder",))
    assert blocker.read_text() == "a file, not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_run_folder_is_one_line(capsys, recipe, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        refused(capsys, "train", recipe, "--out", locked / "run", names=(f"{locked / 'run'}: cannot write",))
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_console_shows_run_folder_logs_and_each_validation(capsys, recipe, tmp_path):
    run = tmp_path / "run"
    assert main(["train", str(recipe), "--out", str(run), "--set", "train.eval_every=2"]) == 0
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert f"run folder: {run}" in lines
    assert f"TensorBoard logs: {run / 'logs'} (view: tensorboard --logdir {shlex.quote(str(run / 'logs'))})" in lines
    valid = [line for line in lines if " validation " in line]
    assert [line.split(":")[0] for line in valid] == ["step 2", "step 4"], out
    assert all("mel_l1 " in line for line in valid)


# ------------------------------------------------------------------------------------------- Ctrl-C


def interrupt_at(monkeypatch, step: int, times: int = 1) -> None:
    """SIGINT this process ``times`` times while the batch of ``step`` is drawn."""
    real_batch = SegmentSampler.batch

    def batch(self, size, at, rank=0):
        if at == step:
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGINT)
        return real_batch(self, size, at, rank)

    monkeypatch.setattr(SegmentSampler, "batch", batch)


def test_ctrl_c_finishes_the_step_saves_it_and_resume_matches_uninterrupted(tmp_path, monkeypatch, capsys):
    recipe = recipe_dict(tmp_path, steps=6)
    recipe["train"].update(save_every=100)
    straight = Trainer(config_from_dict(recipe), tmp_path / "straight", progress=False)
    straight.fit()

    interrupt_at(monkeypatch, 3)
    trainer = Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    with pytest.raises(TrainingInterrupted):
        trainer.fit()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler was put back
    err = capsys.readouterr().err
    run = tmp_path / "run"
    assert trainer.step == 4  # step 3 (the 4th) was finished, no 5th begun
    folder = run / "checkpoints" / "step-00000004"
    assert f"interrupted at step 4: checkpoint of step 4 written; last saved: step 4 ({folder})" in err
    assert f"resume with: vocoder train {run} --out {run} --resume" in err
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-00000004"

    monkeypatch.undo()
    resumed = Trainer(load_config(run), run, resume=True, progress=False)
    assert resumed.step == 4
    resumed.fit()
    a = load_file(str(tmp_path / "straight" / "checkpoints" / "step-00000006" / "model.safetensors"))
    b = load_file(str(run / "checkpoints" / "step-00000006" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_second_ctrl_c_stops_at_once_and_still_saves_between_steps(tmp_path, monkeypatch, capsys):
    recipe = recipe_dict(tmp_path, steps=6)
    recipe["train"].update(save_every=100)
    interrupt_at(monkeypatch, 3, times=2)  # the second one raises while the batch of step 3 is drawn
    trainer = Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    with pytest.raises(TrainingInterrupted):
        trainer.fit()
    assert trainer.step == 3
    assert "checkpoint of step 3 written" in capsys.readouterr().err
    assert [p.name for p in ckpt.list_checkpoints(tmp_path / "run" / "checkpoints")] == ["step-00000003"]


def test_ctrl_c_inside_an_update_saves_nothing_half_done(tmp_path, monkeypatch, capsys):
    recipe = recipe_dict(tmp_path, steps=6)
    trainer = Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    real_step = trainer.train_step

    def step(batch, at):
        if at == 3:
            raise KeyboardInterrupt  # as if it landed between the D and the G update
        return real_step(batch, at)

    monkeypatch.setattr(trainer, "train_step", step)
    with pytest.raises(TrainingInterrupted):
        trainer.fit()
    err = capsys.readouterr().err
    assert "interrupted at step 3: the next step's update was half done, not saved; last saved: step 2" in err
    assert [p.name for p in ckpt.list_checkpoints(tmp_path / "run" / "checkpoints")] == ["step-00000002"]


@pytest.mark.slow
def test_sigint_through_the_cli_saves_and_prints_the_resume_command(recipe, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "vocoder", "train", str(recipe), "--out", str(run), "--set", "train.max_steps=100000"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoints" / ckpt.LATEST_FILE).exists():
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "error:" not in err, err[-2000:]
    lines = [line.strip() for line in err.replace("\r", "\n").splitlines()]
    done = [line for line in lines if line.startswith("interrupted at step ")]
    assert len(done) == 1, err[-2000:]
    step = int(done[0].split()[3].rstrip(":"))
    assert step >= 2 and f"checkpoint of step {step} written" in done[0]
    folder, state, _ = ckpt.latest_resumable(run / "checkpoints")
    assert folder.name == f"step-{step:08d}" and state["step"] == step
    resume = f"resume with: vocoder train {run} --out {run} --resume"
    assert resume in lines

    # the printed command resumes the run (one more step: --set on top of the saved config)
    args = shlex.split(resume.split(": ", 1)[1])[1:] + ["--set", f"train.max_steps={step + 1}"]
    again = subprocess.run([sys.executable, "-m", "vocoder", *args], cwd=ROOT, env=ENV, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resumed from {folder} at step {step}" in again.stdout
    assert ckpt.load_state(run / "checkpoints" / f"step-{step + 1:08d}")["step"] == step + 1
