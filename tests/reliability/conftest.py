"""Fixtures of the reliability tests: tiny demo-16k checkpoints (iSTFTNet without F0, Wavehax with F0),
their ONNX exports and the bad-input set of :mod:`badinputs`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infer"))  # helpers_synth, tiny_models

from badinputs import build_bad_inputs  # noqa: E402
from helpers_synth import DEMO, make_demo_checkpoint  # noqa: E402


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """``istftnet`` and ``wavehax`` checkpoint folders and their ONNX exports ``istftnet.onnx``, ``wavehax.onnx``
    (the CLI starts faster without torch)."""
    from vocoder.infer.onnx_export import export_onnx

    root = tmp_path_factory.mktemp("models")
    found = {name: make_demo_checkpoint(root / name, name) for name in ("istftnet", "wavehax")}
    for name in ("istftnet", "wavehax"):
        found[f"{name}.onnx"] = Path(export_onnx(found[name], root / f"{name}.onnx").path)
    return found


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory) -> dict[str, tuple[Path, str | None]]:
    return build_bad_inputs(tmp_path_factory.mktemp("bad"), DEMO)
