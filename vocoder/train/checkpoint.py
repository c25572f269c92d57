"""Checkpoints: ``model.safetensors`` + ``config.yaml`` (all inference needs) and ``trainer.pt``.

Layout of a run folder::

    RUN/config.yaml                         resolved config of the run
    RUN/checkpoints/step-00001000/          one checkpoint (self-contained for inference)
        model.safetensors                   generator weights (training form, weight norm included)
        config.yaml                         resolved config (mel config included)
        trainer.pt                          discriminator, optimizers, schedulers, step, RNG, metrics
    RUN/checkpoints/best/                   copy of the checkpoint with the lowest validation loss
    RUN/checkpoints/latest                  text file: name of the newest complete checkpoint

Every checkpoint is written into a hidden temporary folder (``.step-*.tmp``), its files and folder are
fsynced, and it is renamed into place; ``latest`` is replaced atomically. A folder being replaced or
pruned is first renamed aside (``.step-*.old`` / ``.*.trash``). So a kill at any moment leaves every
earlier checkpoint intact, and :func:`clean_incomplete` (run when training starts) removes what a kill
left behind and points ``latest`` at the newest complete checkpoint again. Weights are read with
safetensors (no pickle) and trainer state with ``torch.load(weights_only=True)``: neither can run code
from the file.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
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
TMP_SUFFIX = ".tmp"  # a folder or file being written
OLD_SUFFIX = ".old"  # a complete folder moved aside while its replacement is renamed into place
TRASH_SUFFIX = ".trash"  # a folder being deleted


def warn(message: str) -> None:
    """One ``warning: ...`` line on stderr (the CLI's style; a Python warning would add file and line)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


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


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


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
    _fsync_file(tmp / MODEL_FILE)
    _fsync_file(tmp / CONFIG_FILE)
    _fsync_dir(tmp)
    _replace_dir(tmp, final)
    _fsync_dir(root)
    _write_atomic_text(root / LATEST_FILE, name + "\n")
    for old in list_checkpoints(root)[:-keep_last] if keep_last > 0 else []:
        _remove_dir(old)
    return final


def _replace_dir(src: Path, dst: Path) -> None:
    """Rename folder ``src`` to ``dst``; an existing ``dst`` is moved aside first and deleted after, so one of
    the two complete folders is always in place (:func:`clean_incomplete` restores a moved-aside one)."""
    if not dst.exists():
        os.replace(src, dst)
        return
    aside = dst.with_name(f".{dst.name}{OLD_SUFFIX}")
    if aside.exists():
        shutil.rmtree(aside)
    os.replace(dst, aside)
    os.replace(src, dst)
    shutil.rmtree(aside, ignore_errors=True)


def _remove_dir(folder: Path) -> None:
    """Delete ``folder`` by renaming it to a hidden name first: a kill mid-delete leaves no half folder."""
    trash = folder.with_name(f".{folder.name}{TRASH_SUFFIX}")
    if trash.exists():
        shutil.rmtree(trash)
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


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
        _write_atomic_text(latest, ckpts[-1].name + "\n")
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
        _fsync_file(path)
    _fsync_dir(tmp)
    _replace_dir(tmp, root / BEST_DIR)
    _fsync_dir(root)


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


def latest_resumable(
    root: Path, warn: Callable[[str], None] | None = warn
) -> tuple[Path, dict[str, Any], dict[str, torch.Tensor]] | None:
    """Newest checkpoint whose files all load, as ``(folder, trainer state, generator weights)``; each
    broken newer one is skipped with a one-line ``warn`` (None: silently)."""
    for folder in reversed(list_checkpoints(root)):
        try:
            state = load_state(folder)
            weights = load_weights(folder)
        except ModelError as err:
            if warn is not None:
                warn(f"skipping unusable checkpoint: {err}")
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
