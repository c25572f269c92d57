"""``python -m vocoder ...`` in a subprocess, for the reliability tests (what a user's shell sees)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def errors(self) -> list[str]:
        """The stderr lines starting with ``error:``."""
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def run_cli(*args: str | Path, cwd: Path | None = None) -> CliResult:
    """``python -m vocoder ARGS`` in a fresh process with one thread; its exit code, stdout and stderr."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "vocoder", *map(str, args)], capture_output=True, text=True, cwd=cwd or ROOT,
        env=env, timeout=300,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)
