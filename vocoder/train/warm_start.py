"""Warm start (``train.init_from``): begin training from another model's weights, optimisers and step fresh.

Sources: a run folder (its best, else latest checkpoint), a checkpoint or model folder, or a HiFi-GAN
generator checkpoint file (``g_XXXXXXXX`` / ``generator_*.pth.tar``, converted on the fly with
:mod:`vocoder.models.convert_hifigan`).

* Same generator: every tensor must fit (a misfit is one :class:`ConfigError` line).
* A HiFi-GAN generator (``istftnet`` with ``istft_n_fft: 0``) into an iSTFTNet: every tensor whose name
  and shape match is copied (HiFi-GAN V1 -> iSTFTNet V1-C8C8I: ``conv_pre``, ``ups.0-1`` and the six
  ResBlocks of the first two stages); the rest (``conv_post``) keeps its fresh initialisation. The console
  says how many tensors and parameters were copied and which were initialised fresh.
* Discriminator: when the source carries discriminator weights (``discriminator.safetensors`` in a
  shipped checkpoint, or a run checkpoint's ``trainer.pt``) and the recipe's discriminators have the same
  tensors, they are loaded too, so GAN fine-tuning starts with a trained critic; otherwise D starts fresh
  and the console says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from vocoder.errors import ConfigError, VocoderError
from vocoder.models import artifact
from vocoder.train import checkpoint as ckpt


@dataclass
class WarmStart:
    """What :func:`warm_start` did, for the console and tests."""

    source: Path
    copied: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    copied_params: int = 0
    total_params: int = 0
    discriminator: str = "none in the recipe"

    def lines(self) -> list[str]:
        out = [f"generator initialised from {self.source}"]
        if self.fresh:
            shown = ", ".join(self.fresh[:6]) + (", ..." if len(self.fresh) > 6 else "")
            out[0] += (
                f": copied {len(self.copied)} of {len(self.copied) + len(self.fresh)} tensors "
                f"({self.copied_params / 1e6:.2f} M of {self.total_params / 1e6:.2f} M parameters); "
                f"initialised fresh: {shown}"
            )
        out.append(f"discriminator: {self.discriminator}")
        return out


def _is_hifigan(cfg_generator: dict | None) -> bool:
    if not cfg_generator or cfg_generator.get("name") != "istftnet":
        return False
    params = cfg_generator.get("params") or {}
    return str(params.get("variant") or "").startswith("hifigan-") or params.get("istft_n_fft") == 0


def _source_weights(source: str) -> tuple[Path, dict[str, torch.Tensor], bool, Path | None]:
    """(where, generator weights, source is HiFi-GAN, checkpoint folder or None for a raw file)."""
    path = Path(source)
    if path.is_file():  # a HiFi-GAN generator checkpoint file
        from vocoder.models.convert_hifigan import build_converted

        config = path.with_name("config.json")
        if not config.is_file():
            raise ConfigError(f"config: train.init_from {path}: a checkpoint file needs its config.json beside it")
        model, _ = build_converted(path, config)
        return path, model.state_dict(), True, None
    folder = artifact.resolve_model(path)
    cfg = artifact.read_config(folder)
    generator = {"name": cfg.generator.name, "params": cfg.generator.params}
    return folder, artifact.read_weights(folder), _is_hifigan(generator), folder


def _discriminator_weights(folder: Path | None) -> dict[str, torch.Tensor] | None:
    if folder is None:
        return None
    shipped = artifact.read_discriminator(folder)
    if shipped is not None:
        return shipped
    if (folder / ckpt.STATE_FILE).is_file():
        state = ckpt.load_state(folder)
        return state.get("discriminator")
    return None


def warm_start(source: str, generator: nn.Module, discriminator: nn.Module | None) -> WarmStart:
    """Load ``source``'s weights into ``generator`` (and ``discriminator``); see the module docstring."""
    where, weights, from_hifigan, folder = _source_weights(source)
    target_is_istft = getattr(generator, "registry_name", "") == "istftnet" and getattr(generator, "istft", None)
    report = WarmStart(where)
    if from_hifigan and target_is_istft:
        own = generator.state_dict()
        fit = {k: v for k, v in weights.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
        if not fit:
            raise ConfigError(f"config: train.init_from {where}: no tensor of it fits this recipe's generator")
        generator.load_state_dict(fit, strict=False)
        report.copied = sorted(fit)
        report.fresh = sorted(k for k in own if k not in fit)
        report.copied_params = sum(v.numel() for v in fit.values())
        report.total_params = sum(v.numel() for v in own.values())
    else:
        try:
            generator.load_state_dict(weights)
        except RuntimeError as err:
            first = str(err).splitlines()[0][:160]
            raise ConfigError(
                f"config: train.init_from {where}: weights do not fit this recipe's generator ({first})"
            ) from None
        report.copied = sorted(weights)
    if discriminator is not None:
        try:
            d_weights = _discriminator_weights(folder)
        except VocoderError as err:
            raise ConfigError(f"config: train.init_from: {err}") from None
        if d_weights is None:
            report.discriminator = "fresh (the source has no discriminator weights)"
        else:
            try:
                discriminator.load_state_dict(d_weights)
                report.discriminator = f"initialised from {where}"
            except RuntimeError:
                report.discriminator = "fresh (the source's discriminators differ from the recipe's)"
    return report
