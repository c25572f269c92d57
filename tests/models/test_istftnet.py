"""iSTFTNet generator: shapes, gradients, pinned parameter counts, config errors, weight-norm folding
and ONNX parity (the magnitude activations are tested with the iSTFT head, test_istft_head.py)."""

from __future__ import annotations

import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

from vocoder.errors import ConfigError, InputError
from vocoder.models.generators.istftnet import ISTFTNET_VARIANTS, ISTFTNetGenerator
from vocoder.registry import build

TINY = {
    "upsample_rates": (4, 4),
    "upsample_kernel_sizes": (8, 8),
    "upsample_initial_channel": 16,
    "resblock_kernel_sizes": (3, 5),
    "resblock_dilation_sizes": ((1, 2), (1, 2)),
    "istft_n_fft": 16,
    "istft_hop": 4,
}
# One x4 stage and one stage without upsampling (the "C1" layout), iSTFT hop 16.
TINY_C1 = {**TINY, "upsample_rates": (4, 1), "upsample_kernel_sizes": (8, 3), "istft_n_fft": 64, "istft_hop": 16}


def tiny(**over) -> ISTFTNetGenerator:
    torch.manual_seed(0)
    return ISTFTNetGenerator(16000, 64, 8, **{**TINY, **over})


@pytest.mark.parametrize("cfg", [TINY, TINY_C1], ids=["c4c4i", "c4c1i"])
@pytest.mark.parametrize("resblock", ["1", "2"])
def test_forward_backward_exact_length(cfg, resblock):
    torch.manual_seed(0)
    g = ISTFTNetGenerator(16000, 64, 8, resblock=resblock, **cfg)
    for frames in (1, 5, 17):
        mel = torch.randn(2, 8, frames)
        y = g(mel)
        assert y.shape == (2, 1, frames * 64)
        assert torch.isfinite(y).all()
    y.square().mean().backward()
    grads = [p.grad for p in g.parameters()]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    assert sum(float(gr.abs().sum()) for gr in grads) > 0


def test_c1_stage_keeps_channels_and_halves_after_upsampling():
    g = ISTFTNetGenerator(16000, 64, 8, **TINY_C1)
    conv_up, conv_c1 = g.ups
    assert isinstance(conv_up, torch.nn.ConvTranspose1d) and conv_up.out_channels == 8
    assert isinstance(conv_c1, torch.nn.Conv1d) and (conv_c1.in_channels, conv_c1.out_channels) == (8, 8)
    assert g.conv_post.out_channels == 64 + 2


# Exact counts at 80 mels (weight norm adds one gain per output channel of every conv).
# HiFi-GAN V1 built from the same blocks has 13,936,130 (13,926,017 without weight norm), i.e. 13.92 M.
PINNED = {
    "v1-c8c8i": (13_262_244, 13_254_034),
    "v1-c8c1i": (19_611_652, 19_601_026),
    "v2-c8c8i": (888_708, 886_642),
    "v2-c8c1i": (1_327_300, 1_324_546),
    "hifigan-v1": (13_936_130, 13_926_017),  # = the official UNIVERSAL_V1 checkpoint's tensor sizes
    "hifigan-v2": (928_514, 925_985),
    "hifigan-v3": (1_464_322, 1_462_273),
}


@pytest.mark.parametrize("variant", sorted(ISTFTNET_VARIANTS))
def test_full_config_parameter_counts(variant):
    g = ISTFTNetGenerator(22050, 256, 80, variant=variant)
    with_wn, without_wn = PINNED[variant]
    assert g.num_params() == with_wn
    g.remove_weight_norm()
    assert g.num_params() == without_wn


def test_variant_values_and_overrides():
    g = ISTFTNetGenerator(22050, 256, 80, variant="v1-c8c1i")
    assert (g.upsample_rates, g.istft_n_fft, g.istft_hop) == ((8, 1), 128, 32)
    assert g.conv_pre.out_channels == 512
    # Explicit arguments win over the variant's values.
    g = ISTFTNetGenerator(22050, 256, 80, variant="v2-c8c8i", upsample_initial_channel=64)
    assert g.conv_pre.out_channels == 64
    g = ISTFTNetGenerator(22050, 256, 80)  # default = v1-c8c8i
    assert g.conv_pre.out_channels == 512 and g.istft_n_fft == 16


@pytest.mark.parametrize(
    "over, words",
    [
        ({"istft_hop": 8}, "must equal the mel hop 64"),
        ({"upsample_rates": (4, 4, 2), "upsample_kernel_sizes": (8, 8, 4), "istft_hop": 2}, None),
        ({"upsample_kernel_sizes": (8,)}, "equal length"),
        ({"upsample_kernel_sizes": (8, 7)}, "does not fit rate 4"),
        ({"upsample_rates": (16, 1), "upsample_kernel_sizes": (32, 4)}, "odd k for rate 1"),
        ({"resblock": "3"}, "resblock"),
        ({"resblock_kernel_sizes": (3, 4)}, "odd"),
        ({"resblock_dilation_sizes": ((1, 2),)}, "equal length"),
        ({"upsample_initial_channel": 6}, "divisible"),
        ({"magnitude": "linear"}, "magnitude"),
        ({"istft_n_fft": 2}, "istft_hop 4"),
        ({"variant": "v3-c8c8i"}, "unknown"),
    ],
)
def test_bad_configs_raise_config_error(over, words):
    if words is None:  # a valid three-stage layout, as a control
        assert tiny(**over)(torch.randn(1, 8, 3)).shape == (1, 1, 192)
        return
    with pytest.raises(ConfigError, match=words) as err:
        tiny(**over)
    assert "\n" not in str(err.value)


def test_registry_build_and_unknown_key():
    g = build("generator", "istftnet", {"variant": "v2-c8c8i"}, sample_rate=22050, hop=256, n_mels=80)
    assert isinstance(g, ISTFTNetGenerator) and g.num_params() == PINNED["v2-c8c8i"][0]
    with pytest.raises(ConfigError, match="unknown key 'upsample_rate'"):
        build("generator", "istftnet", {"upsample_rate": [8, 8]}, sample_rate=22050, hop=256, n_mels=80)


def test_bad_mel_raises_input_error():
    with pytest.raises(InputError, match="mel must be"):
        tiny()(torch.randn(1, 7, 10))


def test_remove_weight_norm_keeps_output():
    g = tiny().eval()
    mel = torch.randn(2, 8, 9)
    with torch.no_grad():
        before = g(mel)
        g.remove_weight_norm()
        after = g(mel)
    assert not any("parametrizations" in n for n, _ in g.named_parameters())
    assert (before - after).abs().max() <= 1e-5


def test_onnx_export_matches_torch(tmp_path):
    g = tiny(**TINY_C1)
    g.remove_weight_norm()
    g.eval()
    path = tmp_path / "istftnet.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            g,
            (torch.randn(1, 8, 12),),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["mel"],
            output_names=["wav"],
            dynamic_axes={"mel": {0: "batch", 2: "frames"}, "wav": {0: "batch", 2: "samples"}},
        )
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, frames in ((1, 7), (3, 30)):
        mel = torch.randn(batch, 8, frames)
        with torch.no_grad():
            ref = g(mel).numpy()
        out = sess.run(None, {"mel": mel.numpy()})[0]
        assert out.shape == (batch, 1, frames * 64)
        assert np.abs(out - ref).max() <= 1e-4
