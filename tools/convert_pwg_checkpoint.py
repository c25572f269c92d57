"""Convert a kan-bayashi/ParallelWaveGAN generator checkpoint into a vocoder model directory.

    python tools/convert_pwg_checkpoint.py checkpoint-400000steps.pkl [--config config.yml]
        [--stats stats.h5|stats.npy] --out DIR

Reads the ``.pkl`` with ``torch.load(weights_only=True)`` (no pickled code runs) and takes
``["model"]["generator"]``; the config defaults to ``config.yml`` beside the checkpoint, the feature stats
to ``stats.h5``/``stats.npy`` beside it (as the reference's ``load_model`` does) and are stored as
``features.mean``/``features.std``. Writes the model folder ``DIR`` (``model.safetensors`` and
``config.yaml``, the resolved config of ``{"features": ..., "generator": {"name": "pwg", "params": ...}}``)
with :func:`vocoder.models.artifact.write_model`, after checking that the weights load into our
generator. Errors are one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from vocoder.config import config_from_dict
from vocoder.errors import ConfigError, ModelError, VocoderError
from vocoder.models.artifact import CONFIG_FILE, MODEL_FILE, write_model
from vocoder.models.convert_pwg import config_from_reference, convert_state_dict, stats_from_state_dict
from vocoder.models.generators.pwg import ParallelWaveGAN


def load_generator_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"{path}: no such checkpoint") from None
    except Exception as err:  # any unpickling failure: say which file and why, in one line
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"{path}: not loadable with torch.load(weights_only=True): {reason}") from None
    try:
        state = ckpt["model"]["generator"]
    except (KeyError, TypeError, IndexError):
        raise ModelError(f"{path}: no ['model']['generator'] state dict in this checkpoint") from None
    if not isinstance(state, dict):
        raise ModelError(f"{path}: ['model']['generator'] is not a state dict")
    return state


def load_stats(path: Path) -> tuple[list[float], list[float]]:
    """Reference feature stats: ``.npy`` holds ``[mean; scale]``, ``.h5`` the datasets ``mean``/``scale``."""
    if path.suffix == ".npy":
        arr = np.load(path)
        return arr[0].reshape(-1).tolist(), arr[1].reshape(-1).tolist()
    if path.suffix == ".h5":
        try:
            import h5py
        except ImportError:
            raise ConfigError(f"{path}: .h5 stats need h5py (pip install h5py); or pass a .npy") from None
        with h5py.File(path, "r") as f:
            return np.asarray(f["mean"]).reshape(-1).tolist(), np.asarray(f["scale"]).reshape(-1).tolist()
    raise ConfigError(f"{path}: stats must be .npy or .h5")


def convert(checkpoint: Path, config: Path | None, stats: Path | None, out: Path) -> None:
    ref_state = load_generator_state(checkpoint)
    config = config or checkpoint.with_name("config.yml")
    try:
        ref_cfg = yaml.safe_load(config.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{config}: no such config (pass --config)") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{config}: not readable as plain YAML ({type(err).__name__})") from None
    if not isinstance(ref_cfg, dict):
        raise ConfigError(f"{config}: expected a mapping at the top level")
    cfg = config_from_reference(ref_cfg)
    params = cfg["generator"]["params"]
    feats = cfg["features"]

    state = convert_state_dict(ref_state, weight_norm=params["use_weight_norm"])
    model = ParallelWaveGAN(feats["sample_rate"], feats["hop"], feats["n_mels"], **params)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ModelError(f"{checkpoint}: weights do not fit the generator in {config}: {first}") from None

    if stats is None:
        found = [p for p in map(checkpoint.with_name, ("stats.h5", "stats.npy")) if p.exists()]
        stats = found[0] if found else None
    if stats is not None and not stats.exists():
        raise ConfigError(f"{stats}: no such stats file")
    mean_scale = load_stats(stats) if stats is not None else stats_from_state_dict(ref_state)
    if mean_scale is not None:
        mean, scale = mean_scale
        if len(mean) != feats["n_mels"] or len(scale) != feats["n_mels"]:
            raise ConfigError(f"{stats}: stats have {len(mean)} bins, the config has {feats['n_mels']} mels")
        feats["mean"], feats["std"] = [float(x) for x in mean], [float(x) for x in scale]

    write_model(out, model, config_from_dict(cfg, str(config)))
    print(f"wrote {out / MODEL_FILE} ({model.num_params():,} parameters) and {out / CONFIG_FILE}")
    if mean_scale is None:
        print("note: no feature stats found; feed mels normalised as in training", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert a ParallelWaveGAN (kan-bayashi) checkpoint.")
    parser.add_argument("checkpoint", type=Path, help="checkpoint-*.pkl written by parallel-wavegan-train")
    parser.add_argument("--config", type=Path, default=None, help="its config.yml (default: beside the .pkl)")
    parser.add_argument("--stats", type=Path, default=None, help="stats.h5/.npy (default: beside the .pkl)")
    parser.add_argument("--out", type=Path, required=True, help="output model directory")
    args = parser.parse_args(argv)
    try:
        convert(args.checkpoint, args.config, args.stats, args.out)
    except VocoderError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
