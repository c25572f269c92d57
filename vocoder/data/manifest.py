"""Folder of audio -> deterministic train/valid/test lists with durations.

The split depends only on the relative file paths and ``split_seed`` (files are ranked by a hash of
seed and path), not on file order, the machine or the folder's location.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vocoder.audio.io import AUDIO_EXTENSIONS, audio_info, find_audio
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


def build_manifest(
    root: str | Path,
    valid_count: int = 8,
    test_count: int = 8,
    split_seed: int = 0,
    min_seconds: float = 0.0,
    extensions: tuple[str, ...] | list[str] = AUDIO_EXTENSIONS,
) -> Manifest:
    """Scan ``root`` for audio and split it: the ``valid_count`` files with the smallest
    hash(seed, relative path) go to valid, the next ``test_count`` to test, the rest to train.
    Unreadable files and files shorter than ``min_seconds`` are listed in ``skipped``."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: data folder not found")
    files = find_audio(root, tuple(extensions))
    if not files:
        raise ConfigError(f"{root}: no audio files ({', '.join(extensions)}) found")
    utts, skipped = [], []
    for f in files:
        try:
            sr, n, _ = audio_info(f)
        except AudioError as err:
            skipped.append(str(err))
            continue
        if n == 0 or n / sr < min_seconds:
            skipped.append(f"{f}: shorter than {min_seconds} s")
            continue
        utts.append(Utterance(str(f.relative_to(root)), n / sr, sr))
    if len(utts) <= valid_count + test_count:
        raise ConfigError(
            f"{root}: {len(utts)} usable audio files is too few for {valid_count} valid + {test_count} test"
        )
    ranked = sorted(utts, key=lambda u: _rank(u.path, split_seed))
    valid = sorted(ranked[:valid_count], key=lambda u: u.path)
    test = sorted(ranked[valid_count : valid_count + test_count], key=lambda u: u.path)
    train = sorted(ranked[valid_count + test_count :], key=lambda u: u.path)
    return Manifest(str(root), train, valid, test, skipped)
