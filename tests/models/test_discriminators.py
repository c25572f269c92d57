"""Discriminators: output shapes from the documented formulas, gradients to the input, parameter counts,
spectral front ends against numpy, config/input errors, and the combined wrapper."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from vocoder.errors import ConfigError, InputError
from vocoder.models.discriminators import CombinedDiscriminator
from vocoder.models.discriminators.mpd import MultiPeriodDiscriminator
from vocoder.models.discriminators.mrd import MultiResolutionDiscriminator
from vocoder.models.discriminators.msstft import MultiScaleSTFTDiscriminator
from vocoder.models.discriminators.pwg import ParallelWaveGANDiscriminator
from vocoder.registry import DISCRIMINATORS, build

TINY = {
    "pwg": {"layers": 4, "channels": 8},
    "mpd": {"periods": [2, 3], "channels": 4, "channel_growth": 2, "max_channels": 8, "strides": [3, 3, 1]},
    "mrd": {"resolutions": [[256, 64, 128], [128, 32, 128]], "channels": 4, "window": "hann"},
    "msstft": {"n_ffts": [256, 128], "filters": 4, "dilations": [1, 2]},
}
FULL = {name: {} for name in TINY}
# Full (reference) configurations, counted by hand from the layer tables in each class docstring.
PARAM_COUNTS = {"pwg": 99_842, "mpd": 41_105_770, "mrd": 280_902, "msstft": 472_330}
INPUTS = [(16000, 16000), (24000, 12000)]  # (sample rate, samples): 1 s at 16 kHz, 0.5 s at 24 kHz


@functools.cache
def _model(name: str, size: str, sample_rate: int):
    torch.manual_seed(0)
    params = TINY[name] if size == "tiny" else FULL[name]
    return build("discriminator", name, params, sample_rate=sample_rate)


def _expected(name: str, params: dict, batch: int, length: int) -> list[tuple[tuple, list[tuple]]]:
    """(logits shape, feature-map shapes) per sub-discriminator, from the formulas in the module docstrings."""
    out = []
    if name == "pwg":
        layers, ch = params.get("layers", 10), params.get("channels", 64)
        out.append(((batch, 1, length), [(batch, ch, length)] * (layers - 1)))
    elif name == "mpd":
        strides = params.get("strides", [3, 3, 3, 3, 1])
        c0, g, cmax = params.get("channels", 32), params.get("channel_growth", 4), params.get("max_channels", 1024)
        for p in params.get("periods", [2, 3, 5, 7, 11]):
            h = math.ceil(length / p)
            feats = []
            for i, s in enumerate(strides):
                h = (h - 1) // s + 1  # kernel 5, padding 2
                feats.append((batch, min(c0 * g**i, cmax), h, p))
            logits = (batch, 1, h, p)
            out.append((logits, feats + [logits]))
    elif name == "mrd":
        ch = params.get("channels", 32)
        for n, hop, _ in params.get("resolutions", [[1024, 120, 600], [2048, 240, 1200], [512, 50, 240]]):
            t = 1 + (length + 2 * ((n - hop) // 2) - n) // hop
            f = n // 2 + 1
            ts = [t, (t - 1) // 2 + 1]
            ts += [(ts[-1] - 1) // 2 + 1]
            ts += [(ts[-1] - 1) // 2 + 1]
            ts += [ts[-1]]
            logits = (batch, 1, f, ts[-1])
            out.append((logits, [(batch, ch, f, ti) for ti in ts] + [logits]))
    elif name == "msstft":
        ch, dil = params.get("filters", 32), params.get("dilations", [1, 2, 4])
        for n in params.get("n_ffts", [1024, 2048, 512, 256, 128]):
            t = 1 + (length - n) // (n // 4)
            fs = [n // 2 + 1]
            for _ in dil:
                fs.append((fs[-1] - 1) // 2 + 1)
            fs.append(fs[-1])
            out.append(((batch, 1, t, fs[-1]), [(batch, ch, t, fi) for fi in fs]))
    return out


@pytest.mark.parametrize("sample_rate,length", INPUTS)
@pytest.mark.parametrize("size", ["tiny", "full"])
@pytest.mark.parametrize("name", sorted(TINY))
def test_shapes_and_gradient(name: str, size: str, sample_rate: int, length: int) -> None:
    model = _model(name, size, sample_rate)
    batch = 2 if size == "tiny" else 1
    # Backward through the full configs once (on the shorter input) to keep the file fast.
    with_grad = size == "tiny" or length == 12000
    wav = (0.1 * torch.randn(batch, 1, length, generator=torch.Generator().manual_seed(1))).requires_grad_(with_grad)
    with torch.set_grad_enabled(with_grad):
        outputs = model(wav)
    params = TINY[name] if size == "tiny" else FULL[name]
    got = [(tuple(logits.shape), [tuple(f.shape) for f in feats]) for logits, feats in outputs]
    assert got == _expected(name, params, batch, length)
    if with_grad:
        loss = sum(logits.square().mean() + sum(f.mean() for f in feats) for logits, feats in outputs)
        loss.backward()
        assert torch.isfinite(wav.grad).all()
        assert wav.grad.abs().sum() > 0


def test_expected_shapes_spot_check() -> None:
    """Hand-computed logit shapes of the full configs for 1 s at 16 kHz, so the formula helper is checked too."""
    assert [e[0] for e in _expected("mpd", {}, 1, 16000)] == [
        (1, 1, 99, 2), (1, 1, 66, 3), (1, 1, 40, 5), (1, 1, 29, 7), (1, 1, 18, 11),
    ]  # fmt: skip
    assert [e[0] for e in _expected("mrd", {}, 1, 16000)] == [(1, 1, 513, 17), (1, 1, 1025, 9), (1, 1, 257, 40)]
    assert [e[0] for e in _expected("msstft", {}, 1, 16000)] == [
        (1, 1, 59, 65), (1, 1, 28, 129), (1, 1, 122, 33), (1, 1, 247, 17), (1, 1, 497, 9),
    ]  # fmt: skip
    assert _expected("pwg", {}, 1, 16000) == [((1, 1, 16000), [(1, 64, 16000)] * 9)]


@pytest.mark.parametrize("name", sorted(PARAM_COUNTS))
def test_full_parameter_counts(name: str) -> None:
    assert _model(name, "full", 16000).num_params() == PARAM_COUNTS[name]


def test_pwg_layout_and_receptive_field() -> None:
    model = ParallelWaveGANDiscriminator(16000)
    assert [c.dilation[0] for c in model.hidden] == [1, 1, 2, 3, 4, 5, 6, 7, 8]
    assert model.output.dilation[0] == 1
    # Receptive field 1 + 2 * (1 + 1 + 2 + ... + 8) + 2 = 77: logit n sees samples n - 38 .. n + 38.
    wav = torch.randn(1, 1, 400, requires_grad=True)
    model(wav)[0][0][0, 0, 200].backward()
    touched = wav.grad[0, 0].nonzero().flatten()
    assert (touched.min().item(), touched.max().item()) == (162, 238)


def test_mpd_channel_widths_and_reflect_padding() -> None:
    full = _model("mpd", "full", 16000).discriminators[1]
    assert full.period == 3
    assert [c.out_channels for c in full.convs] == [32, 128, 512, 1024, 1024]
    assert [c.stride[0] for c in full.convs] == [3, 3, 3, 3, 1]
    assert [c.kernel_size for c in full.convs] == [(5, 1)] * 5 and full.post.kernel_size == (3, 1)
    model = MultiPeriodDiscriminator(16000, periods=[3], channels=4, max_channels=16)
    # 10 samples at period 3 are reflect-padded to 12: the same result as padding by hand.
    wav = torch.randn(1, 1, 10)
    padded = torch.cat([wav, wav[..., [8, 7]]], dim=-1)
    a, b = model(wav)[0][0], model(padded)[0][0]
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def _frames(x: np.ndarray, n: int, hop: int) -> np.ndarray:
    count = 1 + (len(x) - n) // hop
    return np.stack([x[t * hop : t * hop + n] for t in range(count)])


def test_mrd_magnitude_matches_numpy() -> None:
    model = MultiResolutionDiscriminator(16000)
    wav = torch.randn(1, 1, 3000, dtype=torch.float32, generator=torch.Generator().manual_seed(2))
    x = wav[0, 0].double().numpy()
    for sub in model.discriminators:
        n, hop, win = sub.n_fft, sub.hop, sub.win
        pad = (n - hop) // 2
        window = np.zeros(n)
        window[(n - win) // 2 : (n - win) // 2 + win] = 1.0  # rectangular, centred like torch.stft
        ref = np.abs(np.fft.rfft(_frames(np.pad(x, pad, mode="reflect"), n, hop) * window, axis=-1)).T
        got = sub.magnitude(wav)[0, 0].double().numpy()
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_msstft_spectrum_matches_numpy() -> None:
    model = MultiScaleSTFTDiscriminator(16000)
    wav = torch.randn(1, 1, 3000, generator=torch.Generator().manual_seed(3))
    x = wav[0, 0].double().numpy()
    for sub in model.discriminators:
        n, hop = sub.n_fft, sub.hop
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)  # periodic Hann
        ref = np.fft.rfft(_frames(x, n, hop) * window, axis=-1) / np.sqrt((window**2).sum())  # (T, F)
        got = sub.spectrum(wav)[0].double().numpy()  # (2, T, F)
        np.testing.assert_allclose(got[0], ref.real, atol=1e-5 * np.abs(ref).max() * 10)
        np.testing.assert_allclose(got[1], ref.imag, atol=1e-5 * np.abs(ref).max() * 10)


def test_msstft_first_conv_has_no_weight_norm() -> None:
    sub = MultiScaleSTFTDiscriminator(16000).discriminators[0]
    is_wn = [torch.nn.utils.parametrize.is_parametrized(c, "weight") for c in list(sub.convs) + [sub.post]]
    assert is_wn == [False, True, True, True, True, True]


@pytest.mark.parametrize(
    "name,bad",
    [
        ("pwg", {"kernel_size": 4}),
        ("mpd", {"periods": []}),
        ("mpd", {"periods": [2, 0]}),
        ("mrd", {"window": "blackman"}),
        ("mrd", {"resolutions": [[512, 128]]}),
        ("mrd", {"resolutions": [512, 128, 512]}),
        ("mrd", {"resolutions": [[512, 600, 512]]}),
        ("msstft", {"n_ffts": [256, 128], "hop_lengths": [64]}),
        ("msstft", {"nfft": [256]}),
    ],
)
def test_bad_config_raises(name: str, bad: dict) -> None:
    with pytest.raises(ConfigError):
        build("discriminator", name, bad, sample_rate=16000)


@pytest.mark.parametrize("name", sorted(TINY))
def test_bad_input_raises(name: str) -> None:
    model = _model(name, "tiny", 16000)
    with pytest.raises(InputError, match="batch, 1, samples"):
        model(torch.randn(2, 4000))
    if name != "pwg":
        with pytest.raises(InputError, match="at least"):
            model(torch.randn(1, 1, 2))


def test_combined_returns_every_name() -> None:
    specs = [{"name": name, "params": TINY[name]} for name in sorted(TINY)] + [{"name": "pwg", "params": {"layers": 2}}]
    combined = CombinedDiscriminator(16000, specs)
    assert combined.names == ["mpd", "mrd", "msstft", "pwg", "pwg_2"]
    out = combined(torch.randn(1, 1, 4000))
    assert list(out) == combined.names
    assert [len(v) for v in out.values()] == [2, 2, 2, 1, 1]
    assert tuple(out["pwg_2"][0][0].shape) == (1, 1, 4000)
    assert len(out["pwg_2"][0][1]) == 1
    # pwg_2 (2 layers, 64 ch, weight norm): conv 1->64 (192 + 64 bias + 64 g) and conv 64->1 (192 + 1 + 1).
    assert combined.num_params() == sum(_model(n, "tiny", 16000).num_params() for n in TINY) + 320 + 194


def test_combined_errors() -> None:
    with pytest.raises(ConfigError, match="unknown discriminator 'nope'"):
        CombinedDiscriminator(16000, [{"name": "nope"}])
    with pytest.raises(ConfigError, match="unknown key 'channel'"):
        CombinedDiscriminator(16000, [{"name": "pwg", "params": {"channel": 3}}])
    with pytest.raises(ConfigError, match="unknown key 'param'"):
        CombinedDiscriminator(16000, [{"name": "pwg", "param": {}}])
    with pytest.raises(ConfigError):
        CombinedDiscriminator(16000, [])


def test_every_discriminator_module_is_registered() -> None:
    assert {"pwg", "mpd", "mrd", "msstft", "mssbcqt"} <= set(DISCRIMINATORS)


def test_combined_builds_every_registered_name_with_defaults() -> None:
    names = sorted(DISCRIMINATORS)
    combined = CombinedDiscriminator(24000, [{"name": n} for n in names])
    with torch.no_grad():
        out = combined(0.1 * torch.randn(1, 1, 6000))
    assert list(out) == names
    for name, pairs in out.items():
        assert len(pairs) >= 1, name
        for logits, feats in pairs:
            assert logits.shape[:2] == (1, 1) and torch.isfinite(logits).all(), name
            assert len(feats) >= 1 and all(f.shape[0] == 1 for f in feats), name
