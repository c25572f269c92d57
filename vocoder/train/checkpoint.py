"""Checkpoints: ``model.safetensors`` + ``config.yaml`` (all inference needs) and ``trainer.pt``.

Layout of a run folder::

    RUN/config.yaml                         resolved config of the run
    RUN/checkpoints/step-00001000/          one checkpoint (self-contained for inference)
        model.safetensors                   generator weights (training form, weight norm included)
        config.yaml                         resolved config (mel config included)
        trainer.pt                          discriminator, optimizers, schedulers, step, RNG, metrics
    RUN/checkpoints/best/                   copy of the checkpoint with the lowest validation loss
    RUN/checkpoints/latest                  text file: name of the newest complete checkpoint

Every checkpoint is written into a hidden temporary folder and renamed into place, and ``latest`` is
replaced atomically, so a kill at any moment leaves the previous checkpoint intact. Weights are read
with safetensors (no pickle) and trainer state with ``torch.load(weights_only=True)``: neither can
run code from the file.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vocoder.config import RunConfig, load_config, save_config
from vocoder.errors import ModelError

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.yaml"
STATE_FILE = "trainer.pt"
LATEST_FILE = "latest"
BEST_DIR = "best"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def write_model(folder: Path, generator: torch.nn.Module, cfg: RunConfig, step: int | None = None) -> None:
    """Write ``model.safetensors`` and ``config.yaml`` for ``generator`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    meta = {"format": "vocoder", "generator": cfg.generator.name}
    if step is not None:
        meta["step"] = str(step)
    save_file(state, str(folder / MODEL_FILE), metadata=meta)
    save_config(cfg, folder / CONFIG_FILE)


def save_checkpoint(
    root: Path, step: int, generator: torch.nn.Module, cfg: RunConfig, state: dict[str, Any], keep_last: int = 3
) -> Path:
    """Atomically write checkpoint ``step`` under ``root`` and point ``latest`` at it; prune old ones."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    final = root / name
    tmp = root / f".{name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    write_model(tmp, generator, cfg, step)
    with open(tmp / STATE_FILE, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    _write_atomic_text(root / LATEST_FILE, name + "\n")
    for old in list_checkpoints(root)[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def save_best(root: Path, source: Path) -> None:
    """Copy checkpoint folder ``source`` to ``root/best`` (atomically replacing the previous best)."""
    tmp = root / f".{BEST_DIR}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(source, tmp)
    old = root / f".{BEST_DIR}.old"
    if (root / BEST_DIR).exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(root / BEST_DIR, old)
    os.replace(tmp, root / BEST_DIR)
    shutil.rmtree(old, ignore_errors=True)


def list_checkpoints(root: Path) -> list[Path]:
    """Complete ``step-*`` checkpoint folders under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-") and p.name[5:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[5:]))


def load_state(folder: Path) -> dict[str, Any]:
    """Trainer state of a checkpoint, loaded with ``weights_only=True`` (refuses pickled code)."""
    try:
        return torch.load(folder / STATE_FILE, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"{folder / STATE_FILE}: no trainer state") from None
    except Exception as err:  # corrupt zip, unpickling refused, truncated file...
        raise ModelError(f"{folder / STATE_FILE}: cannot load trainer state ({type(err).__name__})") from None


def load_weights(folder: Path) -> dict[str, torch.Tensor]:
    """Generator weights of a checkpoint folder (safetensors only: loading never runs code)."""
    path = folder / MODEL_FILE
    if not path.is_file():
        raise ModelError(f"{path}: no model weights")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"{path}: not a valid safetensors file ({str(err).splitlines()[0][:80]})") from None


def latest_resumable(root: Path) -> tuple[Path, dict[str, Any], dict[str, torch.Tensor]] | None:
    """Newest checkpoint whose files all load; a broken newer one is skipped with a warning."""
    candidates = list_checkpoints(root)
    for folder in reversed(candidates):
        try:
            state = load_state(folder)
            weights = load_weights(folder)
        except ModelError as err:
            warnings.warn(f"skipping unusable checkpoint: {err}", stacklevel=2)
            continue
        return folder, state, weights
    return None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder from a run folder (its best, else its latest), a checkpoints folder or itself."""
    path = Path(path)
    if (path / MODEL_FILE).is_file():
        return path
    for root in (path / "checkpoints", path):
        if (root / BEST_DIR / MODEL_FILE).is_file():
            return root / BEST_DIR
        ckpts = [c for c in list_checkpoints(root) if (c / MODEL_FILE).is_file()]
        if ckpts:
            return ckpts[-1]
    if not path.exists():
        raise ModelError(f"{path}: no such file or folder")
    raise ModelError(f"{path}: no checkpoint found (expected {MODEL_FILE} + {CONFIG_FILE})")


def load_generator(path: str | Path, fold_weight_norm: bool = True):
    """``(generator, config)`` from a run or checkpoint folder, in eval mode, weight norm folded."""
    from vocoder.models.factory import build_generator

    folder = resolve_checkpoint(path)
    cfg = load_config(folder / CONFIG_FILE)
    generator = build_generator(cfg, where=str(folder / CONFIG_FILE))
    weights = load_weights(folder)
    try:
        generator.load_state_dict(weights)
    except RuntimeError as err:
        first = str(err).splitlines()[0][:160]
        raise ModelError(f"{folder / MODEL_FILE}: weights do not fit the config's generator ({first})") from None
    generator.eval()
    if fold_weight_norm:
        generator.remove_weight_norm()
    return generator, cfg
