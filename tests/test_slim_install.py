"""Slim install: the package without extras (numpy, soundfile, soxr, pyyaml, tqdm, onnxruntime) in a fresh
venv without torch synthesizes from .onnx files: ``vocoder synthesize`` and ``vocoder.load(...).synthesize``
give the main venv's numbers, the front-end graph runs, and what needs an extra says which.

The venv is built once per session in a temporary folder (``python -m venv``, no system site packages,
``pip install`` of a copy of pyproject.toml, README.md and vocoder/, so the build never writes into the
working tree); pip takes the dependencies from the configured index. The .onnx files are exported here,
in the main venv, from tiny checkpoints (tests/infer/tiny_models.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "infer"))

from tiny_models import FEATURES, HOP, make_checkpoint  # noqa: E402

from vocoder.audio.mel_numpy import log_mel_numpy  # noqa: E402
from vocoder.audio.mel_presets import resolve_features  # noqa: E402

pytestmark = pytest.mark.slow

SR = FEATURES["sample_rate"]
HEAVY = ("torch", "scipy", "librosa", "onnx", "onnxscript", "pyworld", "praat-parselmouth", "matplotlib", "tensorboard")


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="session")
def slim(tmp_path_factory) -> Path:
    """The venv's folder, with the package installed without extras."""
    root = tmp_path_factory.mktemp("slim")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "vocoder", src / "vocoder", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    venv = root / "venv"
    done = _run([sys.executable, "-m", "venv", venv], root)
    assert done.returncode == 0, done.stderr
    done = _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", src], root, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return venv


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """Tiny iSTFTNet and Wavehax exports (each with its front end), a tone, its mel (.npy) and mel + F0
    (.npz), made in the main venv."""
    from vocoder.infer.onnx_export import export_onnx

    root = tmp_path_factory.mktemp("slim_work")
    for name in ("istftnet", "wavehax"):
        export_onnx(make_checkpoint(root / f"ckpt_{name}", name), root / f"{name}.onnx", frontend=True)
    t = np.arange(SR) / SR
    wav = (0.3 * np.sin(2 * np.pi * 200.0 * t) + 0.01 * np.random.default_rng(0).standard_normal(SR))
    wav = wav.astype(np.float32)
    sf.write(root / "tone.wav", wav, SR, subtype="FLOAT")
    mel = log_mel_numpy(wav, resolve_features(FEATURES))
    np.save(root / "tone.npy", mel)
    np.savez(root / "tone_f0.npz", mel=mel, f0=np.full(mel.shape[1], 200.0, np.float32))
    return root


def expected(work: Path, name: str, f0: bool = False) -> np.ndarray:
    """The main venv's synthesis of the tone's mel (seed 0)."""
    from vocoder.infer.runtime import OnnxVocoder

    mel = np.load(work / "tone.npy")
    return OnnxVocoder(work / f"{name}.onnx", threads=1).synthesize(mel, np.full(mel.shape[1], 200.0) if f0 else None)


def test_torch_and_the_training_stack_are_absent(slim, work):
    done = _run([slim / "bin" / "python", "-c", "import torch"], work)
    assert done.returncode != 0 and "No module named 'torch'" in done.stderr
    listing = _run([slim / "bin" / "python", "-m", "pip", "list", "--format=freeze"], work)
    installed = {line.split("==")[0].lower() for line in listing.stdout.splitlines()}
    assert "vocoder" in installed and "onnxruntime" in installed
    assert not installed & set(HEAVY), installed & set(HEAVY)


@pytest.mark.parametrize(("name", "mel_file"), [("istftnet", "tone.npy"), ("wavehax", "tone_f0.npz")])
def test_cli_synthesize_from_onnx(name, mel_file, slim, work):
    out = work / f"out_{name}"
    cmd = [slim / "bin" / "vocoder", "synthesize", f"{name}.onnx", mel_file, "--out", out, "--threads", "1"]
    done = _run(cmd, work)
    assert done.returncode == 0, done.stderr
    assert "wrote 1 wav file(s)" in done.stdout
    y, sr = sf.read(out / (Path(mel_file).stem + ".wav"), dtype="float32")
    ref = np.clip(expected(work, name, f0=name == "wavehax"), -1.0, 1.0)
    assert sr == SR and y.shape == ref.shape == (np.load(work / "tone.npy").shape[1] * HOP,)
    assert np.abs(y - ref).max() <= 1.5 / 32768  # 16-bit PCM
    assert np.abs(y).max() > 1e-3


def test_python_api_and_front_end(slim, work):
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import vocoder
        from vocoder.infer.runtime import OnnxFrontend
        import soundfile as sf
        voc = vocoder.load("istftnet.onnx", threads=1)
        np.save("api_y.npy", voc.synthesize(np.load("tone.npy")))
        wav, _ = sf.read("tone.wav", dtype="float32")
        mel = OnnxFrontend("istftnet.frontend.onnx", threads=1).mel(wav)
        np.save("api_mel.npy", mel)
        print(type(voc).__name__, "torch" in sys.modules)
        """
    )
    done = _run([slim / "bin" / "python", "-c", script], work)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["OnnxVocoder", "False"]
    assert np.abs(np.load(work / "api_y.npy") - expected(work, "istftnet")).max() <= 1e-6
    assert np.abs(np.load(work / "api_mel.npy") - np.load(work / "tone.npy")).max() <= 1e-5


def test_from_audio_without_torch(slim, work):
    done = _run([slim / "bin" / "vocoder", "synthesize", "istftnet.onnx", "tone.wav", "--from-audio", "--out",
                 work / "out_audio"], work)
    assert done.returncode == 0, done.stderr
    assert (work / "out_audio" / "tone.wav").is_file()


def test_what_needs_an_extra_is_one_line(slim, work):
    # F0 from audio needs pyworld (the f0 extra): the file fails with one line, nothing is written
    done = _run([slim / "bin" / "vocoder", "synthesize", "wavehax.onnx", "tone.wav", "--from-audio", "--out",
                 work / "out_f0"], work)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "pyworld" in errors[0], done.stderr
    # export needs torch and onnx (the train extra)
    done = _run([slim / "bin" / "vocoder", "export", "ckpt_istftnet", "--out", "x.onnx"], work)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: vocoder export needs onnx, from the training extra: pip install 'vocoder[train]'"
    )
