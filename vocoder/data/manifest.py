"""Folder of audio -> deterministic train/valid/test lists with durations.

The split depends only on the relative file paths and ``split_seed`` (files are ranked by a hash of
seed and path), not on file order, the machine or the folder's location.

Which files are used is decided by one function, :func:`check_audio_file`, for training's manifest and
for ``vocoder info`` alike: a file that cannot be read, holds no samples or NaN/Inf, is silent or is
shorter than ``data.min_seconds`` is skipped with its reason (training prints one ``warning:`` line each).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vocoder.audio.io import AUDIO_EXTENSIONS, audio_info, find_audio, read_audio
from vocoder.errors import AudioError, ConfigError


@dataclass
class Utterance:
    path: str
    seconds: float
    sample_rate: int


@dataclass
class Manifest:
    root: str
    train: list[Utterance] = field(default_factory=list)
    valid: list[Utterance] = field(default_factory=list)
    test: list[Utterance] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: reason"

    def split(self, name: str) -> list[Utterance]:
        if name not in ("train", "valid", "test"):
            raise ConfigError(f"unknown split {name!r} (train, valid, test)")
        return getattr(self, name)

    @property
    def all(self) -> list[Utterance]:
        return self.train + self.valid + self.test

    def seconds(self, name: str | None = None) -> float:
        items = self.all if name is None else self.split(name)
        return sum(u.seconds for u in items)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        data = json.loads(Path(path).read_text())
        return cls(
            root=data["root"],
            **{k: [Utterance(**u) for u in data[k]] for k in ("train", "valid", "test")},
            skipped=data.get("skipped", []),
        )

    def summary(self) -> str:
        splits = ("train", "valid", "test")
        parts = [f"{k} {len(self.split(k))} files {self.seconds(k):.1f} s" for k in splits]
        return f"{len(self.all)} files, {self.seconds():.1f} s ({', '.join(parts)})"


def _rank(rel: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{rel}".encode()).hexdigest()


def print_warning(message: str) -> None:
    """One ``warning: ...`` line on stderr; under torchrun only rank 0 prints (every rank scans)."""
    if os.environ.get("RANK", "0") == "0":
        print(f"warning: {message}", file=sys.stderr, flush=True)


def check_audio_file(path: str | Path, min_seconds: float = 0.0) -> tuple[int, int]:
    """``(sample_rate, samples)`` of a file training can use, else an :class:`AudioError` naming the file
    and the reason training skips it: unreadable or empty, NaN/Inf samples, silent (peak below -80 dBFS;
    :func:`~vocoder.audio.io.read_audio` would refuse it), or shorter than ``min_seconds``.

    Decodes the file (silence is only seen in the samples): about 1 s per hour of 16 kHz FLAC.
    """
    wav = read_audio(path, check_silence=True)  # the checks training's reader applies, at the file's rate
    sr = audio_info(path)[0]
    if len(wav) / sr < min_seconds:
        raise AudioError(f"{path}: too short ({len(wav) / sr:.2f} s; data.min_seconds is {min_seconds:g} s)")
    return sr, len(wav)


def scan_audio(
    root: str | Path,
    min_seconds: float = 0.0,
    extensions: tuple[str, ...] | list[str] = AUDIO_EXTENSIONS,
) -> tuple[list[Utterance], list[str]]:
    """Every audio file below ``root`` through :func:`check_audio_file`: the usable ones (paths relative
    to ``root``) and the skipped ones as ``"path: reason"`` lines."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: data folder not found")
    files = find_audio(root, tuple(extensions))
    if not files:
        raise ConfigError(f"{root}: no audio files ({', '.join(extensions)}) found")
    utts, skipped = [], []
    for f in files:
        try:
            sr, n = check_audio_file(f, min_seconds)
        except AudioError as err:
            skipped.append(str(err))
            continue
        utts.append(Utterance(str(f.relative_to(root)), n / sr, sr))
    return utts, skipped


def split_utterances(
    root: str | Path,
    utts: list[Utterance],
    skipped: list[str],
    valid_count: int = 8,
    test_count: int = 8,
    split_seed: int = 0,
) -> Manifest:
    """The :class:`Manifest` of the usable ``utts`` (see :func:`build_manifest` for the split rule)."""
    if len(utts) <= valid_count + test_count:
        raise ConfigError(
            f"{root}: {len(utts)} usable audio files is too few for {valid_count} valid + {test_count} test"
        )
    ranked = sorted(utts, key=lambda u: _rank(u.path, split_seed))
    valid = sorted(ranked[:valid_count], key=lambda u: u.path)
    test = sorted(ranked[valid_count : valid_count + test_count], key=lambda u: u.path)
    train = sorted(ranked[valid_count + test_count :], key=lambda u: u.path)
    return Manifest(str(root), train, valid, test, list(skipped))


def build_manifest(
    root: str | Path,
    valid_count: int = 8,
    test_count: int = 8,
    split_seed: int = 0,
    min_seconds: float = 0.0,
    extensions: tuple[str, ...] | list[str] = AUDIO_EXTENSIONS,
    warn: Callable[[str], None] | None = print_warning,
) -> Manifest:
    """Scan ``root`` for audio and split it: the ``valid_count`` files with the smallest
    hash(seed, relative path) go to valid, the next ``test_count`` to test, the rest to train.
    Files :func:`check_audio_file` refuses are listed in ``skipped`` and each passed to ``warn`` as
    ``"path: reason; skipped"`` (default: a ``warning:`` line on stderr; None: silently)."""
    utts, skipped = scan_audio(root, min_seconds, extensions)
    if warn is not None:
        for line in skipped:
            warn(f"{line}; skipped")
    return split_utterances(Path(root), utts, skipped, valid_count, test_count, split_seed)
