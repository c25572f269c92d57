"""Shared generator blocks: HiFi-GAN residual blocks and the channels-last 2-D blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

from vocoder.models.generators.layers import (
    ConvNeXtBlock2d,
    LayerNorm2d,
    MultiReceptiveField,
    ResBlock1,
    ResBlock2,
    wn_conv_transpose1d,
)


def test_resblocks_keep_shape_and_use_weight_norm():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 50)
    for block, n_convs in ((ResBlock1(6, 3, (1, 3, 5)), 6), (ResBlock2(6, 5, (1, 3)), 2)):
        assert block(x).shape == x.shape
        convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv1d)]
        assert len(convs) == n_convs and all(parametrize.is_parametrized(c, "weight") for c in convs)


def test_resblock2_by_hand():
    torch.manual_seed(0)
    block = ResBlock2(3, 3, (1, 2))
    x = torch.randn(1, 3, 20)
    c1, c2 = block.convs
    h = x + F.conv1d(F.leaky_relu(x, 0.1), c1.weight, c1.bias, padding=1)
    h = h + F.conv1d(F.leaky_relu(h, 0.1), c2.weight, c2.bias, padding=2, dilation=2)
    assert torch.allclose(block(x), h, atol=1e-6)


def test_mrf_is_mean_of_blocks():
    torch.manual_seed(0)
    mrf = MultiReceptiveField(4, (3, 7), ((1, 3, 5), (1, 3, 5)))
    x = torch.randn(1, 4, 30)
    assert torch.allclose(mrf(x), (mrf.blocks[0](x) + mrf.blocks[1](x)) / 2, atol=1e-6)


def test_transposed_conv_upsamples_exactly():
    for rate, kernel in ((8, 16), (4, 8), (2, 4), (5, 11)):
        up = wn_conv_transpose1d(4, 2, kernel, rate)
        assert up(torch.randn(1, 4, 13)).shape == (1, 2, 13 * rate)


def test_layernorm2d_global_and_framewise():
    torch.manual_seed(0)
    x = 3.0 * torch.randn(2, 9, 5, 4) + 1.5  # (B, F, T, C)
    y = LayerNorm2d(4)(x)
    assert torch.allclose(y.mean(dim=(1, 2, 3)), torch.zeros(2), atol=1e-5)
    assert torch.allclose(y.var(dim=(1, 2, 3), unbiased=False), torch.ones(2), atol=1e-4)
    y = LayerNorm2d(4, framewise=True)(x)
    assert torch.allclose(y.mean(dim=(1, 3)), torch.zeros(2, 5), atol=1e-5)
    assert torch.allclose(y.var(dim=(1, 3), unbiased=False), torch.ones(2, 5), atol=1e-4)
    norm = LayerNorm2d(4)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        norm.bias.fill_(0.5)
    z = norm(x)
    assert torch.allclose(z[..., 3], 4.0 * y_global(x)[..., 3] + 0.5, atol=1e-5)


def y_global(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) / torch.sqrt((x - mean).square().mean(dim=(1, 2, 3), keepdim=True) + 1e-6)


def test_convnext_block_shape_and_locality():
    torch.manual_seed(0)
    block = ConvNeXtBlock2d(4, 2, (5, 3), layer_scale=0.5, framewise_norm=True)
    x = torch.randn(1, 12, 10, 4)
    y = block(x)
    assert y.shape == x.shape and y.is_contiguous()
    # With per-frame norm, a change in frame 9 reaches only frames within the time kernel's half-width.
    x2 = x.clone()
    x2[:, :, 9] += 1.0
    with torch.no_grad():
        diff = (block(x2) - y).abs().amax(dim=(0, 1, 3))
    assert float(diff[:8].max()) == 0.0 and float(diff[8]) > 0.0
