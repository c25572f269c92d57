"""Run folders: what ``vocoder train --out RUN`` may do to a folder, and the config ``--resume`` trains with.

A run folder holds ``config.yaml`` (the resolved config of the run), ``manifest.json`` (its data split),
``checkpoints/`` (:mod:`vocoder.train.checkpoint`) and ``logs/`` (TensorBoard). Training refuses a folder
that holds a run unless it resumes it or replaces it (``--force``, only for a folder that holds nothing
but a run's files: :func:`check_run_folder`, :func:`clear_run`); a resumed run trains with its saved
config plus the ``--set`` values given (:func:`resume_config`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from vocoder.atomic import OLD_SUFFIX, TMP_SUFFIX, TRASH_SUFFIX, fsync_dir, remove_dir
from vocoder.config import RunConfig, load_config
from vocoder.errors import ConfigError
from vocoder.models.artifact import BEST_DIR, CHECKPOINTS_DIR, CONFIG_FILE, list_checkpoints, step_of
from vocoder.train.checkpoint import LATEST_FILE, warn

MANIFEST_FILE = "manifest.json"
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
                (path.is_dir() and (name == BEST_DIR or step_of(name) is not None))
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
            remove_dir(path)
        else:
            path.unlink()
        done.append(path.name)
    fsync_dir(out)
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
