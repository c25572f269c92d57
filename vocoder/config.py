"""Typed run configuration: dataclasses for every section, YAML loading, ``--set`` overrides.

A recipe YAML has the sections ``features``, ``generator``, ``discriminators``, ``losses``, ``optim``,
``train`` and ``data``. Unknown keys and wrong types raise :class:`~vocoder.errors.ConfigError` with
one line naming the file and the dotted key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vocoder.errors import ConfigError


@dataclass
class FeatureConfig:
    """Log-mel front end (and F0 settings) shared by data, models, checkpoints and ONNX files.

    ``padding``: "same" pads (n_fft - hop) // 2 on both sides (HiFi-GAN style), "center" pads n_fft // 2
    (librosa ``center=True``) and drops the last frame. Either way ``T * hop`` samples give ``T`` frames.
    """

    preset: str | None = None
    sample_rate: int = 16000
    n_fft: int = 1024
    hop: int = 160
    win_length: int | None = None
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float | None = 8000.0
    log: str = "ln"  # "ln" or "log10"
    clamp: float = 1e-5
    padding: str = "same"  # "same" or "center"
    pad_mode: str = "reflect"
    mel_scale: str = "slaney"  # "slaney" or "htk"
    mel_norm: str | None = "slaney"  # "slaney" or None
    power: float = 1.0  # 1 = magnitude mel, 2 = power mel
    mean: list[float] | None = None  # optional per-bin normalisation stats (ESPnet/PWG style)
    std: list[float] | None = None
    f0_method: str = "harvest"
    f0_min: float = 60.0
    f0_max: float = 700.0

    @property
    def win(self) -> int:
        return self.win_length or self.n_fft
