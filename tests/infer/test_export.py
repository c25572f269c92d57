"""ONNX export: onnxruntime equals torch for every generator, metadata round trip, the CLI, failures."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from tiny_models import GENERATORS, HOP, N_MELS, REGISTRY_NAME, make_checkpoint, tiny_config

from vocoder import __version__
from vocoder.config import config_from_dict
from vocoder.errors import ModelError
from vocoder.infer.frontend_export import model_version
from vocoder.infer.onnx_export import check_parity, export_onnx, read_metadata
from vocoder.models.artifact import load_generator
from vocoder.models.generators.conv1d_as_conv2d import Conv1dAs2d, conv1d_as_conv2d

ROOT = Path(__file__).resolve().parents[2]
INPUTS = {"pwg": ["mel", "noise"], "istftnet": ["mel"], "hifigan": ["mel"], "wavehax": ["mel", "f0", "noise", "phase"]}


@pytest.mark.parametrize("name", GENERATORS)
def test_onnxruntime_matches_torch(name, checkpoints, onnx_files):
    generator, _ = load_generator(checkpoints[name])
    session = ort.InferenceSession(str(onnx_files[name]), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == INPUTS[name]
    for batch, frames in ((1, 5), (2, 19), (1, 64)):
        inputs = generator.example_inputs(batch, frames, seed=frames)
        with torch.no_grad():
            ref = generator(**inputs).numpy()
        out = session.run(None, {k: v.numpy() for k, v in inputs.items()})[0]
        assert out.shape == (batch, 1, frames * HOP)
        assert np.abs(out - ref).max() <= 1e-4
        assert np.abs(ref).max() > 1e-3  # a silent model would pass any parity test


@pytest.mark.parametrize("name", GENERATORS)
def test_export_with_check_reports_every_shape(name, checkpoints, tmp_path):
    report = export_onnx(checkpoints[name], tmp_path / "sub" / "m.onnx", check=True)
    assert Path(report.path).is_file() and report.size_bytes == Path(report.path).stat().st_size
    assert report.inputs == INPUTS[name] and report.generator == REGISTRY_NAME.get(name, name) and report.opset == 17
    assert [(b, t) for b, t, _ in report.checks][:3] == [(1, 7), (1, 40), (2, 23)]
    assert report.max_diff is not None and report.max_diff <= 1e-4
    assert f"{report.max_diff:.2e}" in report.summary()


def test_metadata_round_trip(checkpoints, onnx_files):
    meta = read_metadata(onnx_files["wavehax"])
    cfg = tiny_config("wavehax")
    assert meta["vocoder.features"] == dataclasses.asdict(cfg.features)
    assert config_from_dict(meta["vocoder.config"]).to_dict() == cfg.to_dict()
    assert meta["vocoder.generator"] == "wavehax" and meta["vocoder.version"] == __version__
    assert (meta["vocoder.sample_rate"], meta["vocoder.hop"], meta["vocoder.n_mels"]) == (8000, HOP, N_MELS)
    assert meta["vocoder.needs_f0"] is True and meta["vocoder.needs_noise"] is True
    assert meta["vocoder.inputs"] == INPUTS["wavehax"]
    assert meta["vocoder.min_frames"] == 2
    assert meta["vocoder.stream_context"] == {"left": 6, "right": 6, "exact": True, "reason": ""}
    istft = read_metadata(onnx_files["istftnet"])
    assert istft["vocoder.needs_f0"] is False and istft["vocoder.needs_noise"] is False


@pytest.mark.parametrize("name", ["pwg", "istftnet"])
def test_weight_norm_is_folded_in_the_graph(name, onnx_files):
    weights = [init.name for init in onnx.load(str(onnx_files[name])).graph.initializer]
    assert any(w.endswith(".weight") for w in weights)
    assert not any("parametrizations" in w or "original" in w for w in weights)


def test_wavehax_phase_input_is_float64(onnx_files):
    session = ort.InferenceSession(str(onnx_files["wavehax"]), providers=["CPUExecutionProvider"])
    types = {i.name: i.type for i in session.get_inputs()}
    assert types == {"mel": "tensor(float)", "f0": "tensor(float)", "noise": "tensor(float)", "phase": "tensor(double)"}


def test_non_framewise_wavehax_exports_as_not_streamable(tmp_path):
    folder = make_checkpoint(tmp_path / "ckpt", "wavehax", framewise_norm=False)
    report = export_onnx(folder, tmp_path / "m.onnx", check=True)
    assert report.max_diff <= 1e-4
    context = read_metadata(report.path)["vocoder.stream_context"]
    assert context["exact"] is False and "framewise_norm" in context["reason"]


def test_failing_check_raises_one_line_with_the_number(checkpoints, onnx_files):
    other = make_checkpoint(Path(onnx_files["pwg"]).parent / "other", "pwg", seed=7)
    generator, _ = load_generator(other)  # same architecture, different weights
    with pytest.raises(ModelError) as err:
        check_parity(generator, onnx_files["pwg"], shapes=((1, 9),))
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert message.startswith(f"{onnx_files['pwg']}: onnxruntime differs from torch by ")
    diff = float(message.split(" by ")[1].split()[0])
    assert diff > 1e-4 and "at batch 1, 9 frames" in message


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vocoder", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_export_check(checkpoints, tmp_path):
    out = tmp_path / "cli.onnx"
    done = run_cli("export", str(checkpoints["istftnet"]), "--out", str(out), "--check")
    assert done.returncode == 0, done.stderr
    assert out.is_file()
    assert f"wrote {out} (istftnet, opset 17" in done.stdout
    diff = float(done.stdout.split("max abs diff ")[1].split()[0])
    assert diff <= 1e-4
    assert read_metadata(out)["vocoder.inputs"] == ["mel"]


def test_cli_export_missing_model_is_one_line_error(tmp_path):
    done = run_cli("export", str(tmp_path / "nope"), "--out", str(tmp_path / "x.onnx"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope'}: no such file or folder"]
    with pytest.raises(ModelError):
        export_onnx(tmp_path / "nope", tmp_path / "x.onnx")


def test_conv1d_as_conv2d_is_the_same_maths():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv1d(4, 6, 5, stride=2, padding=3, dilation=2),
        torch.nn.LeakyReLU(0.1),
        torch.nn.Conv1d(6, 6, 3, padding=1, groups=3, bias=False),
        torch.nn.Conv1d(6, 2, 3, padding=1, padding_mode="reflect"),  # not zero-padded: left as it is
    ).eval()
    lowered = conv1d_as_conv2d(net)
    assert [type(m).__name__ for m in lowered] == ["Conv1dAs2d", "LeakyReLU", "Conv1dAs2d", "Conv1d"]
    assert all(type(m) is not Conv1dAs2d for m in net)  # the original is untouched
    x = torch.randn(3, 4, 50)
    with torch.no_grad():
        assert (net(x) - lowered(x)).abs().max() <= 1e-6


@pytest.mark.parametrize("name", GENERATORS)
def test_metadata_documents_every_input(name, onnx_files):
    model = onnx.load(str(onnx_files[name]))
    meta = {p.key: p.value for p in model.metadata_props}
    documented = sorted(k.removeprefix("vocoder.input.") for k in meta if k.startswith("vocoder.input."))
    assert documented == sorted(INPUTS[name])
    rules = {  # dtype, shape with its length rule, units / distribution
        "mel": ["float32", f"(batch, {N_MELS}, frames)", "log-mel", "vocoder.features", "--frontend"],
        "f0": ["float32", "(batch, frames)", "Hz", "0 = unvoiced", "same frames as mel"],
        "noise": ["float32", f"(batch, 1, frames*{HOP})", "i.i.d.", "N(0, 1)", "output length"],
        "phase": ["float64", "(batch, 1)", "cycles", "[0, 1)"],
    }
    for inp in INPUTS[name]:
        for phrase in rules[inp]:
            assert phrase in meta[f"vocoder.input.{inp}"], (inp, phrase)
    assert meta["vocoder.output.wav"].startswith(f"float32 (batch, 1, frames*{HOP}): waveform at 8000 Hz")
    # the same texts are the graph's own doc strings, which ONNX viewers show
    for value in [*model.graph.input, *model.graph.output]:
        key = f"vocoder.{'output' if value.name == 'wav' else 'input'}.{value.name}"
        assert value.doc_string == meta[key]
    major, minor, patch = (int(p) for p in __version__.split("."))
    assert model.model_version == 10000 * major + 100 * minor + patch
    assert meta["vocoder.frontend"] == ""  # exported without --frontend


def test_onnxruntime_reads_the_input_docs(onnx_files):
    meta = ort.InferenceSession(str(onnx_files["wavehax"]), providers=["CPUExecutionProvider"]).get_modelmeta()
    assert meta.version == model_version() < 2**31  # from the package version, not torch's 2**63 - 1
    assert "i.i.d. standard normal N(0, 1)" in meta.custom_metadata_map["vocoder.input.noise"]
    assert meta.custom_metadata_map["vocoder.input.phase"].startswith("float64 (batch, 1): start phase")
