"""vocoder.atomic: a write replaces its target whole or not at all and leaves no temporary file behind."""

from __future__ import annotations

import os

import numpy as np
import pytest

from vocoder import atomic


def test_atomic_path_renames_on_success_only(tmp_path):
    target = tmp_path / "sub" / "f0.npy"
    with atomic.atomic_path(target, suffix=".npy") as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".f0.npy.") and tmp.suffix == ".npy"
        np.save(tmp, np.arange(3.0))  # np.save keeps a name ending in .npy as it is
        assert not target.exists()
    assert np.load(target).tolist() == [0.0, 1.0, 2.0]
    assert os.listdir(target.parent) == ["f0.npy"]

    with pytest.raises(RuntimeError, match="disk full"), atomic.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert np.load(target).tolist() == [0.0, 1.0, 2.0]  # the old file is intact
    assert os.listdir(target.parent) == ["f0.npy"]  # and the temporary one is gone


def test_write_text_and_bytes(tmp_path):
    atomic.write_text(tmp_path / "latest", "step-00000002\n", durable=True)
    atomic.write_text(tmp_path / "latest", "step-00000004\n", durable=True)
    atomic.write_bytes(tmp_path / "page.html", b"<p>1</p>")
    assert (tmp_path / "latest").read_text() == "step-00000004\n"
    assert (tmp_path / "page.html").read_bytes() == b"<p>1</p>"
    assert sorted(os.listdir(tmp_path)) == ["latest", "page.html"]


def test_replace_and_remove_dir(tmp_path):
    new, old = tmp_path / ".best.tmp", tmp_path / "best"
    old.mkdir()
    (old / "a").write_text("old")
    new.mkdir()
    (new / "a").write_text("new")
    atomic.replace_dir(new, old)
    assert (old / "a").read_text() == "new" and sorted(os.listdir(tmp_path)) == ["best"]
    atomic.remove_dir(old)
    assert os.listdir(tmp_path) == []
