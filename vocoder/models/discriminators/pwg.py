"""Parallel WaveGAN's waveform discriminator: a plain stack of dilated 1-D convs, one logit per sample.

Input ``(B, 1, L)``; logits ``(B, 1, L)``; feature maps: the ``layers - 1`` hidden activations,
each ``(B, channels, L)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from vocoder.errors import ConfigError
from vocoder.models.discriminators.base import Discriminator, SubOutput
from vocoder.registry import register_discriminator


@register_discriminator("pwg")
class ParallelWaveGANDiscriminator(Discriminator):
    """Non-conditional dilated-conv discriminator of Parallel WaveGAN.

    Reference: Yamamoto, Song, Kim, "Parallel WaveGAN", ICASSP 2020 (arXiv 1910.11480); layout as in
    kan-bayashi/ParallelWaveGAN ``ParallelWaveGANDiscriminator``: ``layers - 1`` hidden convs with
    dilations 1, 1, 2, 3, ... (linear: hidden layer ``i >= 1`` has dilation ``i``, or
    ``dilation_factor ** i`` when ``dilation_factor > 1``), LeakyReLU, then an undilated output conv.
    Defaults (10 layers, 64 channels, kernel 3, slope 0.2, weight norm): 99,842 parameters.

    Output: a single pair ``[(logits (B, 1, L), [hidden (B, channels, L)] * (layers - 1))]``.
    """

    def __init__(
        self,
        sample_rate: int,
        layers: int = 10,
        channels: int = 64,
        kernel_size: int = 3,
        dilation_factor: int = 1,
        negative_slope: float = 0.2,
        use_weight_norm: bool = True,
    ) -> None:
        super().__init__(sample_rate)
        owner = type(self).__name__
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"{owner}: kernel_size must be odd and positive, got {kernel_size}")
        if layers < 2:
            raise ConfigError(f"{owner}: layers must be at least 2 (hidden + output), got {layers}")
        if channels < 1 or dilation_factor < 1:
            raise ConfigError(f"{owner}: channels and dilation_factor must be positive")
        self.negative_slope = float(negative_slope)

        def conv(c_in: int, c_out: int, dilation: int) -> nn.Conv1d:
            layer = nn.Conv1d(c_in, c_out, kernel_size, padding=(kernel_size - 1) // 2 * dilation, dilation=dilation)
            # The reference initialises its convs with Kaiming-normal weights and zero bias.
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
            return weight_norm(layer) if use_weight_norm else layer

        hidden = []
        for i in range(layers - 1):
            dilation = 1 if i == 0 else (i if dilation_factor == 1 else dilation_factor**i)
            hidden.append(conv(1 if i == 0 else channels, channels, dilation))
        self.hidden = nn.ModuleList(hidden)
        self.output = conv(channels, 1, 1)

    def forward(self, wav: torch.Tensor) -> list[SubOutput]:
        self.check_wav(wav)
        x = wav
        feats: list[torch.Tensor] = []
        for layer in self.hidden:
            x = F.leaky_relu(layer(x), self.negative_slope)
            feats.append(x)
        return [(self.output(x), feats)]
