"""Benchmark the reference implementations beside ``vocoder bench``: kan-bayashi/ParallelWaveGAN 0.6.1's
Parallel WaveGAN v1 and HiFi-GAN V1 generators, torch eager, same audio length, threads and row schema.

Runs in the scratch venv that has the reference package (``tools/make_pwg_fixture.py`` says how it was
made), never in the project venv; the project's source folder is put on ``sys.path`` so that the helpers
of :mod:`vocoder.eval.bench` (torch-free at import) and our generator are shared::

    /work/scratch/pwgref/bin/python tools/bench_peers.py --threads 1,2 --seconds 4 --json peers.json [--same-weights]

Models (random weights, seed 0, weight norm removed), both at 22.05 kHz / hop 256 / 80 mels:

* ``ref-pwg``: ``ParallelWaveGANGenerator()`` (the v1 default: 30 layers, 3 stacks, 64/128/64 channels,
  upsample 4 x 4 x 4 x 4), timed through ``inference(c=mel (T, 80), x=noise (T * 256, 1))``;
* ``ref-hifigan-v1``: ``HiFiGANGenerator()`` whose defaults are HiFi-GAN V1 (512 channels, upsample
  8, 8, 2, 2 with kernels 16, 16, 4, 4, ResBlock1 kernels 3, 7, 11, dilations 1, 3, 5), timed through
  ``inference(c=mel (T, 80))``.

Each (model, threads) runs in a fresh process (``--worker``) so its ``peak_rss_mb`` (VmHWM) is its own,
exactly as ``vocoder bench`` does; GMAC are counted with the same flop counter. ``stream_chunk_ms`` is null
(the reference has no streaming). Output: the markdown table on stdout and, with ``--json``, the same
``{"machine", "rows"}`` layout as ``vocoder bench --json`` so the two files' rows can be concatenated.

``--same-weights``: our :class:`~vocoder.models.generators.pwg.ParallelWaveGAN` loaded with the reference
PWG's weights (:func:`vocoder.models.convert_pwg.convert_state_dict`), both weight norm folded, on the same
mel and noise: the max abs difference of the outputs, and both median wall times measured interleaved
(ours, ref, ours, ref, ...) so that load from other processes hits both alike; ``speedup = ref / ours``.
When onnxruntime is installed in that venv (``pip install onnxruntime==1.31.1 onnx==1.23.2``), our model is
also exported (:func:`~vocoder.infer.onnx_export.export_generator`) and timed in the same interleaved loop
through :class:`~vocoder.infer.runtime.OnnxVocoder`: ``ours_onnx_rtf``, ``speedup_onnx``,
``max_abs_diff_onnx``. Stored under ``"same_weights"`` in the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vocoder.eval import bench  # noqa: E402  (needs the sys.path entry above)

SAMPLE_RATE, HOP, N_MELS = 22050, 256, 80
SOURCES = {
    "ref-pwg": "parallel-wavegan 0.6.1 ParallelWaveGANGenerator() (v1)",
    "ref-hifigan-v1": "parallel-wavegan 0.6.1 HiFiGANGenerator() (V1)",
}


def build(name: str):
    """The reference generator ``name``, seeded, eval mode, weight norm removed."""
    import torch
    from parallel_wavegan.models import HiFiGANGenerator, ParallelWaveGANGenerator

    torch.manual_seed(0)
    model = ParallelWaveGANGenerator() if name == "ref-pwg" else HiFiGANGenerator()
    model.remove_weight_norm()
    return model.eval()


def make_call(name: str, model, frames: int, seed: int = 0):
    """A no-argument function running one ``inference`` on a random mel (and noise) of ``frames`` frames."""
    import torch

    g = torch.Generator().manual_seed(seed)
    mel = torch.randn(frames, N_MELS, generator=g)
    if name == "ref-pwg":
        noise = torch.randn(frames * HOP, 1, generator=g)
        return lambda: model.inference(c=mel, x=noise)
    return lambda: model.inference(c=mel)


def worker(spec: dict) -> dict:
    """One (model, threads) measurement in this fresh process."""
    import parallel_wavegan.models  # noqa: F401  (imported before the baseline reading, as torch is)
    import torch

    torch.set_num_threads(int(spec["threads"]))
    base = bench.peak_rss_mb()
    model = build(spec["model"])
    frames = round(spec["seconds"] * SAMPLE_RATE / HOP)
    call = make_call(spec["model"], model, frames)
    with torch.inference_mode():
        times = bench.time_runs(call, int(spec["repeats"]))
    return {"wall": times, "audio_seconds": frames * HOP / SAMPLE_RATE, "peak_rss_mb": bench.peak_rss_mb(),
            "base_rss_mb": base}


def run_worker(spec: dict) -> dict:
    env_threads = str(spec["threads"])
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True,
        env={**os.environ, "OMP_NUM_THREADS": env_threads, "MKL_NUM_THREADS": env_threads},
    )
    if proc.returncode != 0:
        raise SystemExit(f"worker {spec} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cost(name: str) -> tuple[int, float]:
    """(parameters, GMAC per second of audio) of the reference generator ``name``."""
    model = build(name)
    frames = round(SAMPLE_RATE / HOP)
    gmac = bench.count_gmac(make_call(name, model, frames))
    return sum(p.numel() for p in model.parameters()), gmac / (frames * HOP / SAMPLE_RATE)


def same_weights(threads: int, seconds: float, repeats: int) -> dict:
    """Our PWG with the reference PWG's (converted) weights vs the reference: output diff and speed."""
    import torch
    from parallel_wavegan.models import ParallelWaveGANGenerator

    from vocoder.models.convert_pwg import convert_state_dict
    from vocoder.models.generators.pwg import ParallelWaveGAN

    torch.manual_seed(0)
    ref = ParallelWaveGANGenerator().eval()
    ours = ParallelWaveGAN(SAMPLE_RATE, HOP, N_MELS, upsample_scales=[4, 4, 4, 4]).eval()
    ours.load_state_dict(convert_state_dict(ref.state_dict(), weight_norm=True))
    ref.remove_weight_norm()
    ours.remove_weight_norm()

    frames = round(seconds * SAMPLE_RATE / HOP)
    g = torch.Generator().manual_seed(1)
    mel = torch.randn(1, N_MELS, frames, generator=g)
    noise = torch.randn(1, 1, frames * HOP, generator=g)

    def run_ours():
        return ours(mel, noise=noise)

    onnx_run = _onnx_runner(ours, threads, mel.numpy(), noise.numpy())

    def run_ref():  # takes (T, C) / (T * hop, 1) and replication-pads the mel itself
        return ref.inference(c=mel[0].T, x=noise[0].T)

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            diff = float((run_ours()[0].T - run_ref()).abs().max())
            onnx_diff = None if onnx_run is None else float(np.abs(onnx_run()[0, 0] - run_ref()[:, 0].numpy()).max())
            t_ours, t_ref, t_onnx = [], [], []
            for _ in range(repeats):
                t_ours += bench.time_runs(run_ours, 1, warmup=0)
                t_ref += bench.time_runs(run_ref, 1, warmup=0)
                if onnx_run is not None:
                    t_onnx += bench.time_runs(onnx_run, 1, warmup=0)
    finally:
        torch.set_num_threads(previous)
    audio = frames * HOP / SAMPLE_RATE
    ours_rtf, ref_rtf = statistics.median(t_ours) / audio, statistics.median(t_ref) / audio
    out = {"threads": threads, "seconds": audio, "repeats": repeats, "ours_rtf": ours_rtf, "ref_rtf": ref_rtf,
           "speedup": ref_rtf / ours_rtf, "max_abs_diff": diff}
    if t_onnx:
        onnx_rtf = statistics.median(t_onnx) / audio
        out.update(ours_onnx_rtf=onnx_rtf, speedup_onnx=ref_rtf / onnx_rtf, max_abs_diff_onnx=onnx_diff)
    return out


def _onnx_runner(model, threads: int, mel, noise):
    """A call that runs ``model`` exported by :func:`vocoder.infer.onnx_export.export_generator` in
    onnxruntime (our session options, ``threads`` intra-op) on ``mel``/``noise``; None without onnxruntime."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print("same weights: onnxruntime is not installed here; the ONNX column is left out", file=sys.stderr)
        return None
    from vocoder.config import config_from_dict
    from vocoder.infer.onnx_export import export_generator
    from vocoder.infer.runtime import OnnxVocoder

    cfg = config_from_dict({"features": {"preset": "pwg-22k"}, "generator": {"name": "pwg", "params": {
        "upsample_scales": [4, 4, 4, 4]}}}, source="bench_peers")
    path = Path(tempfile.mkdtemp(prefix="bench-peers-")) / "pwg.onnx"
    export_generator(model, cfg, path)
    import onnxruntime as ort

    from vocoder.infer.runtime import session_options

    session = OnnxVocoder(path, threads=threads)
    # ORT's idle threads spin after each run; interleaved with torch in this process they would steal the
    # cores from the next torch call, so spinning is off here
    options = session_options(threads)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda: session.run(mel, None, noise, None)[:, None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ref-pwg,ref-hifigan-v1")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None)
    parser.add_argument("--same-weights", action="store_true", help="our PWG vs the reference with equal weights")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    # the reference applies the deprecated torch.nn.utils.weight_norm on every conv: one warning each
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch.nn.utils.weight_norm")
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return

    threads = bench.parse_threads(args.threads)
    models = bench.parse_list(args.models, "models", tuple(SOURCES))
    matmul = {t: bench.matmul_gflops(t) for t in threads}
    conv = {t: bench.conv_gflops(t) for t in threads}
    rows = []
    for name in models:
        params, gmac = cost(name)
        for t in threads:
            out = run_worker({"model": name, "threads": t, "seconds": args.seconds, "repeats": args.repeats})
            rows.append(bench.BenchRow(
                generator=name, backend="torch", threads=t, seconds=out["audio_seconds"],
                rtf=statistics.median(out["wall"]) / out["audio_seconds"], params=params, gmac_per_s=gmac,
                matmul_gflops=matmul[t], conv_gflops=conv[t], peak_rss_mb=out["peak_rss_mb"],
                base_rss_mb=out["base_rss_mb"], stream_chunk_ms=None, repeats=args.repeats, source=SOURCES[name],
            ))
            print(f"{name} x{t}: rtf {rows[-1].rtf:.3f}", file=sys.stderr)
    report = bench.BenchReport(bench.machine_info(threads, args.seconds, args.repeats), rows)
    print(bench.format_markdown(report))
    data = report.to_dict()
    if args.same_weights:
        data["same_weights"] = [same_weights(t, args.seconds, args.repeats) for t in threads]
        print("\nSame weights (our PWG vs reference PWG v1 in torch eager, interleaved medians):")
        for s in data["same_weights"]:
            print(f"  {s['threads']} thread(s): ours torch RTF {s['ours_rtf']:.3f}, reference RTF {s['ref_rtf']:.3f}, "
                  f"speedup {s['speedup']:.2f}x, max abs diff {s['max_abs_diff']:.1e}")
            if "ours_onnx_rtf" in s:
                print(f"  {s['threads']} thread(s): ours onnxruntime RTF {s['ours_onnx_rtf']:.3f}, "
                      f"speedup {s['speedup_onnx']:.2f}x, max abs diff {s['max_abs_diff_onnx']:.1e}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
