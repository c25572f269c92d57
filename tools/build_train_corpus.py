"""Build the multi-voice training corpus from Debian's ``asterisk-core-sounds-{en,es,fr,ru}-g722``.

Four IVR voices, 16 kHz G.722, CC-BY-SA-3.0 (Digium): Allison Smith (US English and Mexican Spanish),
June Wallack (Canadian French) and the Russian IvrvoiceRU prompts. Decoded with the PyPI ``G722`` codec
(the same decoder and speech filter as ``tools/build_demo_corpus.py``), a seeded selection of at most
``--seconds-per-voice`` per voice, written as 16-bit FLAC under ``OUT/<voice>/``.

Never used here: ``asterisk-core-sounds-it-g722`` (the Italian male voice) and the alsa-utils clips --
they are the held-out voices of ``tools/build_heldout_sets.py``.

All four voices are female. ``--slow-copies FRACTION`` adds, for that fraction of each voice's clips, a
copy played 15 % slower (resampled by 1/0.85: F0 and formants x 0.85, as a tape played slow), which
widens the F0 range the training mels cover towards male voices. Such copies are marked ``_slow`` and
their band ends at 0.85 * 8 kHz.

    python tools/build_train_corpus.py --out data/multivoice16k --seconds-per-voice 600 --slow-copies 0.5

Needs: ``apt-get install asterisk-core-sounds-{en,es,fr,ru}-g722`` and ``pip install G722``.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_demo_corpus import SAMPLE_RATE, decode, list_sources, missing_sources  # noqa: E402

SOUNDS = Path("/usr/share/asterisk/sounds")
VOICES = {  # folder under SOUNDS -> Debian package
    "en_US_f_Allison": "asterisk-core-sounds-en-g722",
    "es_MX_f_Allison": "asterisk-core-sounds-es-g722",
    "fr_CA_f_June": "asterisk-core-sounds-fr-g722",
    "ru_RU_f_IvrvoiceRU": "asterisk-core-sounds-ru-g722",
}
HELD_OUT = "it_IT_m_Carlo"  # asterisk-core-sounds-it-g722: never train on it
SLOW_FACTOR = 0.85
SEED = 20261201
MIN_SECONDS, MAX_SECONDS = 0.8, 12.0


def slowed(pcm: np.ndarray, factor: float = SLOW_FACTOR) -> np.ndarray:
    """``pcm`` (int16, 16 kHz) played ``factor`` times as fast: resampled to ``len / factor`` samples."""
    import soxr

    y = soxr.resample(pcm.astype(np.float32) / 32768.0, SAMPLE_RATE * factor, SAMPLE_RATE, quality="HQ")
    return np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)


def select(items: list[tuple[Path, np.ndarray]], budget_s: float, seed: int) -> list[tuple[Path, np.ndarray]]:
    ranked = sorted(items, key=lambda it: str(it[0]))
    random.Random(seed).shuffle(ranked)
    chosen, total = [], 0.0
    for path, pcm in ranked:
        dur = len(pcm) / SAMPLE_RATE
        if not MIN_SECONDS <= dur <= MAX_SECONDS or total + dur > budget_s:
            continue
        chosen.append((path, pcm))
        total += dur
    return chosen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seconds-per-voice", type=float, default=600.0)
    ap.add_argument("--slow-copies", type=float, default=0.0, help="fraction of clips also written 15%% slower")
    args = ap.parse_args(argv)
    missing = [pkg for voice, pkg in VOICES.items() if not (SOUNDS / voice).is_dir()]
    problem = missing_sources(missing)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    grand = 0.0
    for i, voice in enumerate(VOICES):
        root = SOUNDS / voice
        items = select([(p, decode(p)) for p in list_sources(root)], args.seconds_per_voice, SEED + i)
        folder = args.out / voice
        folder.mkdir(parents=True, exist_ok=True)
        rng = random.Random(SEED - i)
        total = 0.0
        for path, pcm in items:
            stem = "_".join(path.relative_to(root).with_suffix("").parts)
            sf.write(folder / f"{stem}.flac", pcm, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
            total += len(pcm) / SAMPLE_RATE
            if rng.random() < args.slow_copies:
                slow = slowed(pcm)
                sf.write(folder / f"{stem}_slow.flac", slow, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
                total += len(slow) / SAMPLE_RATE
        print(f"{voice}: {len(items)} clips, {total:.1f} s -> {folder}")
        grand += total
    print(f"total {grand / 60:.1f} min in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
