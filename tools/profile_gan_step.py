"""Seconds per training step of one generator with each discriminator, and where the time goes.

    python tools/profile_gan_step.py --recipe recipes/demo/wavehax.yaml --threads 2 --steps 6 \\
        [--discriminators none,pwg,mssbcqt,msstft,mpd,mrd] [--single-pass] [--profile]

For every entry, builds the recipe's trainer with ``discriminators=[{name: D}]`` (full default sizes)
and feature matching x2, runs ``--warmup`` steps and then times ``--steps`` calls of
:meth:`~vocoder.train.trainer.Trainer.train_step` (one D update + one G update on the recipe's batch),
and prints the median s/step and its ratio to the reconstruction-only step. ``--single-pass`` times the
former generator-side critic pass (one differentiated D pass over ``cat([real, fake])``: D weight
gradients and the real half's graph included) for a before/after comparison; ``--profile`` prints the
top operators of one step from ``torch.profiler``. Timing only means something on an otherwise idle
machine (pause other jobs; ``vocoder bench``'s rule).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from vocoder.config import load_config
from vocoder.losses import objective
from vocoder.losses.objective import flatten, halves
from vocoder.train.trainer import Trainer


def _single_pass(d: torch.nn.Module, y: torch.Tensor, y_hat: torch.Tensor):
    """The former generator-side pass, for --single-pass (stands in for objective.critic_for_generator)."""
    real, fake = halves(d(torch.cat([y, y_hat])))
    real_feats = [[f.detach() for f in fs] for fs in flatten(real)[1]]
    fake_logits, fake_feats = flatten(fake)
    return real_feats, fake_logits, fake_feats


def time_steps(recipe: Path, disc: str, threads: int, warmup: int, steps: int, single_pass: bool,
               profile: bool) -> float:
    overrides = [f"train.threads={threads}", "train.valid_mos=false", "losses.feature_matching.weight=2.0",
                 "discriminators=[]" if disc == "none" else f"discriminators=[{{name: {disc}}}]"]
    cfg = load_config(recipe, overrides)
    if single_pass:
        objective.critic_for_generator = _single_pass
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run", progress=False)
        bs = cfg.train.batch_size
        for i in range(warmup):
            trainer.train_step(trainer.train_data.batch(bs, i), i)
        times = []
        for i in range(warmup, warmup + steps):
            batch = trainer.train_data.batch(bs, i)
            t0 = time.perf_counter()
            trainer.train_step(batch, i)
            times.append(time.perf_counter() - t0)
        if profile:
            from torch.profiler import ProfilerActivity
            from torch.profiler import profile as torch_profile

            batch = trainer.train_data.batch(bs, 10_000)
            with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
                trainer.train_step(batch, 10_000)
            print(f"--- {disc}: top operators (self CPU time) ---")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", type=Path, default=Path("recipes/demo/wavehax.yaml"))
    ap.add_argument("--discriminators", default="none,pwg,mssbcqt,msstft,mpd,mrd")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--single-pass", action="store_true", help="time the former generator-side critic pass")
    ap.add_argument("--profile", action="store_true", help="print torch.profiler's top operators per entry")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for disc in [d.strip() for d in args.discriminators.split(",") if d.strip()]:
        rows.append((disc, time_steps(args.recipe, disc, args.threads, args.warmup, args.steps, args.single_pass,
                                      args.profile)))
        print(f"{disc}: {rows[-1][1]:.3f} s/step", flush=True)
    base = dict(rows).get("none")
    form = "single differentiated pass (former)" if args.single_pass else "frozen D, no-grad real half"
    print(f"\n{args.recipe}, {args.threads} thread(s), median of {args.steps} steps; G-side critic: {form}\n")
    print("| discriminator | s/step | x reconstruction-only |\n|---|--:|--:|")
    for disc, sec in rows:
        ratio = f"{sec / base:.2f}" if base else "-"
        print(f"| {disc} | {sec:.3f} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
