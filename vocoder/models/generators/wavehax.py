"""Wavehax generator (Yoneyama et al., arXiv 2411.06807; reference chomeyama/wavehax): an alias-free
vocoder that works entirely at the frame rate on a complex spectrogram, guided by a harmonic prior.

mel ``(B, n_mels, T)`` and F0 ``(B, T)`` -> waveform ``(B, 1, T * hop)``:

1. PCPH prior waveform from F0 ``(B, 1, T * hop)`` (no gradient) -> STFT (n_fft = 2 * hop, "same")
   -> prior real and imag, each ``(B, F, T)`` with ``F = n_fft // 2 + 1``.
2. One shared ``Conv1d(F -> F, k=prior_kernel, reflect)`` along time (bins as channels) projects the prior
   real and imag maps; ``Conv1d(n_mels -> F, k=prior_kernel, reflect)`` projects the mel.
3. The 5 planes [prior_re, prior_im, proj_re, proj_im, mel_proj] form a ``(B, F, T, 5)`` channels-last
   image -> 1x1 conv (no bias) to ``channels`` -> layer norm -> ``num_blocks`` ConvNeXt-2D blocks
   -> layer norm -> 1x1 conv to 2 planes (real, imag) -> :class:`~vocoder.models.generators.istft_head.ISTFTHead`
   ("cartesian", "same") -> ``(B, 1, T * hop)``.

As the reference: the depthwise convs have no bias, the input 1x1 conv has none, all other layers
have one; every conv/linear weight is drawn from a truncated N(0, 0.02) and every bias is 0; layer
norms have eps 1e-6 and by default normalise over (F, T, channels) of each example (the reference's
``framewise_norm: false``); the layer scale starts at ``1 / num_blocks``. There is no weight norm.
The 1x1 convs are ``nn.Linear`` over a channels-last tensor (same maths, ~2x faster on CPU in torch);
the ONNX export traces an NCHW form of the same maths instead (:class:`WavehaxNCHW`, the generator's
``export_module()``), which onnxruntime runs faster. The depthwise kernel ``(kf, kt)`` is (frequency, time)
as in the reference.

Named configurations (``variant=``, reference ``wavehax.v1`` / ``wavehax.v2`` at 24 kHz, hop 240,
n_fft 480): "v1" 32 channels, mult 2, kernel (7, 7); "v2" 16 channels, mult 3, kernel (13, 7); both 8
blocks. Parameters at 100 mels: v1 622,951, v2 600,759.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from vocoder.dsp.excitation import PCPHPrior
from vocoder.dsp.stft import STFT
from vocoder.errors import ConfigError, InputError
from vocoder.infer.base import StreamContext
from vocoder.models.generators.base import MARGIN_FRAMES, Generator
from vocoder.models.generators.istft_head import ISTFTHead
from vocoder.models.generators.layers import ConvNeXtBlock2d, LayerNorm2d
from vocoder.registry import register_generator

WAVEHAX_VARIANTS: dict[str, dict[str, Any]] = {
    "v1": {"channels": 32, "mult": 2, "kernel_size": (7, 7), "num_blocks": 8},
    "v2": {"channels": 16, "mult": 3, "kernel_size": (13, 7), "num_blocks": 8},
}
DEFAULT_VARIANT = "v1"


@register_generator("wavehax")
class WavehaxGenerator(Generator):
    """Wavehax: mel ``(B, n_mels, T)`` + F0 ``(B, T)`` (+ noise ``(B, 1, T * hop)``, phase ``(B, 1)``)
    -> waveform ``(B, 1, T * hop)``.

    Arguments left as ``None`` come from ``variant`` (default "v1"); ``n_fft`` defaults to ``2 * hop``.
    ``f0_floor``, ``max_freq``, ``power_factor`` and ``noise_amplitude`` configure the
    :class:`~vocoder.dsp.excitation.PCPHPrior` (``max_freq`` None = Nyquist).
    """

    needs_f0 = True
    needs_noise = True
    takes_phase = True
    reference_config = {"recipe": "jvs/wavehax.yaml", "preset": "wavehax-24k", "params": {"variant": "v1"}}

    def __init__(
        self,
        sample_rate: int,
        hop: int,
        n_mels: int,
        variant: str | None = None,
        n_fft: int | None = None,
        channels: int | None = None,
        mult: int | None = None,
        kernel_size: int | tuple[int, int] | list[int] | None = None,
        num_blocks: int | None = None,
        prior_kernel: int = 7,
        f0_floor: float = 60.0,
        max_freq: float | None = None,
        power_factor: float = 0.1,
        noise_amplitude: float = 0.01,
        framewise_norm: bool = False,
    ) -> None:
        super().__init__(sample_rate, hop, n_mels)
        where = "generator wavehax"
        name = DEFAULT_VARIANT if variant is None else variant
        if name not in WAVEHAX_VARIANTS:
            raise ConfigError(f"{where}: unknown variant {name!r} (known: {', '.join(WAVEHAX_VARIANTS)})")
        base = WAVEHAX_VARIANTS[name]
        channels = int(base["channels"] if channels is None else channels)
        mult = int(base["mult"] if mult is None else mult)
        num_blocks = int(base["num_blocks"] if num_blocks is None else num_blocks)
        ks = base["kernel_size"] if kernel_size is None else kernel_size
        kernel = (int(ks), int(ks)) if isinstance(ks, int) else tuple(int(k) for k in ks)
        n_fft = 2 * self.hop if n_fft is None else int(n_fft)
        if len(kernel) != 2 or any(k < 1 or k % 2 == 0 for k in kernel):
            raise ConfigError(f"{where}: kernel_size must be one or two odd positive integers, got {ks!r}")
        if prior_kernel < 1 or prior_kernel % 2 == 0:
            raise ConfigError(f"{where}: prior_kernel must be an odd positive integer, got {prior_kernel}")
        if channels < 1 or mult < 1 or num_blocks < 1:
            raise ConfigError(
                f"{where}: channels, mult and num_blocks must be >= 1, got {channels}, {mult}, {num_blocks}"
            )
        if n_fft < self.hop:
            raise ConfigError(f"{where}: n_fft {n_fft} must be >= hop {self.hop}")
        n_bins = n_fft // 2 + 1
        if kernel[0] // 2 >= n_bins:
            raise ConfigError(f"{where}: kernel_size {kernel} is too tall for {n_bins} frequency bins")
        self.variant = variant
        self.n_fft, self.n_bins = n_fft, n_bins
        self.kernel_size = kernel
        # Reflect padding needs more frames than it adds on each side.
        self.min_frames = max(prior_kernel // 2, kernel[1] // 2) + 1

        self.prior = PCPHPrior(
            sample_rate,
            hop,
            f0_floor=f0_floor,
            max_freq=max_freq,
            power_factor=power_factor,
            noise_amplitude=noise_amplitude,
        )
        self.stft = STFT(n_fft, hop, padding="same")
        self.istft = ISTFTHead(n_fft, hop, padding="same", form="cartesian")
        pad = prior_kernel // 2
        self.prior_proj = nn.Conv1d(n_bins, n_bins, prior_kernel, padding=pad, padding_mode="reflect")
        self.cond_proj = nn.Conv1d(n_mels, n_bins, prior_kernel, padding=pad, padding_mode="reflect")
        self.input_proj = nn.Linear(5, channels, bias=False)
        self.input_norm = LayerNorm2d(channels, framewise=framewise_norm)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock2d(channels, mult, kernel, layer_scale=1.0 / num_blocks, framewise_norm=framewise_norm)
            for _ in range(num_blocks)
        )
        self.output_norm = LayerNorm2d(channels, framewise=framewise_norm)
        self.output_proj = nn.Linear(channels, 2)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def prior_spectrum(
        self, f0: Tensor, noise: Tensor | None = None, phase: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """F0 ``(B, T)`` -> (prior waveform ``(B, 1, T * hop)``, real, imag each ``(B, F, T)``), no grad."""
        with torch.no_grad():
            prior = self.prior(f0, noise, phase)
            real, imag = self.stft(prior)
        return prior, real, imag

    def stream_context(self) -> StreamContext:
        """STFT reach + ``prior_kernel // 2`` + ``num_blocks * (kt // 2)`` + ISTFT reach, all in frames
        (everything after the prior runs at the frame rate). v1 and v2 (hop 240, n_fft 480): 30 frames each
        side (measured 29). With ``framewise_norm: false`` (the reference's default) the layer norms see the
        whole utterance, so no finite context is exact: ``exact=False`` and streaming refuses the model."""
        hop, n_fft = self.hop, self.n_fft
        pad_left = (n_fft - hop) // 2
        # a frame reads n_fft samples starting pad_left before its hop (analysis), and the same window is
        # spread back over those samples (synthesis): both reach over whole frames
        stft_left, stft_right = math.ceil(pad_left / hop), math.ceil((n_fft - hop - pad_left) / hop)
        prior_k = self.prior_proj.kernel_size[0]
        block_t = sum(block.dwconv.kernel_size[1] // 2 for block in self.blocks)
        side_left = 2 * stft_left + prior_k // 2 + block_t + MARGIN_FRAMES
        side_right = 2 * stft_right + prior_k // 2 + block_t + MARGIN_FRAMES
        if not self.input_norm.framewise:
            reason = (
                "wavehax with framewise_norm: false normalises over the whole utterance, so chunks cannot "
                "reproduce offline synthesis; train with generator.params.framewise_norm: true to stream"
            )
            return StreamContext(side_left, side_right, exact=False, reason=reason)
        return StreamContext(side_left, side_right)

    def export_module(self) -> nn.Module:
        """:class:`WavehaxNCHW`: the same maths in the layout onnxruntime runs fastest."""
        return WavehaxNCHW(self)

    def planes(
        self, mel: Tensor, f0: Tensor | None, noise: Tensor | None = None, phase: Tensor | None = None
    ) -> list[Tensor]:
        """Checked inputs -> the 5 input planes [prior_re, prior_im, proj_re, proj_im, mel_proj], each
        ``(B, F, T)``."""
        if f0 is None:
            raise InputError("WavehaxGenerator needs F0 (one value per mel frame)")
        if not torch.jit.is_tracing():
            self.check_inputs(mel, f0)
            if mel.shape[2] < self.min_frames:
                raise InputError(f"mel has {mel.shape[2]} frames; Wavehax needs at least {self.min_frames}")
        _, pre, pim = self.prior_spectrum(f0, noise, phase)
        batch = mel.shape[0]
        # One conv call for both planes: the projection is shared, so stack them along the batch.
        proj = self.prior_proj(torch.cat([pre, pim], dim=0))
        return [pre, pim, proj[:batch], proj[batch:], self.cond_proj(mel)]

    def forward(
        self,
        mel: Tensor,
        f0: Tensor | None = None,
        noise: Tensor | None = None,
        phase: Tensor | None = None,
    ) -> Tensor:
        """mel ``(B, n_mels, T)``, f0 ``(B, T)`` or ``(B, 1, T)`` Hz, optional standard-normal noise
        ``(B, 1, T * hop)`` and start phase ``(B, 1)`` in cycles -> waveform ``(B, 1, T * hop)``.
        With ``noise`` and ``phase`` given the output is deterministic."""
        x = torch.stack(self.planes(mel, f0, noise, phase), dim=-1)  # (B, F, T, 5)
        x = self.input_norm(self.input_proj(x))
        for block in self.blocks:
            x = block(x)
        x = self.output_proj(self.output_norm(x))  # (B, F, T, 2)
        return self.istft(x[..., 0], x[..., 1])

    def _blocks_nchw(self, x: Tensor) -> Tensor:
        """Export form of the network after the inputs: planes ``(B, 5, F, T)`` -> waveform ``(B, 1, T * hop)``,
        the same maths as :meth:`forward` in the layout onnxruntime runs fastest (see
        :meth:`ConvNeXtBlock2d.forward_nchw`)."""
        b, _, nf, nt = x.shape
        x = torch.matmul(self.input_proj.weight, x.reshape(b, 5, nf * nt)).reshape(b, -1, nf, nt)
        x = self.input_norm.forward_nchw(x)
        for block in self.blocks:
            x = block.forward_nchw(x)
        x = self.output_norm.forward_nchw(x).reshape(b, -1, nf * nt)
        x = (torch.matmul(self.output_proj.weight, x) + self.output_proj.bias[:, None]).reshape(b, 2, nf, nt)
        return self.istft(x[:, 0], x[:, 1])


class WavehaxNCHW(nn.Module):
    """Export form of a :class:`WavehaxGenerator` (shares its modules): the input planes of
    :meth:`WavehaxGenerator.planes`, then :meth:`WavehaxGenerator._blocks_nchw`."""

    def __init__(self, generator: WavehaxGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(
        self, mel: Tensor, f0: Tensor | None = None, noise: Tensor | None = None, phase: Tensor | None = None
    ) -> Tensor:
        """The inputs of :meth:`WavehaxGenerator.forward` -> waveform ``(B, 1, T * hop)``."""
        return self.generator._blocks_nchw(torch.stack(self.generator.planes(mel, f0, noise, phase), dim=1))
