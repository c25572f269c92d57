"""Read, resample, validate and write audio.

Rule for inputs that do not match the model: multi-channel audio is mixed down to mono (mean over
channels); audio at another sample rate is resampled with soxr (high quality). Every problem a file can
have is an :class:`~vocoder.errors.AudioError` with one line naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from vocoder.atomic import atomic_path
from vocoder.errors import AudioError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
SILENCE_PEAK = 1e-4  # below -80 dBFS everywhere counts as silent-only


def _reason(err: Exception) -> str:
    """libsndfile's own reason (e.g. 'Format not recognised.') without the path it repeats."""
    reason = getattr(err, "error_string", None) or (str(err).splitlines() or [type(err).__name__])[0]
    return reason.strip().rstrip(".").lower() or type(err).__name__


def resample(wav: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a float32 ``(L,)`` signal with soxr; returns it unchanged when the rates agree."""
    if orig_sr == target_sr:
        return wav
    import soxr

    return soxr.resample(wav, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def read_audio(path: str | Path, sample_rate: int | None = None, check_silence: bool = True) -> np.ndarray:
    """Read ``path`` (wav/flac/ogg) to float32 mono ``(L,)`` in [-1, 1], resampled to ``sample_rate``.

    Raises AudioError for unreadable, empty, non-finite or (with ``check_silence``) silent-only input.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, EOFError) as err:
        raise AudioError(f"{path}: cannot read audio ({_reason(err)})") from None
    if data.size == 0:
        raise AudioError(f"{path}: empty audio (0 samples)")
    wav = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(wav).all():
        raise AudioError(f"{path}: audio contains NaN or Inf samples")
    if check_silence and float(np.max(np.abs(wav))) < SILENCE_PEAK:
        raise AudioError(f"{path}: audio is silent (peak below -80 dBFS)")
    if sample_rate is not None:
        wav = resample(wav, sr, sample_rate)
        if wav.size == 0:  # e.g. one sample at 44.1 kHz read at 8 kHz
            raise AudioError(f"{path}: audio too short ({data.shape[0]} samples at {sr} Hz, none at {sample_rate} Hz)")
    return np.ascontiguousarray(wav, dtype=np.float32)


def audio_info(path: str | Path) -> tuple[int, int, int]:
    """``(sample_rate, num_samples, channels)`` of an audio file without decoding it."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{path}: cannot read audio ({_reason(err)})") from None
    return info.samplerate, info.frames, info.channels


def write_audio(path: str | Path, wav: np.ndarray, sample_rate: int) -> None:
    """Write ``wav`` ``(L,)`` (or ``(1, L)``) as 16-bit PCM wav, clipped to [-1, 1].

    Written to a temporary file in the same folder and renamed, so a crash never leaves half a file.
    """
    path = Path(path)
    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    wav = np.clip(np.nan_to_num(wav, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(tmp, wav, sample_rate, subtype="PCM_16", format="WAV")


def find_audio(root: str | Path, extensions: tuple[str, ...] | list[str] = AUDIO_EXTENSIONS) -> list[Path]:
    """All audio files below ``root`` (recursively), sorted by path; hidden files (``.name``, e.g. the
    temporary files of an interrupted atomic write) are skipped."""
    root = Path(root)
    exts = {e.lower() for e in extensions}
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in exts and not p.name.startswith(".")
    )
