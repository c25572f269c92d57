"""Build the speech corpus from Debian's ``asterisk-core-sounds-en-g722`` (Allison Smith, CC-BY-SA-3.0).

The package ships headerless G.722 (64 kbit/s, 16 kHz) IVR prompts. This script decodes them with
the PyPI ``G722`` codec, leaves out silence and non-speech clips, and writes 16-bit FLAC.

    # bundled demo subset (committed under recipes/demo/wavs, at most ~6 MB):
    python tools/build_demo_corpus.py --subset demo --out recipes/demo/wavs
    # the full ~24 minutes for the allison16k recipe:
    python tools/build_demo_corpus.py --subset all --out data/allison16k/wavs

Needs: ``apt-get install asterisk-core-sounds-en-g722`` and ``pip install G722``.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SOURCE = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
SAMPLE_RATE = 16000
# Not speech: silence/ holds pure silence, tt-monkeys is 16 s of monkey noises, the rest are tones.
EXCLUDED_DIRS = {"silence"}
EXCLUDED_NAMES = {"tt-monkeys", "beep", "beeperr", "ascending-2tone", "descending-2tone"}
DEMO_SECONDS = 300.0  # 5 min of speech; FLAC of this speech is ~19 kB/s, so this stays under 6 MB
DEMO_SEED = 20261122


def missing_sources(packages: list[str]) -> str | None:
    """One ``error:`` line for missing Debian ``packages`` (names of those whose folder is missing) or a
    missing G722 decoder; None when everything is there."""
    if packages:
        return f"error: missing Debian packages; install them with 'apt-get install -y {' '.join(packages)}'"
    try:
        import G722  # noqa: F401
    except ImportError:
        return "error: the G722 decoder is missing; install it with 'pip install G722'"
    return None


def list_sources(root: Path) -> list[Path]:
    files = sorted(root.rglob("*.g722"))
    keep = []
    for f in files:
        in_excluded_dir = bool(set(f.relative_to(root).parts[:-1]) & EXCLUDED_DIRS)
        if not in_excluded_dir and f.stem not in EXCLUDED_NAMES:
            keep.append(f)
    return keep


def decode(path: Path) -> np.ndarray:
    import G722

    # A new codec object per file: the decoder keeps state between calls.
    pcm = G722.G722(SAMPLE_RATE, 64000).decode(path.read_bytes())
    return np.asarray(pcm, dtype=np.int16)


def out_name(root: Path, path: Path) -> str:
    return "_".join(path.relative_to(root).with_suffix("").parts) + ".flac"


def select_demo(items: list[tuple[Path, np.ndarray]], budget_s: float) -> list[tuple[Path, np.ndarray]]:
    """Deterministic subset: a seeded shuffle of all speech clips (prompts, digits, letters alike,
    so held-out clips look like training clips), taken in that order until the budget is full."""
    ranked = sorted(items, key=lambda it: str(it[0]))
    random.Random(DEMO_SEED).shuffle(ranked)
    chosen, total = [], 0.0
    for path, pcm in ranked:
        dur = len(pcm) / SAMPLE_RATE
        if total + dur > budget_s:
            continue
        chosen.append((path, pcm))
        total += dur
    return sorted(chosen, key=lambda it: str(it[0]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subset", choices=["demo", "all"], default="demo")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--source", type=Path, default=SOURCE)
    args = ap.parse_args(argv)
    if not args.source.is_dir():
        print(
            f"error: {args.source} not found; install it with "
            "'apt-get install -y --no-install-recommends asterisk-core-sounds-en-g722'",
            file=sys.stderr,
        )
        return 2
    try:
        import G722  # noqa: F401
    except ImportError:
        print("error: the G722 decoder is missing; install it with 'pip install G722'", file=sys.stderr)
        return 2
    items = [(p, decode(p)) for p in list_sources(args.source)]
    if args.subset == "demo":
        items = select_demo(items, DEMO_SECONDS)
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for path, pcm in items:
        sf.write(args.out / out_name(args.source, path), pcm, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        total += len(pcm)
    print(f"wrote {len(items)} files, {total / SAMPLE_RATE:.1f} s, to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
