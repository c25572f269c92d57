"""F0 + voicing from the log-mel alone, so an F0-driven generator (Wavehax) works as a plain mel vocoder.

:class:`F0Predictor`: mel ``(B, n_mels, T)`` -> ``(log_f0 (B, T), vuv_logit (B, T))`` at the mel frame
rate. A pointwise input projection, ``layers`` ConvNeXt-1D blocks (depthwise ``kernel`` conv over time,
layer norm over channels per frame, pointwise 4x MLP, residual) and a pointwise output of two channels:
continuous natural-log F0 in Hz (meaningful on voiced frames) and the voiced/unvoiced logit.
:meth:`F0Predictor.predict` turns them into F0 in Hz with 0 on unvoiced frames, clamped to the model's
``[f0_min, f0_max]``.

Every layer is either per frame or a finite convolution over time, so the output at frame ``t``
depends on frames ``t - context .. t + context`` only (``context = layers * (kernel - 1) // 2``): chunked
or streamed synthesis stays exact when this context is added to the generator's.

Stored beside the generator in a model folder as ``f0_predictor.safetensors`` (weights) +
``f0_predictor.yaml`` (``config``: :class:`F0PredictorConfig`; ``training``: how it was trained and
measured), written by :func:`save_f0_predictor`, read by :func:`load_f0_predictor`; trained by
:mod:`vocoder.train.f0_training` on the F0 labels the data pipeline caches (the model's F0 method/range).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from vocoder.atomic import write_text
from vocoder.errors import ModelError

WEIGHTS_FILE = "f0_predictor.safetensors"
CONFIG_FILE = "f0_predictor.yaml"

# log-mel (ln) of speech lies roughly in [-11.5, 2]; this centre and scale bring it near N(0, 1)
_MEL_CENTRE = -5.0
_MEL_SCALE = 2.5


@dataclass(frozen=True)
class F0PredictorConfig:
    """Shape of the predictor and the F0 range its outputs are clamped to (the model's F0 settings)."""

    n_mels: int = 80
    channels: int = 128
    layers: int = 6
    kernel: int = 7
    f0_min: float = 60.0
    f0_max: float = 700.0

    def to_dict(self) -> dict:
        return asdict(self)


class _ConvNeXt1d(nn.Module):
    """``(B, C, T) -> (B, C, T)``: depthwise conv over time, per-frame layer norm, pointwise MLP, residual."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.pw1 = nn.Linear(channels, 4 * channels)
        self.pw2 = nn.Linear(4 * channels, channels)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dwconv(x).transpose(1, 2)  # (B, T, C)
        h = self.pw2(self.act(self.pw1(self.norm(h))))
        return x + h.transpose(1, 2)


class F0Predictor(nn.Module):
    """mel ``(B, n_mels, T)`` -> ``(log_f0 (B, T), vuv_logit (B, T))``; see the module docstring."""

    def __init__(self, cfg: F0PredictorConfig) -> None:
        super().__init__()
        if cfg.kernel % 2 != 1 or cfg.kernel < 1:
            raise ValueError(f"f0 predictor kernel must be odd, got {cfg.kernel}")
        self.cfg = cfg
        self.inp = nn.Conv1d(cfg.n_mels, cfg.channels, 1)
        self.blocks = nn.ModuleList(_ConvNeXt1d(cfg.channels, cfg.kernel) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.channels)
        self.out = nn.Linear(cfg.channels, 2)
        # start the F0 channel at the geometric middle of the range, voicing undecided
        mid = 0.5 * (torch.tensor(cfg.f0_min).log() + torch.tensor(cfg.f0_max).log())
        with torch.no_grad():
            self.out.bias.copy_(torch.stack([mid, torch.tensor(0.0)]))

    @property
    def context(self) -> int:
        """Frames of mel the output at one frame sees on each side."""
        return self.cfg.layers * (self.cfg.kernel - 1) // 2

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.inp((mel - _MEL_CENTRE) / _MEL_SCALE)
        for block in self.blocks:
            h = block(h)
        out = self.out(self.norm(h.transpose(1, 2)))  # (B, T, 2)
        return out[..., 0], out[..., 1]

    def predict(self, mel: torch.Tensor) -> torch.Tensor:
        """F0 ``(B, T)`` in Hz: ``exp(log_f0)`` clamped to ``[f0_min, f0_max]`` where voiced, else 0."""
        log_f0, vuv = self(mel)
        f0 = log_f0.exp().clamp(self.cfg.f0_min, self.cfg.f0_max)
        return torch.where(vuv > 0, f0, torch.zeros_like(f0))


def has_f0_predictor(folder: str | Path) -> bool:
    """True when ``folder`` holds a predictor's weights."""
    return (Path(folder) / WEIGHTS_FILE).is_file()


def save_f0_predictor(folder: str | Path, predictor: F0Predictor, training: dict[str, Any]) -> None:
    """Write ``f0_predictor.safetensors`` and ``f0_predictor.yaml`` into ``folder`` (each atomically)."""
    from vocoder.models.artifact import write_weights

    folder = Path(folder)
    write_weights(folder / WEIGHTS_FILE, predictor.state_dict())
    write_text(folder / CONFIG_FILE, yaml.safe_dump({"config": predictor.cfg.to_dict(), "training": training},
                                                     sort_keys=False))


def load_f0_predictor(folder: str | Path) -> F0Predictor | None:
    """The eval-mode predictor stored in ``folder``, or None when it has none; a damaged pair of files
    is one :class:`~vocoder.errors.ModelError` line naming the file."""
    folder = Path(folder)
    if not has_f0_predictor(folder):
        return None
    from vocoder.models.artifact import read_weights

    cfg_path = folder / CONFIG_FILE
    try:
        meta = yaml.safe_load(cfg_path.read_text())
        known = {f.name for f in fields(F0PredictorConfig)}
        cfg = F0PredictorConfig(**{k: v for k, v in dict(meta["config"]).items() if k in known})
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as err:
        raise ModelError(f"{cfg_path}: not a readable F0 predictor config ({type(err).__name__}: {err})") from None
    predictor = F0Predictor(cfg)
    state = {k: v.float() for k, v in read_weights(folder, WEIGHTS_FILE).items()}
    try:
        predictor.load_state_dict(state)
    except RuntimeError:
        raise ModelError(f"{folder / WEIGHTS_FILE}: does not fit the F0 predictor in {cfg_path.name}") from None
    return predictor.eval()


def describe_f0_predictor(folder: str | Path) -> list[str]:
    """``vocoder info`` line of the predictor in ``folder`` (none without one): its size and how it was
    trained and measured."""
    if not has_f0_predictor(folder):
        return []
    path = Path(folder) / CONFIG_FILE
    try:
        meta = yaml.safe_load(path.read_text())
        cfg, training = meta["config"], dict(meta.get("training") or {})
        size = f"{cfg['layers']} ConvNeXt-1D blocks x {cfg['channels']} ch, F0 {cfg['f0_min']:g}-{cfg['f0_max']:g} Hz"
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return [f"f0 predictor: {path} is not readable"]
    line = f"f0 predictor: {size}"
    if training:
        line += f"; trained {training.get('steps')} steps"
        if training.get("train_minutes"):
            line += f" on {training['train_minutes']:g} min of audio"
        valid = training.get("valid") or {}
        if "f0_rmse_cents" in valid:
            line += (f", validation F0 RMSE {valid['f0_rmse_cents']:.0f} cent, "
                     f"V/UV error {100 * valid['vuv_error']:.1f} %")
    return [line]
