"""Model folders: what inference (and a warm start) needs of a trained model, written and read here only.

A model folder::

    FOLDER/model.safetensors           generator weights (training form, weight norm included); float32, or
                                       float16 for a smaller shipped file (loaded into float32 modules)
    FOLDER/config.yaml                 resolved RunConfig (features, generator, discriminators, ...)
    FOLDER/discriminator.safetensors   optional: the discriminators' weights (``config.yaml``'s
                                       ``discriminators`` builds them), so ``train.init_from`` can resume
                                       GAN training with a trained critic

Every checkpoint of a run is a model folder (plus ``trainer.pt``, :mod:`vocoder.train.checkpoint`):
``RUN/checkpoints/step-00001000/`` and ``RUN/checkpoints/best/``. :func:`resolve_model` finds the model
folder of a run folder (its best, else its newest step), of a checkpoints folder, or takes a model folder
itself. Weights are read with safetensors only, so loading a model never runs code from the file.

Importing this module needs no torch (the layout and :func:`resolve_model` serve torch-free readers such
as ``vocoder info``); reading and writing weights imports torch and safetensors.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from vocoder.config import RunConfig, load_config, save_config
from vocoder.errors import ModelError

if TYPE_CHECKING:
    import torch

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.yaml"
DISCRIMINATOR_FILE = "discriminator.safetensors"
CHECKPOINTS_DIR = "checkpoints"  # in a run folder
BEST_DIR = "best"  # in a checkpoints folder: the checkpoint with the lowest validation loss
STEP_PREFIX = "step-"  # in a checkpoints folder: step-00001000, one per saved step


def step_folder_name(step: int) -> str:
    """``step-00001000``: the folder name of the checkpoint of ``step``."""
    return f"{STEP_PREFIX}{step:08d}"


def step_of(name: str) -> int | None:
    """The step of a checkpoint folder name (``step-00001000`` -> 1000), None for any other name."""
    digits = name[len(STEP_PREFIX):]
    return int(digits) if name.startswith(STEP_PREFIX) and digits.isdigit() else None


def list_checkpoints(root: Path) -> list[Path]:
    """Complete ``step-*`` checkpoint folders under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and step_of(p.name) is not None]
    return sorted(found, key=lambda p: step_of(p.name))


def resolve_model(path: str | Path) -> Path:
    """The model folder of ``path``: itself when it holds ``model.safetensors``, else (in ``path/checkpoints``,
    then ``path``) the ``best`` checkpoint, else the newest ``step-*`` one; a one-line :class:`ModelError`
    when there is none."""
    path = Path(path)
    if (path / MODEL_FILE).is_file():
        return path
    for root in (path / CHECKPOINTS_DIR, path):
        if (root / BEST_DIR / MODEL_FILE).is_file():
            return root / BEST_DIR
        ckpts = [c for c in list_checkpoints(root) if (c / MODEL_FILE).is_file()]
        if ckpts:
            return ckpts[-1]
    if not path.exists():
        raise ModelError(f"{path}: no such file or folder")
    raise ModelError(f"{path}: no checkpoint found (expected {MODEL_FILE} + {CONFIG_FILE})")


def read_config(folder: Path) -> RunConfig:
    """The resolved config of model folder ``folder``."""
    return load_config(folder / CONFIG_FILE)


def write_weights(
    path: Path, weights: Mapping[str, torch.Tensor], metadata: dict[str, str] | None = None, float16: bool = False
) -> None:
    """Write a state dict as a safetensors file (CPU, contiguous; ``float16``: floating tensors stored as
    float16, ``"dtype": "float16"`` in the metadata)."""
    import torch
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in weights.items()}
    meta = dict(metadata or {})
    if float16:
        state = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in state.items()}
        meta["dtype"] = "float16"
    save_file(state, str(path), metadata=meta or None)


def read_weights(folder: Path, file: str = MODEL_FILE) -> dict[str, torch.Tensor]:
    """The tensors of ``folder / file`` (the generator's by default); a missing or broken file is one
    :class:`ModelError` line. ``load_state_dict`` copies float16 ones into float32 modules."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / file
    if not path.is_file():
        raise ModelError(f"{path}: no model weights")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"{path}: not a valid safetensors file ({str(err).splitlines()[0][:80]})") from None


def write_model(folder: Path, generator: torch.nn.Module, cfg: RunConfig, step: int | None = None) -> None:
    """Write ``model.safetensors`` (``generator``'s state dict) and ``config.yaml`` (``cfg``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"format": "vocoder", "generator": cfg.generator.name}
    if step is not None:
        meta["step"] = str(step)
    write_weights(folder / MODEL_FILE, generator.state_dict(), meta)
    save_config(cfg, folder / CONFIG_FILE)


def copy_model(source: Path, target: Path, float16: bool = False) -> None:
    """Copy model folder ``source``'s weights and config into ``target`` (``float16``: weights stored as
    float16, the rest of the safetensors metadata kept)."""
    target.mkdir(parents=True, exist_ok=True)
    if float16:
        from safetensors import safe_open

        with safe_open(str(source / MODEL_FILE), "pt") as fh:
            meta = fh.metadata() or {}
        write_weights(target / MODEL_FILE, read_weights(source), meta, float16=True)
    else:
        shutil.copy(source / MODEL_FILE, target / MODEL_FILE)
    shutil.copy(source / CONFIG_FILE, target / CONFIG_FILE)


def write_discriminator(folder: Path, weights: Mapping[str, torch.Tensor]) -> None:
    """Write the discriminators' state dict as ``folder/discriminator.safetensors``."""
    write_weights(folder / DISCRIMINATOR_FILE, weights)


def read_discriminator(folder: Path) -> dict[str, torch.Tensor] | None:
    """The discriminators' weights of model folder ``folder`` (None: it has none)."""
    if not (folder / DISCRIMINATOR_FILE).is_file():
        return None
    return read_weights(folder, DISCRIMINATOR_FILE)


def load_generator(path: str | Path, fold_weight_norm: bool = True):
    """``(generator, config)`` of a run, checkpoint or model folder (:func:`resolve_model`), in eval mode,
    weight norm folded unless ``fold_weight_norm`` is False."""
    from vocoder.models.factory import build_generator

    folder = resolve_model(path)
    cfg = read_config(folder)
    generator = build_generator(cfg, where=str(folder / CONFIG_FILE))
    weights = read_weights(folder)
    try:
        generator.load_state_dict(weights)
    except RuntimeError as err:
        first = str(err).splitlines()[0][:160]
        raise ModelError(f"{folder / MODEL_FILE}: weights do not fit the config's generator ({first})") from None
    generator.eval()
    if fold_weight_norm:
        generator.remove_weight_norm()
    return generator, cfg
