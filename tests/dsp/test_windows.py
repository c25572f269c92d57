"""Windows: the numpy Hann is scipy's periodic Hann, the torch windows are torch's own numbers, both are
centred in n_fft as torch.stft centres a short window. That numpy code can use the module without torch is
held by tests/audio/test_mel.py::test_numpy_path_imports_neither_torch_nor_librosa (mel_numpy imports it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import get_window

from vocoder.dsp.windows import TORCH_WINDOWS, centre_pads, hann_numpy, window_torch


@pytest.mark.parametrize("win", [4, 15, 240, 640, 1024])
def test_numpy_hann_is_the_periodic_hann(win):
    w = hann_numpy(win)
    assert w.dtype == np.float64 and w.shape == (win,) and w[0] == 0.0
    np.testing.assert_allclose(w, get_window("hann", win, fftbins=True), rtol=0, atol=1e-15)
    np.testing.assert_allclose(w, window_torch("hann", win, dtype=torch.float64).numpy(), rtol=0, atol=1e-15)
    assert w[win // 2] == pytest.approx(1.0) if win % 2 == 0 else w.max() < 1.0


@pytest.mark.parametrize("name", TORCH_WINDOWS)
def test_torch_windows_are_torch_numbers_in_each_dtype(name):
    make = getattr(torch, f"{name}_window")
    for dtype in (torch.float32, torch.float64):
        assert torch.equal(window_torch(name, 600, dtype=dtype), make(600, periodic=True, dtype=dtype))
    assert window_torch(name, 600).dtype == torch.get_default_dtype()


def test_short_windows_sit_where_torch_stft_puts_them():
    assert centre_pads(600, 1024) == (212, 212) and centre_pads(5, 8) == (1, 2)
    x = torch.randn(4000, dtype=torch.float64)
    for n_fft, win in ((1024, 600), (64, 45)):
        short = torch.stft(x, n_fft, 50, win_length=win, window=window_torch("hann", win, dtype=torch.float64),
                           center=True, return_complex=True)
        padded = torch.stft(x, n_fft, 50, window=window_torch("hann", win, n_fft, dtype=torch.float64),
                            center=True, return_complex=True)
        assert torch.equal(short, padded)
        w = hann_numpy(win, n_fft)
        assert w.shape == (n_fft,) and np.array_equal(np.nonzero(w)[0], np.arange(1, win) + centre_pads(win, n_fft)[0])

