"""onnxruntime engine: metadata, session options, torch-free use, corrupt files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from tiny_models import HOP, N_MELS, mel_and_f0, tiny_config

from vocoder.config import FeatureConfig
from vocoder.errors import InputError, ModelError
from vocoder.infer.runtime import OnnxVocoder

ROOT = Path(__file__).resolve().parents[2]


def test_attributes_come_from_metadata(onnx_files):
    m = OnnxVocoder(onnx_files["wavehax"])
    assert (m.sample_rate, m.hop, m.n_mels, m.needs_f0, m.needs_noise) == (8000, HOP, N_MELS, True, True)
    assert m.generator_name == "wavehax" and m.backend == "onnx" and m.min_frames == 2
    assert isinstance(m.features, FeatureConfig)
    assert m.features == tiny_config("wavehax").features
    assert m.config.generator.params["framewise_norm"] is True
    assert (m.context.left, m.context.right, m.context.exact) == (6, 6, True)
    pwg = OnnxVocoder(onnx_files["pwg"])
    assert (pwg.needs_f0, pwg.needs_noise, pwg.input_names) == (False, True, ["mel", "noise"])


def test_session_options(onnx_files):
    m = OnnxVocoder(onnx_files["istftnet"], threads=1)
    options = m.session.get_session_options()
    assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    two = OnnxVocoder(onnx_files["istftnet"], threads=2, inter_op_threads=2).session.get_session_options()
    assert (two.intra_op_num_threads, two.inter_op_num_threads) == (2, 2)


def test_synthesize_shapes_and_seed(onnx_files):
    m = OnnxVocoder(onnx_files["wavehax"])
    mel, f0 = mel_and_f0(21)
    y = m.synthesize(mel, f0, seed=4)
    assert y.shape == (21 * HOP,) and y.dtype == np.float32
    assert np.array_equal(y, m.synthesize(mel, f0, seed=4))
    # the seed moves the prior's noise and phase; the change is small but real
    assert 1e-6 < np.abs(y - m.synthesize(mel, f0, seed=5)).max()


def test_corrupt_file_is_one_line_model_error(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07not a protobuf at all" * 10)
    with pytest.raises(ModelError) as err:
        OnnxVocoder(bad)
    assert str(err.value) == f"{bad}: not a valid ONNX model (Protobuf parsing failed.)"
    assert len(str(err.value).splitlines()) == 1
    with pytest.raises(ModelError, match="no such ONNX file"):
        OnnxVocoder(tmp_path / "missing.onnx")


def test_truncated_export_is_refused(onnx_files, tmp_path):
    cut = tmp_path / "cut.onnx"
    data = Path(onnx_files["pwg"]).read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError) as err:
        OnnxVocoder(cut)
    assert str(err.value).startswith(f"{cut}: ") and len(str(err.value).splitlines()) == 1


def test_onnx_without_vocoder_metadata_is_refused(tmp_path):
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "plain.onnx"
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match=r"plain.onnx: no vocoder metadata \(vocoder.features missing\)"):
        OnnxVocoder(path)


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT)


def test_runtime_works_without_torch(onnx_files):
    # sys.modules["torch"] = None makes every `import torch` fail, so any torch import anywhere would raise
    done = run_python(
        f"""
        import sys
        sys.modules["torch"] = None
        import numpy as np
        import vocoder
        m = vocoder.load({str(onnx_files["wavehax"])!r}, threads=1)
        mel = (np.random.default_rng(0).standard_normal(({N_MELS}, 12)) - 6.0).astype(np.float32)  # a log-mel level
        f0 = np.full(12, 150.0, np.float32)
        y = m.synthesize(mel, f0)
        parts = list(vocoder.stream(m, [mel[:, :5], mel[:, 5:]], [f0[:5], f0[5:]]))
        joined = np.concatenate(parts)
        print(type(m).__name__, y.shape, float(np.abs(joined - y).max()), m.features.hop)
        """
    )
    assert done.returncode == 0, done.stderr
    name, rest = done.stdout.split(" ", 1)
    assert name == "OnnxVocoder"
    assert rest.startswith(f"({12 * HOP},) ")
    assert float(rest.split()[1]) <= 1e-4 and rest.split()[2] == str(HOP)


def test_config_and_runtime_modules_do_not_import_torch():
    done = run_python(
        """
        import sys
        import vocoder, vocoder.config, vocoder.infer.runtime, vocoder.infer.streaming, vocoder.api
        print("torch" in sys.modules)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


class _NoRun:
    """A session stand-in that fails the test if onnxruntime is reached."""

    def run(self, *args, **kwargs):
        raise AssertionError("session.run reached with a bad input")


def no_session(path) -> OnnxVocoder:
    m = OnnxVocoder(path, threads=1)
    m.session = _NoRun()
    return m


def one_line_input_error(call) -> str:
    with pytest.raises(InputError) as err:
        call()
    message = str(err.value)
    assert len(message.splitlines()) == 1
    return message


def test_wrong_noise_length_is_one_input_error_before_session_run(onnx_files):
    m = no_session(onnx_files["pwg"])
    mel, _ = mel_and_f0(20, batch=1)
    short = np.zeros((1, 1, 20 * HOP - 40), np.float32)
    assert one_line_input_error(lambda: m.run(mel, None, short, None)) == (
        f"noise: expected shape (1, 1, {20 * HOP}) = (batch, 1, frames * hop) for 20 frames at hop {HOP}, "
        f"got (1, 1, {20 * HOP - 40})"
    )
    flat = np.zeros((1, 20 * HOP), np.float32)  # (batch, samples) without the channel axis
    assert one_line_input_error(lambda: m.run(mel, None, flat, None)).endswith(f"got (1, {20 * HOP})")
    assert one_line_input_error(lambda: m.run(mel, None, None, None)) == (
        f"noise: missing; this model takes noise of shape (1, 1, {20 * HOP}) = (batch, 1, frames * hop), "
        "float32 i.i.d. N(0, 1)"
    )
    ints = np.zeros((1, 1, 20 * HOP), np.int16)
    assert one_line_input_error(lambda: m.run(mel, None, ints, None)).startswith(
        "noise: expected a floating-point array, got dtype int16"
    )


def test_wrong_f0_length_is_one_input_error(onnx_files):
    m = no_session(onnx_files["wavehax"])
    mel, f0 = mel_and_f0(20, batch=2)
    noise, phase = m.random_inputs(0, 2, 0, 20)
    assert one_line_input_error(lambda: m.run(mel, f0[:, :19], noise, phase)) == (
        "f0: expected shape (2, 20) = (batch, frames) for 20 frames, got (2, 19)"
    )
    assert one_line_input_error(lambda: m.run(mel, f0[:1], noise, phase)).endswith("got (1, 20)")


def test_wrong_n_mels_and_phase_are_one_input_error(onnx_files):
    m = no_session(onnx_files["wavehax"])
    mel, f0 = mel_and_f0(20, batch=1)
    noise, phase = m.random_inputs(0, 1, 0, 20)
    assert one_line_input_error(lambda: m.run(mel[:, :7], f0, noise, phase)) == (
        f"mel: expected shape (batch, {N_MELS}, frames) = (batch, n_mels, frames), got (1, 7, 20)"
    )
    assert one_line_input_error(lambda: m.run(mel[0], f0, noise, phase)).endswith(f"got ({N_MELS}, 20)")
    assert one_line_input_error(lambda: m.run(mel, f0, noise, phase[:, 0])) == (
        "phase: expected shape (1, 1) = (batch, 1) for 20 frames, got (1,)"
    )
    assert one_line_input_error(lambda: m.run(mel, f0, noise, None)).startswith(
        "phase: missing; this model takes phase of shape (1, 1) = (batch, 1), float64 start phase in cycles"
    )


def test_checked_run_still_synthesizes(onnx_files):
    m = OnnxVocoder(onnx_files["wavehax"], threads=1)
    mel, f0 = mel_and_f0(20, batch=1)
    noise, phase = m.random_inputs(3, 1, 0, 20)
    exact = m.run(mel, f0, noise, phase)
    assert exact.shape == (1, 20 * HOP) and exact.dtype == np.float32 and np.abs(exact).max() > 1e-3
    # float64 mel and noise and a float32 phase are cast to the graph's dtypes, as before the checks
    y = m.run(mel.astype(np.float64), f0, noise.astype(np.float64), phase.astype(np.float32))
    assert np.abs(y - exact).max() <= 1e-4
