"""Read model inputs from files: log-mels ``(n_mels, T)`` float32 and F0 ``(T,)`` Hz, checked against
the model's :class:`~vocoder.config.FeatureConfig`.

Torch-free (numpy and the package's numpy modules); torch is imported only to read a ``.pt`` file, and
then with ``torch.load(weights_only=True)``, which refuses any pickle that would run code.

Mel files (:func:`load_mel`):

* ``.npy``: a float array ``(n_mels, T)``, ``(T, n_mels)`` or ``(1, n_mels, T)`` / ``(1, T, n_mels)``.
  The orientation is the one whose mel axis has the model's ``n_mels``; a square ``(n_mels, n_mels)``
  array is ambiguous and taken as ``(n_mels, T)``.
* ``.npz``: key ``mel`` (or a single unnamed array), optional ``f0``, optional metadata (what
  ``vocoder features`` writes): ``preset`` (a name in :data:`~vocoder.audio.mel_presets.PRESETS`) and the
  :data:`METADATA_KEYS` ``sample_rate``, ``hop``, ``n_fft``, ``win_length``, ``n_mels``, ``fmin``,
  ``fmax``, ``log``, ``clamp``, ``padding``, ``power``, ``pad_mode``, ``mel_scale``, ``mel_norm`` (the
  string ``none`` for no filter normalisation). Each key given is compared with the model's features; a
  ``preset`` is compared value by value (:func:`~vocoder.infer.checks.check_preset`; the keys given beside
  it override its values), so a file made with other settings is refused naming both.
* ``.pt``: a tensor, or a dict with ``mel`` (and optionally ``f0`` and the same metadata keys).

Every mel read here then goes through :func:`~vocoder.infer.checks.prepare_mel`, the validation
``Vocoder.synthesize`` applies to arrays from Python too: floating dtype, orientation, at least one
frame, finite values, and values a log-mel of this feature config can take (see
:mod:`vocoder.infer.checks` for the value rule). Each problem is one :class:`~vocoder.errors.InputError`
line naming the file.

F0 (Hz, 0 = unvoiced) comes from the ``.npz``/``.pt`` key ``f0``, a sibling ``NAME.f0.npy``, or
reference audio (:func:`f0_from_audio`, extracted with the model's F0 settings). Length rule: F0 must
have the mel's ``T`` values, or up to :data:`F0_LENGTH_SLACK` more or fewer (another tool's framing),
which are trimmed or padded at the end with the last value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from vocoder.audio.f0 import extract_f0
from vocoder.audio.io import AUDIO_EXTENSIONS, read_audio
from vocoder.audio.mel_numpy import log_mel_numpy
from vocoder.audio.mel_presets import PRESETS, resolve_features
from vocoder.config import FeatureConfig
from vocoder.errors import InputError, VocoderError

# the value checks live in vocoder.infer.checks (shared with Vocoder.synthesize); these names stay importable here
from vocoder.infer.checks import (  # noqa: F401
    MelRange,
    check_mel_values,
    check_preset,
    features_label,
    first_line,
    float_array,
    mel_field,
    mel_value_range,
    orient_mel,
    prepare_mel,
    same_value,
    to_numpy,
)

MEL_EXTENSIONS = (".npy", ".npz", ".pt")
F0_SUFFIX = ".f0.npy"
F0_LENGTH_SLACK = 2  # frames of F0 that may be trimmed or padded to meet the mel's length

METADATA_KEYS = (
    "sample_rate", "hop", "n_fft", "win_length", "n_mels", "fmin", "fmax", "log", "clamp", "padding", "power",
    "pad_mode", "mel_scale", "mel_norm",
)
NONE_VALUE = "none"  # how a metadata value of None (mel_norm) is stored: .npz files cannot hold None unpickled

_first_line, _to_numpy, _float_array = first_line, to_numpy, float_array  # older private names (vocoder info)


# ------------------------------------------------------------------------------------------- reading


NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive (.npz) starts with a member or, empty, its end


def _check_magic(path: Path, magics: tuple[bytes, ...], what: str, reason: str) -> None:
    """Refuse a file that does not start like ``what``: np.load picks the format from the content, so a text
    file or a .npz named .npy would otherwise be read as something else (or reported as a pickle)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(max(len(m) for m in magics))
    except OSError as err:
        raise InputError(f"{path}: cannot read {what} ({_first_line(err)})") from None
    if not head:
        raise InputError(f"{path}: cannot read {what} (empty file, 0 bytes)")
    if not head.startswith(magics):
        raise InputError(f"{path}: cannot read {what} ({reason})")


def _read_npy(path: Path) -> dict[str, Any]:
    _check_magic(path, (NPY_MAGIC,), ".npy file", "no NumPy header: not a .npy file")
    try:
        return {"mel": np.load(path, allow_pickle=False)}
    except Exception as err:  # truncated data, pickled objects refused...
        raise InputError(f"{path}: cannot read .npy file ({_first_line(err)})") from None


def _read_npz(path: Path) -> dict[str, Any]:
    _check_magic(path, ZIP_MAGICS, ".npz file", "not a zip archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            if "mel" in keys:
                return {k: archive[k] for k in keys if k in ("mel", "f0", "preset", *METADATA_KEYS)}
            if len(keys) == 1:  # np.savez(path, mel) names it arr_0
                return {"mel": archive[keys[0]]}
    except Exception as err:  # bad zip, corrupt deflate data (zlib.error), truncated member, pickled objects...
        raise InputError(f"{path}: cannot read .npz file ({_first_line(err)})") from None
    raise InputError(f"{path}: .npz has no 'mel' array (keys: {', '.join(keys) or 'none'})")


def _read_pt(path: Path) -> dict[str, Any]:
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # weights_only refused a global (loading the file would have called it) or an opcode
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        other = re.search(r"WeightsUnpickler error:\s*([^\n]+)", str(err))
        reason = f"it would call {found.group(1)}" if found else other.group(1).strip() if other else _first_line(err)
        raise InputError(
            f"{path}: refused to load .pt file: it holds more than tensors, numbers and dicts ({reason})"
        ) from None
    except Exception as err:
        raise InputError(f"{path}: cannot read .pt file ({_first_line(err)})") from None
    if isinstance(obj, dict):
        if "mel" not in obj:
            found = ", ".join(map(str, obj)) or "none"
            raise InputError(f"{path}: .pt dict has no 'mel' entry (keys: {found})")
        return {k: v for k, v in obj.items() if k in ("mel", "f0", "preset", *METADATA_KEYS)}
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        return {"mel": obj}
    raise InputError(f"{path}: .pt file holds a {type(obj).__name__}; expected a tensor or a dict with 'mel'")


def _scalar(value: Any, path: Path, key: str) -> Any:
    arr = _to_numpy(value, str(path), f"'{key}'")
    if arr.size != 1:
        raise InputError(f"{path}: metadata '{key}' must be a single value, got shape {tuple(arr.shape)}")
    item = arr.reshape(()).item()
    if isinstance(item, bytes):
        item = item.decode("utf-8", errors="replace")
    if item is not None and not isinstance(item, (str, int, float)):  # complex, date, record, dict...
        raise InputError(f"{path}: metadata '{key}' must be a number or a string, got {arr.dtype}")
    return item


def _check_metadata(data: dict[str, Any], features: FeatureConfig, path: Path) -> None:
    """Refuse a file whose stored feature settings differ from the model's."""
    label = features_label(features)
    given: dict[str, Any] = {}
    for key in METADATA_KEYS:
        if key not in data:
            continue
        value = _scalar(data[key], path, key)
        if key == "win_length":
            value = value or features.n_fft
        elif key == "fmax":
            value = value or features.sample_rate / 2
        elif key == "mel_norm" and isinstance(value, str) and value.lower() in (NONE_VALUE, "null"):
            value = None
        given[key] = value
    if "preset" in data:
        preset = str(_scalar(data["preset"], path, "preset"))
        if preset not in PRESETS:
            raise InputError(f"{path}: made with unknown preset {preset!r} (known: {', '.join(PRESETS)})")
        check_preset(preset, features, str(path), given)  # the keys stored beside it override its values
        return
    for key, value in given.items():
        want = mel_field(features, key)
        if not same_value(value, want):
            raise InputError(f"{path}: made with {key} {value}, the model ({label}) expects {want}")


def load_mel(path: str | Path, features: FeatureConfig, with_f0: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """``(mel (n_mels, T) float32, f0 (T,) float32 or None)`` from a ``.npy``, ``.npz`` or ``.pt`` file.

    ``f0`` comes from the file's ``f0`` entry, else a sibling ``NAME.f0.npy``; it is only looked for when
    ``with_f0`` (a model without F0 ignores both). Every problem is an :class:`InputError` naming ``path``.
    """
    path = Path(path)
    features = resolve_features(features)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        data = _read_npy(path)
    elif suffix == ".npz":
        data = _read_npz(path)
    elif suffix == ".pt":
        data = _read_pt(path)
    else:
        raise InputError(f"{path}: unknown mel file type {path.suffix!r} (use {', '.join(MEL_EXTENSIONS)})")
    _check_metadata(data, features, path)
    mel = prepare_mel(data["mel"], features, str(path), batch=False)[0][0]
    if not with_f0:
        return mel, None
    frames = mel.shape[1]
    if "f0" in data:
        return mel, fit_f0(data["f0"], frames, f"{path} (key 'f0')")
    sibling = f0_sibling(path)
    if sibling.is_file():
        return mel, load_f0_file(sibling, frames)
    return mel, None


# ------------------------------------------------------------------------------------------------ F0


def f0_sibling(mel_path: str | Path) -> Path:
    """``dir/NAME.f0.npy`` beside a mel file ``dir/NAME.npy`` (or ``.npz`` / ``.pt``)."""
    mel_path = Path(mel_path)
    return mel_path.with_name(mel_path.stem + F0_SUFFIX)


def fit_f0(value: Any, frames: int, name: str) -> np.ndarray:
    """Checked F0 ``(frames,)`` float32 Hz from an array of ``frames`` (+- :data:`F0_LENGTH_SLACK`) values.

    Accepts ``(T,)``, ``(1, T)``, ``(T, 1)`` or ``(1, 1, T)``; integer Hz values are fine. Refuses NaN/Inf,
    negative values, and voiced values that cannot be Hz (all below 15 Hz: log-F0?).
    """
    arr = _to_numpy(value, name, "F0")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"{name}: F0 has dtype {arr.dtype}; expected numbers in Hz")
    shape = tuple(arr.shape)
    if arr.size > 0 and sum(s > 1 for s in shape) <= 1:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise InputError(f"{name}: F0 of shape {shape}; expected one value per mel frame, shape ({frames},)")
    f0 = arr.astype(np.float64)
    with np.errstate(over="ignore"):
        finite = bool(np.isfinite(f0.astype(np.float32)).all())  # the model gets float32
    if not finite:
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
    _check_magic(path, (NPY_MAGIC,), "F0 file", "no NumPy header: not a .npy file")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as err:
        raise InputError(f"{path}: cannot read F0 file ({_first_line(err)})") from None
    return fit_f0(arr, frames, str(path))


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


def f0_from_audio(audio_path: str | Path, features: FeatureConfig, frames: int | None = None) -> np.ndarray:
    """F0 ``(T,)`` of an audio file read at the model's rate, with the model's F0 method and range.

    With ``frames``, the result is fitted to the mel's length (+- :data:`F0_LENGTH_SLACK`).
    """
    features = resolve_features(features)
    wav = read_audio(audio_path, features.sample_rate, check_silence=False)
    f0 = _extract(wav, features, audio_path)
    return f0 if frames is None else fit_f0(f0, frames, f"{audio_path} (F0 from audio)")


def _extract(wav: np.ndarray, features: FeatureConfig, name: str | Path) -> np.ndarray:
    if len(wav) < features.hop:
        raise InputError(f"{name}: audio of {len(wav)} samples is shorter than one hop ({features.hop})")
    try:
        return extract_f0(
            wav, features.sample_rate, features.hop, features.f0_min, features.f0_max, features.f0_method
        )
    except VocoderError as err:
        raise InputError(f"{name}: F0 extraction failed ({err})") from None


def load_audio_input(
    path: str | Path, features: FeatureConfig, with_f0: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(mel (n_mels, T), f0 (T,) or None)`` of an audio file for copy synthesis, ``T = L // hop`` at
    the model's rate (so synthesis gives back ``T * hop`` samples)."""
    features = resolve_features(features)
    wav = read_audio(path, features.sample_rate, check_silence=False)
    try:
        mel = log_mel_numpy(wav, features)
    except InputError as err:
        raise InputError(f"{path}: {str(err).removeprefix('log_mel_numpy: ')}") from None
    return mel, (_extract(wav, features, path) if with_f0 else None)


def is_f0_file(path: Path) -> bool:
    """True for ``NAME.f0.npy`` (an F0 sidecar, not a mel)."""
    return path.name.lower().endswith(F0_SUFFIX)


def input_extensions(from_audio: bool) -> Iterable[str]:
    return AUDIO_EXTENSIONS if from_audio else MEL_EXTENSIONS

