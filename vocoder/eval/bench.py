"""``vocoder bench``: real-time factor, peak memory, streaming latency and cost of each generator on this CPU.

For each generator (a named config of :func:`named_configs` or a recipe YAML, with random weights; or a model
folder such as a converted HiFi-GAN checkpoint or a shipped checkpoint, with its own weights):

1. this process builds it (seed 0), writes it as a model folder (:func:`~vocoder.models.artifact.write_model`),
   counts parameters and GMAC per second of audio (:func:`~vocoder.models.factory.generator_cost`, weight
   norm folded) and, for the onnx backend, exports it (:func:`~vocoder.infer.onnx_export.export_generator`);
2. each (backend, threads) runs in a fresh worker process (``python -m vocoder.eval.bench WORKER_JSON``)
   that loads the model as a user would (:class:`~vocoder.infer.torch_backend.TorchVocoder`: eager,
   ``torch.inference_mode``, ``set_num_threads``; :class:`~vocoder.infer.runtime.OnnxVocoder`: intra-op
   threads, sequential, ``ORT_ENABLE_ALL``; the onnx worker never imports torch), synthesizes
   ``seconds`` of audio from a random mel once to warm up and ``repeats`` times timed, then streams
   chunks of ``chunk_frames`` (:func:`~vocoder.infer.streaming.chunk_latencies`) when the model can;
3. this process times two dense kernels at each thread count: ``torch.mm`` of two 1024 x 1024 float32
   matrices and a ``Conv1d(256, 256, 7)`` over 4096 samples. Both are here because they disagree on this
   kind of machine: torch's sgemm is MKL, which on AMD CPUs runs well below the oneDNN convolutions the
   generators use (measured on a Zen 5 EPYC: ~85 vs ~220 GFLOP/s on one thread), so matmul alone is no
   ceiling.

Numbers per row:

* ``rtf``: median wall seconds of ``synthesize`` / audio seconds (< 1 is faster than real time);
* ``gmac_per_s``: GMAC per second of audio; ``gflops_achieved = 2 * gmac_per_s / rtf``;
* ``floor_rtf = 2 * gmac_per_s / max(matmul_gflops, conv_gflops)``: the RTF if the model ran at the
  faster dense kernel's speed, so ``floor_rtf / rtf`` is the fraction of that throughput the model reaches;
* ``peak_rss_mb``: ``VmHWM`` of the worker (``/proc/self/status``; ``ru_maxrss`` where there is no
  /proc), i.e. the peak resident memory of the whole process: interpreter, libraries, model,
  activations. ``base_rss_mb`` is the same reading after the imports, before the model is loaded, so
  ``peak - base`` is what the model and its runs add;
* ``stream_chunk_ms``: median wall ms of the pushes that emit audio (the first ``right // chunk_frames``
  pushes only buffer look-ahead and the final flush is skipped); None when the model cannot stream exactly
  (Wavehax with an utterance-wide layer norm).

The helpers ``tools/bench_peers.py`` reuses (:func:`time_runs`, :func:`peak_rss_mb`, :func:`matmul_gflops`,
:func:`conv_gflops`, :func:`count_gmac`, :class:`BenchRow`, :func:`format_markdown`) import torch only
inside, so the module loads without it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from vocoder import output_paths
from vocoder.errors import ConfigError, ModelError

BACKENDS = ("torch", "onnx")
RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def named_configs() -> dict[str, tuple[str, dict[str, Any] | None]]:
    """name -> (recipe under recipes/, config used when that recipe does not exist; None: it must exist),
    from the registry: each generator's ``reference_config`` under its name, then ``demo-<name>`` for each
    registered generator with a ``recipes/demo/<name>.yaml``. Imports the generators (torch)."""
    from vocoder import registry

    named: dict[str, tuple[str, dict[str, Any] | None]] = {}
    generators = registry.classes("generator")
    for name, cls in generators.items():
        ref = cls.reference_config
        if ref is not None:
            fallback = {"features": {"preset": ref["preset"]}, "generator": {"name": name, "params": ref["params"]}}
            named[name] = (ref["recipe"], fallback)
    for name in generators:
        if (RECIPES / "demo" / f"{name}.yaml").is_file():
            named[f"demo-{name}"] = (f"demo/{name}.yaml", None)
    return named


MATMUL_SIZE = 1024
CONV_KERNEL = 7
STREAM_CHUNKS = 8  # emitting chunks streamed per measurement


@dataclass
class BenchRow:
    """One generator x backend x threads measurement (``gflops_achieved`` and ``floor_rtf`` are derived)."""

    generator: str
    backend: str
    threads: int
    seconds: float  # audio length synthesized per run
    rtf: float
    params: int
    gmac_per_s: float
    matmul_gflops: float
    conv_gflops: float
    peak_rss_mb: float
    base_rss_mb: float
    stream_chunk_ms: float | None = None
    stream_chunk_frames: int = 10
    repeats: int = 5
    source: str = ""  # recipe path or "built-in"
    gflops_achieved: float = field(init=False)
    floor_rtf: float = field(init=False)

    def __post_init__(self) -> None:
        self.gflops_achieved = 2 * self.gmac_per_s / self.rtf
        self.floor_rtf = 2 * self.gmac_per_s / max(self.matmul_gflops, self.conv_gflops)


@dataclass
class BenchReport:
    """What ``vocoder bench --json`` writes: ``{"machine": {...}, "rows": [BenchRow fields, ...]}``."""

    machine: dict[str, Any]
    rows: list[BenchRow]

    def to_dict(self) -> dict[str, Any]:
        return {"machine": self.machine, "rows": [dataclasses.asdict(r) for r in self.rows]}


# ----------------------------------------------------------------------------------- measuring helpers


def time_runs(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far in MB: ``VmHWM``, or ``ru_maxrss`` without /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def matmul_gflops(threads: int, size: int = MATMUL_SIZE, repeats: int = 10) -> float:
    """GFLOP/s of ``torch.mm`` on two ``size x size`` float32 matrices at ``threads`` threads (median)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    return _gflops(lambda: torch.mm(a, b), 2 * size**3, threads, repeats)


def conv_gflops(threads: int, repeats: int = 10) -> float:
    """GFLOP/s of a ``Conv1d(256, 256, 7)`` over 4096 samples (oneDNN, the kernels our generators use)."""
    import torch

    conv, x = torch.nn.Conv1d(256, 256, CONV_KERNEL, padding=CONV_KERNEL // 2), torch.randn(1, 256, 4096)
    return _gflops(lambda: conv(x), 2 * 256 * 256 * CONV_KERNEL * 4096, threads, repeats)


def _gflops(fn: Callable[[], Any], flops: int, threads: int, repeats: int) -> float:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            times = time_runs(fn, repeats, warmup=2)
    finally:
        torch.set_num_threads(previous)
    return flops / statistics.median(times) / 1e9


def count_gmac(fn: Callable[[], Any]) -> float:
    """GMAC of one call of ``fn`` (matmuls and convolutions, ``torch.utils.flop_counter``)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 2 / 1e9


def machine_info(threads: Sequence[int], seconds: float, repeats: int) -> dict[str, Any]:
    """CPU model, core count, library versions and the run settings, for the table header and JSON."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": version("torch"),
        "onnxruntime": version("onnxruntime"),
        "threads": list(threads),
        "seconds": seconds,
        "repeats": repeats,
        "matmul": f"torch.mm {MATMUL_SIZE}x{MATMUL_SIZE} float32",
        "conv": f"torch Conv1d 256->256 kernel {CONV_KERNEL} over 4096 samples, float32",
    }


# ------------------------------------------------------------------------------------------ configs


def resolve_config(name: str):
    """``(RunConfig, source)`` of a named config (:func:`named_configs`) or a recipe YAML path."""
    from vocoder.config import config_from_dict, load_config

    named = named_configs()
    if name in named:
        recipe, fallback = named[name]
        path = RECIPES / recipe
        if path.is_file():
            return load_config(path), str(path)
        if fallback is None:
            raise ConfigError(f"bench: recipe {path} of {name!r} not found (run from a source checkout)")
        return config_from_dict(fallback, source=f"bench {name}"), "built-in"
    if Path(name).is_file():
        return load_config(name), name
    if Path(name).is_dir():
        from vocoder.models.artifact import read_config, resolve_model

        try:
            folder = resolve_model(name)
        except ModelError as err:
            raise ConfigError(f"bench: {err}") from None
        return read_config(folder), str(folder)
    raise ConfigError(
        f"bench: unknown generator {name!r} (named: {', '.join(named)}; or a recipe YAML path, or a model folder)"
    )


def parse_list(text: str, what: str, allowed: Sequence[str] | None = None) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise ConfigError(f"bench: --{what} is empty")
    for item in items:
        if allowed is not None and item not in allowed:
            raise ConfigError(f"bench: unknown {what[:-1]} {item!r} (known: {', '.join(allowed)})")
    return items


def parse_threads(text: str) -> list[int]:
    out = []
    for item in parse_list(text, "threads"):
        if not item.isdigit() or int(item) < 1:
            raise ConfigError(f"bench: --threads takes positive integers, got {item!r}")
        out.append(int(item))
    return out


# ------------------------------------------------------------------------------------------- worker


def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Load one model with one backend in this (fresh) process and measure it; see the module docstring."""
    import numpy as np

    from vocoder.infer.streaming import chunk_latencies

    threads = int(spec["threads"])
    if spec["backend"] == "torch":
        from vocoder.infer.torch_backend import TorchVocoder as Backend
    else:
        from vocoder.infer.runtime import OnnxVocoder as Backend
    base = peak_rss_mb()
    model = Backend(spec["model"], threads=threads)
    frames = max(model.min_frames, round(spec["seconds"] * model.sample_rate / model.hop))
    rng = np.random.default_rng(0)
    mel = (rng.standard_normal((model.n_mels, frames)) - 6.0).astype(np.float32)  # a log-mel level
    f0 = np.full(frames, 200.0, dtype=np.float32) if model.needs_f0 else None
    times = time_runs(lambda: model.synthesize(mel, f0), int(spec["repeats"]))

    stream_ms = None
    chunk = int(spec["chunk_frames"])
    if model.context.exact:
        skip = model.context.right // chunk
        n = min(frames, (skip + STREAM_CHUNKS) * chunk)
        part = None if f0 is None else f0[:n]
        chunk_latencies(model, mel[:, :n], part, chunk)  # warm-up: onnxruntime plans each new shape
        pushes = chunk_latencies(model, mel[:, :n], part, chunk)[:-1]
        emitting = pushes[skip:] or pushes
        stream_ms = 1e3 * statistics.median(emitting)
    return {
        "wall": times,
        "audio_seconds": frames * model.hop / model.sample_rate,
        "peak_rss_mb": peak_rss_mb(),
        "base_rss_mb": base,
        "stream_chunk_ms": stream_ms,
    }


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`_worker` in a fresh interpreter (its own peak memory, thread pools set from the start)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]), MKL_NUM_THREADS=str(spec["threads"]))
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "vocoder.eval.bench", json.dumps(spec)], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1][:160]
        raise ModelError(f"bench: {spec['model']} on {spec['backend']} failed ({last})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------ the run


def run_bench(
    generators: Sequence[str] | None = None,
    backends: Sequence[str] = BACKENDS,
    threads: Sequence[int] = (1, 2),
    seconds: float = 4.0,
    repeats: int = 5,
    chunk_frames: int = 10,
    log: Callable[[str], None] = lambda m: None,
) -> BenchReport:
    """Measure every generator x backend x threads (``generators`` None: every named config); see the module
    docstring for what each number means."""
    import torch

    from vocoder.infer.onnx_export import export_generator
    from vocoder.models.artifact import read_weights, write_model
    from vocoder.models.factory import build_generator, generator_cost

    if not seconds > 0:
        raise ConfigError(f"bench: --seconds must be > 0, got {seconds}")
    if repeats < 1 or chunk_frames < 1:
        raise ConfigError(f"bench: --repeats and chunk frames must be >= 1, got {repeats}, {chunk_frames}")
    for b in backends:
        if b not in BACKENDS:
            raise ConfigError(f"bench: unknown backend {b!r} (known: {', '.join(BACKENDS)})")
    if generators is None:
        generators = list(named_configs())
    configs = [(name, *resolve_config(name)) for name in generators]  # fail on a bad name before measuring
    matmul = {t: matmul_gflops(t) for t in threads}
    conv = {t: conv_gflops(t) for t in threads}
    log("GFLOP/s: " + ", ".join(f"{t} thread(s) matmul {matmul[t]:.1f} conv {conv[t]:.1f}" for t in threads))
    rows = []
    for name, cfg, source in configs:
        with tempfile.TemporaryDirectory(prefix="vocoder-bench-") as tmp:
            torch.manual_seed(0)
            generator = build_generator(cfg, where=source).eval()
            if Path(source).is_dir():  # a model folder: its own weights
                generator.load_state_dict(read_weights(Path(source)))
            write_model(Path(tmp) / "model", generator, cfg)
            generator.remove_weight_norm()
            params, gmac = generator_cost(generator)
            paths = {"torch": str(Path(tmp) / "model")}
            if "onnx" in backends:
                paths["onnx"] = export_generator(generator, cfg, Path(tmp) / "model.onnx").path
            del generator
            for backend in backends:
                for t in threads:
                    spec = {
                        "model": paths[backend], "backend": backend, "threads": t, "seconds": seconds,
                        "repeats": repeats, "chunk_frames": chunk_frames,
                    }
                    out = run_worker(spec)
                    row = BenchRow(
                        generator=name, backend=backend, threads=t, seconds=out["audio_seconds"],
                        rtf=statistics.median(out["wall"]) / out["audio_seconds"], params=params, gmac_per_s=gmac,
                        matmul_gflops=matmul[t], conv_gflops=conv[t], peak_rss_mb=out["peak_rss_mb"],
                        base_rss_mb=out["base_rss_mb"],
                        stream_chunk_ms=out["stream_chunk_ms"], stream_chunk_frames=chunk_frames, repeats=repeats,
                        source=source,
                    )
                    log(f"{name} {backend} x{t}: rtf {row.rtf:.3f}, peak {row.peak_rss_mb:.0f} MB")
                    rows.append(row)
    return BenchReport(machine_info(threads, seconds, repeats), rows)


def format_markdown(report: BenchReport) -> str:
    """The machine line and one table row per measurement."""
    m = report.machine
    dense = {r.threads: (r.matmul_gflops, r.conv_gflops) for r in report.rows}
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores; torch {m['torch']}, onnxruntime {m['onnxruntime']}; "
        f"{m['seconds']:g} s of audio, median of {m['repeats']} runs after a warm-up. Dense GFLOP/s "
        f"(matmul = {m['matmul']}; conv = {m['conv']}): "
        + "; ".join(f"{t} thread(s) matmul {mm:.1f}, conv {cv:.1f}" for t, (mm, cv) in sorted(dense.items())),
        "",
        "| generator | backend | threads | params (M) | GMAC/s | RTF | floor RTF | GFLOP/s | % of dense "
        "| peak RSS (MB) | model RSS (MB) | stream ms/chunk |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in report.rows:
        chunk = "-" if r.stream_chunk_ms is None else f"{r.stream_chunk_ms:.1f} ({r.stream_chunk_frames} fr)"
        lines.append(
            f"| {r.generator} | {r.backend} | {r.threads} | {r.params / 1e6:.2f} | {r.gmac_per_s:.2f} "
            f"| {r.rtf:.3f} | {r.floor_rtf:.3f} | {r.gflops_achieved:.1f} | {100 * r.floor_rtf / r.rtf:.0f} "
            f"| {r.peak_rss_mb:.0f} | {r.peak_rss_mb - r.base_rss_mb:.0f} | {chunk} |"
        )
    return "\n".join(lines)


def check_json_path(path: str | Path) -> Path:
    """Refuse (one :class:`ConfigError` line) a ``--json`` path that is a folder or cannot be written, before
    the bench runs (:func:`vocoder.output_paths.check_out_file`)."""
    return output_paths.check_out_file(path, "JSON file", "--json is the path of the JSON file to write")


def write_json(report: BenchReport, path: str | Path) -> None:
    path = check_json_path(path)
    try:
        path.write_text(json.dumps(report.to_dict(), indent=1) + "\n")
    except OSError as err:
        raise ConfigError(f"{path}: cannot write the JSON file ({output_paths.os_reason(err)})") from None


if __name__ == "__main__":  # worker process of run_worker
    print(json.dumps(_worker(json.loads(sys.argv[1]))))
