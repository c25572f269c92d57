"""What every reconstruction loss (generated vs target waveform) offers the training objective.

A reconstruction loss is a registered :class:`ReconstructionLoss`: ``forward(y_hat, y)`` on waveforms
``(B, 1, L)`` gives its value (a scalar, or for ``mrstft`` its two parts), and :meth:`~ReconstructionLoss.terms`
gives the named scalar terms the objective sums (and logs as ``loss/<term>``). Losses that also serve as a
validation metric (logged as ``valid/<name>``) set ``validation_metric``.
"""

from __future__ import annotations

import torch
from torch import Tensor


class ReconstructionLoss(torch.nn.Module):
    """Base of the losses between a generated waveform ``y_hat`` and its target ``y``."""

    registry_name: str
    validation_metric = False  # True: also computed on the validation utterances (``valid/<name>``)

    def terms(self, y_hat: Tensor, y: Tensor) -> dict[str, Tensor]:
        """Named scalar terms of the loss, whose sum is its value: by default ``{name: forward(y_hat, y)}``."""
        return {self.registry_name: self(y_hat, y)}
