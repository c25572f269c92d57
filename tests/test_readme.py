"""The README's ```python blocks run as written (``bash`` blocks are not executed here).

Each block runs on its own, from a folder where the repository's ``checkpoints/`` and ``recipes/`` are at
their README paths, after a small prelude that defines the names a block may take from its prose: ``wav``
(a bundled demo clip, 16 kHz float32), ``mel`` / ``f0`` (its demo-16k log-mel and F0), ``mel_chunks`` /
``f0_chunks`` (10-frame pieces of them) and ``play`` (collects what it is given). A block that opens
``m.onnx`` / ``m.frontend.onnx`` gets them from the README's own ``vocoder export ... --frontend``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CLIP = ROOT / "recipes" / "demo" / "wavs" / "digits_1.flac"
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks() -> list[tuple[str, str]]:
    """``(id, code)`` of every ```python block: the id is the section heading and the block's line."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        headings = re.findall(r"^#+ (.+)$", text[: match.start()], re.M)
        section = headings[-1] if headings else "top"
        blocks.append((f"{section} (line {line})", match.group(1)))
    return blocks


BLOCKS = python_blocks()


def test_readme_has_python_blocks():
    assert any("vocoder.stream" in code for _, code in BLOCKS)
    assert any("vocoder.features" in code for _, code in BLOCKS)


@pytest.fixture(scope="module")
def prelude() -> dict:
    from vocoder.audio.io import read_audio
    from vocoder.audio.mel_presets import resolve_features
    from vocoder.infer.feature_files import features

    demo = resolve_features({"preset": "demo-16k"})
    wav = read_audio(CLIP, demo.sample_rate)
    feats = features(wav, demo, f0=True)
    mel, f0 = feats["mel"], feats["f0"]
    played: list[np.ndarray] = []
    return {
        "wav": wav,
        "mel": mel,
        "f0": f0,
        "mel_chunks": [mel[:, i : i + 10] for i in range(0, mel.shape[1], 10)],
        "f0_chunks": [f0[i : i + 10] for i in range(0, len(f0), 10)],
        "play": played.append,
    }


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    for name in ("checkpoints", "recipes"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _exported_files(code: str) -> None:
    """Write the ONNX files a deployment block opens, with the README's export command."""
    if "m.onnx" not in code and "m.frontend.onnx" not in code:
        return
    from vocoder.cli import main

    try:
        code_ = main(["export", "checkpoints/demo-istftnet", "--out", "m.onnx", "--frontend"])
    except SystemExit:  # argparse: no --frontend option in this version
        code_ = 2
    if code_ != 0 or not Path("m.frontend.onnx").is_file():
        pytest.skip("the block needs `vocoder export MODEL --out m.onnx --frontend`, which failed here")


@pytest.mark.parametrize("code", [c for _, c in BLOCKS], ids=[i for i, _ in BLOCKS])
def test_readme_python_block_runs(code, prelude, workdir):
    _exported_files(code)
    namespace = {"__name__": "__readme__", **prelude}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - the README's own code
