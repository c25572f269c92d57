"""Turn a training run into a shipped checkpoint folder with a model card.

    python tools/package_checkpoint.py runs/wavehax --out checkpoints/demo-wavehax --wall-time "61 min"
    python tools/package_checkpoint.py runs/u22k-b --out checkpoints/istftnet-universal-22k --float16 \\
        --no-onnx --about about.md --eval data/heldout/it-male --eval data/heldout/alsa --history "..."

Copies the run's best (else latest) checkpoint's ``model.safetensors`` (``--float16``: stored as float16,
loaded back into float32 modules) + ``config.yaml``, and its discriminator weights from ``trainer.pt`` as
``discriminator.safetensors`` (so ``train.init_from`` can resume GAN training with a trained critic).
Exports ``model.onnx`` with the torch/onnxruntime parity check unless ``--no-onnx`` (large models: the card
says how to export). Evaluates copy synthesis (model, Griffin-Lim, the recordings; MOS predictors
included) on each ``--eval`` folder, or on the run's held-out test split when none is given, and writes
``MODEL_CARD.md`` and ``report.json`` (``{name: report}`` with several sets).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vocoder.data.manifest import Manifest
from vocoder.eval.evaluate import evaluate, format_markdown
from vocoder.infer.onnx_export import export_onnx
from vocoder.models.artifact import (
    CONFIG_FILE,
    DISCRIMINATOR_FILE,
    MODEL_FILE,
    copy_model,
    resolve_model,
    write_discriminator,
)
from vocoder.train.checkpoint import STATE_FILE, load_state

DEMO_ABOUT = """Generator trained with `vocoder train` on the bundled demo corpus (`recipes/demo/wavs`: Allison Smith,
CC-BY-SA-3.0, via Debian `asterisk-core-sounds-en-g722`; see `recipes/demo/ATTRIBUTION.md`). As a work
derived from that audio, these weights are distributed under CC-BY-SA-3.0."""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--wall-time", default="unknown", help="training wall time, for the model card")
    ap.add_argument("--history", action="append", default=[],
                    help="one line of training history for the card (repeatable), e.g. the stage it was "
                         "initialised from (train.init_from) and the commands")
    ap.add_argument("--eval", action="append", type=Path, default=[],
                    help="a folder of held-out recordings to evaluate on (repeatable; default: the run's test split)")
    ap.add_argument("--about", type=Path, default=None, help="Markdown file: the card's data/licence paragraph")
    ap.add_argument("--float16", action="store_true", help="store the generator weights as float16")
    ap.add_argument("--no-onnx", action="store_true", help="do not write model.onnx (large models)")
    args = ap.parse_args(argv)

    source = resolve_model(args.run)
    state = load_state(source) if (source / STATE_FILE).is_file() else {}
    step = int(state["step"]) if "step" in state else None
    copy_model(source, args.out, args.float16)
    if state.get("discriminator"):
        write_discriminator(args.out, state["discriminator"])
    onnx_line = "- ONNX: not shipped (large); `vocoder export " + f"{args.out} --out model.onnx --check` writes it"
    if not args.no_onnx:
        report = export_onnx(args.out, args.out / "model.onnx", check=True)
        onnx_line = f"- ONNX: `model.onnx`, opset {report.opset}, max abs difference to torch {report.max_diff:.2e}"
    manifest = Manifest.load(args.run / "manifest.json")
    sets = {p.name: p for p in args.eval} or {"test split": args.run / "manifest.json"}
    reports, tables = {}, []
    for name, data in sets.items():
        reports[name] = evaluate(str(args.out), data)
        tables.append(f"### {name} (`{data}`)\n\n{format_markdown(reports[name])}")
    (args.out / "report.json").write_text(json.dumps(reports if args.eval else reports["test split"], indent=1))
    about = args.about.read_text().strip() if args.about else DEMO_ABOUT
    held_out = (
        "evaluated on held-out voices never trained on: " + ", ".join(f"`{p}`" for p in args.eval)
        if args.eval
        else f"evaluated on the {len(manifest.test)} held-out test clips ({manifest.seconds('test'):.1f} s)"
    )
    cfg_text = (args.out / CONFIG_FILE).read_text()
    history = "".join(f"- {line}\n" for line in args.history)
    d_line = f"`{DISCRIMINATOR_FILE}` (the run's discriminators, for GAN fine-tuning with `train.init_from`), " if (
        args.out / DISCRIMINATOR_FILE).is_file() else ""
    dtype = "float16 " if args.float16 else ""
    card = f"""# {args.out.name}

{about}

- run: `{args.run.name}`, checkpoint `{source.name}` (step {step}), training wall time {args.wall_time}
{history}- data: {len(manifest.train)} training clips ({manifest.seconds('train'):.0f} s); {held_out}
{onnx_line}

## Objective metrics (copy synthesis; Griffin-Lim: 32 iterations on the same mels; recordings: the ceiling)

{chr(10).join(tables)}

## Files

`{MODEL_FILE}` ({dtype}weights) + `{CONFIG_FILE}` (torch: `vocoder.load(folder)`), {d_line}`report.json`
(per-utterance metrics){", `model.onnx` (onnxruntime, no torch)" if not args.no_onnx else ""}.

## Config

```yaml
{cfg_text}```
"""
    (args.out / "MODEL_CARD.md").write_text(card)
    print("\n\n".join(tables))
    print(json.dumps({"checkpoint": str(source), "step": step}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
