"""A slim install (core dependencies only: no torch, onnx, pyworld or parselmouth) says which extra to
install in one line instead of a traceback. Each case runs in a subprocess whose ``-c`` prelude sets
``sys.modules[name] = None``, which makes every ``import name`` fail as if it were not installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "recipes" / "demo" / "wavs" / "digits_1.flac"
TRAIN_EXTRA = "pip install 'vocoder[train]'"
F0_EXTRA = "pip install 'vocoder[f0]'"


def run_without(missing: tuple[str, ...], code: str) -> subprocess.CompletedProcess:
    prelude = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in missing)
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT,
        timeout=120,
    )


def cli_without(missing: tuple[str, ...], *args: str) -> subprocess.CompletedProcess:
    return run_without(missing, f"from vocoder.cli import main\nsys.exit(main({[str(a) for a in args]!r}))\n")


def one_error_line(done: subprocess.CompletedProcess, *parts: str) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def test_train_without_torch_is_one_line(tmp_path):
    out = tmp_path / "run"
    done = cli_without(("torch",), "train", ROOT / "recipes" / "demo" / "pwg.yaml", "--out", out)
    assert one_error_line(done, TRAIN_EXTRA) == f"error: vocoder train needs torch for this, from the training " \
        f"extra: {TRAIN_EXTRA}"
    assert not out.exists()


@pytest.mark.parametrize("command", ["synthesize", "info"])
def test_run_folder_without_torch_is_one_line(command, tmp_path):
    model = ROOT / "checkpoints" / "demo-pwg"
    args = (model, CLIP, "--from-audio", "--out", tmp_path / "wavs") if command == "synthesize" else (model,)
    one_error_line(cli_without(("torch",), command, *args), f"vocoder {command} needs torch", TRAIN_EXTRA)


def test_other_missing_modules_are_not_hidden(monkeypatch):
    import vocoder.cli as cli

    def broken(args):
        raise ModuleNotFoundError("No module named 'scipy'", name="scipy")

    monkeypatch.setattr(cli, "_run_info", broken)
    with pytest.raises(ModuleNotFoundError, match="scipy"):
        cli.main(["info", "recipes/demo/wavs"])


@pytest.mark.parametrize("method, module", [("harvest", "pyworld"), ("dio", "pyworld"), ("praat", "parselmouth")])
def test_f0_without_its_backend_names_the_f0_extra(method, module):
    done = run_without(
        ("pyworld", "parselmouth"),
        f"""
        import numpy as np
        from vocoder.audio.f0 import extract_f0
        from vocoder.errors import ConfigError
        try:
            extract_f0(np.sin(np.arange(8000) / 10.0).astype(np.float32), 16000, 160, 60.0, 500.0, {method!r})
        except ConfigError as err:
            print(err)
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [
        f"F0 method {method!r} needs {module}{' (praat-parselmouth)' if module == 'parselmouth' else ''}, "
        f"from the F0 extra: {F0_EXTRA}"
    ]


def test_f0_cli_without_pyworld_is_one_error_line(tmp_path):
    done = cli_without(("pyworld",), "features", CLIP, "--out", tmp_path / "feats", "--preset", "demo-16k", "--f0")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: {CLIP}: F0 extraction failed (F0 method 'harvest' needs pyworld, from the F0 extra: {F0_EXTRA})"
    ]


def test_info_on_onnx_without_the_onnx_package():
    model = ROOT / "checkpoints" / "demo-wavehax" / "model.onnx"
    done = cli_without(("onnx", "torch"), "info", model)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"onnx: {model}: {model.stat().st_size / 1e6:.2f} MB (opset and parameter count need the " \
        f"onnx package: {TRAIN_EXTRA})"
    # the rest as with the onnx package: metadata from onnxruntime, graph inputs and outputs
    assert lines[1].startswith("generator: wavehax (vocoder 0.1.0): 16000 Hz, hop 160, 80 mels, needs F0 and noise")
    assert lines[2].startswith("features: demo-16k: 16000 Hz")
    assert "inputs: mel (batch, 80, frames) float32, f0 (batch, frames) float32, noise (batch, 1, samples) float32, " \
           "phase (batch, 1) float64" in lines
    assert "outputs: wav (batch, 1, samples) float32" in lines
    with_onnx = subprocess.run([sys.executable, "-m", "vocoder", "info", str(model)], capture_output=True, text=True,
                               cwd=ROOT, timeout=120)
    assert with_onnx.returncode == 0 and with_onnx.stdout.splitlines()[1:] == lines[1:]
