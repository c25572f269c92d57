"""`make demo`: the main job end to end on the bundled corpus, in a few minutes on 2 CPU cores.

1. train the demo recipe briefly (default: Wavehax, 300 steps; the shipped checkpoints train far longer),
2. synthesize the held-out test utterances from their mels (copy synthesis) with the trained model,
3. export the model to ONNX (with the torch/onnxruntime parity check) and synthesize again with onnxruntime,
4. print objective metrics of both against the references and Griffin-Lim.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="wavehax", choices=["wavehax", "istftnet", "pwg"])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "demo")
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args(argv)

    from vocoder.cli import main as cli

    recipe = ROOT / "recipes" / "demo" / f"{args.model}.yaml"
    run, t0 = args.out, time.time()
    train = ["train", str(recipe), "--out", str(run), "--set", f"train.max_steps={args.steps}",
             "--set", f"train.eval_every={args.steps}", "--set", f"train.save_every={args.steps}"]
    print("$ vocoder " + " ".join(train), flush=True)
    if cli(train):
        return 1
    from vocoder.data.manifest import Manifest

    manifest = Manifest.load(run / "manifest.json")
    held_out = [str(Path(manifest.root) / u.path) for u in manifest.test]
    steps = [
        ["synthesize", str(run), *held_out, "--from-audio", "--out", str(run / "wavs")],
        ["export", str(run), "--out", str(run / "model.onnx"), "--check"],
        ["synthesize", str(run / "model.onnx"), *held_out, "--from-audio", "--out", str(run / "wavs-onnx")],
        ["evaluate", str(run / "model.onnx"), "--data", str(run / "manifest.json"), "--out", str(run / "report.json")],
    ]
    for cmd in steps:
        print("$ vocoder " + " ".join(cmd), flush=True)
        code = cli(cmd)
        if code:
            return code
    print(f"demo finished in {time.time() - t0:.0f} s; outputs in {run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
