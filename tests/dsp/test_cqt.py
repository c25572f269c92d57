from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from nnAudio.features.cqt import CQT2010v2

from vocoder.dsp.cqt import ConstantQTransform, cqt_top_frequency, max_cqt_octaves
from vocoder.errors import ConfigError


def _chirps_and_noise(sr: int, n: int, seed: int = 0) -> torch.Tensor:
    """(1, 1, n) sum of three exponential chirps spanning 40 Hz .. 15 kHz plus a little white noise."""
    t = np.arange(n) / sr
    dur = n / sr
    x = np.zeros(n)
    for f0, f1, a in ((40.0, 4000.0, 0.3), (200.0, 15000.0, 0.2), (3000.0, 60.0, 0.2)):
        k = math.log(f1 / f0) / dur
        x += a * np.sin(2 * math.pi * f0 * (np.exp(k * t) - 1) / k)
    x += 0.01 * np.random.default_rng(seed).standard_normal(n)
    return torch.from_numpy(x).float().view(1, 1, n)


@pytest.mark.parametrize("bins_per_octave", [12, 24])
def test_tone_at_bin_centre_peaks_in_that_bin_with_expected_magnitude_and_phase(bins_per_octave):
    sr, hop, n_oct = 16000, 256, 7
    cqt = ConstantQTransform(sr, hop, n_octaves=n_oct, bins_per_octave=bins_per_octave)
    freqs = cqt.frequencies.double()
    # lowest, middle and highest bin of every octave; 1 s so the longest window fits around the middle frame
    in_octave = (0, bins_per_octave // 2, bins_per_octave - 1)
    bins = [o * bins_per_octave + j for o in range(n_oct) for j in in_octave]
    n = torch.arange(sr, dtype=torch.float64)
    amp = 0.7
    x = torch.stack([amp * torch.cos(2 * math.pi * freqs[k] * n / sr) for k in bins]).float().unsqueeze(1)
    z = cqt(x).double()
    t = z.shape[-1] // 2
    mag = torch.sqrt(z[:, 0, :, t] ** 2 + z[:, 1, :, t] ** 2)
    q = 1.0 / (2 ** (1 / bins_per_octave) - 1)
    for i, k in enumerate(bins):
        f = freqs[k].item()
        assert int(mag[i].argmax()) == k
        # L1-normalised kernel gives amp / 2, then the librosa-style sqrt(length) scaling
        assert mag[i, k].item() == pytest.approx(amp / 2 * math.sqrt(math.ceil(q * sr / f)), rel=1e-3)
        # frame t is centred on sample t * hop in every octave (zero-phase decimation)
        phase = math.atan2(z[i, 1, k, t].item(), z[i, 0, k, t].item())
        expected = 2 * math.pi * f * t * hop / sr
        assert abs((phase - expected + math.pi) % (2 * math.pi) - math.pi) < 1e-3


@pytest.mark.parametrize("length", [1, 255, 256, 257, 1000, 4095, 8192])
def test_frame_count_is_length_over_hop_plus_one(length):
    cqt = ConstantQTransform(16000, 256, n_octaves=7, bins_per_octave=12)
    z = cqt(torch.randn(2, 1, length))
    assert z.shape == (2, 2, 84, length // 256 + 1)
    assert cqt.n_frames(length) == length // 256 + 1


def test_accepts_batch_by_length_input():
    cqt = ConstantQTransform(16000, 128, n_octaves=6, bins_per_octave=12)
    x = torch.randn(3, 4000)
    torch.testing.assert_close(cqt(x), cqt(x.unsqueeze(1)))


def test_magnitude_correlates_with_nnaudio_cqt2010v2():
    # the MS-SB-CQTD setting for 24 kHz audio: 48 kHz after 2x upsampling, hop 256, 9 x 24 bins
    sr, hop, n_oct, bpo = 48000, 256, 9, 24
    x = _chirps_and_noise(sr, sr // 2)
    ours = ConstantQTransform(sr, hop, fmin=32.70, n_octaves=n_oct, bins_per_octave=bpo).magnitude(x)[0]
    ref = CQT2010v2(
        sr=sr, hop_length=hop, fmin=32.70, n_bins=n_oct * bpo, bins_per_octave=bpo,
        output_format="Magnitude", pad_mode="constant", verbose=False,
    )(x)[0]
    assert ours.shape == ref.shape == (216, sr // 2 // hop + 1)
    a, b = ours.double().flatten().numpy(), ref.double().flatten().numpy()
    corr = np.corrcoef(a, b)[0, 1]
    assert corr > 0.99  # measured 0.9997
    assert np.linalg.norm(a - b) / np.linalg.norm(b) < 0.05  # measured 0.020


def test_gradient_reaches_input():
    cqt = ConstantQTransform(16000, 128, n_octaves=6, bins_per_octave=12)
    x = torch.randn(2, 1, 4000, requires_grad=True)
    cqt.magnitude(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0
    assert list(cqt.parameters()) == []
    assert cqt.state_dict() == {}


def test_top_bin_above_nyquist_is_a_one_line_config_error():
    # 8 octaves of 24 bins from 32.7 Hz end at 8133 Hz, above 16 kHz's 8 kHz Nyquist
    assert cqt_top_frequency(32.7, 8, 24) == pytest.approx(8132.89, abs=0.01)
    assert max_cqt_octaves(16000, 32.7, 24) == 7
    with pytest.raises(ConfigError, match="Nyquist") as err:
        ConstantQTransform(16000, 256, n_octaves=8, bins_per_octave=24)
    assert "\n" not in str(err.value)
    assert "7 octaves" in str(err.value)


def test_hop_not_divisible_by_octave_decimation_is_a_one_line_config_error():
    pattern = r"hop_length 384 is not divisible by 2\*\*\(n_octaves-1\) = 256"
    with pytest.raises(ConfigError, match=pattern) as err:
        ConstantQTransform(48000, 384, n_octaves=9, bins_per_octave=24)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "kwargs",
    [{"hop_length": 0}, {"n_octaves": 0}, {"bins_per_octave": 0}, {"fmin": 0.0}, {"filter_scale": -1.0}],
)
def test_bad_values_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        ConstantQTransform(16000, **{"hop_length": 256, **kwargs})
