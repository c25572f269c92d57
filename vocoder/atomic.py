"""Atomic writes: a file or folder appears complete or not at all, never half written.

:func:`atomic_path` hands out a hidden temporary path beside the target (``.NAME.<pid>.<random><suffix>``)
for the caller to write, then renames it onto the target; on an error the temporary file is deleted and
the target is left as it was. ``durable=True`` also fsyncs the file before the rename and the folder after
it, so a power cut (not only a kill) leaves the old or the new file. Listings skip hidden names, so the
leftover of a kill -9 is never taken for data.

Folders: :func:`replace_dir` renames a written folder onto another (moving the old one aside first),
:func:`remove_dir` renames a folder to a hidden name before deleting it. The hidden names end in
:data:`TMP_SUFFIX` (being written), :data:`OLD_SUFFIX` (moved aside) or :data:`TRASH_SUFFIX` (being
deleted), which is how a cleanup (:func:`vocoder.train.checkpoint.clean_incomplete`) recognises them.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_SUFFIX = ".tmp"  # a folder or file being written
OLD_SUFFIX = ".old"  # a complete folder moved aside while its replacement is renamed into place
TRASH_SUFFIX = ".trash"  # a folder being deleted


def fsync_file(path: str | Path) -> None:
    """Flush ``path``'s data to the disk."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: str | Path) -> None:
    """Flush folder ``path``'s entries (a rename into it) to the disk; a no-op where folders cannot be opened."""
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


@contextmanager
def atomic_path(path: str | Path, suffix: str = TMP_SUFFIX, durable: bool = False) -> Iterator[Path]:
    """A hidden temporary path in ``path``'s folder (created if missing) to write; renamed onto ``path``
    when the block ends without an error, deleted otherwise. ``suffix`` ends the temporary name (e.g.
    ``.npy``, which ``np.save`` would otherwise append); ``durable``: fsync the file and the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")
    try:
        yield tmp
        if durable:
            fsync_file(tmp)
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes, durable: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str, durable: bool = False) -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_path`)."""
    write_bytes(path, text.encode(), durable)


def replace_dir(src: Path, dst: Path) -> None:
    """Rename folder ``src`` to ``dst``; an existing ``dst`` is moved aside (``.NAME.old``) first and deleted
    after, so one of the two complete folders is always in place."""
    if not dst.exists():
        os.replace(src, dst)
        return
    aside = dst.with_name(f".{dst.name}{OLD_SUFFIX}")
    if aside.exists():
        shutil.rmtree(aside)
    os.replace(dst, aside)
    os.replace(src, dst)
    shutil.rmtree(aside, ignore_errors=True)


def remove_dir(folder: Path) -> None:
    """Delete ``folder`` by renaming it to a hidden name (``.NAME.trash``) first: a kill mid-delete leaves no
    half folder under its name."""
    trash = folder.with_name(f".{folder.name}{TRASH_SUFFIX}")
    if trash.exists():
        shutil.rmtree(trash)
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)
