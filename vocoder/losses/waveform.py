"""Sample-domain L1: ``mean |y_hat - y|`` over ``(B, 1, L)`` waveforms.

Useless against natural recordings for a GAN vocoder (phase is not determined by the mel, so L1 blurs
it), but exact for distillation from a deterministic teacher with paired data (``data.input_root``):
the target is then a function of the student's very input, and matching samples fixes the phase that
magnitude losses leave open.
"""

from __future__ import annotations

from torch import Tensor

from vocoder.errors import InputError
from vocoder.losses.reconstruction import ReconstructionLoss
from vocoder.registry import register_loss


@register_loss("waveform")
class WaveformL1Loss(ReconstructionLoss):
    """``forward(y_hat, y)``: ``(B, 1, L)`` each -> scalar mean absolute difference."""

    def forward(self, y_hat: Tensor, y: Tensor) -> Tensor:
        if y_hat.shape != y.shape:
            raise InputError(f"waveform loss: generated shape {tuple(y_hat.shape)} != target shape {tuple(y.shape)}")
        return (y_hat - y).abs().mean()
