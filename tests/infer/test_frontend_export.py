"""The mel front end as an ONNX graph: equal to log_mel_numpy on speech and tones for several presets and
feature variants, its metadata, OnnxFrontend, the export CLI, and the README's onnxruntime-only recipe."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from tiny_models import FEATURES, HOP, N_MELS, make_checkpoint

from vocoder.audio.io import read_audio
from vocoder.audio.mel_numpy import log_mel_numpy
from vocoder.audio.mel_presets import resolve_features
from vocoder.errors import InputError, ModelError
from vocoder.infer.frontend_export import (
    build_frontend,
    check_frontend,
    export_frontend,
    frontend_path,
    min_samples,
    model_version,
)
from vocoder.infer.onnx_export import export_onnx, read_metadata
from vocoder.infer.runtime import OnnxFrontend, OnnxVocoder

ROOT = Path(__file__).resolve().parents[2]
WAVS = sorted((ROOT / "recipes" / "demo" / "wavs").glob("*.flac"))
SPEECH = [WAVS[0], WAVS[len(WAVS) // 2], WAVS[-1]]
TOLERANCE = 1e-5  # max abs difference on the log scale


def tone(cfg, seconds: float = 0.6) -> np.ndarray:
    """A 180 Hz tone with 7 decaying harmonics, an onset ramp and a trailing partial hop."""
    n = int(seconds * cfg.sample_rate) // cfg.hop * cfg.hop + cfg.hop // 3
    t = np.arange(n) / cfg.sample_rate
    x = sum(0.4 / k * np.sin(2 * np.pi * 180.0 * k * t + 0.3 * k) for k in range(1, 8))
    return (x * np.minimum(1.0, t / 0.05)).astype(np.float32)


def max_diff(session: ort.InferenceSession, wav: np.ndarray, cfg) -> float:
    out = session.run(["mel"], {"wav": wav[None]})[0][0]
    ref = log_mel_numpy(wav, cfg)
    assert out.shape == ref.shape == (cfg.n_mels, len(wav) // cfg.hop) and out.dtype == np.float32
    return float(np.abs(out.astype(np.float64) - ref).max())


@pytest.mark.parametrize("preset", ["demo-16k", "hifigan-22k", "pwg-24k", "vocos-24k", "wavehax-24k", "pwg-22k"])
def test_frontend_equals_log_mel_numpy_on_speech_and_a_tone(preset, tmp_path):
    cfg = resolve_features({"preset": preset})
    path = export_frontend(cfg, tmp_path / "m.frontend.onnx").path
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    diffs = [max_diff(session, read_audio(f, cfg.sample_rate), cfg) for f in SPEECH]
    diffs.append(max_diff(session, tone(cfg), cfg))
    assert max(diffs) <= TOLERANCE, diffs


VARIANTS = {
    "mean_std": dict(mean=list(np.linspace(-8.0, -2.0, N_MELS)), std=list(np.linspace(1.0, 3.0, N_MELS))),
    "constant_pad": dict(pad_mode="constant"),
    "power_log10": dict(power=2.0, log="log10", clamp=1e-10),
    "center_short_window_htk": dict(padding="center", win_length=96, mel_scale="htk", mel_norm=None),
    "odd_n_fft": dict(n_fft=127, fmin=100.0, fmax=3000.0),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_feature_variants_and_batches(variant, tmp_path):
    cfg = resolve_features({**FEATURES, **VARIANTS[variant]})
    path = export_frontend(cfg, tmp_path / "v.frontend.onnx").path
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    speech = read_audio(SPEECH[0], cfg.sample_rate)
    assert max(max_diff(session, speech, cfg), max_diff(session, tone(cfg), cfg)) <= TOLERANCE
    assert check_frontend(path, cfg) <= TOLERANCE  # the export --check signals, singly and as a batch
    shortest = np.resize(speech, min_samples(cfg))  # the shortest input the graph takes
    assert max_diff(session, shortest, cfg) <= TOLERANCE


def test_batch_of_two_equals_each_alone(tmp_path):
    cfg = resolve_features({"preset": "demo-16k"})
    session = ort.InferenceSession(export_frontend(cfg, tmp_path / "f.onnx").path, providers=["CPUExecutionProvider"])
    a = read_audio(SPEECH[0], cfg.sample_rate)
    b = np.resize(tone(cfg), len(a))
    both = session.run(["mel"], {"wav": np.stack([a, b])})[0]
    assert np.array_equal(both[0], session.run(["mel"], {"wav": a[None]})[0][0])
    assert np.abs(both[1] - log_mel_numpy(b, cfg)).max() <= TOLERANCE


def test_graph_metadata_and_doc_strings():
    cfg = resolve_features({"preset": "pwg-24k"})
    model = build_frontend(cfg, vocoder_file="pwg.onnx")
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["vocoder.kind"] == "frontend" and meta["vocoder.feeds"] == "pwg.onnx"
    assert (meta["vocoder.sample_rate"], meta["vocoder.hop"], meta["vocoder.n_mels"]) == ("24000", "300", "80")
    assert meta["vocoder.min_samples"] == str(min_samples(cfg)) == "1200"  # reflect pad of 1024 needs > 1024
    assert resolve_features(json.loads(meta["vocoder.features"])) == cfg
    assert "float32 (batch, samples)" in meta["vocoder.input.wav"] and "24000 Hz" in meta["vocoder.input.wav"]
    assert "samples // 300" in meta["vocoder.input.wav"]
    assert "float32 (batch, 80, frames)" in meta["vocoder.output.mel"] and "pwg.onnx" in meta["vocoder.output.mel"]
    assert model.graph.input[0].doc_string == meta["vocoder.input.wav"]
    assert model.graph.output[0].doc_string == meta["vocoder.output.mel"]
    assert model.model_version == model_version() == 100  # package 0.1.0
    # no float32 DFT basis in the file: the bases are computed in float64 from the window
    weights = {t.name: t for t in model.graph.initializer}
    assert weights["window"].data_type == onnx.TensorProto.DOUBLE
    assert weights["mel_basis"].data_type == onnx.TensorProto.DOUBLE


def test_frontend_path():
    assert frontend_path("out/m.onnx") == Path("out/m.frontend.onnx")
    assert frontend_path("out/M.ONNX") == Path("out/M.frontend.onnx")
    assert frontend_path("model") == Path("model.frontend.onnx")


def test_onnx_frontend_runtime(tmp_path):
    cfg = resolve_features({**FEATURES, "pad_mode": "reflect"})
    path = export_frontend(cfg, tmp_path / "x.frontend.onnx", vocoder_file="x.onnx").path
    front = OnnxFrontend(path, threads=1)
    assert (front.sample_rate, front.hop, front.n_mels, front.feeds) == (8000, HOP, N_MELS, "x.onnx")
    assert front.features == cfg
    wav = tone(cfg)
    mel = front.mel(wav)
    assert mel.shape == (N_MELS, len(wav) // HOP)
    assert np.abs(mel - log_mel_numpy(wav, cfg)).max() <= TOLERANCE
    assert front.mel(np.stack([wav, wav])).shape == (2, N_MELS, len(wav) // HOP)
    with pytest.raises(InputError, match="too short for 'same' reflect padding"):
        front.mel(wav[:HOP])
    with pytest.raises(InputError, match=r"wav: expected a float array \(samples,\) or \(batch, samples\)"):
        front.mel(np.zeros((1, 1, 800), np.float32))
    with pytest.raises(ModelError, match="is a mel front end"):
        OnnxVocoder(path)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vocoder", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """``vocoder export --frontend --check`` of a tiny Wavehax (F0, noise and phase inputs)."""
    root = tmp_path_factory.mktemp("frontend")
    folder = make_checkpoint(root / "ckpt", "wavehax")
    done = run_cli("export", str(folder), "--out", str(root / "m.onnx"), "--frontend", "--check")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[2] == f"wrote {root / 'm.frontend.onnx'} (mel front end: wav (batch, samples) at 8000 Hz -> " \
        f"mel (batch, {N_MELS}, samples // {HOP}), " + lines[2].rsplit(", ", 1)[1]
    assert float(re.search(r"front end vs log_mel_numpy max abs diff (\S+)", done.stdout).group(1)) <= TOLERANCE
    return root


def test_cli_export_frontend_writes_both_graphs(exported):
    meta = read_metadata(exported / "m.onnx")
    front = read_metadata(exported / "m.frontend.onnx")
    assert meta["vocoder.frontend"] == "m.frontend.onnx" and front["vocoder.feeds"] == "m.onnx"
    assert front["vocoder.features"] == meta["vocoder.features"]
    # audio -> front end -> vocoder, with the package
    front_end = OnnxFrontend(exported / "m.frontend.onnx")
    voc = OnnxVocoder(exported / "m.onnx", threads=1)
    wav = tone(voc.features)
    mel = front_end.mel(wav)
    assert np.abs(mel - log_mel_numpy(wav, voc.features)).max() <= TOLERANCE
    y = voc.synthesize(mel, np.full(mel.shape[1], 180.0, np.float32))
    assert y.shape == (mel.shape[1] * HOP,) and np.isfinite(y).all() and np.abs(y).max() > 1e-3


def test_export_frontend_without_the_flag_writes_one_graph(tmp_path):
    folder = make_checkpoint(tmp_path / "ckpt", "istftnet")
    report = export_onnx(folder, tmp_path / "m.onnx")
    assert report.frontend is None and not (tmp_path / "m.frontend.onnx").exists()
    assert read_metadata(report.path)["vocoder.frontend"] == ""


def readme_deploy_code() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Deploying the ONNX files", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_recipe_runs_with_onnxruntime_and_numpy_only(exported):
    # the package is made unimportable: only numpy and onnxruntime do the work
    setup = textwrap.dedent(
        f"""
        import sys
        sys.modules["vocoder"] = None
        sys.modules["torch"] = None
        import numpy as np
        t = np.arange(4000) / 8000
        wav = 0.5 * np.sin(2 * np.pi * 180.0 * t)
        f0 = np.full(4000 // {HOP}, 180.0)
        """
    )
    check = "\nprint(audio.shape, audio.dtype, float(np.abs(audio).max()))\n"
    done = subprocess.run(
        [sys.executable, "-c", setup + readme_deploy_code() + check], capture_output=True, text=True, cwd=exported
    )
    assert done.returncode == 0, done.stderr
    shape, dtype, peak = done.stdout.split(") ")[0] + ")", *done.stdout.split(") ")[1].split()
    assert shape == f"({4000 // HOP * HOP},)" and dtype == "float32" and 1e-3 < float(peak) < 10

