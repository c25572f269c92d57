"""iSTFT head: the magnitude activations, both spectrum forms against torch.istft, no state-dict entries,
config errors, and that iSTFTNet and Wavehax end in it (HiFi-GAN has none)."""

from __future__ import annotations

import math

import pytest
import torch

from vocoder.dsp.stft import ISTFT
from vocoder.errors import ConfigError
from vocoder.models.generators.istft_head import LOG_MAGNITUDE_MAX, ISTFTHead, magnitude
from vocoder.models.generators.istftnet import ISTFTNetGenerator
from vocoder.models.generators.wavehax import WavehaxGenerator


def test_bounded_magnitude_head():
    x = torch.tensor([-6.0, -3.0, 0.0, 2.0, 10.0, 1e3, 1e5], requires_grad=True)
    mag = magnitude(x, "bounded")
    assert float(mag.detach().max()) <= 100.0 * (1 + 1e-6)  # float32 rounding of exp(log(100))
    assert float(mag[-1].detach()) == pytest.approx(100.0, rel=1e-6)
    # It is exp(x) / (1 + exp(x) / 100): exp(x) far below the bound, 100 far above it.
    e = torch.exp(x[:5].detach().double())
    assert torch.allclose(mag[:5].detach().double(), e / (1 + e / 100), rtol=1e-5)
    assert torch.allclose(mag[:2], torch.exp(x[:2]), rtol=1e-3)
    mag.sum().backward()
    assert (x.grad[:5] > 0).all()  # a gradient survives even above the bound (x = 10)
    assert math.isclose(LOG_MAGNITUDE_MAX, math.log(100.0))
    assert torch.isinf(magnitude(torch.tensor([1e3]), "exp")).all()  # what the bound prevents
    assert float(magnitude(torch.tensor([3.0]), "softplus")) == pytest.approx(math.log1p(math.exp(3.0)))


def _planes(n_bins: int, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    return (torch.randn(2, n_bins, frames, generator=gen, dtype=torch.float64),
            torch.randn(2, n_bins, frames, generator=gen, dtype=torch.float64))


@pytest.mark.parametrize("kind", ["bounded", "softplus", "exp"])
def test_polar_center_head_is_torch_istft_of_mag_and_pi_sin_phase(kind):
    n_fft, hop, frames = 16, 4, 11
    a, b = _planes(n_fft // 2 + 1, frames)
    y = ISTFTHead(n_fft, hop, padding="center", form="polar", magnitude=kind).double()(a, b)
    assert y.shape == (2, 1, (frames - 1) * hop)
    spec = torch.polar(magnitude(a, kind), math.pi * torch.sin(b))
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    ref = torch.istft(spec, n_fft, hop, window=window, center=True, length=(frames - 1) * hop)
    # the bases are stored in float32 (as in the shipped models), so float64 agrees to float32 rounding
    assert (y[:, 0] - ref).abs().max() <= 1e-6 * float(ref.abs().max())


def test_cartesian_same_head_is_the_istft_of_real_and_imag():
    n_fft, hop, frames = 64, 16, 9
    a, b = _planes(n_fft // 2 + 1, frames)
    y = ISTFTHead(n_fft, hop).double()(a, b)
    assert y.shape == (2, 1, frames * hop)
    assert torch.equal(y[:, 0], ISTFT(n_fft, hop, padding="same").double()(a, b))
    real, imag = ISTFTHead(n_fft, hop).spectrum(a, b)
    assert real is a and imag is b


def test_head_has_no_state_and_rejects_bad_settings():
    head = ISTFTHead(16, 4, form="polar")
    assert list(head.state_dict()) == [] and list(head.parameters()) == []
    for kwargs, words in (({"form": "complex"}, "form must be one of cartesian, polar"),
                          ({"form": "polar", "magnitude": "linear"}, "magnitude must be one of")):
        with pytest.raises(ConfigError, match=words) as err:
            ISTFTHead(16, 4, **kwargs)
        assert "\n" not in str(err.value)


def test_generators_end_in_the_head():
    istftnet = ISTFTNetGenerator(16000, 64, 8, upsample_rates=(4, 4), upsample_kernel_sizes=(8, 8),
                                 upsample_initial_channel=16, istft_n_fft=16, istft_hop=4, magnitude="softplus")
    assert isinstance(istftnet.istft, ISTFTHead)
    assert (istftnet.istft.form, istftnet.istft.padding, istftnet.istft.magnitude) == ("polar", "center", "softplus")
    assert istftnet.conv_post.out_channels == 2 * istftnet.istft.n_bins == 18
    hifigan = ISTFTNetGenerator(16000, 64, 8, variant="hifigan-v2", upsample_rates=(4, 4, 2, 2),
                                upsample_kernel_sizes=(8, 8, 4, 4))
    assert hifigan.istft is None and hifigan.conv_post.out_channels == 1
    wavehax = WavehaxGenerator(16000, 64, 8, num_blocks=1)
    assert isinstance(wavehax.istft, ISTFTHead)
    assert (wavehax.istft.form, wavehax.istft.padding, wavehax.istft.n_fft) == ("cartesian", "same", 128)
    # the head adds no state-dict entries: every key belongs to a layer the generator had before
    assert not any(k.startswith("istft") for k in [*istftnet.state_dict(), *wavehax.state_dict()])
