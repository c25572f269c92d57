"""Training checkpoints: a model folder (:mod:`vocoder.models.artifact`) plus ``trainer.pt``, rotated and
with a copy of the best.

Layout under a run's ``checkpoints/`` folder::

    step-00001000/          one checkpoint (self-contained for inference)
        model.safetensors   generator weights (training form, weight norm included)
        config.yaml         resolved config (mel config included)
        trainer.pt          discriminator, optimizers, schedulers, step, RNG, metrics
    best/                   copy of the checkpoint with the lowest validation loss
    latest                  text file: name of the newest complete checkpoint

Every checkpoint is written into a hidden temporary folder (``.step-*.tmp``), its files and folder are
fsynced, and it is renamed into place; ``latest`` is replaced atomically; only the newest ``keep_last``
are kept. A folder being replaced or pruned is first renamed aside (``.step-*.old`` / ``.*.trash``,
:mod:`vocoder.atomic`). So a kill at any moment leaves every earlier checkpoint intact, and
:func:`clean_incomplete` (run when training starts) removes what a kill left behind and points ``latest``
at the newest complete checkpoint again. Trainer state is read with ``torch.load(weights_only=True)``:
it cannot run code from the file. A checkpoint that does not fit the config (:func:`load_into`) is
refused before anything is written.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from vocoder.atomic import (
    OLD_SUFFIX,
    TMP_SUFFIX,
    TRASH_SUFFIX,
    fsync_dir,
    fsync_file,
    remove_dir,
    replace_dir,
    write_text,
)
from vocoder.config import RunConfig
from vocoder.errors import ConfigError, ModelError
from vocoder.models.artifact import (
    BEST_DIR,
    CONFIG_FILE,
    MODEL_FILE,
    list_checkpoints,
    read_weights,
    step_folder_name,
    write_model,
)

STATE_FILE = "trainer.pt"
LATEST_FILE = "latest"


def warn(message: str) -> None:
    """One ``warning: ...`` line on stderr (the CLI's style; a Python warning would add file and line)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def save_checkpoint(
    root: Path, step: int, generator: torch.nn.Module, cfg: RunConfig, state: dict[str, Any], keep_last: int = 3
) -> Path:
    """Atomically write checkpoint ``step`` under ``root`` and point ``latest`` at it; prune old ones."""
    root.mkdir(parents=True, exist_ok=True)
    name = step_folder_name(step)
    final = root / name
    tmp = root / f".{name}{TMP_SUFFIX}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    write_model(tmp, generator, cfg, step)
    with open(tmp / STATE_FILE, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    # a kill -9 keeps the page cache, a power cut does not: the files must be on disk before the rename
    fsync_file(tmp / MODEL_FILE)
    fsync_file(tmp / CONFIG_FILE)
    fsync_dir(tmp)
    replace_dir(tmp, final)
    fsync_dir(root)
    write_text(root / LATEST_FILE, name + "\n", durable=True)
    for old in list_checkpoints(root)[:-keep_last] if keep_last > 0 else []:
        remove_dir(old)
    return final


def clean_incomplete(root: Path) -> list[str]:
    """Undo what a kill during :func:`save_checkpoint` / :func:`save_best` left under ``root``: delete
    temporary and half-deleted folders, put back a moved-aside folder whose replacement never arrived, and
    point ``latest`` at the newest complete checkpoint. Returns the names it removed or restored."""
    if not root.is_dir():
        return []
    done = []
    for path in sorted(root.iterdir()):
        if not path.name.startswith("."):
            continue
        if path.name.endswith(OLD_SUFFIX):
            target = root / path.name[1 : -len(OLD_SUFFIX)]
            if target.exists():
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.replace(path, target)
        elif path.name.endswith((TMP_SUFFIX, TRASH_SUFFIX)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        else:
            continue
        done.append(path.name)
    ckpts = list_checkpoints(root)
    latest = root / LATEST_FILE
    current = latest.read_text().strip() if latest.is_file() else None
    if ckpts and current != ckpts[-1].name:
        write_text(latest, ckpts[-1].name + "\n", durable=True)
    elif not ckpts and latest.exists():
        latest.unlink()
    return done


def save_best(root: Path, source: Path) -> None:
    """Copy checkpoint folder ``source`` to ``root/best`` (atomically replacing the previous best)."""
    tmp = root / f".{BEST_DIR}{TMP_SUFFIX}"
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(source, tmp)
    for path in tmp.iterdir():
        fsync_file(path)
    fsync_dir(tmp)
    replace_dir(tmp, root / BEST_DIR)
    fsync_dir(root)


def load_state(folder: Path) -> dict[str, Any]:
    """Trainer state of a checkpoint, loaded with ``weights_only=True`` (refuses pickled code)."""
    try:
        return torch.load(folder / STATE_FILE, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"{folder / STATE_FILE}: no trainer state") from None
    except Exception as err:  # corrupt zip, unpickling refused, truncated file...
        raise ModelError(f"{folder / STATE_FILE}: cannot load trainer state ({type(err).__name__})") from None


def latest_resumable(
    root: Path, warn: Callable[[str], None] | None = warn
) -> tuple[Path, dict[str, Any], dict[str, torch.Tensor]] | None:
    """Newest checkpoint whose files all load, as ``(folder, trainer state, generator weights)``; each
    broken newer one is skipped with a one-line ``warn`` (None: silently)."""
    for folder in reversed(list_checkpoints(root)):
        try:
            state = load_state(folder)
            weights = read_weights(folder)
        except ModelError as err:
            if warn is not None:
                warn(f"skipping unusable checkpoint: {err}")
            continue
        return folder, state, weights
    return None


def fit_problem(module: torch.nn.Module, weights: dict[str, torch.Tensor]) -> str | None:
    """Why ``weights`` cannot be loaded into ``module`` (keys or shapes), or None when they fit."""
    own = module.state_dict()
    shapes = [k for k in own if k in weights and tuple(own[k].shape) != tuple(weights[k].shape)]
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    if shapes:
        k = shapes[0]
        return (
            f"{len(shapes)} tensor(s) differ in shape (first: {k} {tuple(weights[k].shape)} in the checkpoint, "
            f"{tuple(own[k].shape)} in the config's model)"
        )
    if missing:
        return f"{len(missing)} tensor(s) of the config's model are not in the checkpoint (first: {missing[0]})"
    if unexpected:
        return f"{len(unexpected)} tensor(s) of the checkpoint are not in the config's model (first: {unexpected[0]})"
    return None


def load_into(module: torch.nn.Module, weights: dict[str, torch.Tensor], what: str, folder: Path) -> None:
    """``module.load_state_dict(weights)``, or a one-line :class:`ConfigError` naming ``folder`` when the
    config builds a model of other shapes than the checkpoint's (e.g. a ``--set`` on resume)."""
    problem = fit_problem(module, weights)
    if problem is None:
        try:
            module.load_state_dict(weights)
            return
        except (RuntimeError, ValueError, KeyError) as err:
            problem = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
    raise ConfigError(
        f"{folder}: the checkpoint's {what} does not fit the config: {problem}; a --set that changes the "
        "model's shape cannot resume this run"
    )
