"""Several registered discriminators run on the same waveform, outputs keyed by name.

Input ``(B, 1, L)``; output ``{name: [(logits, feature_maps), ...]}`` with one list per discriminator,
in the order of ``specs``. A name that repeats gets a suffix: ``mpd``, ``mpd_2``, ``mpd_3``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from vocoder.errors import ConfigError
from vocoder.models.discriminators.base import SubOutput
from vocoder.registry import build


def _name_and_params(spec: Any, where: str) -> tuple[str, dict[str, Any]]:
    """Accept ``{"name": ..., "params": {...}}`` or any object with ``name`` and ``params`` (``ModelSpec``)."""
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - {"name", "params"})
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: name, params)")
        name, params = spec.get("name"), spec.get("params")
    else:
        name, params = getattr(spec, "name", None), getattr(spec, "params", None)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: 'name' must be a registered discriminator name, got {name!r}")
    if params is not None and not isinstance(params, Mapping):
        raise ConfigError(f"{where}: 'params' must be a mapping, got {type(params).__name__}")
    return name, dict(params or {})


class CombinedDiscriminator(nn.Module):
    """Builds each spec through :func:`vocoder.registry.build` and runs all of them on one waveform.

    ``specs``: ``[{"name": "mpd", "params": {...}}, {"name": "mrd"}, ...]`` (``ModelSpec`` objects work
    too). ``names`` lists the output keys in order.
    """

    def __init__(self, sample_rate: int, specs: Sequence[Any], where: str = "discriminators") -> None:
        super().__init__()
        if not specs:
            raise ConfigError(f"{where}: at least one discriminator is needed")
        self.sample_rate = int(sample_rate)
        models: dict[str, nn.Module] = {}
        for i, spec in enumerate(specs):
            name, params = _name_and_params(spec, f"{where}[{i}]")
            key, n = name, 1
            while key in models:
                n += 1
                key = f"{name}_{n}"
            models[key] = build("discriminator", name, params, where=f"{where}[{i}]", sample_rate=sample_rate)
        self.discriminators = nn.ModuleDict(models)

    @property
    def names(self) -> list[str]:
        return list(self.discriminators.keys())

    def forward(self, wav: torch.Tensor) -> dict[str, list[SubOutput]]:
        return {name: d(wav) for name, d in self.discriminators.items()}

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
