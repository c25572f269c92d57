"""``vocoder.load`` on both backends: numpy out, right length, same numbers, input checks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from tiny_models import GENERATORS, HOP, N_MELS, REGISTRY_NAME, mel_and_f0

import vocoder
from vocoder.errors import InputError
from vocoder.infer.onnx_export import input_names
from vocoder.infer.runtime import OnnxVocoder
from vocoder.infer.torch_backend import TorchVocoder
from vocoder.train.checkpoint import load_generator


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
    assert input_names(generator) == ["mel", "f0", "noise", "phase"]


def test_f0_is_ignored_by_models_without_f0(models):
    mel, f0 = mel_and_f0(10)
    m = models["pwg", "onnx"]
    assert np.array_equal(m.synthesize(mel, f0, seed=1), m.synthesize(mel, seed=1))


BAD_INPUTS = [
    ("mel", np.zeros((N_MELS + 1, 10), np.float32), "has 9 mel bins but the model expects 8"),
    ("mel", np.zeros(10, np.float32), "expected shape (n_mels, frames) or (batch, n_mels, frames)"),
    ("mel", np.zeros((N_MELS, 10), np.int16), "expected a floating-point array, got dtype int16"),
    ("mel", np.full((N_MELS, 10), np.nan, np.float32), "mel: contains NaN or Inf"),
    ("mel", np.zeros((N_MELS, 1), np.float32), "mel: has 1 frames; this model needs at least 2"),
    ("f0", None, "wavehax needs F0"),
    ("f0", np.zeros(11, np.float32), "f0: expected one value per mel frame, shape (10,), got (11,)"),
    ("f0", np.full(10, np.inf, np.float32), "f0: contains NaN or Inf"),
    ("f0", np.full(10, -5.0, np.float32), "f0: has negative values (min -5 Hz)"),
    ("seed", -1, "seed: expected a non-negative integer, got -1"),
]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("field,value,message", BAD_INPUTS, ids=[m for _, _, m in BAD_INPUTS])
def test_input_errors_are_one_line(models, backend, field, value, message):
    mel, f0 = mel_and_f0(10)
    kwargs = {"mel": mel, "f0": f0, "seed": 0, field: value}
    with pytest.raises(InputError) as err:
        models["wavehax", backend].synthesize(**kwargs)
    assert message in str(err.value) and len(str(err.value).splitlines()) == 1


def test_import_vocoder_loads_neither_torch_nor_numpy():
    code = "import sys, vocoder; print('torch' in sys.modules, 'numpy' in sys.modules, vocoder.__version__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", vocoder.__version__]
