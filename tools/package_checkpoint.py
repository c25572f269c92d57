"""Turn a training run into a shipped checkpoint folder with its ONNX file and a model card.

    python tools/package_checkpoint.py runs/wavehax --out checkpoints/demo-wavehax --wall-time "61 min"

Copies the run's best (else latest) checkpoint's ``model.safetensors`` + ``config.yaml``, exports
``model.onnx`` with the torch/onnxruntime parity check, evaluates copy synthesis of the run's held-out
test split (model and Griffin-Lim), and writes ``MODEL_CARD.md`` and ``report.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from vocoder.data.manifest import Manifest
from vocoder.eval.evaluate import evaluate, format_markdown
from vocoder.infer.onnx_export import export_onnx
from vocoder.train.checkpoint import STATE_FILE, load_state, resolve_checkpoint


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--wall-time", default="unknown", help="training wall time, for the model card")
    ap.add_argument("--history", action="append", default=[],
                    help="one line of training history for the card (repeatable), e.g. the stage it was "
                         "initialised from (train.init_from) and the commands")
    args = ap.parse_args(argv)

    source = resolve_checkpoint(args.run)
    step = int(load_state(source)["step"]) if (source / STATE_FILE).is_file() else None
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "config.yaml"):
        shutil.copy(source / name, args.out / name)
    report = export_onnx(args.out, args.out / "model.onnx", check=True)
    manifest = Manifest.load(args.run / "manifest.json")
    results = evaluate(str(args.out), args.run / "manifest.json", out=args.out / "report.json")
    table = format_markdown(results)
    cfg_text = (args.out / "config.yaml").read_text()
    history = "".join(f"- {line}\n" for line in args.history)
    card = f"""# {args.out.name}

Generator trained with `vocoder train` on the bundled demo corpus (`recipes/demo/wavs`: Allison Smith,
CC-BY-SA-3.0, via Debian `asterisk-core-sounds-en-g722`; see `recipes/demo/ATTRIBUTION.md`). As a work
derived from that audio, these weights are distributed under CC-BY-SA-3.0.

- run: `{args.run.name}`, checkpoint `{source.name}` (step {step}), training wall time {args.wall_time}
{history}- data: {len(manifest.train)} training clips ({manifest.seconds('train'):.0f} s); evaluated on the
  {len(manifest.test)} held-out test clips ({manifest.seconds('test'):.1f} s), never seen in training
- ONNX: `model.onnx`, opset {report.opset}, max abs difference to torch {report.max_diff:.2e}

## Objective metrics (copy synthesis of the test clips; Griffin-Lim: 32 iterations on the same mels)

{table}

## Files

`model.safetensors` + `config.yaml` (torch: `vocoder.load(folder)`), `model.onnx` (onnxruntime, no torch),
`report.json` (per-utterance metrics).

## Config

```yaml
{cfg_text}```
"""
    (args.out / "MODEL_CARD.md").write_text(card)
    print(table)
    print(json.dumps({"checkpoint": str(source), "step": step, "onnx_max_diff": report.max_diff}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
