"""HiFi-GAN's multi-period discriminator: the waveform folded into ``(L / p, p)`` images, 2-D convs along time.

Input ``(B, 1, L)``. Per period ``p``: the waveform is reflect-padded on the right to ``H * p`` samples,
``H = ceil(L / p)``, and viewed as ``(B, 1, H, p)``. Each strided conv maps ``H -> ceil(H / s)``
(kernel 5, padding 2). Logits ``(B, 1, H_last, p)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from vocoder.errors import ConfigError
from vocoder.models.discriminators.base import Discriminator, SubOutput, conv_stack, positive_ints
from vocoder.registry import register_discriminator


class PeriodDiscriminator(nn.Module):
    """One period: ``len(strides)`` convs ``(kernel_size, 1)`` with stride ``(s, 1)``, then a post conv to 1 channel.

    Feature maps: every conv output after LeakyReLU, then the logits map (HiFi-GAN puts the post conv's
    output in its feature list too, so feature matching also covers it).
    """

    def __init__(
        self,
        period: int,
        channels: Sequence[int],
        strides: Sequence[int],
        kernel_size: int,
        post_kernel_size: int,
        negative_slope: float,
        use_weight_norm: bool,
    ) -> None:
        super().__init__()
        self.period = period
        self.negative_slope = negative_slope
        norm = weight_norm if use_weight_norm else (lambda m: m)
        convs = []
        c_in = 1
        for c_out, stride in zip(channels, strides):
            convs.append(
                norm(nn.Conv2d(c_in, c_out, (kernel_size, 1), (stride, 1), padding=((kernel_size - 1) // 2, 0)))
            )
            c_in = c_out
        self.convs = nn.ModuleList(convs)
        self.post = norm(nn.Conv2d(c_in, 1, (post_kernel_size, 1), padding=((post_kernel_size - 1) // 2, 0)))

    def forward(self, wav: torch.Tensor) -> SubOutput:
        b, c, length = wav.shape
        rest = length % self.period
        if rest:
            wav = F.pad(wav, (0, self.period - rest), mode="reflect")
        x = wav.view(b, c, -1, self.period)
        return conv_stack(self.convs, self.post, x, self.negative_slope, logits_as_feature=True)


@register_discriminator("mpd")
class MultiPeriodDiscriminator(Discriminator):
    """Multi-period discriminator (MPD) of HiFi-GAN.

    Reference: Kong, Kim, Bae, "HiFi-GAN: Generative Adversarial Networks for Efficient and High Fidelity
    Speech Synthesis", NeurIPS 2020 (arXiv 2010.05646); jik876/hifi-gan ``DiscriminatorP``.

    Layer ``i`` has ``min(channels * channel_growth ** i, max_channels)`` channels and stride
    ``strides[i]``. Defaults are HiFi-GAN V1's MPD: periods 2, 3, 5, 7, 11, channels 1 -> 32 -> 128 -> 512
    -> 1024 -> 1024, kernel (5, 1), strides 3, 3, 3, 3, 1, post conv (3, 1), LeakyReLU 0.1, weight norm:
    41,105,770 parameters. Wavehax's "univnet" MPD has the same layer sizes (32 base, x4, max 1024);
    UnivNet itself uses slope 0.2.

    Output: one pair per period, ``(logits (B, 1, H_last, p), [len(strides) maps (B, C_i, H_i, p), logits])``.
    """

    def __init__(
        self,
        sample_rate: int,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        channels: int = 32,
        channel_growth: int = 4,
        max_channels: int = 1024,
        strides: Sequence[int] = (3, 3, 3, 3, 1),
        kernel_size: int = 5,
        post_kernel_size: int = 3,
        negative_slope: float = 0.1,
        use_weight_norm: bool = True,
    ) -> None:
        super().__init__(sample_rate)
        owner = type(self).__name__
        self.periods = positive_ints(periods, "periods", owner)
        strides = positive_ints(strides, "strides", owner)
        (channels, channel_growth, max_channels) = positive_ints(
            (channels, channel_growth, max_channels), "channels/channel_growth/max_channels", owner
        )
        for key, k in (("kernel_size", kernel_size), ("post_kernel_size", post_kernel_size)):
            if k < 1 or k % 2 == 0:
                raise ConfigError(f"{owner}: {key} must be odd and positive, got {k}")
        widths = [min(channels * channel_growth**i, max_channels) for i in range(len(strides))]
        self.discriminators = nn.ModuleList(
            PeriodDiscriminator(
                p, widths, strides, kernel_size, post_kernel_size, float(negative_slope), use_weight_norm
            )
            for p in self.periods
        )

    def forward(self, wav: torch.Tensor) -> list[SubOutput]:
        # Reflect padding needs more samples than it adds.
        self.check_wav(wav, min_length=max(self.periods))
        return [d(wav) for d in self.discriminators]
