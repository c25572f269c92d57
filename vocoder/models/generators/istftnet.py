"""iSTFTNet generator (Kaneko et al., ICASSP 2022, arXiv 2203.02395): a HiFi-GAN backbone that stops
upsampling early and lets an inverse STFT do the last ``istft_hop``-fold step.

mel ``(B, n_mels, T)`` -> conv_pre (k7) -> per stage [LeakyReLU 0.1, upsample x r, MRF of ResBlocks]
-> LeakyReLU -> reflection pad (1, 0) -> conv_post (k7) to ``istft_n_fft + 2`` channels
-> :class:`~vocoder.models.generators.istft_head.ISTFTHead` ("polar", "center"): magnitude
``(B, n_fft // 2 + 1, T * prod(r) + 1)`` and phase of the same shape -> ISTFT -> waveform ``(B, 1, T * hop)``.

The reflection pad adds one frame, which the "center" ISTFT takes back, so the output is exactly
``T * prod(r) * istft_hop = T * hop`` samples (the reference's layout with ``torch.istft``).

Named configurations (``variant=``): backbone V1 (512 channels) or V2 (128 channels), both with
ResBlock1, kernels 3/7/11 and dilations 1/3/5, and the iSTFT layouts

* C8C8I: two x8 stages, iSTFT n_fft 16 / hop 4 (rishikksh20/iSTFTNet-pytorch ``config_v1.json``);
* C8C1I: one x8 stage and one stage without upsampling, iSTFT hop 32 -- the iSTFTNet2 paper
  (Kaneko et al., Interspeech 2023) calls it "iSTFTNet-C8C1I32" and notes that its second stage does
  not halve the channels (quoted in rishikksh20/iSTFTNet-pytorch issue #19). n_fft = 128 is *derived*
  from the 4:1 n_fft:hop ratio of C8C8I (16 / 4); the paper's table could not be retrieved. The
  un-upsampled stage is a plain same-padded Conv1d; its kernel (7) is our choice.

HiFi-GAN (Kong et al., NeurIPS 2020) is the family's iSTFT-free member (``istft_n_fft: 0``): every
upsampling stage is a transposed conv, then LeakyReLU (slope 0.01) -> conv_post (k7) to one channel ->
tanh, no reflection pad. The iSTFTNet paper names HiFi-GAN V1 "C8C8C2C2". Variants ``hifigan-v1``
(512 channels, 8/8/2/2, ResBlock1 3/7/11), ``hifigan-v2`` (128 channels, the same layout) and
``hifigan-v3`` (256 channels, 8/8/4, ResBlock2 3/5/7 with dilations 1,2 / 2,6 / 3,12) follow the official
``config_v1/v2/v3.json``; with weight norm they have 13.92 M / 0.93 M / 1.46 M parameters. Their state dicts
differ from the official ``models.py`` only by names (``resblocks.{i * 3 + j}`` is our ``mrfs.i.blocks.j``;
see :mod:`vocoder.models.convert_hifigan`), so ``conv_pre``, ``ups.0``, ``ups.1`` and the first six
ResBlocks of HiFi-GAN V1 fit iSTFTNet V1-C8C8I tensor for tensor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vocoder.errors import ConfigError, ModelError
from vocoder.infer.base import StreamContext
from vocoder.models.generators.base import Generator, context_frames, conv_reach
from vocoder.models.generators.conv1d_as_conv2d import conv1d_as_conv2d
from vocoder.models.generators.istft_head import MAGNITUDES, ISTFTHead
from vocoder.models.generators.layers import (
    LRELU_SLOPE,
    MultiReceptiveField,
    wn_conv1d,
    wn_conv_transpose1d,
)
from vocoder.registry import register_generator

_RESBLOCKS_V1: dict[str, Any] = {
    "resblock": "1",
    "resblock_kernel_sizes": (3, 7, 11),
    "resblock_dilation_sizes": ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
}
_C8C8I: dict[str, Any] = {
    "upsample_rates": (8, 8),
    "upsample_kernel_sizes": (16, 16),
    "istft_n_fft": 16,
    "istft_hop": 4,
}
_C8C1I: dict[str, Any] = {
    "upsample_rates": (8, 1),
    "upsample_kernel_sizes": (16, 7),
    "istft_n_fft": 128,
    "istft_hop": 32,
}

_C8C8C2C2: dict[str, Any] = {  # HiFi-GAN V1/V2: no iSTFT (istft_n_fft 0)
    "upsample_rates": (8, 8, 2, 2),
    "upsample_kernel_sizes": (16, 16, 4, 4),
    "istft_n_fft": 0,
    "istft_hop": 1,
}
_RESBLOCKS_V3: dict[str, Any] = {
    "resblock": "2",
    "resblock_kernel_sizes": (3, 5, 7),
    "resblock_dilation_sizes": ((1, 2), (2, 6), (3, 12)),
}

ISTFTNET_VARIANTS: dict[str, dict[str, Any]] = {
    "v1-c8c8i": {"upsample_initial_channel": 512, **_RESBLOCKS_V1, **_C8C8I},
    "v1-c8c1i": {"upsample_initial_channel": 512, **_RESBLOCKS_V1, **_C8C1I},
    "v2-c8c8i": {"upsample_initial_channel": 128, **_RESBLOCKS_V1, **_C8C8I},
    "v2-c8c1i": {"upsample_initial_channel": 128, **_RESBLOCKS_V1, **_C8C1I},
    "hifigan-v1": {"upsample_initial_channel": 512, **_RESBLOCKS_V1, **_C8C8C2C2},
    "hifigan-v2": {"upsample_initial_channel": 128, **_RESBLOCKS_V1, **_C8C8C2C2},
    "hifigan-v3": {
        "upsample_initial_channel": 256, **_RESBLOCKS_V3,
        "upsample_rates": (8, 8, 4), "upsample_kernel_sizes": (16, 16, 8), "istft_n_fft": 0, "istft_hop": 1,
    },
}
DEFAULT_VARIANT = "v1-c8c8i"

@register_generator("istftnet")
class ISTFTNetGenerator(Generator):
    """iSTFTNet (and HiFi-GAN): mel ``(B, n_mels, T)`` -> waveform ``(B, 1, T * hop)``.

    Arguments left as ``None`` come from ``variant`` (default ``"v1-c8c8i"``); see
    :data:`ISTFTNET_VARIANTS`. ``prod(upsample_rates) * istft_hop`` must equal ``hop``.
    ``istft_n_fft = 0`` (with ``istft_hop = 1``) is HiFi-GAN: a one-channel conv_post and tanh, no iSTFT.
    A stage with rate ``r > 1`` is a ConvTranspose1d (kernel ``k``, ``k - r`` even) that halves the
    channels; a stage with rate 1 is a Conv1d (odd ``k``) that keeps them. ``magnitude`` (one of
    :data:`~vocoder.models.generators.istft_head.MAGNITUDES`) is the head's magnitude activation.
    ``istft`` is the :class:`ISTFTHead` (None for HiFi-GAN).
    """

    needs_f0 = False
    needs_noise = False
    reference_config = {
        "recipe": "ljspeech/istftnet_c8c8i.yaml", "preset": "hifigan-22k", "params": {"variant": "v1-c8c8i"},
    }

    def __init__(
        self,
        sample_rate: int,
        hop: int,
        n_mels: int,
        variant: str | None = None,
        upsample_rates: Sequence[int] | None = None,
        upsample_kernel_sizes: Sequence[int] | None = None,
        upsample_initial_channel: int | None = None,
        resblock: str | None = None,
        resblock_kernel_sizes: Sequence[int] | None = None,
        resblock_dilation_sizes: Sequence[Sequence[int]] | None = None,
        istft_n_fft: int | None = None,
        istft_hop: int | None = None,
        magnitude: str = "bounded",
    ) -> None:
        super().__init__(sample_rate, hop, n_mels)
        name = DEFAULT_VARIANT if variant is None else variant
        if name not in ISTFTNET_VARIANTS:
            raise ConfigError(f"generator istftnet: unknown variant {name!r} (known: {', '.join(ISTFTNET_VARIANTS)})")
        given = {
            "upsample_rates": upsample_rates,
            "upsample_kernel_sizes": upsample_kernel_sizes,
            "upsample_initial_channel": upsample_initial_channel,
            "resblock": resblock,
            "resblock_kernel_sizes": resblock_kernel_sizes,
            "resblock_dilation_sizes": resblock_dilation_sizes,
            "istft_n_fft": istft_n_fft,
            "istft_hop": istft_hop,
        }
        cfg = {k: (ISTFTNET_VARIANTS[name][k] if v is None else v) for k, v in given.items()}
        rates = [int(r) for r in cfg["upsample_rates"]]
        kernels = [int(k) for k in cfg["upsample_kernel_sizes"]]
        rb_kernels = [int(k) for k in cfg["resblock_kernel_sizes"]]
        rb_dilations = [tuple(int(d) for d in ds) for ds in cfg["resblock_dilation_sizes"]]
        channels = int(cfg["upsample_initial_channel"])
        n_fft, ihop = int(cfg["istft_n_fft"]), int(cfg["istft_hop"])
        self._check(rates, kernels, rb_kernels, rb_dilations, channels, str(cfg["resblock"]), n_fft, ihop, magnitude)
        self.variant = variant
        self.upsample_rates = tuple(rates)
        self.istft_n_fft, self.istft_hop = n_fft, ihop
        self.magnitude = magnitude

        self.conv_pre = wn_conv1d(n_mels, channels, 7, padding=3, init_std=None)
        self.ups = nn.ModuleList()
        self.mrfs = nn.ModuleList()
        for r, k in zip(rates, kernels):
            if r > 1:
                self.ups.append(wn_conv_transpose1d(channels, channels // 2, k, r))
                channels //= 2
            else:
                self.ups.append(wn_conv1d(channels, channels, k, padding=k // 2))
            self.mrfs.append(MultiReceptiveField(channels, rb_kernels, rb_dilations, str(cfg["resblock"])))
        if n_fft == 0:  # HiFi-GAN: the waveform itself
            self.conv_post = wn_conv1d(channels, 1, 7, padding=3)
            self.n_bins = 0
            self.istft = None
        else:
            self.conv_post = wn_conv1d(channels, n_fft + 2, 7, padding=3)
            self.n_bins = n_fft // 2 + 1
            self.istft = ISTFTHead(n_fft, ihop, padding="center", form="polar", magnitude=magnitude)

    def _check(
        self,
        rates: list[int],
        kernels: list[int],
        rb_kernels: list[int],
        rb_dilations: list[tuple[int, ...]],
        channels: int,
        resblock: str,
        n_fft: int,
        ihop: int,
        magnitude: str,
    ) -> None:
        where = "generator istftnet"
        if len(rates) == 0 or len(rates) != len(kernels):
            raise ConfigError(
                f"{where}: upsample_rates {rates} and upsample_kernel_sizes {kernels} must be "
                "non-empty and of equal length"
            )
        for r, k in zip(rates, kernels):
            if r < 1 or (r > 1 and (k < r or (k - r) % 2)) or (r == 1 and k % 2 == 0):
                raise ConfigError(
                    f"{where}: upsample kernel {k} does not fit rate {r} (need k >= r and k - r "
                    "even, or an odd k for rate 1)"
                )
        if math.prod(rates) * ihop != self.hop:
            raise ConfigError(
                f"{where}: prod(upsample_rates) {math.prod(rates)} * istft_hop {ihop} must equal the mel hop {self.hop}"
            )
        if n_fft == 0:
            if ihop != 1:
                raise ConfigError(f"{where}: istft_n_fft 0 (HiFi-GAN, no iSTFT) needs istft_hop 1, got {ihop}")
        elif not 1 <= ihop <= n_fft:
            raise ConfigError(f"{where}: istft_hop {ihop} must be in [1, istft_n_fft={n_fft}] (or istft_n_fft 0)")
        if resblock not in ("1", "2"):
            raise ConfigError(f"{where}: resblock must be '1' or '2', got {resblock!r}")
        if len(rb_kernels) == 0 or len(rb_kernels) != len(rb_dilations):
            raise ConfigError(
                f"{where}: resblock_kernel_sizes and resblock_dilation_sizes must be non-empty and of equal length"
            )
        if any(k % 2 == 0 for k in rb_kernels):
            raise ConfigError(f"{where}: resblock_kernel_sizes must be odd, got {rb_kernels}")
        halvings = sum(r > 1 for r in rates)
        if channels < 1 or channels % (2**halvings):
            raise ConfigError(
                f"{where}: upsample_initial_channel {channels} must be divisible by "
                f"2^{halvings} (one halving per upsampling stage)"
            )
        if magnitude not in MAGNITUDES:
            raise ConfigError(f"{where}: magnitude must be one of {', '.join(MAGNITUDES)}, got {magnitude!r}")

    def features(self, mel: Tensor) -> Tensor:
        """mel ``(B, n_mels, T)`` -> last-stage activations ``(B, C, T * prod(rates))`` before conv_post."""
        x = self.conv_pre(mel)
        for up, mrf in zip(self.ups, self.mrfs):
            x = mrf(up(F.leaky_relu(x, LRELU_SLOPE)))
        # Both references use leaky_relu's default slope (0.01) here, not 0.1.
        return F.leaky_relu(x, 0.01)

    def _planes(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        """mel ``(B, n_mels, T)`` -> the head's (log-magnitude, phase) planes, each
        ``(B, istft_n_fft // 2 + 1, T * prod(rates) + 1)``: conv_post's channels split in two."""
        if self.istft is None:
            raise ModelError("a HiFi-GAN variant (istft_n_fft 0) has no spectrum head")
        x = self.conv_post(F.pad(self.features(mel), (1, 0), mode="reflect"))
        return x[:, : self.n_bins], x[:, self.n_bins :]

    def spectrum(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        """mel ``(B, n_mels, T)`` -> (real, imag), each ``(B, istft_n_fft // 2 + 1, T * prod(rates) + 1)``."""
        return self.istft.spectrum(*self._planes(mel))

    def stream_context(self) -> StreamContext:
        """conv_pre (3 frames) + per stage the upsampling conv and the widest ResBlock stack, + conv_post,
        + half the iSTFT window, each side. V1 at hop 256: C8C8I 15 frames (measured 13), C8C1I 22
        (measured 20). HiFi-GAN (``istft_n_fft: 0``): the same without the iSTFT, conv_post at the sample
        rate."""
        unit = self.hop  # samples per unit at the current stage
        left, right = (r * unit for r in conv_reach(self.conv_pre))
        for up, mrf in zip(self.ups, self.mrfs):
            if isinstance(up, nn.ConvTranspose1d):
                k, r, p = up.kernel_size[0], up.stride[0], up.padding[0]
                unit //= r
                left += (k - 1 - p + 1) * unit
                right += (p + r) * unit
            else:
                l_u, r_u = conv_reach(up)
                left, right = left + l_u * unit, right + r_u * unit
            blocks_l, blocks_r = 0, 0
            for block in mrf.blocks:
                convs = [*getattr(block, "convs1", []), *getattr(block, "convs2", []), *getattr(block, "convs", [])]
                reach = [conv_reach(c) for c in convs]
                blocks_l = max(blocks_l, sum(r[0] for r in reach))
                blocks_r = max(blocks_r, sum(r[1] for r in reach))
            left, right = left + blocks_l * unit, right + blocks_r * unit
        l_u, r_u = conv_reach(self.conv_post)
        if self.istft is None:  # HiFi-GAN: conv_post at the sample rate, no iSTFT
            return context_frames(left + l_u * unit, right + r_u * unit, self.hop)
        # reflection pad (1, 0) then conv_post, at the iSTFT frame rate
        left, right = left + (l_u + 1) * unit, right + r_u * unit
        # a sample reads every iSTFT frame whose window covers it
        left, right = left + self.istft_n_fft / 2 + unit, right + self.istft_n_fft / 2 + unit
        return context_frames(left, right, self.hop)

    def export_module(self) -> nn.Module:
        """A copy whose zero-padded Conv1d layers run as 2-D convs (:func:`conv1d_as_conv2d`): with these
        wide dilated convs, 18 % less onnxruntime time (NCHWc layout), the same maths."""
        return conv1d_as_conv2d(self)

    def forward(
        self,
        mel: Tensor,
        f0: Tensor | None = None,
        noise: Tensor | None = None,
        phase: Tensor | None = None,
    ) -> Tensor:
        """mel ``(B, n_mels, T)`` -> waveform ``(B, 1, T * hop)``. ``f0``, ``noise`` and ``phase`` are
        accepted and ignored, so callers can treat every generator alike."""
        if not torch.jit.is_tracing():
            self.check_inputs(mel)
        if self.istft is None:
            return torch.tanh(self.conv_post(self.features(mel)))
        return self.istft(*self._planes(mel))
