"""Peak memory of synthesizing a 10-minute mel with the demo-size generators, on torch and onnxruntime.

Builds the demo recipe (``recipes/demo/<name>.yaml``) of each registered generator, and Wavehax with
framewise norms (``wavehax_msstft_cqt.yaml``), with random weights (seed 0), writes it as a checkpoint
folder, exports it to ONNX, and measures one ``synthesize`` of ``--minutes`` of random mel in a fresh
process per row (:func:`vocoder.eval.long_input.peak_memory_long_input`): with the default chunking on
both backends, and whole (``chunk_frames=None``) for the ``--whole`` models on both backends, under an
address-space limit of ``--limit-mb`` so a run too big for the machine fails instead of swapping.

    python tools/measure_long_input.py [--minutes 10] [--whole wavehax] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from vocoder import registry
from vocoder.config import load_config
from vocoder.eval.long_input import DEFAULT, peak_memory_long_input
from vocoder.infer.onnx_export import export_onnx
from vocoder.models.artifact import write_model
from vocoder.models.factory import build_generator

DEMO = Path(__file__).resolve().parents[1] / "recipes" / "demo"
VARIANTS = {"wavehax-framewise": "wavehax_msstft_cqt.yaml"}  # measured beside the generators' own demo recipes


def demo_models() -> dict[str, str]:
    """Model name -> recipe under recipes/demo/: every registered generator with a demo recipe, then VARIANTS."""
    own = {name: f"{name}.yaml" for name in registry.names("generator") if (DEMO / f"{name}.yaml").is_file()}
    return {**own, **VARIANTS}


def build(name: str, recipe: str, folder: Path) -> tuple[Path, Path]:
    cfg = load_config(DEMO / recipe)
    torch.manual_seed(0)
    generator = build_generator(cfg)
    write_model(folder / name, generator, cfg)
    return folder / name, Path(export_onnx(folder / name, folder / f"{name}.onnx").path)


def main() -> int:
    models = demo_models()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--models", default=",".join(models), help=f"comma-separated, from {', '.join(models)}")
    parser.add_argument("--whole", default="wavehax", help="models also measured without chunking ('' for none)")
    parser.add_argument("--backends", default="torch,onnx")
    parser.add_argument("--limit-mb", type=int, default=12000, help="address-space limit of each worker")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in models]
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)} (known: {', '.join(models)})")
    whole = {n for n in args.whole.split(",") if n}
    backends = [b for b in args.backends.split(",") if b]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        print("| generator | backend | chunking | frames | peak RSS MB | base RSS MB | seconds | error |")
        print("|---|---|---|---|---|---|---|---|")
        for name in names:
            paths = dict(zip(("torch", "onnx"), build(name, models[name], Path(tmp))))
            for backend in backends:
                for chunk in [DEFAULT] + ([None] if name in whole else []):
                    row = peak_memory_long_input(paths[backend], args.minutes, chunk, memory_limit_mb=args.limit_mb)
                    row["model"] = name
                    rows.append(row)
                    how = "whole" if row["chunk_frames"] is None else f"chunks of {row['chunk_frames']}"
                    print(f"| {name} | {backend} | {how} | {row['frames']} | {row['peak_rss_mb']} | "
                          f"{row['base_rss_mb']} | {row['seconds']} | {row['error'] or ''} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
