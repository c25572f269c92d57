from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vocoder.dsp.resample import Downsample2x, Upsample2x, halfband_interpolation_taps, halfband_lowpass
from vocoder.errors import ConfigError, InputError

SR = 16000
EDGE = 64  # input samples at each end where the zero-padded filter is truncated


def _sine(freq: float, sr: int, n: int, amp: float = 0.8, phase: float = 0.3) -> torch.Tensor:
    t = torch.arange(n, dtype=torch.float64) / sr
    return amp * torch.sin(2 * math.pi * freq * t + phase)


@pytest.mark.parametrize("freq", [100.0, 3000.0, 7000.0])
def test_upsampled_sine_is_the_same_sine_at_twice_the_rate(freq):
    n = SR // 2
    x = _sine(freq, SR, n).float().view(1, 1, n)
    y = Upsample2x()(x)
    assert y.shape == (1, 1, 2 * n)
    expected = _sine(freq, 2 * SR, 2 * n)
    err = (y[0, 0].double() - expected)[2 * EDGE : -2 * EDGE].abs().max().item()
    assert err < 1e-3


def test_upsampled_noise_has_almost_no_energy_above_the_original_nyquist():
    n = SR // 2
    x = torch.randn(1, 1, n, generator=torch.Generator().manual_seed(0))
    y = Upsample2x()(x)[0, 0].double().numpy()
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size))) ** 2
    freqs = np.fft.rfftfreq(y.size, d=1 / (2 * SR))
    above = spec[freqs > 0.55 * SR].sum() / spec.sum()  # stopband starts at 0.54 * SR
    assert above < 1e-7


def test_even_output_samples_are_the_input_and_odd_lengths_work():
    x = torch.randn(3, 1, 1001)
    y = Upsample2x()(x)
    assert y.shape == (3, 1, 2002)
    torch.testing.assert_close(y[..., ::2], x, rtol=0, atol=0)


def test_upsampler_gradient_reaches_input_and_has_no_state():
    up = Upsample2x()
    x = torch.randn(2, 1, 500, requires_grad=True)
    (up(x) ** 2).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert list(up.parameters()) == [] and up.state_dict() == {}


def test_halfband_prototype_has_unit_dc_gain_and_zero_even_taps():
    h = halfband_lowpass(16, 8.0)
    assert h.shape == (63,)
    assert h.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert h[31].item() == 0.5
    assert torch.all(h[1::2][:15] == 0) and torch.all(h[1::2][16:] == 0)
    torch.testing.assert_close(h, h.flip(0))  # symmetric: zero phase
    assert halfband_interpolation_taps(16, 8.0).sum().item() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("length", [0, 1, 2, 999, 1000])
def test_downsample_length_is_floor_half(length):
    assert Downsample2x()(torch.zeros(2, 1, length)).shape == (2, 1, length // 2)


def test_downsample_keeps_low_sine_and_removes_one_above_the_new_nyquist():
    n = SR // 2
    down = Downsample2x()
    low = down(_sine(1500.0, SR, n).float().view(1, 1, n))[0, 0].double()
    expected = _sine(1500.0, SR // 2, n // 2)
    assert (low - expected)[EDGE:-EDGE].abs().max().item() < 1e-3
    high = down(_sine(5000.0, SR, n).float().view(1, 1, n))[0, 0].double()  # would alias to 3 kHz
    assert high[EDGE:-EDGE].abs().max().item() < 1e-3


def test_bad_filter_settings_and_shapes_are_refused():
    with pytest.raises(ConfigError):
        Upsample2x(half_width=0)
    with pytest.raises(ConfigError):
        Downsample2x(beta=-1.0)
    with pytest.raises(InputError):
        Upsample2x()(torch.zeros(2, 100))
