"""Reading the array files users hand in (``.npy``, and the start of ``.npz``) without running a pickle.

``np.load`` picks the format from the content, so a text file or a ``.npz`` named ``.npy`` would be read
as something else (or reported as a pickle): :func:`check_magic` refuses a file that does not start like
its kind first. :func:`read_npy` then loads with ``allow_pickle=False``. Every problem is one
:class:`~vocoder.errors.InputError` line naming the file. Numpy only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vocoder.errors import InputError
from vocoder.infer.checks import first_line

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive (.npz) starts with a member or, empty, its end


def check_magic(path: Path, magics: tuple[bytes, ...], what: str, reason: str) -> None:
    """Refuse ``path`` unless it starts with one of ``magics``: ``PATH: cannot read WHAT (REASON)``."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(max(len(m) for m in magics))
    except OSError as err:
        raise InputError(f"{path}: cannot read {what} ({first_line(err)})") from None
    if not head:
        raise InputError(f"{path}: cannot read {what} (empty file, 0 bytes)")
    if not head.startswith(magics):
        raise InputError(f"{path}: cannot read {what} ({reason})")


def read_npy(path: Path, what: str) -> np.ndarray:
    """The array of a ``.npy`` file (``what`` names it in messages, e.g. ``.npy file``, ``F0 file``)."""
    check_magic(path, (NPY_MAGIC,), what, "no NumPy header: not a .npy file")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as err:  # truncated data, pickled objects refused...
        raise InputError(f"{path}: cannot read {what} ({first_line(err)})") from None
