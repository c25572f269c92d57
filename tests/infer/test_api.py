"""``vocoder.load`` on both backends: numpy out, right length, same numbers, input checks (the same as
the CLI's for mel files: one validation path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers_synth import TINY as DEMO_TINY
from helpers_synth import demo_mel, make_demo_checkpoint
from tiny_models import GENERATORS, HOP, N_MELS, REGISTRY_NAME, mel_and_f0

import vocoder
from vocoder.audio.mel_presets import PRESETS
from vocoder.cli import main
from vocoder.config import config_from_dict
from vocoder.errors import InputError
from vocoder.infer.runtime import OnnxVocoder
from vocoder.infer.torch_backend import TorchVocoder
from vocoder.models.artifact import load_generator, write_model
from vocoder.models.factory import build_generator


def test_load_picks_the_backend(models):
    for (name, backend), m in models.items():
        assert isinstance(m, TorchVocoder if backend == "torch" else OnnxVocoder)
        assert isinstance(m, vocoder.Vocoder)
        assert m.backend == backend and m.generator_name == REGISTRY_NAME.get(name, name)
        assert (m.sample_rate, m.hop, m.n_mels) == (8000, HOP, N_MELS)
        assert m.needs_f0 is (name == "wavehax")
        assert m.features.hop == HOP and m.features.n_mels == N_MELS


@pytest.mark.parametrize("name", GENERATORS)
def test_backends_agree_and_return_numpy(name, models):
    mel, f0 = mel_and_f0(37, seed=1)
    y_torch = models[name, "torch"].synthesize(mel, f0, seed=2)
    y_onnx = models[name, "onnx"].synthesize(mel, f0, seed=2)
    for y in (y_torch, y_onnx):
        assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == (37 * HOP,)
    assert np.abs(y_torch).max() > 1e-3
    assert np.abs(y_torch - y_onnx).max() <= 1e-4


@pytest.mark.parametrize("name", GENERATORS)
def test_batch_item_zero_equals_single_synthesis(name, models):
    mel, f0 = mel_and_f0(20, batch=2, seed=3)
    m = models[name, "onnx"]
    y = m.synthesize(mel, f0, seed=9)
    assert y.shape == (2, 20 * HOP)
    single = m.synthesize(mel[0], f0[0], seed=9)
    assert np.abs(y[0] - single).max() <= 1e-6
    assert np.abs(y[0] - y[1]).max() > 1e-4  # different mels (and noise streams) give different audio


def test_synthesize_equals_generator_with_seeded_noise(checkpoints, models):
    generator, _ = load_generator(checkpoints["wavehax"])
    mel, f0 = mel_and_f0(15, seed=4)
    noise, phase = models["wavehax", "torch"].random_inputs(6, 1, 0, 15)
    with torch.no_grad():
        ref = generator(
            torch.from_numpy(mel)[None], torch.from_numpy(f0)[None], torch.from_numpy(noise), torch.from_numpy(phase)
        )
    assert np.abs(models["wavehax", "torch"].synthesize(mel, f0, seed=6) - ref[0, 0].numpy()).max() <= 1e-6
    assert generator.input_names == ["mel", "f0", "noise", "phase"]


def test_f0_is_ignored_by_models_without_f0(models):
    mel, f0 = mel_and_f0(10)
    m = models["pwg", "onnx"]
    assert np.array_equal(m.synthesize(mel, f0, seed=1), m.synthesize(mel, seed=1))


BAD_INPUTS = [
    ("mel", np.zeros((N_MELS + 1, 10), np.float32), "mel of shape (9, 10) has no axis of 8 bins; the model expects "
     "custom 8000 Hz hop 32: 8 mels"),
    ("mel", np.zeros(10, np.float32), "mel is a 1-D array of shape (10,); expected (n_mels, frames) or (batch, "
     "n_mels, frames)"),
    ("mel", np.zeros((N_MELS, 10), np.int16), "mel has dtype int16; a log-mel is floating point"),
    ("mel", np.full((N_MELS, 10), np.nan, np.float32), "mel has 80 NaN/Inf values (or values beyond float32)"),
    ("mel", np.full((N_MELS, 1), -6.0, np.float32), "mel has 1 frames; this model needs at least 2"),
    ("mel", np.zeros((N_MELS, 10), np.float32), "mel: values 0.0..0.0 (mean 0.0) look like linear (not log) mel"),
    ("mel", np.random.default_rng(0).standard_normal((N_MELS, 10)).astype(np.float32), "look like mean/std-normal"),
    ("f0", None, "wavehax needs F0"),
    ("f0", np.zeros(11, np.float32), "f0: expected one value per mel frame, shape (10,), got (11,)"),
    ("f0", np.full(10, np.inf, np.float32), "f0: contains NaN or Inf"),
    ("f0", np.full(10, -5.0, np.float32), "f0: has negative values (min -5 Hz)"),
    ("seed", -1, "seed: expected a non-negative integer, got -1"),
    ("mel_preset", "demo-16k", "mel: made with preset demo-16k (16000 Hz, hop 160), the model expects custom 8000 "
     "Hz hop 32 (8000 Hz, hop 32): sample_rate 16000 vs 8000, hop 160 vs 32, n_mels 80 vs 8"),
    ("mel_preset", "no-such", "mel: unknown mel preset 'no-such' (known: hifigan-22k"),
]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("field,value,message", BAD_INPUTS, ids=[m for _, _, m in BAD_INPUTS])
def test_input_errors_are_one_line(models, backend, field, value, message):
    mel, f0 = mel_and_f0(10)
    kwargs = {"mel": mel, "f0": f0, "seed": 0, field: value}
    with pytest.raises(InputError) as err:
        models["wavehax", backend].synthesize(**kwargs)
    assert message in str(err.value) and len(str(err.value).splitlines()) == 1, str(err.value)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_mel_orientation_and_declared_preset_on_both_backends(models, backend):
    m = models["istftnet", backend]
    mel, _ = mel_and_f0(12, seed=5)
    want = m.synthesize(mel, seed=1)
    np.testing.assert_array_equal(m.synthesize(mel.T, seed=1), want)  # (T, n_mels) is oriented
    np.testing.assert_array_equal(m.synthesize(mel.T[None], seed=1)[0], want)  # and (B, T, n_mels)
    assert m.synthesize(np.stack([mel, mel]), seed=1).shape == (2, 12 * HOP)
    with pytest.raises(InputError, match="made with preset hifigan-22k"):
        m.synthesize(mel, mel_preset="hifigan-22k")
    # undershoot within 1 nat of the clamp floor is raised to it, as for files
    low = mel.copy()
    low[0, 0] = np.log(1e-5) - 0.5
    np.testing.assert_array_equal(m.synthesize(low, seed=1), m.synthesize(np.maximum(low, np.log(1e-5)), seed=1))
    # check_values=False leaves the value range alone (random mels in benchmarks), nothing else
    noise = np.random.default_rng(1).standard_normal((N_MELS, 12)).astype(np.float32)
    assert m.synthesize(noise, check_values=False).shape == (12 * HOP,)
    with pytest.raises(InputError, match="NaN/Inf"):
        m.synthesize(np.full((N_MELS, 12), np.nan, np.float32), check_values=False)


def test_import_vocoder_loads_neither_torch_nor_numpy():
    code = "import sys, vocoder; print('torch' in sys.modules, 'numpy' in sys.modules, vocoder.__version__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", vocoder.__version__]


# ------------------------------------------------------------------------ the API checks as the CLI does


@pytest.fixture(scope="module")
def demo_models(tmp_path_factory) -> dict[str, Path]:
    """A tiny demo-16k iSTFTNet as a checkpoint folder and as ONNX."""
    from vocoder.infer.onnx_export import export_onnx

    root = tmp_path_factory.mktemp("demo")
    folder = make_demo_checkpoint(root / "istftnet", "istftnet")
    return {"torch": folder, "onnx": Path(export_onnx(folder, root / "istftnet.onnx").path)}


def cli_errors(model: Path, mel: np.ndarray, tmp_path: Path, capsys, *extra: str) -> tuple[Path, list[str]]:
    path = tmp_path / "m.npy"
    np.save(path, mel)
    code = main(["synthesize", str(model), str(path), "--out", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert (code == 0) == (not err)
    return path, err


def api_error(model: Path, mel: np.ndarray, **kwargs) -> str:
    with pytest.raises(InputError) as err:
        vocoder.load(model).synthesize(mel, **kwargs)
    return str(err.value)


BAD_MELS = {
    # 20 * log10 of the magnitudes: values about -100..10 dB
    "decibel": lambda mel: 20 * np.log10(np.maximum(np.exp(mel), 1e-5)),
    "decibel -60..0": lambda mel: np.clip(20 * np.log10(np.exp(mel)), -60.0, 0.0),
    "linear": np.exp,
    "normalised": lambda mel: (mel - mel.mean(1, keepdims=True)) / mel.std(1, keepdims=True),
    "wrong shape": lambda mel: np.concatenate([mel, mel[:20]]),
    "nan": lambda mel: np.where(np.arange(mel.shape[1]) == 3, np.nan, mel),
    "integer": lambda mel: np.round(mel).astype(np.int32),
}


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("kind", sorted(BAD_MELS))
def test_api_refuses_what_the_cli_refuses_with_the_same_message(demo_models, backend, kind, tmp_path, capsys):
    mel = BAD_MELS[kind](demo_mel(2, silence=0.3))
    messages = []
    for array in (mel, mel.T):  # (n_mels, T) and (T, n_mels)
        from_api = api_error(demo_models[backend], array)
        path, err = cli_errors(demo_models[backend], array, tmp_path, capsys)
        assert len(err) == 1 and err[0] == f"error: {path}: {from_api.removeprefix('mel: ')}", (err, from_api)
        assert "\n" not in from_api
        messages.append(from_api)
    assert messages[0] == messages[1] or kind == "wrong shape"  # oriented first, so the values read the same


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_api_orients_and_declares_as_the_cli_does(demo_models, backend, tmp_path, capsys):
    mel = demo_mel(0)
    voc = vocoder.load(demo_models[backend])
    want = voc.synthesize(mel)
    np.testing.assert_array_equal(voc.synthesize(mel.T), want)
    path, err = cli_errors(demo_models[backend], mel.T, tmp_path, capsys)  # a (T, n_mels) file
    assert not err
    got, _ = sf.read(tmp_path / "out" / "m.wav", dtype="float32")
    np.testing.assert_allclose(got, np.clip(want, -1, 1), atol=1.5 / 32768)
    # a declared preset: refused with one line naming both when any value differs, sample rate and hop first
    from_api = api_error(demo_models[backend], mel, mel_preset="hifigan-22k")
    assert from_api == (
        "mel: made with preset hifigan-22k (22050 Hz, hop 256), the model expects demo-16k (16000 Hz, hop 160): "
        "sample_rate 22050 vs 16000, hop 256 vs 160, win_length 1024 vs 640"
    )
    path, err = cli_errors(demo_models[backend], mel, tmp_path, capsys, "--mel-preset", "hifigan-22k")
    assert err == [f"error: --mel-preset: {from_api.removeprefix('mel: ')}"]
    np.testing.assert_array_equal(voc.synthesize(mel, mel_preset="demo-16k"), want)


def test_a_preset_equal_in_every_value_is_accepted(tmp_path):
    """A model whose features spell out demo-16k's values without naming it takes mels declared demo-16k,
    and refuses them once a single value differs."""
    for name, features in (("same", dict(PRESETS["demo-16k"])), ("wider", {**PRESETS["demo-16k"], "fmax": 7600.0})):
        generator = {"name": "istftnet", "params": DEMO_TINY["istftnet"]}
        cfg = config_from_dict({"features": features, "generator": generator})
        write_model(tmp_path / name, build_generator(cfg), cfg)
    mel = demo_mel(1)
    assert vocoder.load(tmp_path / "same").synthesize(mel, mel_preset="demo-16k").shape == (mel.shape[1] * 160,)
    message = api_error(tmp_path / "wider", demo_mel(1, vocoder.load(tmp_path / "wider").features),
                        mel_preset="demo-16k")
    assert message.endswith("the model expects custom 16000 Hz hop 160 (16000 Hz, hop 160): fmax 8000 vs 7600")


def test_one_validation_path_for_files_api_and_both_backends(demo_models, tmp_path, monkeypatch):
    """``load_mel`` (the CLI's file reader) and ``Vocoder.synthesize`` on torch and onnxruntime all call
    :func:`vocoder.infer.checks.prepare_mel`."""
    import vocoder.infer.base as base
    import vocoder.infer.mel_files as mel_files
    from vocoder.infer.checks import prepare_mel

    calls = []

    def counted(*args, **kwargs):
        calls.append(kwargs.get("name", args[2] if len(args) > 2 else "mel"))
        return prepare_mel(*args, **kwargs)

    monkeypatch.setattr(base, "prepare_mel", counted)
    monkeypatch.setattr(mel_files, "prepare_mel", counted)
    mel = demo_mel(0)
    np.save(tmp_path / "a.npy", mel)
    file_mel, _ = mel_files.load_mel(tmp_path / "a.npy", vocoder.load(demo_models["torch"]).features)
    for backend in ("torch", "onnx"):
        vocoder.load(demo_models[backend]).synthesize(file_mel)
    assert calls == [str(tmp_path / "a.npy"), "mel", "mel"]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_cli_checks_each_file_once(checkpoints, onnx_files, backend, tmp_path, monkeypatch):
    """``vocoder synthesize`` checks a mel file and its F0 once, in the file reader; the model then runs
    them unchecked (no second prepare_mel or check_f0, no run-input check), and on torch the generator's
    ``check_inputs`` is the one torch-side check."""
    import vocoder.infer.base as base
    import vocoder.infer.f0_inputs as f0_inputs
    import vocoder.infer.mel_files as mel_files
    from vocoder.models.generators.base import Generator

    calls = {}

    def count(owner, name, key):
        real = getattr(owner, name)
        calls[key] = 0

        def counted(*args, **kwargs):
            calls[key] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)

    count(mel_files, "prepare_mel", "file prepare_mel")
    count(mel_files, "fit_f0", "file fit_f0")  # the file's own 'f0'
    count(f0_inputs, "fit_f0", "sidecar fit_f0")  # NAME.f0.npy
    count(base, "prepare_mel", "api prepare_mel")
    count(base, "check_f0", "api check_f0")
    count(base.Vocoder, "check_run_inputs", "check_run_inputs")
    count(Generator, "check_inputs", "generator check_inputs")
    mel, f0 = mel_and_f0(20, seed=3)
    np.savez(tmp_path / "a.npz", mel=mel, f0=f0)
    np.save(tmp_path / "b.npy", mel.T)
    np.save(tmp_path / "b.f0.npy", f0)
    model = checkpoints["wavehax"] if backend == "torch" else onnx_files["wavehax"]
    out = tmp_path / "out"
    assert main(["synthesize", str(model), str(tmp_path / "a.npz"), str(tmp_path / "b.npy"), "--out", str(out)]) == 0
    assert calls == {
        "file prepare_mel": 2, "file fit_f0": 1, "sidecar fit_f0": 1,
        "api prepare_mel": 0, "api check_f0": 0, "check_run_inputs": 0,
        "generator check_inputs": 2 if backend == "torch" else 0,
    }
    # the same numbers as the API, which checks the arrays itself, once
    calls.update(dict.fromkeys(calls, 0))
    want = vocoder.load(model).synthesize(mel, f0)
    assert calls == {
        "file prepare_mel": 0, "file fit_f0": 0, "sidecar fit_f0": 0,
        "api prepare_mel": 1, "api check_f0": 1, "check_run_inputs": 0,
        "generator check_inputs": 1 if backend == "torch" else 0,
    }
    for name in ("a", "b"):
        got, _ = sf.read(out / f"{name}.wav", dtype="float32")
        np.testing.assert_allclose(got, np.clip(want, -1, 1), atol=1.5 / 32768)
