"""Training batches: random fixed-length segments aligned to the hop, F0 from an on-disk cache.

Batches are drawn by step number, not by iterator state: ``batch(step, rank)`` seeds its RNG with
``(seed, step, rank)``, so a resumed run sees exactly the batches an uninterrupted run would, and
each DDP rank sees its own shard. Mels are computed on the fly by the trainer (batched, with the
recipe's preset); F0 (slow) is computed once per file and cached, keyed by file content and F0 settings;
when some files are not cached yet, a progress bar "F0 (harvest)" on stderr counts them.

A file that cannot be used (unreadable, silent, shorter than one frame at the feature rate; the manifest
skips most of these already, :func:`vocoder.data.manifest.check_audio_file`) is one ``warning:`` line and
is left out, not the end of training.

Paired data (``data.input_root``, e.g. teacher-student distillation): each target file ``ROOT/a/b.wav``
has a source ``INPUT_ROOT/a/b.<any audio extension>`` from which the trainer computes the input mel; both
are read at the feature rate, cut to their common whole frames, and segments are taken at the same
samples of both.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vocoder.atomic import atomic_path
from vocoder.audio.io import read_audio
from vocoder.config import FeatureConfig
from vocoder.data.manifest import Utterance, print_warning
from vocoder.errors import AudioError, ConfigError


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vocoder"


def f0_cache_key(path: Path, features: FeatureConfig) -> str:
    h = hashlib.sha256(path.read_bytes())
    settings = [features.sample_rate, features.hop, features.f0_method, features.f0_min, features.f0_max, 1]
    h.update(json.dumps(settings).encode())
    return h.hexdigest()


def _f0_cache_file(path: Path, features: FeatureConfig, cache_dir: Path | None) -> Path | None:
    return None if cache_dir is None else Path(cache_dir) / "f0" / f"{f0_cache_key(path, features)}.npy"


def _read_cached_f0(cache_file: Path | None, frames: int) -> np.ndarray | None:
    if cache_file is None or not cache_file.is_file():
        return None
    f0 = np.load(cache_file)
    return f0 if f0.shape == (frames,) else None


def cached_f0(
    path: Path, wav: np.ndarray, features: FeatureConfig, cache_dir: Path | None, cache_file: Path | None = None
) -> np.ndarray:
    """F0 ``(len(wav) // hop,)`` of one file, from ``cache_dir`` when present, else extracted and stored
    (``cache_file``: its path in the cache when the caller has it already)."""
    from vocoder.audio.f0 import extract_f0

    if cache_file is None:
        cache_file = _f0_cache_file(path, features, cache_dir)
    f0 = _read_cached_f0(cache_file, len(wav) // features.hop)
    if f0 is not None:
        return f0
    f0 = extract_f0(wav, features.sample_rate, features.hop, features.f0_min, features.f0_max, features.f0_method)
    if cache_file is not None:
        with atomic_path(cache_file, suffix=".npy") as tmp:
            np.save(tmp, f0.astype(np.float32))
    return f0


def f0_of_files(
    paths: list[Path], wavs: list[np.ndarray], features: FeatureConfig, cache_dir: Path | None
) -> list[np.ndarray]:
    """:func:`cached_f0` of many files. The cached ones are read first; when any is missing, the rest are
    extracted under a progress bar ``F0 (<method>)`` on stderr (rank 0 only under torchrun)."""
    from tqdm import tqdm

    cache_files = [_f0_cache_file(p, features, cache_dir) for p in paths]
    f0s = [_read_cached_f0(c, len(w) // features.hop) for c, w in zip(cache_files, wavs)]
    missing = [i for i, f0 in enumerate(f0s) if f0 is None]
    if missing:
        bar = tqdm(
            missing, desc=f"F0 ({features.f0_method})", unit="file", file=sys.stderr, mininterval=1.0,
            disable=os.environ.get("RANK", "0") != "0",
        )
        for i in bar:
            f0s[i] = cached_f0(paths[i], wavs[i], features, cache_dir, cache_files[i])
    return f0s


@dataclass
class Batch:
    """``wav`` (B, 1, T*hop), the target; ``f0`` (B, T) or None; ``source`` (B, 1, T*hop), the audio the
    input mel is computed from when the data is paired (else None: the mel is the target's)."""

    wav: torch.Tensor
    f0: torch.Tensor | None
    source: torch.Tensor | None = None


def paired_source(input_root: Path, relative: str) -> Path:
    """The file of ``input_root`` with ``relative``'s path and stem (any audio extension)."""
    from vocoder.audio.io import AUDIO_EXTENSIONS

    stem = (input_root / relative).with_suffix("")
    for ext in AUDIO_EXTENSIONS:
        candidate = stem.with_suffix(ext)
        if candidate.is_file():
            return candidate
    raise ConfigError(f"data.input_root {input_root}: no source audio for {relative} (files are paired by name)")


class SegmentSampler:
    """Holds a split's audio in memory (float32 at the feature rate, trimmed to whole frames) and
    draws batches of random segments of ``segment_frames`` frames."""

    def __init__(
        self,
        utterances: list[Utterance],
        root: str | Path,
        features: FeatureConfig,
        segment_frames: int,
        needs_f0: bool = False,
        cache_dir: str | Path | None = None,
        seed: int = 0,
        input_root: str | Path | None = None,
    ) -> None:
        self.features = features
        self.hop = features.hop
        self.segment_frames = int(segment_frames)
        self.seed = int(seed)
        self.needs_f0 = needs_f0
        self.names: list[str] = []
        self.wavs: list[np.ndarray] = []
        self.f0s: list[np.ndarray] = []
        self.sources: list[np.ndarray] | None = [] if input_root else None
        paths: list[Path] = []
        for utt in utterances:
            path = Path(root) / utt.path
            try:
                wav = read_audio(path, features.sample_rate)
                source = None
                if self.sources is not None:
                    source = read_audio(paired_source(Path(input_root), utt.path), features.sample_rate)
                    wav = wav[: len(source)]
            except AudioError as err:  # e.g. changed since the manifest was made, or a silent paired source
                print_warning(f"{err}; skipped")
                continue
            frames = len(wav) // self.hop
            if frames == 0:
                print_warning(
                    f"{path}: shorter than one frame ({self.hop} samples at {features.sample_rate} Hz); skipped"
                )
                continue
            wav = wav[: frames * self.hop]
            paths.append(path)
            self.names.append(utt.path)
            self.wavs.append(wav)
            if self.sources is not None:
                self.sources.append(source[: frames * self.hop])
        if needs_f0:
            self.f0s = f0_of_files(paths, self.wavs, features, Path(cache_dir) if cache_dir else None)
        if not self.wavs:
            raise ConfigError(f"{root}: none of the {len(utterances)} file(s) given is usable (see the warnings)")
        frames = np.array([len(w) // self.hop for w in self.wavs], dtype=np.float64)
        self.weights = frames / frames.sum()  # longer files are drawn more often: uniform over audio

    def __len__(self) -> int:
        return len(self.wavs)

    def batch(self, batch_size: int, step: int, rank: int = 0) -> Batch:
        rng = np.random.default_rng([self.seed, int(step), int(rank)])
        seg = self.segment_frames * self.hop
        wavs = np.zeros((batch_size, 1, seg), dtype=np.float32)
        f0s = np.zeros((batch_size, self.segment_frames), dtype=np.float32) if self.needs_f0 else None
        sources = None if self.sources is None else np.zeros_like(wavs)
        for b in range(batch_size):
            i = int(rng.choice(len(self.wavs), p=self.weights))
            frames = len(self.wavs[i]) // self.hop
            start = int(rng.integers(0, max(1, frames - self.segment_frames + 1)))
            n = min(self.segment_frames, frames - start)
            wavs[b, 0, : n * self.hop] = self.wavs[i][start * self.hop : (start + n) * self.hop]
            if sources is not None:
                sources[b, 0, : n * self.hop] = self.sources[i][start * self.hop : (start + n) * self.hop]
            if f0s is not None:
                f0s[b, :n] = self.f0s[i][start : start + n]
        return Batch(
            torch.from_numpy(wavs), None if f0s is None else torch.from_numpy(f0s),
            None if sources is None else torch.from_numpy(sources),
        )

    def utterance(self, i: int) -> Batch:
        """The whole ``i``-th utterance as a batch of one (for validation)."""
        wav = torch.from_numpy(self.wavs[i]).view(1, 1, -1)
        f0 = torch.from_numpy(self.f0s[i]).view(1, -1) if self.needs_f0 else None
        source = None if self.sources is None else torch.from_numpy(self.sources[i]).view(1, 1, -1)
        return Batch(wav, f0, source)
