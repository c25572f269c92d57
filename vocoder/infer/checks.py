"""The one numpy validation of what a model is given; numpy only (no torch, no audio I/O).

Every mel a model gets goes through :func:`prepare_mel` once, whether it comes from a file (``vocoder
synthesize``, :func:`~vocoder.infer.mel_files.load_mel`) or from Python (``Vocoder.synthesize`` on torch
and on onnxruntime); the checked arrays then reach the model without being checked again
(:meth:`~vocoder.infer.base.Vocoder.synthesize_checked`), where the torch generator's own
``check_inputs`` is the only other check. :func:`prepare_mel`

* converts the input (numpy array, CPU torch tensor through ``.numpy()`` without importing torch, nested
  lists) and refuses non-float dtypes (a log-mel is never integer-valued);
* orients it: ``(n_mels, T)`` or ``(T, n_mels)`` (the orientation whose mel axis has the model's
  ``n_mels``; a square ``(n_mels, n_mels)`` array is taken as ``(n_mels, T)``), with a leading batch
  axis ``(B, n_mels, T)`` / ``(B, T, n_mels)`` where batches are allowed (a file holds one mel: a batch
  of 1 is dropped, more are refused);
* refuses 0 frames (or fewer than the model's ``min_frames``), NaN/Inf and values beyond float32;
* compares a declared feature preset (``mel_preset=``, ``--mel-preset``) with the model's features, value
  by value (:mod:`vocoder.infer.mel_settings`);
* checks the values a log-mel of the model's feature config can take and raises values a little below the
  clamp floor to it (:mod:`vocoder.infer.value_ranges`).

Every failure is one :class:`~vocoder.errors.InputError` line; the same problem gives the same words
after the name (a file path, or ``mel`` in the API).

Also here, on the same array steps (:func:`float_input`, :func:`finite_float32`): :func:`check_chunk`
(the layout of a streaming chunk, taken as it is given), :func:`check_f0` (F0 beside a checked mel),
:func:`check_seed`; :meth:`~vocoder.infer.base.Vocoder.check_run_inputs` checks the arrays given to
``Vocoder.run`` directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig
from vocoder.errors import InputError
from vocoder.infer.mel_settings import check_preset, features_label
from vocoder.infer.value_ranges import fit_to_range

# -------------------------------------------------------------------------------------------- arrays


def first_line(err: BaseException) -> str:
    """``Type: first line of the message`` (at most 120 characters of it)."""
    text = (str(err).strip().splitlines() or [""])[0].strip()
    text = text[:120] + ("..." if len(text) > 120 else "")
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _subject(name: str, what: str = "mel") -> str:
    """``NAME: mel`` for a file, ``mel`` in the API (name == what): the messages read the same after the name."""
    return what if name == what else f"{name}: {what}"


def to_numpy(value: Any, name: str, what: str) -> np.ndarray:
    """A numpy array from an array, tensor or number (torch tensors via ``.numpy()``, torch not imported)."""
    subject = _subject(name, what)
    if type(value).__module__.startswith("torch"):
        try:
            tensor = value.detach().cpu()
            if tensor.is_floating_point() and tensor.element_size() < 4:
                tensor = tensor.float()  # bfloat16 has no numpy dtype
        except Exception as err:
            raise InputError(f"{subject} cannot be read as an array ({first_line(err)})") from None
        if tensor.is_complex():
            raise InputError(f"{subject} is complex ({tensor.dtype}); expected a real array")
        return tensor.numpy()
    try:
        return np.asarray(value)
    except Exception as err:
        raise InputError(f"{subject} cannot be read as an array ({first_line(err)})") from None


def float_array(arr: np.ndarray, name: str, what: str) -> np.ndarray:
    """``arr`` when its dtype is floating point, else an :class:`InputError` naming ``name``."""
    if np.issubdtype(arr.dtype, np.floating):
        return arr
    subject = _subject(name, what)
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        raise InputError(
            f"{subject} has dtype {arr.dtype}; a log-mel is floating point (integer values are not log-mels)"
        )
    raise InputError(f"{subject} has dtype {arr.dtype}; expected a floating-point array")




def float_input(value: Any, name: str) -> np.ndarray:
    """``value`` as a numpy array of a floating dtype (not cast), else an :class:`InputError` naming ``name``:
    the arrays beside a checked mel (F0, noise, phase) and streaming chunks, taken as they are given."""
    try:
        arr = np.asarray(value)
    except Exception as err:  # e.g. a tensor that needs grad or lives on a GPU
        raise InputError(f"{name}: cannot be read as an array ({first_line(err)})") from None
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"{name}: expected a floating-point array, got dtype {arr.dtype}")
    return arr


def finite_float32(arr: np.ndarray) -> tuple[np.ndarray, int]:
    """``(arr as a contiguous float32 array, how many of its values are NaN/Inf)``, counted after the cast:
    1e300 in a float64 array becomes inf, which a model must not get."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=np.float32)
    return out, int(np.count_nonzero(~np.isfinite(out)))


# ----------------------------------------------------------------------------------------------- mels


def orient_mel(arr: np.ndarray, n_mels: int, name: str, label: str = "", batch: bool = False) -> np.ndarray:
    """``(B, n_mels, T)`` from ``(n_mels, T)`` / ``(T, n_mels)`` (B = 1) or, with ``batch``, ``(B, n_mels, T)`` /
    ``(B, T, n_mels)``; without ``batch`` only a leading batch of 1 is accepted. A square last pair of axes
    is taken as ``(n_mels, T)``."""
    shape = tuple(arr.shape)
    what = _subject(name)
    if arr.ndim == 3 and not batch and shape[0] != 1:
        raise InputError(f"{name}: holds a batch of {shape[0]} mels {shape}; save one mel per file")
    if arr.ndim not in (2, 3):
        kind = "1-D array" if arr.ndim == 1 else f"{arr.ndim}-D array"
        expected = "(n_mels, frames) or (batch, n_mels, frames)" if batch else "(n_mels, frames)"
        raise InputError(f"{what} is a {kind} of shape {shape}; expected {expected}")
    arr3 = arr if arr.ndim == 3 else arr[None]
    model = f"{label}: {n_mels} mels" if label else f"{n_mels} mels"
    if arr3.shape[1] == n_mels:
        out = arr3
    elif arr3.shape[2] == n_mels:
        out = arr3.transpose(0, 2, 1)
    else:
        raise InputError(f"{what} of shape {shape} has no axis of {n_mels} bins; the model expects {model}")
    if out.shape[0] == 0:
        raise InputError(f"{what} is an empty batch (shape {shape})")
    if out.shape[2] == 0:
        raise InputError(f"{what} has 0 frames (shape {shape})")
    return out




def prepare_mel(
    mel: Any,
    features: FeatureConfig,
    name: str = "mel",
    min_frames: int = 1,
    batch: bool = True,
    mel_preset: str | None = None,
    check_values: bool = True,
) -> tuple[np.ndarray, bool]:
    """The one validation of a model's mel input: ``(mel (B, n_mels, T) float32, batched)``.

    ``batched`` is False when ``mel`` was 2-D (or, without ``batch``, a file's ``(1, ...)`` array).
    ``name`` starts every message (a file path, or ``mel``). ``mel_preset``: the preset the caller says
    the mel was made with, refused when its values differ from ``features``. ``check_values=False``
    skips only the log-mel value range (e.g. random mels in a benchmark). See the module docstring.
    """
    features = resolve_features(features)
    if mel_preset is not None:
        check_preset(mel_preset, features, name)
    arr = float_array(to_numpy(mel, name, "mel"), name, "mel")
    batched = batch and arr.ndim == 3
    out = orient_mel(arr, features.n_mels, name, features_label(features), batch=batch)
    frames = out.shape[2]
    if frames < min_frames:
        raise InputError(f"{_subject(name)} has {frames} frames; this model needs at least {min_frames}")
    out, bad = finite_float32(out)
    if bad:
        raise InputError(f"{_subject(name)} has {bad} NaN/Inf values (or values beyond float32)")
    return (fit_to_range(out, features, name) if check_values else out), batched


def check_chunk(mel: Any, n_mels: int) -> tuple[np.ndarray, bool]:
    """A streaming chunk ``(n_mels, T)`` or ``(B, n_mels, T)``, ``T >= 0``, taken as laid out (a chunk of
    a few frames has no reliable orientation or value range): ``(chunk (B, n_mels, T) float32, batched)``.
    Whole mels go through :func:`prepare_mel`."""
    arr = float_input(mel, "mel")
    if arr.ndim not in (2, 3):
        raise InputError(f"mel: expected shape (n_mels, frames) or (batch, n_mels, frames), got {arr.shape}")
    batched = arr.ndim == 3
    if not batched:
        arr = arr[None]
    if arr.shape[1] != n_mels:
        raise InputError(f"mel: has {arr.shape[1]} mel bins but the model expects {n_mels} (shape {arr.shape})")
    if arr.shape[0] < 1:
        raise InputError("mel: empty batch")
    arr, bad = finite_float32(arr)
    if bad:
        raise InputError("mel: contains NaN or Inf (or values beyond float32)")
    return arr, batched


# ------------------------------------------------------------------------------------- F0 and seeds


def check_f0(f0: Any, batch: int, frames: int, batched: bool) -> np.ndarray:
    """F0 in Hz (0 = unvoiced) for a mel of ``batch`` x ``frames`` -> ``(batch, frames)`` float32.

    Shapes: ``(frames,)`` or ``(1, frames)`` beside an unbatched mel; ``(batch, frames)`` or
    ``(batch, 1, frames)`` beside a batched one.
    """
    arr = float_input(f0, "f0")
    given = arr.shape
    if arr.ndim == 3 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 1 and not batched:
        arr = arr[None]
    if arr.shape != (batch, frames):
        want = f"({batch}, {frames})" if batched else f"({frames},)"
        raise InputError(f"f0: expected one value per mel frame, shape {want}, got {given}")
    arr, bad = finite_float32(arr)
    if bad:
        raise InputError("f0: contains NaN or Inf (or values beyond float32)")
    if (arr < 0).any():
        raise InputError(f"f0: has negative values (min {float(arr.min()):.3g} Hz); use 0 for unvoiced frames")
    return arr


def check_f0_scale(scale: Any) -> float:
    """``scale`` as a float; :class:`InputError` unless it is a finite number > 0."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise InputError(f"f0_scale: expected a number > 0, got {scale!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"f0_scale: expected a finite number > 0, got {scale!r}")
    return value


def check_seed(seed: Any) -> int:
    """``seed`` as an int; :class:`InputError` unless it is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed: expected a non-negative integer, got {seed!r}")
    return int(seed)
