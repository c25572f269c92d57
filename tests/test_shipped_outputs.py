"""Every shipped checkpoint still synthesizes what it did when tests/fixtures/shipped_outputs.npz was saved.

The fixture (tools/make_golden_outputs.py) was written before the package's internals were reorganised;
equal outputs here mean a refactor changed no behaviour of a shipped model (torch and ONNX backends).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vocoder

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = np.load(ROOT / "tests" / "fixtures" / "shipped_outputs.npz")
NAMES = sorted({key.split("/")[0] for key in FIXTURE.files})
SEED = 7


def test_fixture_covers_every_shipped_checkpoint():
    shipped = {p.parent.name for p in (ROOT / "checkpoints").glob("*/model.safetensors")}
    assert set(NAMES) == shipped


@pytest.mark.parametrize("name", NAMES)
def test_torch_output_unchanged(name):
    mel = FIXTURE[f"{name}/mel"]
    f0 = FIXTURE[f"{name}/f0"] if f"{name}/f0" in FIXTURE.files else None
    expected = FIXTURE[f"{name}/wav"]
    out = vocoder.load(ROOT / "checkpoints" / name).synthesize(mel, f0=f0, seed=SEED)
    assert out.shape == expected.shape
    assert float(np.max(np.abs(expected))) > 0.01  # the saved output is speech, not silence
    np.testing.assert_allclose(out, expected, atol=2e-4, rtol=0)


@pytest.mark.parametrize("name", [n for n in NAMES if (ROOT / "checkpoints" / n / "model.onnx").is_file()])
def test_shipped_onnx_output_unchanged(name):
    mel = FIXTURE[f"{name}/mel"]
    f0 = FIXTURE[f"{name}/f0"] if f"{name}/f0" in FIXTURE.files else None
    out = vocoder.load(ROOT / "checkpoints" / name / "model.onnx").synthesize(mel, f0=f0, seed=SEED)
    np.testing.assert_allclose(out, FIXTURE[f"{name}/wav"], atol=1e-3, rtol=0)
