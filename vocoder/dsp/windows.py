"""Analysis windows: one home for the torch modules and the torch-free numpy code.

Every window here is periodic (DFT-even), e.g. Hann ``w[n] = 0.5 - 0.5 cos(2 pi n / win)`` for
``n = 0 .. win - 1``, which is what ``torch.stft``, librosa and every call site in the package use (none
uses a symmetric window). Placed in an ``n_fft`` frame, a window of ``win <= n_fft`` samples is zero-padded
centrally, ``(n_fft - win) // 2`` zeros on the left and the rest on the right, as ``torch.stft`` does.

* :func:`hann_numpy`: Hann ``(n_fft,)`` float64 numpy (mel front ends, ONNX front end, metrics).
* :func:`window_torch`: a window ``(n_fft,)`` by name, made by torch's own window function in the
  requested dtype (STFT modules, MR-STFT loss, discriminators). Its numbers are torch's: in float32 they
  differ from a float64 window cast to float32 by up to one rounding step, so each call site keeps the
  variant it always used.

numpy is the only top-level import; torch is imported inside :func:`window_torch`, so the ONNX runtime
can use this module without torch installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

TORCH_WINDOWS = ("hann", "hamming", "blackman", "bartlett")


def centre_pads(win_length: int, n_fft: int) -> tuple[int, int]:
    """(left, right) zeros that centre a ``win_length`` window in an ``n_fft`` frame."""
    left = (n_fft - win_length) // 2
    return left, n_fft - win_length - left


def hann_numpy(win_length: int, n_fft: int | None = None) -> np.ndarray:
    """Periodic Hann window ``(n_fft,)`` float64 (``(win_length,)`` when ``n_fft`` is None), centred."""
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win_length) / win_length)
    if n_fft is None:
        return window
    return np.pad(window, centre_pads(win_length, n_fft))


def window_torch(
    name: str, win_length: int, n_fft: int | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Periodic ``torch.<name>_window(win_length, dtype=dtype)`` (``name`` in :data:`TORCH_WINDOWS`),
    zero-padded centrally to ``(n_fft,)`` when ``n_fft`` is given, else ``(win_length,)``.
    ``dtype`` None is torch's default dtype. Callers validate ``name`` (with their own error message)."""
    import torch
    import torch.nn.functional as F

    make = {
        "hann": torch.hann_window,
        "hamming": torch.hamming_window,
        "blackman": torch.blackman_window,
        "bartlett": torch.bartlett_window,
    }[name]
    window = make(win_length, periodic=True, dtype=dtype)
    if n_fft is None:
        return window
    return F.pad(window, centre_pads(win_length, n_fft))
