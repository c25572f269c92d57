"""Conv1d layers lowered to height-1 2-D convs: the same maths in the layout onnxruntime runs faster.

onnxruntime runs 2-D convs in its blocked NCHWc layout and 1-D ones through im2col + GEMM. iSTFTNet
V1-C8C8I, 4 s, 1 thread: 18 % less onnxruntime kernel time (0.89 s vs 1.08 s); PWG got slower (its many
small 1x1 convs pay the layout reorders), so a generator opts in through its
:meth:`~vocoder.models.generators.base.Generator.export_module`.
"""

from __future__ import annotations

from copy import deepcopy

import torch
from torch import nn


class Conv1dAs2d(nn.Module):
    """A zero-padded ``nn.Conv1d`` computed as a height-1 ``conv2d``: ``(B, C, L) -> (B, C', L')``, same maths."""

    def __init__(self, conv: nn.Conv1d) -> None:
        super().__init__()
        self.weight = nn.Parameter(conv.weight.detach().unsqueeze(2), requires_grad=False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach(), requires_grad=False)
        self.stride, self.padding = (1, conv.stride[0]), (0, conv.padding[0])
        self.dilation, self.groups = (1, conv.dilation[0]), conv.groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.conv2d(x.unsqueeze(2), self.weight, self.bias, self.stride, self.padding, self.dilation,
                                 self.groups)
        return y.squeeze(2)


def conv1d_as_conv2d(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose zero-padded ``Conv1d`` layers are :class:`Conv1dAs2d` (the original is
    untouched; reflect-padded or string-padded convs stay as they are)."""
    copy = deepcopy(module)
    for parent in list(copy.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Conv1d and child.padding_mode == "zeros" and not isinstance(child.padding, str):
                setattr(parent, name, Conv1dAs2d(child))
    return copy
