"""EnCodec's multi-scale STFT discriminator: 2-D convs over the complex STFT as real/imag channels.

Input ``(B, 1, L)``. Per scale ``(n_fft, hop, win)``: STFT with ``center=False`` and a periodic Hann
window, divided by ``sqrt(sum(window ** 2))`` (torchaudio's ``normalized=True``), laid out as
``(B, 2, T, F)`` with ``T = 1 + (L - n_fft) // hop`` and ``F = n_fft // 2 + 1``. Kernels are
(time, freq); the three stride-(1, 2) convs halve frequency, ``F -> (F - 1) // 2 + 1``, and dilate time
by 1, 2, 4. Logits ``(B, 1, T, F_last)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from vocoder.dsp.windows import window_torch
from vocoder.errors import ConfigError
from vocoder.models.discriminators.base import Discriminator, SubOutput, conv_stack, positive_ints
from vocoder.registry import register_discriminator


class STFTDiscriminator(nn.Module):
    """One scale: conv (3, 9) with no norm, convs (3, 9) stride (1, 2) dilated (d, 1), conv (3, 3), post (3, 3).

    Feature maps: the ``len(dilations) + 2`` conv outputs after LeakyReLU (the logits are not among them).
    """

    def __init__(
        self,
        n_fft: int,
        hop: int,
        win: int,
        filters: int,
        max_filters: int,
        filters_scale: int,
        dilations: Sequence[int],
        negative_slope: float,
        use_weight_norm: bool,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop, self.win = n_fft, hop, win
        self.negative_slope = negative_slope
        window = window_torch("hann", win)
        self.register_buffer("window", window, persistent=False)
        self.scale = float(window.pow(2).sum().rsqrt())
        norm = weight_norm if use_weight_norm else (lambda m: m)

        def width(i: int) -> int:
            return min(filters * filters_scale**i, max_filters)

        # The reference leaves the first conv without weight norm (its NormConv2d default is "none").
        convs = [nn.Conv2d(2, width(0), (3, 9), padding=(1, 4))]
        for i, d in enumerate(dilations):
            convs.append(
                norm(nn.Conv2d(width(i), width(i + 1), (3, 9), stride=(1, 2), dilation=(d, 1), padding=(d, 4)))
            )
        n = len(dilations)
        convs.append(norm(nn.Conv2d(width(n), width(n + 1), (3, 3), padding=(1, 1))))
        self.convs = nn.ModuleList(convs)
        self.post = norm(nn.Conv2d(width(n + 1), 1, (3, 3), padding=(1, 1)))

    def spectrum(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, 1, L)`` -> normalised complex STFT as ``(B, 2, T, F)`` (real, imag)."""
        spec = torch.stft(
            wav.squeeze(1),
            self.n_fft,
            hop_length=self.hop,
            win_length=self.win,
            window=self.window,
            center=False,
            return_complex=True,
        )
        spec = torch.view_as_real(spec) * self.scale  # (B, F, T, 2)
        return spec.permute(0, 3, 2, 1)

    def forward(self, wav: torch.Tensor) -> SubOutput:
        x = self.spectrum(wav)
        return conv_stack(self.convs, self.post, x, self.negative_slope, logits_as_feature=False)


@register_discriminator("msstft")
class MultiScaleSTFTDiscriminator(Discriminator):
    """Multi-scale STFT discriminator (MS-STFTD) of EnCodec, with AudioCraft's 5-scale setting.

    Reference: Défossez, Copet, Synnaeve, Adi, "High Fidelity Neural Audio Compression" (EnCodec),
    TMLR 2023 (arXiv 2210.13438); facebookresearch/audiocraft ``adversarial/discriminators/msstftd.py``
    and ``config/solver/compression/default.yaml``. Defaults: n_fft 1024, 2048, 512, 256, 128; hop
    n_fft / 4; win n_fft; 32 filters (scale 1, max 1024); time dilations 1, 2, 4; LeakyReLU 0.2
    (AudioCraft's compression config uses 0.3); weight norm on all but the first conv: 472,330 parameters.

    ``hop_lengths`` / ``win_lengths`` default to ``n_fft // 4`` / ``n_fft`` per scale.
    Output: one pair per scale, ``(logits (B, 1, T, F_last), [len(dilations) + 2 maps (B, C, T, F_i)])``.
    """

    def __init__(
        self,
        sample_rate: int,
        n_ffts: Sequence[int] = (1024, 2048, 512, 256, 128),
        hop_lengths: Sequence[int] | None = None,
        win_lengths: Sequence[int] | None = None,
        filters: int = 32,
        max_filters: int = 1024,
        filters_scale: int = 1,
        dilations: Sequence[int] = (1, 2, 4),
        negative_slope: float = 0.2,
        use_weight_norm: bool = True,
    ) -> None:
        super().__init__(sample_rate)
        owner = type(self).__name__
        n_ffts = positive_ints(n_ffts, "n_ffts", owner)
        hops = positive_ints(hop_lengths, "hop_lengths", owner) if hop_lengths is not None else None
        wins = positive_ints(win_lengths, "win_lengths", owner) if win_lengths is not None else None
        hops = hops or tuple(max(n // 4, 1) for n in n_ffts)
        wins = wins or n_ffts
        if not len(n_ffts) == len(hops) == len(wins):
            raise ConfigError(f"{owner}: n_ffts, hop_lengths and win_lengths must have the same length")
        if any(w > n for w, n in zip(wins, n_ffts)):
            raise ConfigError(f"{owner}: win_lengths must not exceed n_ffts, got {wins} and {n_ffts}")
        filters, max_filters, filters_scale = positive_ints(
            (filters, max_filters, filters_scale), "filters/max_filters/filters_scale", owner
        )
        dilations = positive_ints(dilations, "dilations", owner)
        self.scales = tuple(zip(n_ffts, hops, wins))
        self.discriminators = nn.ModuleList(
            STFTDiscriminator(
                n, h, w, filters, max_filters, filters_scale, dilations, float(negative_slope), use_weight_norm
            )
            for n, h, w in self.scales
        )

    def forward(self, wav: torch.Tensor) -> list[SubOutput]:
        self.check_wav(wav, min_length=max(n for n, _, _ in self.scales))
        return [d(wav) for d in self.discriminators]
