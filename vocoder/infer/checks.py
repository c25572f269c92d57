"""Input checks shared by every inference backend (torch, onnxruntime, streaming); numpy only.

* :func:`check_mel`: ``(n_mels, T)`` or ``(B, n_mels, T)`` float array -> ``(B, n_mels, T)`` float32.
* :func:`check_f0`: ``(T,)`` / ``(B, T)`` / ``(B, 1, T)`` Hz, 0 = unvoiced -> ``(B, T)`` float32.
* :func:`check_seed`: a non-negative integer seed.

Anything array-like is accepted (a CPU torch tensor converts through ``np.asarray`` without this module
importing torch). Every failure is an :class:`~vocoder.errors.InputError` with one line.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vocoder.errors import InputError


def _as_float_array(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception as err:  # e.g. a tensor that needs grad or lives on a GPU
        raise InputError(f"{name}: cannot be read as an array ({type(err).__name__}: {err})") from None
    if not (np.issubdtype(arr.dtype, np.floating) and arr.dtype.itemsize >= 2):
        raise InputError(f"{name}: expected a floating-point array, got dtype {arr.dtype}")
    return arr


def check_mel(mel: Any, n_mels: int, min_frames: int = 1) -> tuple[np.ndarray, bool]:
    """``(mel (B, n_mels, T) float32, batched)``: ``batched`` is False when ``mel`` was ``(n_mels, T)``."""
    arr = _as_float_array(mel, "mel")
    if arr.ndim not in (2, 3):
        raise InputError(f"mel: expected shape (n_mels, frames) or (batch, n_mels, frames), got {arr.shape}")
    batched = arr.ndim == 3
    if not batched:
        arr = arr[None]
    if arr.shape[1] != n_mels:
        raise InputError(f"mel: has {arr.shape[1]} mel bins but the model expects {n_mels} (shape {arr.shape})")
    if arr.shape[0] < 1:
        raise InputError("mel: empty batch")
    if arr.shape[2] < min_frames:
        raise InputError(f"mel: has {arr.shape[2]} frames; this model needs at least {min_frames}")
    with np.errstate(over="ignore"):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():  # checked after the cast: 1e300 in a float64 mel would become inf
        raise InputError("mel: contains NaN or Inf (or values beyond float32)")
    return arr, batched


def check_f0(f0: Any, batch: int, frames: int, batched: bool) -> np.ndarray:
    """F0 in Hz (0 = unvoiced) for a mel of ``batch`` x ``frames`` -> ``(batch, frames)`` float32.

    Shapes: ``(frames,)`` or ``(1, frames)`` beside an unbatched mel; ``(batch, frames)`` or
    ``(batch, 1, frames)`` beside a batched one.
    """
    arr = _as_float_array(f0, "f0")
    given = arr.shape
    if arr.ndim == 3 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 1 and not batched:
        arr = arr[None]
    if arr.shape != (batch, frames):
        want = f"({batch}, {frames})" if batched else f"({frames},)"
        raise InputError(f"f0: expected one value per mel frame, shape {want}, got {given}")
    with np.errstate(over="ignore"):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():  # checked after the cast, as for the mel
        raise InputError("f0: contains NaN or Inf (or values beyond float32)")
    if (arr < 0).any():
        raise InputError(f"f0: has negative values (min {float(arr.min()):.3g} Hz); use 0 for unvoiced frames")
    return arr


def check_seed(seed: Any) -> int:
    """``seed`` as an int; :class:`InputError` unless it is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed: expected a non-negative integer, got {seed!r}")
    return int(seed)
