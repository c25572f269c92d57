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

Run folders (:func:`check_run_folder`, :func:`clear_run`, :func:`resume_config`): training refuses a folder
that holds a run unless it resumes it or replaces it (``--force``, only for a folder that holds nothing
but a run's files); a resumed run trains with its saved config plus the ``--set`` values given, and a
checkpoint that does not fit the config (:func:`load_into`) is refused before anything is written.
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
from vocoder.errors import ConfigError, ModelError

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


def load_weights(folder: Path, file: str = MODEL_FILE) -> dict[str, torch.Tensor]:
    """Weights of a checkpoint folder: the generator's (``file``: another safetensors file of it, e.g. the
    discriminator's); safetensors only, so loading never runs code."""
    path = folder / file
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


# ------------------------------------------------------------------------------------------- run folders

MANIFEST_FILE = "manifest.json"
CHECKPOINTS_DIR = "checkpoints"
LOGS_DIR = "logs"
RUN_ENTRIES = (CONFIG_FILE, MANIFEST_FILE, CHECKPOINTS_DIR, LOGS_DIR)  # what training writes into a run folder
_HIDDEN_SUFFIXES = (TMP_SUFFIX, OLD_SUFFIX, TRASH_SUFFIX)


def run_entries(out: str | Path) -> list[str]:
    """The run files of ``out`` that exist (``config.yaml``, ``manifest.json``, ``checkpoints/``, ``logs/``)."""
    out = Path(out)
    if not out.is_dir():
        return []
    return [name + "/" * (out / name).is_dir() for name in RUN_ENTRIES if (out / name).exists()]


def foreign_entries(out: str | Path) -> list[str]:
    """What in ``out`` is not part of a run as training writes one (empty: ``out`` holds a run and nothing
    else, so ``--force`` may delete its run files)."""
    out = Path(out)
    if not out.is_dir():
        return []
    kinds = {CONFIG_FILE: False, MANIFEST_FILE: False, CHECKPOINTS_DIR: True, LOGS_DIR: True}
    foreign = []
    for path in sorted(out.iterdir()):
        name = path.name
        if name in kinds:
            if path.is_dir() != kinds[name] or path.is_symlink():
                foreign.append(name)
        elif not (name.startswith(".") and name.endswith(_HIDDEN_SUFFIXES)):
            foreign.append(name)
    root = out / CHECKPOINTS_DIR
    if root.is_dir() and not root.is_symlink():
        for path in sorted(root.iterdir()):
            name = path.name
            ok = (
                (path.is_dir() and (name == BEST_DIR or (name.startswith("step-") and name[5:].isdigit())))
                or (name == LATEST_FILE and path.is_file())
                or (name.startswith(".") and name.endswith(_HIDDEN_SUFFIXES))
            )
            if not ok or path.is_symlink():
                foreign.append(f"{CHECKPOINTS_DIR}/{name}")
    logs = out / LOGS_DIR
    if logs.is_dir() and not logs.is_symlink():
        foreign += [
            f"{LOGS_DIR}/{p.name}" for p in sorted(logs.iterdir())
            if not (p.is_file() and not p.is_symlink() and p.name.startswith("events.out.tfevents."))
        ]
    return foreign


def check_run_folder(out: str | Path, resume: bool = False, force: bool = False) -> None:
    """Refuse (one-line :class:`ConfigError`; only names are looked at, nothing is written) a run folder
    ``out`` that training must not use: not a folder; ``resume`` without a run in it; a run in it already
    without ``resume`` or ``force``; ``force`` on a folder that holds anything but a run (``--force`` deletes
    run files only, and only from a folder that is nothing but a run)."""
    out = Path(out)
    if resume and force:
        raise ConfigError(f"{out}: --resume and --force exclude each other (continue the run or replace it)")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: not a folder (--out is the run folder)")
    found = run_entries(out)
    if resume:
        if not found:
            raise _no_run(out)
        return
    if found and not force:
        raise ConfigError(
            f"{out}: holds a run already ({', '.join(found)}); use --resume to continue it or --force to replace it"
        )
    if force and out.is_dir():
        foreign = foreign_entries(out)
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            what = "does not look like a run folder" if found else "holds no run to replace"
            raise ConfigError(
                f"{out}: --force refused: the folder {what} (it holds {shown}); nothing was deleted, "
                "choose another --out"
            )


def clear_run(out: str | Path) -> list[str]:
    """Delete the run files of ``out`` (what :func:`check_run_folder` with ``force`` accepted); each folder
    is renamed to a hidden name first, so a kill mid-delete leaves no half run. Returns the names deleted."""
    out = Path(out)
    done = []
    for path in sorted(out.iterdir()) if out.is_dir() else []:
        hidden = path.name.startswith(".") and path.name.endswith(_HIDDEN_SUFFIXES)
        if path.name not in RUN_ENTRIES and not hidden:
            continue
        if path.is_dir() and not path.is_symlink():
            _remove_dir(path)
        else:
            path.unlink()
        done.append(path.name)
    _fsync_dir(out)
    return done


def _no_run(out: Path) -> ConfigError:
    what = "there is no such folder" if not out.exists() else "this folder holds no run (no config.yaml, checkpoints/)"
    return ConfigError(f"{out}: --resume given but {what}")


def saved_config_path(run: str | Path) -> Path | None:
    """The config a run was trained with: ``RUN/config.yaml``, else its newest checkpoint's (None: no run)."""
    run = Path(run)
    if (run / CONFIG_FILE).is_file():
        return run / CONFIG_FILE
    for folder in reversed(list_checkpoints(run / CHECKPOINTS_DIR)):
        if (folder / CONFIG_FILE).is_file():
            return folder / CONFIG_FILE
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


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two plain config dicts."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in list(a) + [k for k in b if k not in a]:
            out += _differences(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def resume_config(
    recipe: str | Path, run: str | Path, overrides: list[str] | None = None, warn: Callable[[str], None] = warn
) -> RunConfig:
    """The config ``--resume`` trains with: the run's saved config (:func:`saved_config_path`) with only
    ``overrides`` applied. ``recipe`` may be the run folder itself (or its config.yaml); another recipe is
    only checked: one whose generator differs from the run's is refused (naming both), and other
    differences are one ``warn`` line (the saved config wins; change values with ``--set``)."""
    run, recipe = Path(run), Path(recipe)
    saved = saved_config_path(run)
    if saved is None:
        raise _no_run(run)
    cfg = load_config(saved, overrides)
    own = {run.resolve(), (run / CONFIG_FILE).resolve(), saved.resolve()}
    if recipe.resolve() in own or (recipe.is_dir() and (recipe / CONFIG_FILE).resolve() in own):
        return cfg
    given, base = load_config(recipe), load_config(saved)
    if given.generator != base.generator:
        name, other = given.generator.name or "(none)", base.generator.name or "(none)"
        if name != other:
            detail = f"the recipe's generator is {name}, the run's is {other}"
        else:
            keys = _differences(given.generator.params, base.generator.params)
            detail = f"the recipe's {name} generator has other params than the run's ({', '.join(keys[:3])})"
        raise ConfigError(
            f"{recipe}: --resume refused: {detail} ({saved}); resume with the run's own config "
            f"(vocoder train {run} --out {run} --resume) or train the recipe into another --out"
        )
    differ = _differences(given.to_dict(), base.to_dict())
    if differ:
        shown = ", ".join(differ[:4]) + (f" and {len(differ) - 4} more" if len(differ) > 4 else "")
        warn(f"{recipe} differs from the run's saved config {saved} in {shown}: the saved config is used "
             "(change a value with --set KEY=VALUE)")
    return cfg
