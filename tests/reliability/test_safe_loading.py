"""No file the package reads can run code: pickled payloads in a mel ``.pt``, a checkpoint's ``trainer.pt``
and a fake ``model.safetensors`` are refused with one line (the payload never runs), and the source tree
holds no unsafe loader (checked by parsing every module)."""

from __future__ import annotations

import ast
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from badinputs import MARKER, good_recipe, payload_pickle, plausible_audio, plausible_mel, write_payload_pt
from cli_runner import ROOT, run_cli
from helpers_synth import DEMO

import vocoder
from vocoder.config import config_from_dict
from vocoder.errors import InputError, ModelError
from vocoder.infer.mel_files import load_mel
from vocoder.models.artifact import write_model
from vocoder.models.factory import build_generator
from vocoder.train.checkpoint import LATEST_FILE, STATE_FILE


def test_the_payloads_do_run_when_unpickled(tmp_path):
    # the control: the files below are refused for a reason, loading them unsafely creates the marker
    write_payload_pt(tmp_path / "p.pt", tmp_path / "from_pt")
    torch.load(tmp_path / "p.pt", weights_only=False)
    pickle.loads(payload_pickle(tmp_path / "from_pickle"))
    assert (tmp_path / "from_pt").is_file() and (tmp_path / "from_pickle").is_file()


def test_payload_mel_files_are_refused(tmp_path, models):
    marker = tmp_path / MARKER
    refused = "refused to load .pt file: it holds more than tensors, numbers and dicts"
    zip_pt = write_payload_pt(tmp_path / "evil.pt", marker)
    raw = []  # plain pickles of every protocol (torch.save writes a zip; a .pt may be either)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        raw.append(tmp_path / f"evil_raw{protocol}.pt")
        raw[-1].write_bytes(payload_pickle(marker, protocol))
    for path in (zip_pt, *raw):
        with pytest.raises(InputError) as info:
            load_mel(path, DEMO)
        assert str(info.value).startswith(f"{path}: {refused} (")
    result = run_cli("synthesize", models["istftnet"], zip_pt, raw[2], raw[5], "--out", tmp_path / "out")
    assert result.code == 1 and "Traceback" not in result.stderr and len(result.errors) == 3, result.stderr
    assert result.errors[:2] == [
        f"error: {zip_pt}: {refused} (it would call io.open)", f"error: {raw[2]}: {refused} (it would call io.open)"
    ]
    assert result.errors[2].startswith(f"error: {raw[5]}: {refused} (")  # the reason names an opcode
    assert not marker.exists() and not list((tmp_path / "out").glob("*.wav"))


def test_pickle_posing_as_safetensors_is_refused(tmp_path, models):
    marker = tmp_path / MARKER
    folder = tmp_path / "ckpt"
    shutil.copytree(models["istftnet"], folder)
    (folder / "model.safetensors").write_bytes(payload_pickle(marker))
    with pytest.raises(ModelError, match="not a valid safetensors file"):
        vocoder.load(folder)
    np.save(tmp_path / "a.npy", plausible_mel(DEMO))
    result = run_cli("synthesize", folder, tmp_path / "a.npy", "--out", tmp_path / "out")
    assert result.code == 1 and "Traceback" not in result.stderr
    assert result.errors == [
        f"error: {folder / 'model.safetensors'}: not a valid safetensors file "
        "(Error while deserializing header: header too large)"
    ]
    assert not marker.exists() and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------- trainer state


@pytest.fixture
def recipe(tmp_path) -> Path:
    """A tiny Parallel WaveGAN recipe on four synthetic clips (two steps, a checkpoint every two)."""
    data = tmp_path / "wavs"
    data.mkdir()
    for i in range(4):
        sf.write(data / f"{i}.wav", plausible_audio(DEMO, frames=120, seed=i), DEMO.sample_rate)
    cfg = good_recipe(tmp_path, DEMO)
    cfg["train"].update(save_every=2, eval_every=2, log_every=1, eval_utterances=1, audio_log_utterances=0)
    cfg["data"].update(valid_count=1, test_count=1, cache_dir=str(tmp_path / "cache"))
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _payload_checkpoint(root: Path, step: int, recipe: Path, marker: Path) -> Path:
    """Checkpoint folder ``step`` with real weights and config but a ``trainer.pt`` that runs code."""
    folder = root / f"step-{step:08d}"
    cfg = config_from_dict(yaml.safe_load(recipe.read_text()))
    write_model(folder, build_generator(cfg), cfg, step)
    write_payload_pt(folder / STATE_FILE, marker)
    (root / LATEST_FILE).write_text(folder.name + "\n")
    return folder


def test_resume_never_unpickles_trainer_state(tmp_path, recipe):
    marker = tmp_path / MARKER
    run = tmp_path / "run"
    evil = _payload_checkpoint(run / "checkpoints", 2, recipe, marker)
    result = run_cli("train", recipe, "--out", run, "--resume")
    assert result.code == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.errors == [f"error: {run / 'checkpoints'}: --resume given but no usable checkpoint found"]
    assert f"{evil / STATE_FILE}: cannot load trainer state" in result.stderr
    assert not marker.exists()


def test_resume_falls_back_to_the_last_safe_checkpoint(tmp_path, recipe):
    from vocoder.config import load_config
    from vocoder.train.trainer import train

    marker = tmp_path / MARKER
    run = tmp_path / "run"
    train(load_config(recipe), run, progress=False)  # writes step-00000002
    good = run / "checkpoints" / "step-00000002"
    assert (good / STATE_FILE).is_file()
    evil = _payload_checkpoint(run / "checkpoints", 4, recipe, marker)
    result = run_cli("train", recipe, "--out", run, "--resume")
    assert result.code == 0 and "Traceback" not in result.stderr and not result.errors, result.stderr
    assert f"resumed from {good} at step 2" in result.stdout
    assert f"{evil / STATE_FILE}: cannot load trainer state" in result.stderr
    assert not marker.exists()


# ------------------------------------------------------------------------------------ source checks


# SafeFloatLoader: vocoder.config's SafeLoader subclass (reads 1e-4 as a float); see the test below
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader", "SafeFloatLoader"}


def _name(node: ast.AST) -> str:
    """Dotted name of a call target (``torch.load``, ``np.load``, ``eval``); "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _name(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_constant(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def unsafe_loads(source: str, filename: str = "<source>") -> list[str]:
    """``file:line: what`` for every call or import in ``source`` that can run code from data."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in ("dill", "cloudpickle", "joblib", "shelve", "marshal"):
                    found.append(f"{where}: imports {module}")
            continue
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        last = name.rsplit(".", 1)[-1]
        if name in ("eval", "exec", "builtins.eval", "builtins.exec"):
            found.append(f"{where}: {name}()")
        elif name.startswith(("pickle.", "_pickle.", "cPickle.")) and last in ("load", "loads", "Unpickler"):
            found.append(f"{where}: {name}()")
        elif name in ("torch.load", "torch.serialization.load") and not _is_constant(
            _keyword(node, "weights_only"), True
        ):
            found.append(f"{where}: {name}() without weights_only=True")
        elif name.startswith("yaml.") and last in ("unsafe_load", "unsafe_load_all", "full_load", "full_load_all"):
            found.append(f"{where}: {name}()")
        elif name.startswith("yaml.") and last in ("load", "load_all"):
            loader = _keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            if _name(loader).rsplit(".", 1)[-1] not in SAFE_YAML_LOADERS:
                found.append(f"{where}: {name}() without SafeLoader")
        elif name in ("np.load", "numpy.load") and not (
            _keyword(node, "allow_pickle") is None or _is_constant(_keyword(node, "allow_pickle"), False)
        ):
            found.append(f"{where}: {name}() with allow_pickle")
    return found


def test_source_check_catches_unsafe_loaders():
    bad = """
import dill
x = eval("1")
exec("y = 2")
pickle.loads(b"")
torch.load(path)
torch.load(path, weights_only=False)
torch.load(path, map_location="cpu", weights_only=flag)
yaml.load(text)
yaml.load(text, Loader=yaml.Loader)
yaml.full_load(text)
yaml.unsafe_load(text)
np.load(path, allow_pickle=True)
numpy.load(path, allow_pickle=flag)
"""
    assert len(unsafe_loads(bad)) == 13
    good = """
import pickle
model.eval()
torch.load(path, map_location="cpu", weights_only=True)
yaml.safe_load(text)
yaml.load(text, Loader=yaml.SafeLoader)
yaml.load(text, yaml.CSafeLoader)
np.load(path)
np.load(path, allow_pickle=False)
"""
    assert unsafe_loads(good) == []


def test_project_yaml_loader_is_safe():
    """The one non-stock loader the scan accepts builds no Python objects from tags."""
    import yaml

    from vocoder.config import SafeFloatLoader

    assert issubclass(SafeFloatLoader, yaml.SafeLoader)
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load("!!python/object/apply:os.system ['true']", Loader=SafeFloatLoader)


def test_package_has_no_unsafe_loader():
    files = sorted((ROOT / "vocoder").rglob("*.py")) + sorted((ROOT / "tools").rglob("*.py"))
    assert len(files) > 30
    found = [hit for f in files for hit in unsafe_loads(f.read_text(), str(f.relative_to(ROOT)))]
    assert found == []

