from __future__ import annotations

import pytest
import torch

from vocoder.dsp.cqt import cqt_top_frequency
from vocoder.errors import ConfigError, InputError
from vocoder.models.discriminators.mssbcqt import MultiScaleSubbandCQTDiscriminator
from vocoder.registry import DISCRIMINATORS


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _check_shapes(outputs, batch: int, frames: list[int], bins: list[int]) -> None:
    assert len(outputs) == len(frames)
    for (logits, fmaps), t, f in zip(outputs, frames, bins):
        widths = [f, -(-f // 2), -(-f // 4), -(-f // 8), -(-f // 8)]
        assert [tuple(m.shape) for m in fmaps] == [(batch, 32, t, w) for w in widths]
        assert logits.shape == (batch, 1, t, widths[-1])


def test_24khz_reference_config_shapes_and_parameter_count():
    disc = MultiScaleSubbandCQTDiscriminator(24000)
    assert disc.n_octaves == [9, 9, 9]
    assert [s.cqt.n_bins for s in disc.discriminators] == [216, 324, 432]
    assert _n_params(disc) == 286368
    length = 6000  # 0.25 s -> 12000 samples at the CQT's 48 kHz
    out = disc(torch.randn(2, 1, length))
    _check_shapes(out, 2, [12000 // 512 + 1, 12000 // 256 + 1, 12000 // 256 + 1], [216, 324, 432])
    assert [o[0].shape[-1] for o in out] == [27, 41, 54]


def test_16khz_uses_8_octaves_and_shapes_and_parameter_count():
    disc = MultiScaleSubbandCQTDiscriminator(16000)
    assert disc.n_octaves == [8, 8, 8]
    tops = [cqt_top_frequency(32.7, 8, b) for b in disc.bins_per_octave]
    assert tops == pytest.approx([8132.9, 8211.6, 8251.2], abs=0.1)
    assert _n_params(disc) == 286038
    out = disc(torch.randn(1, 1, 4000))
    _check_shapes(out, 1, [8000 // 512 + 1, 8000 // 256 + 1, 8000 // 256 + 1], [192, 288, 384])


def test_backward_reaches_the_input_waveform():
    disc = MultiScaleSubbandCQTDiscriminator(16000, filters=8)
    wav = torch.randn(1, 1, 4000, requires_grad=True)
    out = disc(wav)
    loss = sum(logits.pow(2).mean() + sum(f.abs().mean() for f in fmaps) for logits, fmaps in out)
    loss.backward()
    assert torch.isfinite(wav.grad).all()
    assert wav.grad.abs().sum() > 0


def test_weight_norm_everywhere_but_the_first_and_subband_convs():
    disc = MultiScaleSubbandCQTDiscriminator(16000, filters=8)
    scale = disc.discriminators[0]
    normed = [hasattr(c, "parametrizations") for c in [*scale.convs, scale.conv_post]]
    assert normed == [False, True, True, True, True, True]
    assert not any(hasattr(c, "parametrizations") for c in scale.subband_convs)


def test_nine_octaves_at_16khz_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="top bin at 16266 Hz.*n_octaves <= 8") as err:
        MultiScaleSubbandCQTDiscriminator(16000, n_octaves=9)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"hops": (512, 256, 128)}, "hop 128 is not divisible"),
        ({"bins_per_octave": (24, 36)}, "bins_per_octave has 2 entries"),
        ({"n_octaves": (9, 9)}, "n_octaves has 2 entries"),
        ({"fmin": 20000.0}, "at least 1"),
    ],
)
def test_bad_settings_are_config_errors(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        MultiScaleSubbandCQTDiscriminator(24000, **kwargs)


def test_explicit_int_octaves_and_wrong_input_shape():
    disc = MultiScaleSubbandCQTDiscriminator(24000, n_octaves=7, filters=8)
    assert disc.n_octaves == [7, 7, 7]
    with pytest.raises(InputError):
        disc(torch.zeros(2, 4000))


def test_registered_as_mssbcqt():
    assert DISCRIMINATORS["mssbcqt"] is MultiScaleSubbandCQTDiscriminator


def test_normalize_volume_ignores_level_and_dc():
    torch.manual_seed(0)
    disc = MultiScaleSubbandCQTDiscriminator(16000, filters=8, normalize_volume=True)
    wav = torch.randn(1, 1, 2000)
    a = disc(wav)
    b = disc(3.0 * wav + 0.5)
    for (la, _), (lb, _) in zip(a, b):
        torch.testing.assert_close(la, lb, rtol=1e-4, atol=1e-5)
    plain = MultiScaleSubbandCQTDiscriminator(16000, filters=8)
    plain.load_state_dict(disc.state_dict())
    assert not torch.allclose(plain(wav)[0][0], plain(3.0 * wav)[0][0])
