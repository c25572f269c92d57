"""Where outputs go: check an output file path or folder before any work, so a place that cannot hold the
result is one :class:`~vocoder.errors.ConfigError` line up front, not a traceback after minutes of work.

Both checks create the missing parent folders and write (and delete) a hidden test file there; the
caller names what it writes, so the message says which option was wrong.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from vocoder.errors import ConfigError


def os_reason(err: OSError) -> str:
    """The operating system's reason (``Permission denied``), else the exception's name."""
    return err.strerror or type(err).__name__


def _probe(folder: Path, name: str) -> None:
    """Write and delete a hidden test file in ``folder`` (raises the OSError)."""
    with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}.", suffix=".tmp"):
        pass


def check_out_file(path: str | Path, what: str, folder_hint: str) -> Path:
    """Refuse a ``path`` that is (or, ending in a separator, names) a folder, saying ``folder_hint``
    (e.g. "--json is the path of the JSON file to write"), or whose folder cannot hold a ``what``
    (e.g. "JSON file"): ``PATH: cannot write the JSON file here (reason)``."""
    text, path = str(path), Path(path)
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise ConfigError(f"{path}: is a folder; {folder_hint}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _probe(path.parent, path.name)
    except OSError as err:
        raise ConfigError(f"{path}: cannot write the {what} here ({os_reason(err)})") from None
    return path


def check_out_dir(folder: str | Path, contents: str) -> Path:
    """Create ``folder`` and test-write it; ``contents`` (e.g. "wav files") names what goes there in the
    message for a path that is a file."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder (--out is the folder the {contents} are written to)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{folder}: cannot create the output folder ({os_reason(err)})") from None
    try:
        _probe(folder, "write-test")
    except OSError as err:
        raise ConfigError(f"{folder}: cannot write to the output folder ({os_reason(err)})") from None
    return folder
