"""`make demo`: what the package does, on the bundled corpus, in a few minutes on 2 CPU cores, offline.

1. held-out clips: the 8 test-split clips of recipes/demo/wavs (the manifest split every demo recipe uses,
   never trained on by the shipped checkpoints),
2. every shipped checkpoint (each checkpoints/*/ folder with model.safetensors) synthesizes them from their
   mels with torch and with ONNX (its model.onnx, or one exported here with the parity check); the console
   shows the torch / ONNX difference of the written wavs,
3. fine-tune: one checkpoint (default demo-wavehax) trained briefly WITH a discriminator (PWG's, feature
   matching 2.0, a low learning rate so a fresh critic cannot wreck it), then exported to ONNX (--check),
4. evaluate: `vocoder evaluate --html` per model (metrics, MOS predictors, audio players, spectrograms),
   one index page linking them; the end prints where the pages are, the best model's table and one line
   per model (Distill-MOS, PESQ-WB).

The run folder (--out, default runs/demo) is cleared first, but only when it holds nothing the demo did
not write (else nothing is deleted and the demo stops); the fine-tune run is replaced with train --force.
--quick (the test): 2 clips, 2 fine-tune steps, no MOS predictors.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "recipes" / "demo" / "wavs"
MARKER = ".vocoder-demo"  # written into --out: this folder is the demo's and may be cleared by it
OWNED = ("heldout.json", "synth", "onnx", "finetune", "report", MARKER)  # what the demo writes into --out
FINETUNED = "finetuned"  # the fine-tuned model's name in the report


class DemoError(Exception):
    """A demo problem with a one-line message (nothing half done is hidden)."""


# ------------------------------------------------------------------------------------------ timing


class LoadMeter:
    """Samples the 1-minute load average every few seconds, so the report says what the timing ran under."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    @staticmethod
    def now() -> float | None:
        try:
            return float(Path("/proc/loadavg").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _run(self, every: float) -> None:
        while True:
            value = self.now()
            if value is not None:
                self.samples.append(value)
            if self._stop.wait(every):
                return

    def start(self) -> LoadMeter:
        self._thread.start()
        return self

    def stop(self) -> str:
        self._stop.set()
        self._thread.join()
        if not self.samples:
            return "load average not available"
        mean = sum(self.samples) / len(self.samples)
        return f"1-min load average {min(self.samples):.2f} .. {max(self.samples):.2f}, mean {mean:.2f}"


class Stages:
    """Prints each stage as it starts and its wall time as it ends; keeps the times for the summary."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.times: list[tuple[str, float]] = []

    def run(self, title: str, fn, *args, **kwargs):
        load = LoadMeter.now()
        print(f"\n=== {title} (load {load:.2f})" if load is not None else f"\n=== {title}", flush=True)
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds = time.perf_counter() - start
        self.times.append((title, seconds))
        print(f"=== {title}: {seconds:.1f} s (total {self.total():.1f} s)", flush=True)
        return result

    def total(self) -> float:
        return time.perf_counter() - self.t0


def cli(args: list[str]) -> None:
    """One `vocoder` command in this process (imports and loaded MOS predictors are shared)."""
    from vocoder.cli import main as vocoder_main

    print("$ vocoder " + " ".join(a if " " not in a else repr(a) for a in args), flush=True)
    code = vocoder_main(args)
    if code:
        raise DemoError(f"`vocoder {args[0]}` failed (exit code {code}); see the lines above")


# ------------------------------------------------------------------------------------------ run folder


def prepare_out(out: Path) -> None:
    """Clear ``out`` for a new demo run. Only what the demo writes is deleted, and only from a folder that
    holds nothing else (a fine-tune run folder is checked like `vocoder train --force` checks it and is
    replaced by train --force itself); anything else stops the demo with nothing deleted."""
    from vocoder.train.run_folder import foreign_entries

    if out.exists() and not out.is_dir():
        raise DemoError(f"{out}: not a folder (--out is the demo's run folder)")
    entries = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if entries:
        if not (out / MARKER).is_file():
            raise DemoError(
                f"{out}: holds files the demo did not write ({', '.join(entries[:4])}); nothing was deleted, "
                "choose another --out (DEMO_OUT=...) or remove the folder"
            )
        foreign = [name for name in entries if name not in OWNED]
        run = out / "finetune"
        if run.is_dir():
            foreign += [f"finetune/{name}" for name in foreign_entries(run) if name != "model.onnx"]
        if foreign:
            raise DemoError(
                f"{out}: holds files the demo did not write ({', '.join(foreign[:4])}); nothing was deleted, "
                "choose another --out (DEMO_OUT=...) or move them away"
            )
        for name in OWNED:
            path = out / name
            if name == "finetune" or name == MARKER or not path.exists():
                continue
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        (run / "model.onnx").unlink(missing_ok=True)  # the run files themselves: train --force
        print(f"cleared the previous demo run in {out}")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by tools/run_demo.py; the demo clears this folder when it runs again\n")


# ------------------------------------------------------------------------------------------ stages


def demo_recipe(checkpoint: Path) -> Path:
    """recipes/demo/<generator>.yaml of a shipped checkpoint's generator (its registry name)."""
    import yaml

    generator = yaml.safe_load((checkpoint / "config.yaml").read_text())["generator"]["name"]
    recipe = ROOT / "recipes" / "demo" / f"{generator}.yaml"
    if not recipe.is_file():
        raise DemoError(f"{checkpoint.name}: no demo recipe {recipe.relative_to(ROOT)} for its generator {generator}")
    return recipe


def held_out_clips(out: Path, clips: int | None, recipe: Path) -> tuple[Path, list[Path]]:
    """The test split of the bundled corpus (the split of the demo recipes' data settings, read from
    ``recipe``), written as a manifest for `vocoder evaluate --data`; ``clips`` keeps the shortest ones only
    (the quick run)."""
    from vocoder.config import load_config
    from vocoder.data.manifest import build_manifest

    data = load_config(recipe).data
    manifest = build_manifest(
        CORPUS, data.valid_count, data.test_count, data.split_seed, data.min_seconds, data.extensions
    )
    if clips is not None:
        keep = {u.path for u in sorted(manifest.test, key=lambda u: (u.seconds, u.path))[:clips]}
        manifest.test = [u for u in manifest.test if u.path in keep]
    path = out / "heldout.json"
    manifest.save(path)
    seconds = sum(u.seconds for u in manifest.test)
    print(f"{len(manifest.test)} held-out test clips ({seconds:.1f} s) of {CORPUS.relative_to(ROOT)}, "
          f"never trained on (train split: {len(manifest.train)} clips): {path}")
    for u in manifest.test:
        print(f"  {u.path} ({u.seconds:.2f} s)")
    return path, [CORPUS / u.path for u in manifest.test]


def shipped_checkpoints(only: list[str] | None) -> list[Path]:
    found = sorted(p for p in (ROOT / "checkpoints").iterdir() if (p / "model.safetensors").is_file())
    if only:
        unknown = sorted(set(only) - {p.name for p in found})
        if unknown:
            have = ", ".join(p.name for p in found)
            raise DemoError(f"--only: no shipped checkpoint {', '.join(unknown)} (have {have})")
        found = [p for p in found if p.name in only]
    if not found:
        raise DemoError(f"{ROOT / 'checkpoints'}: no checkpoint folder with model.safetensors")
    return found


def wav_difference(a_dir: Path, b_dir: Path) -> float:
    """Max |a - b| over the same-named wavs of two folders (16-bit files: 3e-5 is one step)."""
    import numpy as np
    import soundfile as sf

    worst = 0.0
    for a in sorted(a_dir.glob("*.wav")):
        x, _ = sf.read(a, dtype="float32")
        y, _ = sf.read(b_dir / a.name, dtype="float32")
        if x.shape != y.shape:
            raise DemoError(f"{a.name}: torch and ONNX outputs differ in length ({len(x)} vs {len(y)})")
        worst = max(worst, float(np.max(np.abs(x - y))) if len(x) else 0.0)
    return worst


def synthesize_both(name: str, model: Path, onnx: Path, clips: list[Path], out: Path, threads: int) -> dict:
    """Copy synthesis of the clips with torch and with ONNX (exported first when ``onnx`` is missing)."""
    import vocoder

    info = vocoder.load(model)
    print(f"{name}: {info.generator_name}, {info.sample_rate} Hz, hop {info.hop}"
          + (", F0 input" if info.needs_f0 else ""))
    times = {}
    if not onnx.is_file():
        start = time.perf_counter()
        cli(["export", str(model), "--out", str(onnx), "--check"])
        times["export"] = time.perf_counter() - start
    for backend, source in (("torch", model), ("onnx", onnx)):
        start = time.perf_counter()
        target = out / "synth" / name / backend
        cli(["synthesize", str(source), *map(str, clips), "--from-audio", "--out", str(target),
             "--threads", str(threads)])
        times[backend] = time.perf_counter() - start
    diff = wav_difference(out / "synth" / name / "torch", out / "synth" / name / "onnx")
    print(f"{name}: torch {times['torch']:.1f} s, ONNX {times['onnx']:.1f} s"
          + (f", export {times['export']:.1f} s" if "export" in times else "")
          + f"; torch vs ONNX wavs: max |diff| {diff:.1e}")
    return {"name": name, "model": model, "onnx": onnx, "sample_rate": info.sample_rate, "diff": diff, "times": times}


def fine_tune(checkpoint: Path, out: Path, clips: list[Path], steps: int, threads: int, quick: bool) -> dict:
    """GAN fine-tune of ``checkpoint`` with its demo recipe and PWG's discriminator, export with --check,
    copy synthesis of the clips with both backends."""
    recipe = demo_recipe(checkpoint)
    run = out / "finetune"
    overrides = [
        f"train.init_from={checkpoint}",
        "discriminators=[{name: pwg}]",
        "losses.feature_matching.weight=2.0",
        "losses.mrstft.weight=2.0",  # as the shipped demo checkpoints were finished
        # a fresh critic's first gradients are noise: small steps keep the trained generator intact
        "optim.generator.lr=5.0e-5",
        "optim.generator.min_lr=1.0e-5",
        "train.batch_size=4",
        f"train.max_steps={steps}",
        f"train.eval_every={steps}",
        f"train.save_every={steps}",
        f"train.log_every={max(1, min(10, steps))}",
        f"train.threads={threads}",
    ]
    if quick:  # the test: the smallest run that still is a GAN step, a checkpoint and a validation
        overrides += ["train.batch_size=2", "train.eval_utterances=1", "train.valid_mos=false"]
    cmd = ["train", str(recipe), "--out", str(run), "--force"]
    for item in overrides:
        cmd += ["--set", item]
    start = time.perf_counter()
    cli(cmd)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    cli(["export", str(run), "--out", str(run / "model.onnx"), "--check"])
    export_s = time.perf_counter() - start
    print(f"fine-tune {steps} steps: {train_s:.1f} s, export + parity check {export_s:.1f} s")
    tuned = synthesize_both(FINETUNED, run, run / "model.onnx", clips, out, threads)
    tuned["times"].update(train=train_s, export=export_s)
    return {**tuned, "from": checkpoint.name, "steps": steps}


def evaluate_all(models: list[dict], manifest: Path, out: Path, mos: bool) -> list[dict]:
    """`vocoder evaluate --html` of each model (torch) on the held-out clips; adds each report."""
    for m in models:
        name = m["name"]
        start = time.perf_counter()
        cmd = ["evaluate", str(m["model"]), "--data", str(manifest), "--out", str(out / "report" / f"{name}.json"),
               "--html", str(out / "report" / name)]
        cli(cmd + ([] if mos else ["--no-mos"]))
        m["report"] = json.loads((out / "report" / f"{name}.json").read_text())
        m["page"] = out / "report" / name / "index.html"
        m["times"]["evaluate"] = time.perf_counter() - start
        print(f"{name}: evaluated in {m['times']['evaluate']:.1f} s")
    return models


# ------------------------------------------------------------------------------------------ summary


def _mean(report: dict, system: str, metric: str) -> float | None:
    return report["systems"][system]["mean"].get(metric)


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


BEST_BY = {True: "Distill-MOS (to 0.1; ties by PESQ-WB)", False: "PESQ-WB"}


def best_model(models: list[dict], mos: bool) -> dict:
    """Highest mean Distill-MOS to one decimal (closer is noise on 8 clips), ties by PESQ-WB; without the
    MOS predictors by PESQ-WB. A model without the value ranks last."""

    def value(m: dict, metric: str) -> float:
        v = _mean(m["report"], "model", metric)
        return -1e9 if v is None else v

    def key(m: dict) -> tuple[float, float]:
        return (round(value(m, "distill_mos"), 1) if mos else 0.0, value(m, "pesq_wb"))

    return max(models, key=key)


def summary_lines(models: list[dict]) -> list[str]:
    width = max(len(m["name"]) for m in models + [{"name": "Griffin-Lim (32 it.)"}])
    lines = []
    for m in models:
        r = m["report"]
        what = f"{m['sample_rate']} Hz, torch/ONNX max diff {m['diff']:.1e}"
        if "from" in m:
            what = f"{m['from']} + {m['steps']} GAN steps, " + what
        lines.append(f"{m['name']:<{width}}  Distill-MOS {_fmt(_mean(r, 'model', 'distill_mos'), 2):>4}  "
                     f"PESQ-WB {_fmt(_mean(r, 'model', 'pesq_wb'), 2):>4}  ({r['generator']}, {what})")
    for rate, m in baselines(models).items():
        r = m["report"]
        for system, what in (("griffin_lim", "baseline"), ("recordings", "ceiling")):
            label = r["systems"][system]["label"]
            lines.append(f"{label:<{width}}  Distill-MOS {_fmt(_mean(r, system, 'distill_mos'), 2):>4}  "
                         f"PESQ-WB {_fmt(_mean(r, system, 'pesq_wb'), 2):>4}  ({what} at {rate} Hz)")
    return lines


def baselines(models: list[dict]) -> dict[int, dict]:
    """The first model of each sample rate: its report's Griffin-Lim and recordings rows stand for that rate."""
    first: dict[int, dict] = {}
    for m in models:
        first.setdefault(m["report"]["sample_rate"], m)
    return first


def write_index(models: list[dict], best: dict, out: Path, stages: Stages, load: str) -> Path:
    """``out/report/index.html``: one row per model linking its evaluation page."""
    e = html.escape
    head = ("<tr><th>model</th><th>generator</th><th>Hz</th><th>Distill-MOS ↑</th><th>PESQ-WB ↑</th>"
            "<th>MR-STFT ↓</th><th>log-mel L1 ↓</th><th>torch/ONNX max diff</th></tr>")
    rows = []
    for m in models:
        r = m["report"]
        mark = f" ({e(m['from'])} + {m['steps']} GAN steps)" if "from" in m else ""
        mark += " <b>best</b>" if m is best else ""
        diff = f"{m['diff']:.1e}"
        rows.append(
            f"<tr><td><a href=\"{e(m['name'])}/index.html\">{e(m['name'])}</a>{mark}</td><td>{e(r['generator'])}</td>"
            f"<td>{r['sample_rate']}</td><td>{_fmt(_mean(r, 'model', 'distill_mos'), 2)}</td>"
            f"<td>{_fmt(_mean(r, 'model', 'pesq_wb'), 3)}</td><td>{_fmt(_mean(r, 'model', 'mrstft'), 3)}</td>"
            f"<td>{_fmt(_mean(r, 'model', 'log_mel_l1'), 3)}</td><td>{e(diff)}</td></tr>"
        )
    for rate, m in baselines(models).items():
        r = m["report"]
        for system in ("griffin_lim", "recordings"):
            rows.append(
                f"<tr><td><i>{e(r['systems'][system]['label'])}</i></td><td></td><td>{rate}</td>"
                f"<td>{_fmt(_mean(r, system, 'distill_mos'), 2)}</td><td>{_fmt(_mean(r, system, 'pesq_wb'), 3)}</td>"
                f"<td>{_fmt(_mean(r, system, 'mrstft'), 3)}</td><td>{_fmt(_mean(r, system, 'log_mel_l1'), 3)}</td>"
                "<td></td></tr>"
            )
    clips = len(models[0]["report"]["systems"]["model"]["utterances"])
    times = "".join(f"<li>{e(title)}: {seconds:.1f} s</li>" for title, seconds in stages.times)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vocoder demo</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 0 auto; padding: 16px 20px; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
td:first-child, th:first-child, td:nth-child(2) {{ text-align: left; }}</style></head>
<body><h1>vocoder demo</h1>
<p>Copy synthesis of {clips} held-out test clips of the bundled corpus (never trained on), scored against the
recordings. Each model's page has its full table, audio players and spectrograms of every clip.
Griffin-Lim and recordings rows: the baseline and the ceiling.</p>
<table>{head}{''.join(rows)}</table>
<p>Wall time {stages.total():.0f} s ({e(load)}):</p><ul>{times}</ul>
</body></html>
"""
    path = out / "report" / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ main


def auto_threads() -> int:
    """The cores the current 1-minute load average leaves free (at least 1)."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    load = LoadMeter.now() or 0.0
    return max(1, min(cores, cores - int(load + 0.5)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "demo", help="demo run folder (default runs/demo)")
    ap.add_argument("--quick", action="store_true", help="2 clips, 2 fine-tune steps, no MOS predictors (the test)")
    ap.add_argument("--steps", type=int, default=None, help="fine-tune steps (default 20; --quick 2)")
    ap.add_argument("--clips", type=int, default=None, help="evaluate the N shortest test clips only (--quick 2)")
    ap.add_argument("--finetune", default="demo-wavehax", help="shipped checkpoint to fine-tune (default demo-wavehax)")
    ap.add_argument("--only", default=None, help="comma-separated shipped checkpoints to synthesize (default: all)")
    ap.add_argument("--no-mos", action="store_true", help="skip the MOS predictors (Distill-MOS, DNSMOS)")
    ap.add_argument(
        "--threads", default="auto",
        help="CPU threads (default auto: the cores the load average leaves free, at least 1; on a busy "
        "machine a second thread that waits for a core makes every step slower, not faster)",
    )
    args = ap.parse_args(argv)
    steps = args.steps if args.steps is not None else (2 if args.quick else 20)
    clips = args.clips if args.clips is not None else (2 if args.quick else None)
    mos = not (args.no_mos or args.quick)
    threads = auto_threads() if args.threads == "auto" else int(args.threads) if args.threads.isdigit() else 0
    if steps < 1 or (clips is not None and clips < 1) or threads < 1:
        ap.error("--steps and --clips must be positive, --threads a positive integer or auto")

    import torch

    torch.set_num_threads(threads)
    from vocoder.errors import VocoderError

    out = args.out.resolve() if not args.out.is_absolute() else args.out
    meter = LoadMeter().start()
    stages = Stages()
    print(f"vocoder demo into {out} ({threads} threads; load average now {LoadMeter.now()})")
    try:
        checkpoints = shipped_checkpoints(args.only.split(",") if args.only else None)
        tuned = ROOT / "checkpoints" / args.finetune
        if not (tuned / "model.safetensors").is_file():
            raise DemoError(f"--finetune {args.finetune}: no such shipped checkpoint")
        prepare_out(out)
        manifest, wavs = stages.run("held-out clips", held_out_clips, out, clips, demo_recipe(tuned))
        models = []
        for folder in checkpoints:
            onnx = folder / "model.onnx" if (folder / "model.onnx").is_file() else out / "onnx" / f"{folder.name}.onnx"
            models.append(stages.run(f"synthesize {folder.name} (torch + ONNX)", synthesize_both,
                                     folder.name, folder, onnx, wavs, out, threads))
        models.append(stages.run(f"fine-tune {args.finetune} with a discriminator, export", fine_tune,
                                 tuned, out, wavs, steps, threads, args.quick))
        stages.run("evaluate (--html)", evaluate_all, models, manifest, out, mos)
    except (DemoError, VocoderError) as err:
        meter.stop()
        print(f"error: {err}", file=sys.stderr)
        return 1

    from vocoder.eval.evaluate import format_markdown

    load = meter.stop()
    best = best_model(models, mos)
    index = write_index(models, best, out, stages, load)
    print("\n=== results")
    print(f"report pages: {index} (index), one per model:")
    for m in models:
        print(f"  {m['page']}")
    print(f"\nbest model by {BEST_BY[mos]}: {best['name']} ({best['model']})\n")
    print(format_markdown(best["report"]))
    print("\nper model (means over the held-out clips):")
    for line in summary_lines(models):
        print("  " + line)
    print("\nwall time per stage:")
    for title, seconds in stages.times:
        print(f"  {seconds:6.1f} s  {title}")
    print(f"demo finished in {stages.total():.0f} s ({load}); outputs in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
