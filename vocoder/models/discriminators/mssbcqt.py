"""Multi-scale sub-band constant-Q discriminator (MS-SB-CQTD; Gu et al., ICASSP 2024; Amphion, BigVGAN-v2).

Input ``(B, 1, L)`` at ``sample_rate``. It is upsampled 2x once (shared by all scales), so each
scale's CQT runs at ``2 * sample_rate``. Per scale: CQT ``(B, 2, n_bins, T)`` -> real and imaginary
parts as 2 channels laid out ``(B, 2, T, n_bins)``, ``T = 2L // hop + 1`` -> one 2->2 Conv2d per
octave (kernel (3, 9), no norm) re-joined along frequency -> conv stack -> logits
``(B, 1, T, ceil(n_bins / 8))``. Feature maps: the 5 conv outputs after LeakyReLU(0.1),
``(B, filters, T, F_i)`` with ``F_i = n_bins, n_bins/2, n_bins/4, n_bins/8, n_bins/8`` (rounded up).

Octaves: ``n_octaves=None`` (default) picks, per scale, the largest count up to 9 whose top bin
``fmin * 2 ** (n_octaves - 1 / bins_per_octave)`` is at or below ``sample_rate`` (the Nyquist of the
upsampled signal). That is the reference 9 octaves from 22.05 kHz up, and 8 octaves at 16 kHz
(top bins 8133 / 8212 / 8251 Hz for 24 / 36 / 48 bins per octave: the top octave reaches just past
the 8 kHz input Nyquist, as the reference's 9 octaves reach past 12 kHz at 24 kHz). An explicit
``n_octaves`` (int or one per scale) is checked and refused with a ConfigError when it does not fit.
Every hop must be divisible by ``2 ** (n_octaves - 1)`` (256 for 9 octaves).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from vocoder.dsp.cqt import ConstantQTransform, cqt_top_frequency, max_cqt_octaves
from vocoder.dsp.resample import Upsample2x
from vocoder.errors import ConfigError, InputError
from vocoder.registry import register_discriminator

LRELU_SLOPE = 0.1
MAX_AUTO_OCTAVES = 9  # the reference design; 9 octaves also need hops divisible by 256


def _same_padding(kernel: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    return ((kernel[0] - 1) * dilation[0] // 2, (kernel[1] - 1) * dilation[1] // 2)


class SubbandCQTDiscriminator(nn.Module):
    """One scale: ``(B, 1, L2)`` at ``cqt_sample_rate`` -> ``(logits (B, 1, T, F'), 5 feature maps)``."""

    def __init__(
        self,
        cqt_sample_rate: int,
        hop_length: int,
        n_octaves: int,
        bins_per_octave: int,
        fmin: float,
        filters: int = 32,
        max_filters: int = 1024,
        filters_scale: int = 1,
        dilations: Sequence[int] = (1, 2, 4),
        kernel_size: tuple[int, int] = (3, 9),
    ) -> None:
        super().__init__()
        self.cqt = ConstantQTransform(
            cqt_sample_rate, hop_length, fmin=fmin, n_octaves=n_octaves, bins_per_octave=bins_per_octave
        )
        self.n_octaves = n_octaves
        self.bins_per_octave = bins_per_octave
        k_t = kernel_size[0]
        # Sub-band processing: each octave has its own filter (CQT2010 octaves are computed at different
        # rates with very different window lengths), no norm and no activation, as in the reference.
        self.subband_convs = nn.ModuleList(
            nn.Conv2d(2, 2, kernel_size, padding=_same_padding(kernel_size)) for _ in range(n_octaves)
        )
        self.convs = nn.ModuleList()
        self.convs.append(nn.Conv2d(2, filters, kernel_size, padding=_same_padding(kernel_size)))
        in_ch = min(filters_scale * filters, max_filters)
        for i, d in enumerate(dilations):
            out_ch = min(filters_scale ** (i + 1) * filters, max_filters)
            conv = nn.Conv2d(
                in_ch, out_ch, kernel_size, stride=(1, 2), dilation=(d, 1),
                padding=_same_padding(kernel_size, (d, 1)),
            )
            self.convs.append(weight_norm(conv))
            in_ch = out_ch
        out_ch = min(filters_scale ** (len(dilations) + 1) * filters, max_filters)
        square = (k_t, k_t)
        self.convs.append(weight_norm(nn.Conv2d(in_ch, out_ch, square, padding=_same_padding(square))))
        self.conv_post = weight_norm(nn.Conv2d(out_ch, 1, square, padding=_same_padding(square)))

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        z = self.cqt(x).transpose(2, 3)  # (B, 2, T, n_bins): time on axis 2, frequency on axis 3
        bpo = self.bins_per_octave
        z = torch.cat(
            [conv(z[..., i * bpo : (i + 1) * bpo]) for i, conv in enumerate(self.subband_convs)], dim=-1
        )
        fmaps = []
        for conv in self.convs:
            z = F.leaky_relu(conv(z), LRELU_SLOPE)
            fmaps.append(z)
        return self.conv_post(z), fmaps


def _per_scale(value: int | Sequence[int], n: int, key: str) -> list[int]:
    values = [value] * n if isinstance(value, int) else list(value)
    if len(values) != n:
        raise ConfigError(f"mssbcqt: {key} has {len(values)} entries but there are {n} scales (hops)")
    return values


@register_discriminator("mssbcqt")
class MultiScaleSubbandCQTDiscriminator(nn.Module):
    """MS-SB-CQTD: ``(B, 1, L)`` -> one ``(logits (B, 1, T_s, F_s), [5 feature maps])`` per scale.

    With the defaults at 24 kHz: hops 512 / 256 / 256, 9 octaves of 24 / 36 / 48 bins (216 / 324 / 432
    bins), ``T_s = 2L // hop_s + 1``, logit widths 27 / 41 / 54. See the module docstring for the
    octave rule.
    """

    def __init__(
        self,
        sample_rate: int,
        hops: Sequence[int] = (512, 256, 256),
        n_octaves: int | Sequence[int] | None = None,
        bins_per_octave: int | Sequence[int] = (24, 36, 48),
        filters: int = 32,
        fmin: float = 32.7,
        max_filters: int = 1024,
        filters_scale: int = 1,
        dilations: Sequence[int] = (1, 2, 4),
        normalize_volume: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(sample_rate, int) or sample_rate < 1:
            raise ConfigError(f"mssbcqt: sample_rate must be a positive integer, got {sample_rate!r}")
        hops = list(hops)
        if not hops:
            raise ConfigError("mssbcqt: hops is empty; give one hop per scale")
        bpos = _per_scale(bins_per_octave, len(hops), "bins_per_octave")
        cqt_rate = 2 * sample_rate
        if n_octaves is None:
            octaves = [min(MAX_AUTO_OCTAVES, max_cqt_octaves(cqt_rate, fmin, b)) for b in bpos]
        else:
            octaves = _per_scale(n_octaves, len(hops), "n_octaves")
        for i, (hop, n, b) in enumerate(zip(hops, octaves, bpos)):
            if n < 1:
                raise ConfigError(f"mssbcqt: scale {i} has n_octaves {n}; need at least 1 (fmin {fmin} Hz)")
            top = cqt_top_frequency(fmin, n, b)
            if top > sample_rate:
                raise ConfigError(
                    f"mssbcqt: scale {i} with {n} octaves of {b} bins from {fmin} Hz has its top bin at "
                    f"{top:.0f} Hz, above the {sample_rate} Hz Nyquist of the 2x-upsampled {sample_rate} Hz "
                    f"input; use n_octaves <= {max_cqt_octaves(cqt_rate, fmin, b)} or n_octaves=None"
                )
            if hop % 2 ** (n - 1):
                raise ConfigError(
                    f"mssbcqt: scale {i} hop {hop} is not divisible by 2**(n_octaves-1) = {2 ** (n - 1)}"
                )
        self.sample_rate = sample_rate
        self.hops = hops
        self.n_octaves = octaves
        self.bins_per_octave = bpos
        self.normalize_volume = normalize_volume
        self.upsample = Upsample2x()
        self.discriminators = nn.ModuleList(
            SubbandCQTDiscriminator(
                cqt_rate, hop, n, b, fmin,
                filters=filters, max_filters=max_filters, filters_scale=filters_scale, dilations=dilations,
            )
            for hop, n, b in zip(hops, octaves, bpos)
        )

    def forward(self, wav: Tensor) -> list[tuple[Tensor, list[Tensor]]]:
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise InputError(f"mssbcqt expects a waveform of shape (B, 1, L), got {tuple(wav.shape)}")
        if self.normalize_volume:
            # BigVGAN-v2's option: judge timbre, not level (DC removed, peak set to 0.8).
            wav = wav - wav.mean(dim=-1, keepdim=True)
            wav = 0.8 * wav / (wav.abs().amax(dim=-1, keepdim=True) + 1e-9)
        up = self.upsample(wav)
        return [disc(up) for disc in self.discriminators]
