"""F0 inputs (Hz, 0 = unvoiced) for models that take F0: from a sidecar file, from reference audio, or
from an array fitted to a mel's length. Numpy only (audio is read with soundfile).

* Sidecar: ``dir/NAME.f0.npy`` beside a mel file ``dir/NAME.npy`` (or ``.npz`` / ``.pt``),
  :func:`f0_sibling`, read by :func:`load_f0_file`; a folder of inputs skips them as mels (:func:`is_f0_file`).
* Reference audio (``vocoder synthesize --f0-from-audio DIR``): :func:`find_reference_audio` finds the
  audio for an input, :func:`f0_from_audio` extracts its F0 with the model's F0 method and range at the
  model's rate (:func:`f0_from_samples` for samples already at that rate).
* Length rule (:func:`fit_f0`): F0 must have the mel's ``T`` values, or up to :data:`F0_LENGTH_SLACK` more
  or fewer (another tool's framing), which are trimmed or padded at the end with the last value.

Every problem is one :class:`~vocoder.errors.InputError` line naming the file or array.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vocoder.audio.f0 import extract_f0
from vocoder.audio.io import AUDIO_EXTENSIONS, read_audio
from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig
from vocoder.errors import InputError, VocoderError
from vocoder.infer.array_files import read_npy
from vocoder.infer.checks import finite_float32, to_numpy

F0_SUFFIX = ".f0.npy"
F0_LENGTH_SLACK = 2  # frames of F0 that may be trimmed or padded to meet the mel's length


def f0_sibling(mel_path: str | Path) -> Path:
    """``dir/NAME.f0.npy`` beside a mel file ``dir/NAME.npy`` (or ``.npz`` / ``.pt``)."""
    mel_path = Path(mel_path)
    return mel_path.with_name(mel_path.stem + F0_SUFFIX)


def is_f0_file(path: Path) -> bool:
    """True for ``NAME.f0.npy`` (an F0 sidecar, not a mel)."""
    return path.name.lower().endswith(F0_SUFFIX)


def fit_f0(value: Any, frames: int, name: str) -> np.ndarray:
    """Checked F0 ``(frames,)`` float32 Hz from an array of ``frames`` (+- :data:`F0_LENGTH_SLACK`) values.

    Accepts ``(T,)``, ``(1, T)``, ``(T, 1)`` or ``(1, 1, T)``; integer Hz values are fine. Refuses NaN/Inf,
    negative values, and voiced values that cannot be Hz (all below 15 Hz: log-F0?).
    """
    arr = to_numpy(value, name, "F0")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"{name}: F0 has dtype {arr.dtype}; expected numbers in Hz")
    shape = tuple(arr.shape)
    if arr.size > 0 and sum(s > 1 for s in shape) <= 1:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise InputError(f"{name}: F0 of shape {shape}; expected one value per mel frame, shape ({frames},)")
    f0 = arr.astype(np.float64)
    if finite_float32(f0)[1]:  # the model gets float32
        raise InputError(f"{name}: F0 has NaN/Inf values (or values beyond float32)")
    if (f0 < 0).any():
        raise InputError(f"{name}: F0 has negative values (min {f0.min():.3g}); use 0 Hz for unvoiced frames")
    voiced = f0[f0 > 0]
    if voiced.size and voiced.max() < 15.0:
        raise InputError(
            f"{name}: F0 values {voiced.min():.3g}..{voiced.max():.3g} are all below 15 Hz; F0 must be in Hz "
            "(not log-F0)"
        )
    diff = len(f0) - frames
    if abs(diff) > F0_LENGTH_SLACK:
        raise InputError(
            f"{name}: F0 has {len(f0)} frames, the mel has {frames} (at most {F0_LENGTH_SLACK} apart is accepted)"
        )
    if diff > 0:
        f0 = f0[:frames]
    elif diff < 0:
        fill = f0[-1] if len(f0) else 0.0
        f0 = np.concatenate([f0, np.full(-diff, fill)])
    return f0.astype(np.float32)


def load_f0_file(path: str | Path, frames: int) -> np.ndarray:
    """F0 ``(frames,)`` from a ``.npy`` file (see :func:`fit_f0` for the accepted shapes and lengths)."""
    path = Path(path)
    return fit_f0(read_npy(path, "F0 file"), frames, str(path))


def find_reference_audio(audio_dir: str | Path, relative: str | Path) -> Path | None:
    """Audio file for the input ``relative`` (a path relative to its input folder, e.g. ``spk1/a.npy``):
    ``audio_dir/spk1/a.{wav,flac,ogg}``, else ``audio_dir/a.{wav,flac,ogg}``; None when neither exists."""
    audio_dir, relative = Path(audio_dir), Path(relative)
    stem = relative.name[: -len(relative.suffix)] if relative.suffix else relative.name
    for folder in dict.fromkeys([audio_dir / relative.parent, audio_dir]):
        for ext in AUDIO_EXTENSIONS:
            candidate = folder / (stem + ext)
            if candidate.is_file():
                return candidate
    return None


def f0_from_samples(wav: np.ndarray, features: FeatureConfig, name: str | Path) -> np.ndarray:
    """F0 ``(L // hop,)`` of audio ``(L,)`` at the features' rate, with their F0 method and range;
    ``name`` starts the messages (audio shorter than one hop, a failed extraction)."""
    if len(wav) < features.hop:
        raise InputError(f"{name}: audio of {len(wav)} samples is shorter than one hop ({features.hop})")
    try:
        return extract_f0(
            wav, features.sample_rate, features.hop, features.f0_min, features.f0_max, features.f0_method
        )
    except VocoderError as err:
        raise InputError(f"{name}: F0 extraction failed ({err})") from None


def f0_from_audio(audio_path: str | Path, features: FeatureConfig, frames: int | None = None) -> np.ndarray:
    """F0 ``(T,)`` of an audio file read at the model's rate, with the model's F0 method and range.

    With ``frames``, the result is fitted to the mel's length (+- :data:`F0_LENGTH_SLACK`).
    """
    features = resolve_features(features)
    wav = read_audio(audio_path, features.sample_rate, check_silence=False)
    f0 = f0_from_samples(wav, features, audio_path)
    return f0 if frames is None else fit_f0(f0, frames, f"{audio_path} (F0 from audio)")
