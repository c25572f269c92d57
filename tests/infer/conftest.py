"""Session fixtures: tiny checkpoints of every generator written with ``write_model``, and their ONNX
exports (made once, shared by the inference tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_models import GENERATORS, make_checkpoint


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ckpt")
    return {name: make_checkpoint(root / name, name) for name in GENERATORS}


@pytest.fixture(scope="session")
def onnx_files(checkpoints, tmp_path_factory) -> dict[str, Path]:
    from vocoder.infer.onnx_export import export_onnx

    root = tmp_path_factory.mktemp("onnx")
    return {name: Path(export_onnx(path, root / f"{name}.onnx").path) for name, path in checkpoints.items()}


@pytest.fixture(scope="module")
def models(checkpoints, onnx_files) -> dict:
    """Every tiny model loaded with both backends: ``{(generator, "torch" | "onnx"): Vocoder}``."""
    import vocoder

    return {
        (name, backend): vocoder.load(checkpoints[name] if backend == "torch" else onnx_files[name], threads=1)
        for name in GENERATORS
        for backend in ("torch", "onnx")
    }
