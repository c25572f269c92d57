"""Parallel WaveGAN generator (Yamamoto et al., 2020), numerically equal to kan-bayashi/ParallelWaveGAN 0.6.1.

A non-causal WaveNet turns Gaussian noise ``z`` ``(B, 1, T * hop)`` into a waveform ``(B, 1, T * hop)``,
conditioned on the log-mel ``(B, n_mels, T)`` upsampled to one vector per sample:

- mel upsampler: replication-pad ``aux_context_window`` frames on each side, a Conv1d with kernel
  ``2 * ctx + 1`` and no padding (back to ``T`` frames), then per scale ``s`` a nearest-neighbour stretch
  by ``s`` along time and a Conv2d of kernel ``(1, 2s + 1)`` (a smoothing filter shared by all mel bins,
  initialised to a box filter) -> ``(B, n_mels, T * hop)``;
- ``layers`` gated residual blocks, dilations ``1, 2, ..., 2**(layers/stacks - 1)`` repeated ``stacks``
  times; each: dilated conv -> + 1x1 conv of the upsampled mel -> ``tanh(a) * sigmoid(b)`` -> 1x1 skip
  and 1x1 residual, the residual sum scaled by ``sqrt(0.5)``;
- the skips are summed, scaled by ``sqrt(1 / layers)`` and go through ReLU-1x1-ReLU-1x1.

Weight norm (``torch.nn.utils.parametrizations.weight_norm``) sits on every Conv1d/Conv2d, as in the
reference; :mod:`vocoder.models.convert_pwg` maps the reference's ``weight_g``/``weight_v`` onto it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from vocoder.errors import ConfigError, InputError
from vocoder.infer.base import StreamContext
from vocoder.models.generators.base import Generator, context_frames
from vocoder.registry import register_generator


def default_upsample_scales(hop: int) -> list[int]:
    """Factor ``hop`` into upsampling scales: as many 4s as divide it, then the remaining prime factors
    in ascending order (256 -> [4, 4, 4, 4], 300 -> [4, 3, 5, 5], 160 -> [4, 4, 2, 5]).

    Small factors keep each stretch-and-smooth step short, which is what the reference configs do.
    """
    if hop < 1:
        raise ConfigError(f"pwg: hop must be a positive integer, got {hop}")
    scales: list[int] = []
    rest = hop
    while rest % 4 == 0:
        scales.append(4)
        rest //= 4
    factor = 2
    while rest > 1:
        while rest % factor == 0:
            scales.append(factor)
            rest //= factor
        factor += 1
    return scales or [1]


def check_upsample_scales(scales: list[int], hop: int) -> list[int]:
    """``scales`` as ints; :class:`ConfigError` unless they are positive and multiply to ``hop``."""
    try:
        scales = [int(s) for s in scales]
    except (TypeError, ValueError):
        raise ConfigError(f"pwg: upsample_scales must be a list of integers, got {scales!r}") from None
    if not scales or any(s < 1 for s in scales):
        raise ConfigError(f"pwg: upsample_scales must be positive integers, got {scales}")
    if math.prod(scales) != hop:
        raise ConfigError(f"pwg: upsample_scales {scales} multiply to {math.prod(scales)}, but hop is {hop}")
    return scales


class MelUpsampler(nn.Module):
    """Context conv + stretch-and-smooth: mel ``(B, n_mels, T)`` -> ``(B, n_mels, T * prod(scales))``.

    The mel is padded here by replicating ``context`` edge frames (what the reference's ``inference``
    does before calling its network), so callers pass plain ``T``-frame mels.
    """

    def __init__(self, n_mels: int, context: int, scales: list[int]) -> None:
        super().__init__()
        self.context = context
        self.scales = list(scales)
        self.conv_in = nn.Conv1d(n_mels, n_mels, kernel_size=2 * context + 1, bias=False)
        self.smoothers = nn.ModuleList(
            nn.Conv2d(1, 1, kernel_size=(1, 2 * s + 1), padding=(0, s), bias=False) for s in self.scales
        )

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if self.context > 0:
            mel = F.pad(mel, (self.context, self.context), mode="replicate")
        c = self.conv_in(mel)  # (B, n_mels, T)
        for scale, smooth in zip(self.scales, self.smoothers):
            # nearest-neighbour stretch as repeat: exact, and exports without float index arithmetic
            c = c.unsqueeze(-1).expand(-1, -1, -1, scale).flatten(-2)
            # The (1, 2s+1) Conv2d shared across bins, run as a conv1d over (B * n_mels) rows: same numbers;
            # the exported graph's peak on a 10-minute input fell from 2210 to 1663 MB (torch eager: unchanged).
            b, m, length = c.shape
            c = F.conv1d(c.reshape(b * m, 1, length), smooth.weight.view(1, 1, -1), padding=scale)
            c = c.view(b, m, length)
        return c


class GatedResidualBlock(nn.Module):
    """WaveNet block: ``x`` ``(B, residual, L)`` and mel ``c`` ``(B, n_mels, L)``
    -> (next ``x`` ``(B, residual, L)``, skip ``(B, skip, L)``)."""

    def __init__(
        self,
        residual_channels: int,
        gate_channels: int,
        skip_channels: int,
        n_mels: int,
        kernel_size: int,
        dilation: int,
        dropout: float,
        bias: bool,
    ) -> None:
        super().__init__()
        self.dropout = dropout
        half = gate_channels // 2
        self.dilated = nn.Conv1d(
            residual_channels,
            gate_channels,
            kernel_size,
            dilation=dilation,
            padding=(kernel_size - 1) // 2 * dilation,
            bias=bias,
        )
        self.aux = nn.Conv1d(n_mels, gate_channels, 1, bias=False)
        self.skip = nn.Conv1d(half, skip_channels, 1, bias=bias)
        self.residual = nn.Conv1d(half, residual_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.dilated(F.dropout(x, p=self.dropout, training=self.training))
        if not torch.is_grad_enabled():
            return self._forward_no_grad(x, c, h)
        h_tanh, h_sigmoid = h.chunk(2, dim=1)
        c_tanh, c_sigmoid = self.aux(c).chunk(2, dim=1)
        h = torch.tanh(h_tanh + c_tanh) * torch.sigmoid(h_sigmoid + c_sigmoid)
        # sqrt(0.5) keeps the variance of the residual stream constant through the stack
        return (self.residual(h) + x) * math.sqrt(0.5), self.skip(h)

    def _forward_no_grad(self, x: torch.Tensor, c: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inference form of :meth:`forward` (within ~1e-6): in-place elementwise ops on fresh tensors and
        ``tanh(a) = 2 * sigmoid(2a) - 1`` (torch's CPU tanh took 7x sigmoid's time, 12 % of a PWG v1 run).
        The ONNX export (traced without grad) records this form too: 1251 instead of 1521 nodes for PWG v1,
        onnxruntime within 2e-6 of torch and as fast (4 s of audio, 1 thread: 2.71 s vs 2.66 s best of 8).
        One concatenated 1x1 conv for residual + skip was tried and was slower at 4 s of audio."""
        h = h.add_(self.aux(c))
        h_tanh, h_sigmoid = h.chunk(2, dim=1)
        z = h_tanh.mul(2.0).sigmoid_().mul_(2.0).sub_(1.0).mul_(h_sigmoid.sigmoid())
        return self.residual(z).add_(x).mul_(math.sqrt(0.5)), self.skip(z)


@register_generator("pwg")
class ParallelWaveGAN(Generator):
    """Parallel WaveGAN: mel ``(B, n_mels, T)`` + noise ``(B, 1, T * hop)`` -> wav ``(B, 1, T * hop)``.

    ``upsample_scales`` must multiply to ``hop``; None picks :func:`default_upsample_scales` (4s first).
    With the reference defaults (80 mels, hop 256) it has 1,346,042 parameters, 1,334,309 once weight
    norm is folded.
    """

    needs_noise = True
    # The last block's residual 1x1 conv never reaches the output (as in the reference): DDP must know.
    has_unused_parameters = True
    needs_f0 = False
    # Parallel WaveGAN v1 (paper / reference default): 30 layers, 3 stacks, 64/128/64 channels
    reference_config = {"recipe": "ljspeech/pwg.yaml", "preset": "pwg-22k", "params": {}}

    def __init__(
        self,
        sample_rate: int,
        hop: int,
        n_mels: int,
        layers: int = 30,
        stacks: int = 3,
        residual_channels: int = 64,
        gate_channels: int = 128,
        skip_channels: int = 64,
        kernel_size: int = 3,
        aux_context_window: int = 2,
        upsample_scales: list[int] | None = None,
        dropout: float = 0.0,
        bias: bool = True,
        use_weight_norm: bool = True,
    ) -> None:
        super().__init__(sample_rate, hop, n_mels)
        if layers < 1 or stacks < 1 or layers % stacks != 0:
            raise ConfigError(f"pwg: layers ({layers}) must be a positive multiple of stacks ({stacks})")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"pwg: kernel_size must be odd (non-causal 'same' padding), got {kernel_size}")
        if gate_channels < 2 or gate_channels % 2 != 0:
            raise ConfigError(f"pwg: gate_channels must be even (tanh/sigmoid halves), got {gate_channels}")
        if aux_context_window < 0:
            raise ConfigError(f"pwg: aux_context_window must be >= 0, got {aux_context_window}")
        if upsample_scales is None:
            upsample_scales = default_upsample_scales(self.hop)
        self.upsample_scales = check_upsample_scales(upsample_scales, self.hop)
        self.layers = layers
        self.stacks = stacks
        self.kernel_size = kernel_size
        self.aux_context_window = aux_context_window

        per_stack = layers // stacks
        self.input_conv = nn.Conv1d(1, residual_channels, 1, bias=True)
        self.upsampler = MelUpsampler(n_mels, aux_context_window, self.upsample_scales)
        self.blocks = nn.ModuleList(
            GatedResidualBlock(
                residual_channels,
                gate_channels,
                skip_channels,
                n_mels,
                kernel_size,
                dilation=2 ** (i % per_stack),
                dropout=dropout,
                bias=bias,
            )
            for i in range(layers)
        )
        self.output_conv1 = nn.Conv1d(skip_channels, skip_channels, 1, bias=True)
        self.output_conv2 = nn.Conv1d(skip_channels, 1, 1, bias=True)

        self._reset_parameters()
        if use_weight_norm:
            for module in self.modules():
                if isinstance(module, (nn.Conv1d, nn.Conv2d)):
                    weight_norm(module)

    def _reset_parameters(self) -> None:
        # the reference's init: He-normal convs with zero bias; upsampling Conv2d starts as a box filter
        # so that a fresh model passes the stretched mel through as a smooth ramp
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Conv2d):
                nn.init.constant_(module.weight, 1.0 / module.weight[0, 0].numel())

    @property
    def receptive_field(self) -> int:
        """Receptive field of the WaveNet stack in samples (6139 for the reference defaults)."""
        per_stack = self.layers // self.stacks
        return (self.kernel_size - 1) * sum(2 ** (i % per_stack) for i in range(self.layers)) + 1

    def stream_context(self) -> StreamContext:
        """The WaveNet's half receptive field ``(rf - 1) / 2`` samples (3069 for the reference's 30 layers)
        + the mel upsampler's smoothing convs (``sum_i s_i * hop / prod(s_1..s_i)`` samples) + its
        ``aux_context_window`` frames, each side. Reference config: 15 frames at hop 300 (measured 14),
        17 at hop 256 (measured 16)."""
        half = (self.receptive_field - 1) // 2
        smoothing, rate = 0.0, 1
        for scale in self.upsample_scales:
            rate *= scale
            smoothing += scale * self.hop / rate
        return context_frames(half + smoothing, half + smoothing, self.hop, extra=self.aux_context_window)

    def forward(
        self,
        mel: torch.Tensor,
        f0: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        phase: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """mel ``(B, n_mels, T)``, noise ``(B, 1, T * hop)`` (None: standard normal) -> ``(B, 1, T * hop)``.

        ``f0`` and ``phase`` are accepted for the common generator signature and ignored.
        """
        self.check_inputs(mel)
        batch, _, frames = mel.shape
        if frames < 1:
            raise InputError("mel has no frames")
        length = frames * self.hop
        if noise is None:
            noise = torch.randn(batch, 1, length, device=mel.device, dtype=mel.dtype)
        elif noise.dim() != 3 or noise.shape[0] != batch or noise.shape[1] != 1 or noise.shape[2] != length:
            want = (batch, 1, length)
            raise InputError(f"noise must be (batch, 1, frames * hop) = {want}, got {tuple(noise.shape)}")

        c = self.upsampler(mel)
        x = self.input_conv(noise)
        skips = None
        for block in self.blocks:
            x, skip = block(x, c)
            if skips is None:
                skips = skip
            elif torch.is_grad_enabled():
                skips = skips + skip
            else:
                skips.add_(skip)
        x = skips * math.sqrt(1.0 / len(self.blocks))
        x = self.output_conv1(F.relu(x))
        return self.output_conv2(F.relu(x))
