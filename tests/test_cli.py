"""The command-line front end: help, info on the demo data, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, "-m", "vocoder", *args], capture_output=True, text=True, cwd=ROOT)


def test_help_lists_subcommands():
    out = run("--help")
    assert out.returncode == 0
    for cmd in ("train", "synthesize", "export", "evaluate", "bench", "info"):
        assert cmd in out.stdout
        sub = run(cmd, "--help")
        assert sub.returncode == 0 and "usage: vocoder " + cmd in sub.stdout


def test_info_on_demo_data():
    out = run("info", "recipes/demo/wavs")
    assert out.returncode == 0, out.stderr
    assert "137 files, 299.9 s" in out.stdout


def test_user_errors_are_one_line():
    out = run("info", "no/such/path")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == ["error: no/such/path: no such file or folder"]
    assert "Traceback" not in out.stderr
