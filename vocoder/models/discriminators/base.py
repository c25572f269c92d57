"""The contract every discriminator keeps.

A discriminator takes a waveform ``(B, 1, L)`` and returns one ``(logits, feature_maps)`` pair per
sub-discriminator (one per period, resolution or scale). ``logits`` is the last conv's output map,
left unflattened (its shape is documented per class); losses reduce it with a mean. ``feature_maps``
are the intermediate activations used by feature-matching losses.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vocoder.errors import ConfigError, InputError

SubOutput = tuple[torch.Tensor, list[torch.Tensor]]


class Discriminator(nn.Module):
    """Base class: stores ``sample_rate`` (most discriminators ignore it) and checks the waveform."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.sample_rate = int(sample_rate)

    def check_wav(self, wav: torch.Tensor, min_length: int = 1) -> None:
        """Raise :class:`InputError` unless ``wav`` is ``(B, 1, L)`` float with ``L >= min_length``."""
        name = type(self).__name__
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise InputError(f"{name}: waveform must be (batch, 1, samples), got {tuple(wav.shape)}")
        if not wav.is_floating_point():
            raise InputError(f"{name}: waveform must be floating point, got {wav.dtype}")
        if wav.shape[-1] < min_length:
            raise InputError(f"{name}: waveform needs at least {min_length} samples, got {wav.shape[-1]}")

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def conv_stack(
    convs: nn.ModuleList, post: nn.Module, x: torch.Tensor, slope: float, logits_as_feature: bool
) -> SubOutput:
    """Run ``convs`` with LeakyReLU(``slope``) after each, then ``post``: ``(logits, feature maps)``.

    HiFi-GAN's MPD and UnivNet's MRD also count the logits map as a feature; EnCodec-style stacks don't.
    """
    feats: list[torch.Tensor] = []
    for conv in convs:
        x = torch.nn.functional.leaky_relu(conv(x), slope)
        feats.append(x)
    logits = post(x)
    if logits_as_feature:
        feats.append(logits)
    return logits, feats


def positive_ints(values: Sequence[int], key: str, owner: str) -> tuple[int, ...]:
    """Config lists of sizes (periods, FFT sizes...): non-empty, all positive ints, else ConfigError."""
    try:
        out = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise ConfigError(f"{owner}: {key} must be a list of positive integers, got {values!r}") from None
    if not out or any(v <= 0 for v in out) or any(float(v) != float(w) for v, w in zip(out, values)):
        raise ConfigError(f"{owner}: {key} must be a non-empty list of positive integers, got {values!r}")
    return out
