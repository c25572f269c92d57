"""Peak memory and time of synthesizing one long mel (10 minutes by default), measured in a fresh process.

:func:`peak_memory_long_input` runs ``python -m vocoder.eval.long_input SPEC_JSON`` so the reading is the
high-water mark of a process that did nothing else: it loads the model with ``vocoder.load`` (an
``.onnx`` file never imports torch), builds a random mel ``(n_mels, T)`` (and an F0 contour with
unvoiced gaps when the model needs one) for ``minutes`` of audio, and calls ``synthesize`` once.

Returned keys: ``peak_rss_mb`` (``VmHWM`` of ``/proc/self/status``, ``ru_maxrss`` without /proc: the whole
process, interpreter and libraries included), ``base_rss_mb`` (the same reading after loading the model
and building the inputs, so ``peak - base`` is what synthesis adds), ``seconds`` (wall time of
``synthesize``), ``frames``, ``minutes``, ``backend``, ``generator``, ``chunk_frames`` (None = whole
input) and ``error`` (None, or the one-line reason the worker failed, e.g. the ``memory_limit_mb``
address-space limit was hit). For ``vocoder bench --long`` and ``tools/measure_long_input.py``; never
asserted in tests.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vocoder.eval.bench import peak_rss_mb

DEFAULT = "default"  # keep the model's own chunk_frames


def long_inputs(n_mels: int, frames: int, needs_f0: bool, seed: int = 0) -> tuple[Any, Any]:
    """A random log-mel-like ``(n_mels, frames)`` float32 and, if ``needs_f0``, an F0 ``(frames,)`` in Hz that
    glides between 110 and 260 Hz with an unvoiced gap every 2 seconds (at 100 frames/s)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mel = (rng.standard_normal((n_mels, frames)) - 5.0).astype(np.float32)
    if not needs_f0:
        return mel, None
    t = np.arange(frames, dtype=np.float64)
    f0 = (185.0 + 75.0 * np.sin(2 * np.pi * t / 300.0)).astype(np.float32)
    f0[(t % 200) >= 170] = 0.0
    return mel, f0


def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    import vocoder

    model = vocoder.load(spec["model"], threads=int(spec["threads"]))
    if spec["chunk_frames"] != DEFAULT:
        model.chunk_frames = spec["chunk_frames"]
    frames = round(float(spec["minutes"]) * 60 * model.sample_rate / model.hop)
    mel, f0 = long_inputs(model.n_mels, frames, model.needs_f0, int(spec["seed"]))
    base = peak_rss_mb()
    t0 = time.perf_counter()
    wav = model.synthesize(mel, f0, seed=int(spec["seed"]))
    seconds = time.perf_counter() - t0
    if wav.shape != (frames * model.hop,):
        raise RuntimeError(f"synthesize returned {wav.shape}, expected ({frames * model.hop},)")
    return {
        "peak_rss_mb": round(peak_rss_mb(), 1), "base_rss_mb": round(base, 1), "seconds": round(seconds, 2),
        "frames": frames, "minutes": float(spec["minutes"]), "backend": model.backend,
        "generator": model.generator_name, "chunk_frames": model.chunk_frames, "error": None,
    }


def peak_memory_long_input(
    model: Any,
    minutes: float = 10.0,
    chunk_frames: int | None | str = DEFAULT,
    threads: int = 1,
    seed: int = 0,
    memory_limit_mb: int | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Synthesize ``minutes`` of random mel with ``model`` (an ``.onnx`` path, a run/checkpoint folder, or a
    loaded :class:`~vocoder.infer.base.Vocoder`, reloaded from its ``source``) in a fresh process; see the
    module docstring for the keys. ``chunk_frames``: None synthesizes the input whole, an int sets the
    chunk size, "default" keeps the model's (a given Vocoder's own setting). ``memory_limit_mb`` caps the
    worker's address space so a whole-input run fails cleanly instead of exhausting the machine."""
    if not isinstance(model, (str, Path)):
        if chunk_frames == DEFAULT:
            chunk_frames = model.chunk_frames
        model = model.source
    spec = {"model": str(model), "minutes": minutes, "chunk_frames": chunk_frames, "threads": threads, "seed": seed}
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)

    def limit() -> None:
        limit_bytes = int(memory_limit_mb) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    proc = subprocess.run(
        [sys.executable, "-m", "vocoder.eval.long_input", json.dumps(spec)], capture_output=True, text=True,
        env=env, timeout=timeout, preexec_fn=limit if memory_limit_mb else None,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1][:200]
    return {
        "peak_rss_mb": None, "base_rss_mb": None, "seconds": None, "frames": None, "minutes": float(minutes),
        "backend": "onnx" if str(model).lower().endswith(".onnx") else "torch", "generator": None,
        "chunk_frames": chunk_frames, "error": last,
    }


if __name__ == "__main__":
    print(json.dumps(_worker(json.loads(sys.argv[1]))))
