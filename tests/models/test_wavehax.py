"""Wavehax generator: shapes, gradients, determinism, F0 dependence, parity with a plain NCHW forward
written like the reference, pinned parameter counts, config errors and ONNX parity."""

from __future__ import annotations

import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from vocoder.errors import ConfigError, InputError
from vocoder.models.generators.wavehax import WAVEHAX_VARIANTS, WavehaxGenerator
from vocoder.registry import build

SR, HOP, MELS = 8000, 32, 8


def tiny(**over) -> WavehaxGenerator:
    torch.manual_seed(0)
    cfg = {"n_fft": 64, "channels": 8, "num_blocks": 2, "kernel_size": (5, 3), "prior_kernel": 3, **over}
    return WavehaxGenerator(SR, HOP, MELS, **cfg)


def inputs(batch: int, frames: int, seed: int = 0, f0: float = 200.0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "mel": torch.randn(batch, MELS, frames, generator=g),
        "f0": torch.full((batch, frames), f0),
        "noise": torch.randn(batch, 1, frames * HOP, generator=g),
        "phase": torch.rand(batch, 1, generator=g),
    }


def test_forward_backward_exact_length():
    g = tiny()
    for frames in (3, 4, 7, 20):
        x = inputs(2, frames)
        x["f0"][:, ::3] = 0.0  # some unvoiced frames
        y = g(**x)
        assert y.shape == (2, 1, frames * HOP)
        assert torch.isfinite(y).all()
    y.square().mean().backward()
    for name, p in g.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert float(p.grad.abs().sum()) > 0, name
    # Random noise and phase when not given; the length contract still holds.
    assert g(x["mel"], x["f0"]).shape == (2, 1, 20 * HOP)
    # F0 as (B, 1, T) is accepted too.
    assert torch.equal(g(x["mel"], x["f0"].unsqueeze(1), x["noise"], x["phase"]), y.detach())


def test_deterministic_given_noise_and_phase():
    g = tiny().eval()
    x = inputs(2, 10)
    with torch.no_grad():
        a, b = g(**x), g(**x)
        other_noise = g(**{**x, "noise": torch.randn_like(x["noise"])})
        other_phase = g(**{**x, "phase": x["phase"] + 0.25})
    assert torch.equal(a, b)
    assert (a - other_noise).abs().max() > 1e-4
    assert (a - other_phase).abs().max() > 1e-4


def test_output_depends_on_f0():
    g = tiny().eval()
    x = inputs(1, 10)
    with torch.no_grad():
        a = g(**x)
        b = g(**{**x, "f0": x["f0"] * 1.5})
    assert (a - b).abs().max() > 1e-3 * a.abs().max()


def test_prior_spectrum_follows_scaled_f0():
    """Through the model's own prior and STFT (16 kHz demo config, 50 Hz bins), doubling F0 doubles the
    frequency of the first harmonic peak."""
    g = WavehaxGenerator(16000, 160, 80)
    frames = 20
    zeros = torch.zeros(1, 1, frames * 160)
    peaks = []
    for f0 in (200.0, 400.0):
        prior, re, im = g.prior_spectrum(torch.full((1, frames), f0), zeros, torch.zeros(1, 1))
        assert prior.shape == (1, 1, frames * 160) and re.shape == (1, 161, frames)
        mag = (re.square() + im.square()).sqrt()[0, :, 2:-2].mean(dim=1)  # skip the padded edge frames
        # Each harmonic sits exactly on a bin, so the Hann window puts half its amplitude into each neighbour:
        # a threshold of 0.5 would compare equal values and decide on their last bit. 0.75 lies midway
        # between a neighbour (0.5) and a peak (1.0, flat envelope).
        first = int(torch.nonzero(mag > 0.75 * mag.max())[0])
        assert abs(float(mag[first]) - float(mag.max())) < 0.2 * float(mag.max())  # flat harmonic envelope
        assert max(float(mag[first - 1]), float(mag[first + 1])) < 0.6 * float(mag[first])  # a peak, not a shoulder
        peaks.append(first)
    assert peaks == [4, 8]  # 200 Hz and 400 Hz at 50 Hz per bin


def _reference_forward(g: WavehaxGenerator, mel, f0, noise, phase) -> torch.Tensor:
    """The same model written as the reference does it: NCHW planes, 1x1 Conv2d, LayerNorm2d over
    (C, F, T) by explicit mean/variance, NCHW depthwise conv with reflect padding."""

    def ln(x, norm):  # x (B, C, F, T)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        var = (x - mean).square().mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) / torch.sqrt(var + norm.eps)
        return norm.weight.view(1, -1, 1, 1) * x + norm.bias.view(1, -1, 1, 1)

    def conv1x1(x, lin):
        return F.conv2d(x, lin.weight[:, :, None, None], lin.bias)

    prior = g.prior(f0, noise, phase)
    re, im = g.stft(prior)
    x = torch.stack([re, im, g.prior_proj(re), g.prior_proj(im), g.cond_proj(mel)], dim=1)
    x = ln(conv1x1(x, g.input_proj), g.input_norm)
    for blk in g.blocks:
        kf, kt = blk.dwconv.kernel_size
        y = F.conv2d(
            F.pad(x, (kt // 2, kt // 2, kf // 2, kf // 2), mode="reflect"), blk.dwconv.weight, groups=blk.dwconv.groups
        )
        y = conv1x1(F.gelu(conv1x1(ln(y, blk.norm), blk.pwconv1)), blk.pwconv2)
        x = x + blk.gamma.view(1, -1, 1, 1) * y
    x = conv1x1(ln(x, g.output_norm), g.output_proj)
    return g.istft(x[:, 0], x[:, 1])  # the iSTFT head: (B, 1, T * hop)


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_matches_plain_nchw_forward(variant):
    g = WavehaxGenerator(SR, HOP, MELS, variant=variant, n_fft=64, num_blocks=3).eval()
    with torch.no_grad():  # trained-looking weights: the init leaves the layer scale and biases trivial
        for p in g.parameters():
            p.add_(0.3 * torch.randn_like(p))
        x = inputs(2, 9)
        ours = g(**x)
        ref = _reference_forward(g, **x)
    assert (ours - ref).abs().max() <= 1e-5 * max(1.0, float(ref.abs().max()))


@pytest.mark.parametrize("framewise", [False, True])
def test_export_layout_equals_training_layout(framewise):
    """The NCHW form traced for ONNX (layer scale folded) computes what the channels-last form does."""
    g = WavehaxGenerator(SR, HOP, MELS, variant="v1", n_fft=64, num_blocks=3, framewise_norm=framewise).eval()
    with torch.no_grad():
        for p in g.parameters():
            p.add_(0.3 * torch.randn_like(p))
        x = inputs(2, 9)
        ours = g(**x)
        exported = g.export_module()(**x)
    assert (ours - exported).abs().max() <= 1e-5 * max(1.0, float(ours.abs().max()))
    assert not torch.equal(ours, torch.zeros_like(ours))


@torch.no_grad()
def test_initialisation_as_reference():
    g = WavehaxGenerator(24000, 240, 100)
    assert g.input_proj.bias is None and g.blocks[0].dwconv.bias is None
    assert float(g.prior_proj.bias.abs().max()) == 0.0 and float(g.output_proj.bias.abs().max()) == 0.0
    # trunc_normal_'s cut-offs (+-2) are absolute, so at std 0.02 it is a plain N(0, 0.02), as in the reference.
    w = g.prior_proj.weight
    assert float(w.std()) == pytest.approx(0.02, rel=0.02) and float(w.mean().abs()) < 1e-3
    assert torch.equal(g.blocks[0].gamma, torch.full((32,), 1 / 8))


# (sample_rate, hop, n_mels, variant) -> parameters. No weight norm, so folding changes nothing.
PINNED = [
    (24000, 240, 100, "v1", 622_951),
    (24000, 240, 100, "v2", 600_759),
    (16000, 160, 80, "v1", 319_131),
    (16000, 160, 80, "v2", 296_939),
]


@pytest.mark.parametrize("sr, hop, mels, variant, count", PINNED)
def test_full_config_parameter_counts(sr, hop, mels, variant, count):
    g = WavehaxGenerator(sr, hop, mels, variant=variant)
    assert g.n_fft == 2 * hop and g.num_params() == count
    g.remove_weight_norm()
    assert g.num_params() == count


def test_variants_table():
    assert WAVEHAX_VARIANTS["v2"] == {"channels": 16, "mult": 3, "kernel_size": (13, 7), "num_blocks": 8}
    g = WavehaxGenerator(24000, 240, 100, variant="v2")
    assert g.blocks[0].dwconv.kernel_size == (13, 7) and g.blocks[0].pwconv1.out_features == 48


@pytest.mark.parametrize(
    "over, words",
    [
        ({"variant": "v3"}, "unknown"),
        ({"kernel_size": (6, 7)}, "odd"),
        ({"kernel_size": (7, 7, 7)}, "odd"),
        ({"prior_kernel": 4}, "prior_kernel"),
        ({"n_fft": 16}, "n_fft 16 must be >= hop 32"),
        ({"channels": 0}, "channels"),
        ({"kernel_size": 67}, "too tall"),
        ({"f0_floor": 0.0}, "f0_floor"),
    ],
)
def test_bad_configs_raise_config_error(over, words):
    with pytest.raises(ConfigError, match=words) as err:
        tiny(**over)
    assert "\n" not in str(err.value)


def test_bad_inputs_raise_input_error():
    g = tiny()
    x = inputs(1, 10)
    with pytest.raises(InputError, match="needs F0"):
        g(x["mel"])
    with pytest.raises(InputError, match="f0 must be"):
        g(x["mel"], x["f0"][:, :9])
    with pytest.raises(InputError, match="noise"):
        g(x["mel"], x["f0"], x["noise"][..., :-1], x["phase"])
    with pytest.raises(InputError, match="at least 2"):
        g(x["mel"][..., :1], x["f0"][:, :1])


def test_registry_build():
    g = build("generator", "wavehax", {"variant": "v2"}, sample_rate=24000, hop=240, n_mels=100)
    assert isinstance(g, WavehaxGenerator) and g.num_params() == 600_759
    assert g.needs_f0 and g.needs_noise


def test_onnx_export_matches_torch(tmp_path):
    g = tiny().eval()
    names = ["mel", "f0", "noise", "phase"]
    path = tmp_path / "wavehax.onnx"
    x = inputs(1, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            g,
            tuple(x[n] for n in names),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=names,
            output_names=["wav"],
            dynamic_axes={
                "mel": {0: "batch", 2: "frames"},
                "f0": {0: "batch", 1: "frames"},
                "noise": {0: "batch", 2: "samples"},
                "phase": {0: "batch"},
                "wav": {0: "batch", 2: "samples"},
            },
        )
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, frames in ((1, 9), (3, 41)):
        x = inputs(batch, frames, seed=frames)
        x["f0"] = torch.linspace(70.0, 900.0, frames).repeat(batch, 1)
        x["f0"][:, 5:8] = 0.0
        with torch.no_grad():
            ref = g(**x).numpy()
        out = sess.run(None, {n: x[n].numpy() for n in names})[0]
        assert out.shape == (batch, 1, frames * HOP)
        assert np.abs(out - ref).max() <= 1e-4
