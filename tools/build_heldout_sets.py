"""Build the held-out voice sets: two folders of voices no recipe trains on, for ``vocoder evaluate --data``.

    python tools/build_heldout_sets.py --out data/heldout
    vocoder evaluate checkpoints/demo-wavehax --data data/heldout/it-male --out runs/eval/it-male.json
    vocoder evaluate checkpoints/demo-wavehax --data data/heldout/alsa --out runs/eval/alsa.json

``vocoder evaluate --data FOLDER`` evaluates every audio file below the folder (only a manifest JSON is
cut to its test split), so each set is evaluated whole: all 13 and all 8 clips. Evaluate the two folders
one at a time; ``--data OUT`` would pool them.

* ``OUT/it-male/``: 13 prompts of the Italian male voice (Carlo Flora) from Debian's
  ``asterisk-core-sounds-it-g722`` (16 kHz G.722, decoded with the PyPI ``G722`` codec by
  ``tools/build_demo_corpus.py``'s decoder). Rule: the prompts in the voice's top-level folder (not the
  ``digits/``, ``letters/``, ``phonetic/``, ``silence/``, ``dictate/`` or ``followme/`` subfolders), without
  build_demo_corpus's non-speech names (tones, ``tt-monkeys``), 2 s to 10 s long, the 13 longest (equal
  lengths by name). On asterisk-core-sounds 1.6.1 that picks tt-allbusy, vm-record-prepend, vm-review,
  vm-instructions, vm-opts, confbridge-lock-extended, vm-rec-unv, vm-intro, vm-newuser,
  queue-periodic-announce, vm-rec-temp, dir-usingkeypad and agent-alreadyon (93 s).
* ``OUT/alsa/``: alsa-utils' channel-name clips ``/usr/share/sounds/alsa/*.wav`` (one English voice,
  48 kHz, median F0 about 185 Hz), ``Noise.wav`` left out, mixed to mono and resampled to 16 kHz (soxr,
  as ``vocoder`` reads audio).

Both are written as 16 kHz 16-bit mono wav, each folder with an ``ATTRIBUTION.md`` (sources, licences,
changes). The licences are the Debian copyright files' (``/usr/share/doc/<package>/copyright``):
CC-BY-3.0 for the Italian prompts, GPL-2 for alsa-utils.

Needs: ``apt-get install asterisk-core-sounds-it-g722 alsa-utils`` and ``pip install G722``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_demo_corpus import EXCLUDED_NAMES, SAMPLE_RATE, decode, missing_sources  # noqa: E402

ITALIAN = Path("/usr/share/asterisk/sounds/it_IT_m_Carlo")
ALSA = Path("/usr/share/sounds/alsa")
PACKAGES = {"it-male": "asterisk-core-sounds-it-g722", "alsa": "alsa-utils"}
IT_COUNT = 13
IT_MIN_SECONDS, IT_MAX_SECONDS = 2.0, 10.0
ALSA_EXCLUDED = {"Noise"}
ALSA_COUNT = 8
BYTES_TO_SAMPLES = 2  # G.722 at 64 kbit/s: one byte codes two 16 kHz samples


def choose_italian(root: Path, count: int = IT_COUNT) -> list[Path]:
    """The ``count`` longest top-level speech prompts of ``root`` between 2 s and 10 s (ties by name)."""
    ranked = []
    for path in sorted(root.glob("*.g722")):
        seconds = path.stat().st_size * BYTES_TO_SAMPLES / SAMPLE_RATE
        if path.stem not in EXCLUDED_NAMES and IT_MIN_SECONDS <= seconds <= IT_MAX_SECONDS:
            ranked.append((-seconds, path.name, path))
    return [path for _, _, path in sorted(ranked)[:count]]


def choose_alsa(root: Path) -> list[Path]:
    return [p for p in sorted(root.glob("*.wav")) if p.stem not in ALSA_EXCLUDED]


def _version(package: str) -> str:
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
        )
    except OSError:
        return "unknown version"
    return result.stdout.strip() or "unknown version"


def _check_empty_of_others(folder: Path, names: set[str]) -> str | None:
    """A reason to stop when ``folder`` already holds audio other than ``names`` (it would be evaluated too)."""
    if not folder.is_dir():
        return None
    audio = (p.name for p in folder.iterdir() if p.suffix.lower() in (".wav", ".flac", ".ogg"))
    others = sorted(name for name in audio if name not in names)
    if not others:
        return None
    shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
    return f"{folder} holds other audio ({shown}), which would be evaluated too; use an empty folder"


IT_ATTRIBUTION = """# it-male: attribution and licence

The {count} wav files here are Italian voice prompts (16 kHz, 16-bit mono, {seconds:.1f} s) decoded from the
Debian package `asterisk-core-sounds-it-g722` ({version}, directory `it_IT_m_Carlo`).

- Recorded by **Carlo Flora** (http://www.carloflora.com; voice available from
  http://www.segreterietelefoniche.it), Copyright 2012 Carlo Flora. Translated by Silvia Petrin from the
  original English prompts distributed by Digium (http://www.digium.com).
- Licence: **Creative Commons Attribution 3.0** (CC-BY-3.0), https://creativecommons.org/licenses/by/3.0/ ,
  as stated for these prompts (`it-*`) in `/usr/share/doc/asterisk-core-sounds-it-g722/copyright`.
- Changes: decoded from G.722 (64 kbit/s) to 16-bit PCM wav; nothing else. Chosen by
  `tools/build_heldout_sets.py`: the {count} longest top-level speech prompts between 2 s and 10 s.

Files: {names}
"""

ALSA_ATTRIBUTION = """# alsa: attribution and licence

The {count} wav files here are the channel-name test clips of ALSA's `speaker-test` (16 kHz, 16-bit mono,
{seconds:.1f} s), from the Debian package `alsa-utils` ({version}, `/usr/share/sounds/alsa/`).

- alsa-utils, Copyright 1998-2022 Jaroslav Kysela and others (https://www.alsa-project.org/).
- Licence: **GNU General Public License version 2** (GPL-2), the licence
  `/usr/share/doc/alsa-utils/copyright` gives for the package's files (`Files: *`; the sounds have no
  entry of their own); full text in `/usr/share/common-licenses/GPL-2` or
  https://www.gnu.org/licenses/old-licenses/gpl-2.0.html .
- Changes: resampled from 48 kHz to 16 kHz (soxr, high quality) and written as 16-bit PCM wav;
  `Noise.wav` (not speech) is left out.

Files: {names}
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="writes OUT/it-male/ and OUT/alsa/")
    ap.add_argument("--italian", type=Path, default=ITALIAN, help=argparse.SUPPRESS)
    ap.add_argument("--alsa", type=Path, default=ALSA, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    missing = [PACKAGES[key] for key, root in (("it-male", args.italian), ("alsa", args.alsa)) if not root.is_dir()]
    problem = missing_sources(missing)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    from vocoder.audio.io import read_audio, write_audio
    from vocoder.errors import VocoderError

    italian, alsa = choose_italian(args.italian), choose_alsa(args.alsa)
    if len(italian) < IT_COUNT or len(alsa) < ALSA_COUNT:
        print(f"error: expected {IT_COUNT} Italian prompts and {ALSA_COUNT} alsa clips, found {len(italian)} "
              f"in {args.italian} and {len(alsa)} in {args.alsa}", file=sys.stderr)
        return 1
    it_dir, alsa_dir = args.out / "it-male", args.out / "alsa"
    for folder, paths in ((it_dir, italian), (alsa_dir, alsa)):
        reason = _check_empty_of_others(folder, {p.stem + ".wav" for p in paths})
        if reason:
            print(f"error: {reason}", file=sys.stderr)
            return 1

    it_dir.mkdir(parents=True, exist_ok=True)
    it_seconds = 0.0
    for path in italian:
        pcm = decode(path)
        sf.write(it_dir / f"{path.stem}.wav", pcm, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        it_seconds += len(pcm) / SAMPLE_RATE
        print(f"it-male/{path.stem}.wav  {len(pcm) / SAMPLE_RATE:5.2f} s")
    alsa_dir.mkdir(parents=True, exist_ok=True)
    alsa_seconds = 0.0
    for path in alsa:
        try:
            wav = read_audio(path, SAMPLE_RATE)
        except VocoderError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        write_audio(alsa_dir / f"{path.stem}.wav", np.asarray(wav), SAMPLE_RATE)
        alsa_seconds += len(wav) / SAMPLE_RATE
        print(f"alsa/{path.stem}.wav  {len(wav) / SAMPLE_RATE:5.2f} s")

    names = ", ".join(f"`{p.stem}.wav`" for p in italian)
    (it_dir / "ATTRIBUTION.md").write_text(IT_ATTRIBUTION.format(
        count=len(italian), seconds=it_seconds, version=_version(PACKAGES["it-male"]), names=names))
    names = ", ".join(f"`{p.stem}.wav`" for p in alsa)
    (alsa_dir / "ATTRIBUTION.md").write_text(ALSA_ATTRIBUTION.format(
        count=len(alsa), seconds=alsa_seconds, version=_version(PACKAGES["alsa"]), names=names))
    print(f"wrote {len(italian)} clips ({it_seconds:.1f} s) to {it_dir} and {len(alsa)} clips "
          f"({alsa_seconds:.1f} s) to {alsa_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
