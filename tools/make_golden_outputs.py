"""Save what every shipped checkpoint synthesizes today, so refactors can prove they change nothing.

Writes ``tests/fixtures/shipped_outputs.npz``: per checkpoint folder NAME, ``NAME/mel`` (n_mels, T),
``NAME/f0`` (T,) for generators that need F0, and ``NAME/wav`` (T * hop,), the torch output of
``vocoder.load(folder).synthesize(mel, f0=f0, seed=7)``. The mel is the model's own front end on the
first 40 frames of the first test clip of the bundled corpus. Run again only when a checkpoint is
retrained on purpose (tests/test_shipped_outputs.py compares against this file).

    python tools/make_golden_outputs.py [--out tests/fixtures/shipped_outputs.npz]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import vocoder
from vocoder.audio.f0 import extract_f0
from vocoder.audio.io import read_audio
from vocoder.audio.mel_numpy import log_mel_numpy
from vocoder.data.manifest import build_manifest

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 40
SEED = 7


def golden(folder: Path) -> dict[str, np.ndarray]:
    """Inputs and torch output of one checkpoint folder: ``{"mel", "wav"}`` (+ ``"f0"``)."""
    voc = vocoder.load(folder)
    corpus = ROOT / "recipes" / "demo" / "wavs"
    clip = build_manifest(corpus).test[0]
    wav = read_audio(corpus / clip.path, voc.sample_rate)[: FRAMES * voc.hop]
    mel = log_mel_numpy(wav, voc.features).astype(np.float32)
    out = {"mel": mel}
    f0 = None
    if voc.needs_f0:
        f = voc.features
        f0 = extract_f0(wav, f.sample_rate, f.hop, f.f0_min, f.f0_max, f.f0_method).astype(np.float32)
        out["f0"] = f0
    out["wav"] = voc.synthesize(mel, f0=f0, seed=SEED)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "shipped_outputs.npz")
    args = ap.parse_args()
    arrays = {}
    for folder in sorted((ROOT / "checkpoints").glob("*/model.safetensors")):
        for key, value in golden(folder.parent).items():
            arrays[f"{folder.parent.name}/{key}"] = value
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({', '.join(sorted(arrays))})")


if __name__ == "__main__":
    main()
