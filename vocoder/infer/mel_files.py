"""Mel files: read a log-mel ``(n_mels, T)`` float32 (and its F0 ``(T,)`` Hz) from a ``.npy``, ``.npz``
or ``.pt`` file, checked against the model's :class:`~vocoder.config.FeatureConfig`.

Torch-free (numpy and the package's numpy modules); torch is imported only to read a ``.pt`` file, and
then with ``torch.load(weights_only=True)``, which refuses any pickle that would run code.

* ``.npy``: a float array ``(n_mels, T)``, ``(T, n_mels)`` or ``(1, n_mels, T)`` / ``(1, T, n_mels)``.
  The orientation is the one whose mel axis has the model's ``n_mels``; a square ``(n_mels, n_mels)``
  array is ambiguous and taken as ``(n_mels, T)``.
* ``.npz``: key ``mel`` (or a single unnamed array), optional ``f0``, optional metadata (what
  ``vocoder features`` writes): ``preset`` (a name in :data:`~vocoder.audio.mel_presets.PRESETS`) and the
  :data:`METADATA_KEYS` ``sample_rate``, ``hop``, ``n_fft``, ``win_length``, ``n_mels``, ``fmin``,
  ``fmax``, ``log``, ``clamp``, ``padding``, ``power``, ``pad_mode``, ``mel_scale``, ``mel_norm`` (the
  string ``none`` for no filter normalisation). Each key given is compared with the model's features; a
  ``preset`` is compared value by value (:func:`~vocoder.infer.mel_settings.check_preset`; the keys given
  beside it override its values), so a file made with other settings is refused naming both.
* ``.pt``: a tensor, or a dict with ``mel`` (and optionally ``f0`` and the same metadata keys).

Every mel read here then goes through :func:`~vocoder.infer.checks.prepare_mel`, the validation
``Vocoder.synthesize`` applies to arrays from Python too: floating dtype, orientation, at least one
frame (or the model's ``min_frames``), finite values, and values a log-mel of this feature config can
take (:mod:`vocoder.infer.value_ranges`). Each problem is one :class:`~vocoder.errors.InputError` line
naming the file.

F0 comes from the ``.npz``/``.pt`` key ``f0`` or a sibling ``NAME.f0.npy``, fitted to the mel's length
(:mod:`vocoder.infer.f0_inputs`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from vocoder.audio.mel_presets import PRESETS, resolve_features
from vocoder.config import FeatureConfig
from vocoder.errors import InputError
from vocoder.infer.array_files import ZIP_MAGICS, check_magic, read_npy
from vocoder.infer.checks import first_line, prepare_mel, to_numpy
from vocoder.infer.f0_inputs import f0_sibling, fit_f0, load_f0_file
from vocoder.infer.mel_settings import check_preset, check_settings

MEL_EXTENSIONS = (".npy", ".npz", ".pt")

METADATA_KEYS = (
    "sample_rate", "hop", "n_fft", "win_length", "n_mels", "fmin", "fmax", "log", "clamp", "padding", "power",
    "pad_mode", "mel_scale", "mel_norm",
)
NONE_VALUE = "none"  # how a metadata value of None (mel_norm) is stored: .npz files cannot hold None unpickled
_KEPT = ("mel", "f0", "preset", *METADATA_KEYS)  # the entries of a file that are read


# ------------------------------------------------------------------------------------------- reading


def _read_npz(path: Path) -> dict[str, Any]:
    check_magic(path, ZIP_MAGICS, ".npz file", "not a zip archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            if "mel" in keys:
                return {k: archive[k] for k in keys if k in _KEPT}
            if len(keys) == 1:  # np.savez(path, mel) names it arr_0
                return {"mel": archive[keys[0]]}
    except Exception as err:  # bad zip, corrupt deflate data (zlib.error), truncated member, pickled objects...
        raise InputError(f"{path}: cannot read .npz file ({first_line(err)})") from None
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
        reason = f"it would call {found.group(1)}" if found else other.group(1).strip() if other else first_line(err)
        raise InputError(
            f"{path}: refused to load .pt file: it holds more than tensors, numbers and dicts ({reason})"
        ) from None
    except Exception as err:
        raise InputError(f"{path}: cannot read .pt file ({first_line(err)})") from None
    if isinstance(obj, dict):
        if "mel" not in obj:
            found = ", ".join(map(str, obj)) or "none"
            raise InputError(f"{path}: .pt dict has no 'mel' entry (keys: {found})")
        return {k: v for k, v in obj.items() if k in _KEPT}
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        return {"mel": obj}
    raise InputError(f"{path}: .pt file holds a {type(obj).__name__}; expected a tensor or a dict with 'mel'")


def read_mel_file(path: str | Path) -> dict[str, Any]:
    """The entries of a mel file as stored, unchecked: ``mel`` always, ``f0``, ``preset`` and the
    :data:`METADATA_KEYS` when the file has them (arrays or tensors). Unreadable files, unknown suffixes
    and files without a mel are one :class:`InputError` line naming ``path``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return {"mel": read_npy(path, ".npy file")}
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".pt":
        return _read_pt(path)
    raise InputError(f"{path}: unknown mel file type {path.suffix!r} (use {', '.join(MEL_EXTENSIONS)})")


# ------------------------------------------------------------------------------------------ metadata


def _scalar(value: Any, path: Path, key: str) -> Any:
    arr = to_numpy(value, str(path), f"'{key}'")
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
    check_settings(given, features, str(path))


# ------------------------------------------------------------------------------------------- loading


def load_mel(
    path: str | Path, features: FeatureConfig, with_f0: bool = True, min_frames: int = 1
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(mel (n_mels, T) float32, f0 (T,) float32 or None)`` from a ``.npy``, ``.npz`` or ``.pt`` file,
    checked once (:func:`~vocoder.infer.checks.prepare_mel`; a model's ``min_frames`` can be given).

    ``f0`` comes from the file's ``f0`` entry, else a sibling ``NAME.f0.npy``; it is only looked for when
    ``with_f0`` (a model without F0 ignores both). Every problem is an :class:`InputError` naming ``path``.
    """
    path = Path(path)
    features = resolve_features(features)
    data = read_mel_file(path)
    _check_metadata(data, features, path)
    mel = prepare_mel(data["mel"], features, str(path), min_frames=min_frames, batch=False)[0][0]
    if not with_f0:
        return mel, None
    frames = mel.shape[1]
    if "f0" in data:
        return mel, fit_f0(data["f0"], frames, f"{path} (key 'f0')")
    sibling = f0_sibling(path)
    if sibling.is_file():
        return mel, load_f0_file(sibling, frames)
    return mel, None
