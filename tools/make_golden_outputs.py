"""Save what every shipped checkpoint synthesizes today, so refactors can prove they change nothing.

Writes ``tests/fixtures/shipped_outputs.npz``: per checkpoint folder NAME, ``NAME/mel`` (n_mels, T),
``NAME/f0`` (T,) for generators that need F0, and ``NAME/wav`` (T * hop,), the torch output of
``vocoder.load(folder).synthesize(mel, f0=f0, seed=7)``. The mel is the model's own front end on the
first 40 frames of the first test clip of the bundled corpus. Run again only when a checkpoint is
retrained on purpose, and then only for that checkpoint (``--only NAME``: the other entries are kept as
they are; tests/test_shipped_outputs.py compares against this file).

    python tools/make_golden_outputs.py [--only demo-wavehax] [--out tests/fixtures/shipped_outputs.npz]
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
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="regenerate only this checkpoint's entries (repeatable); the others are kept")
    args = ap.parse_args()
    folders = sorted(p.parent for p in (ROOT / "checkpoints").glob("*/model.safetensors"))
    unknown = sorted(set(args.only) - {f.name for f in folders})
    if unknown:
        raise SystemExit(f"error: {', '.join(unknown)}: no such checkpoint under {ROOT / 'checkpoints'}")
    arrays = {}
    if args.only:
        with np.load(args.out) as kept:
            arrays = {k: kept[k] for k in kept.files if k.split("/")[0] not in args.only}
        folders = [f for f in folders if f.name in args.only]
    for folder in folders:
        for key, value in golden(folder).items():
            arrays[f"{folder.name}/{key}"] = value
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({', '.join(sorted(arrays))})")


if __name__ == "__main__":
    main()
