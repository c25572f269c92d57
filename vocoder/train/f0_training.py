"""Train the mel -> F0 predictor of a model folder (:mod:`vocoder.models.f0_predictor`).

:func:`train_f0_predictor` reads the audio under one or more data folders (each split by
:func:`~vocoder.data.manifest.build_manifest`; the train part trains, the valid part measures), computes
the model's own log-mel and F0 labels (the model's F0 method and range, cached like training's), fits the
predictor on random segments and writes ``f0_predictor.safetensors`` + ``f0_predictor.yaml`` into the
model folder. Batches come from one seeded generator: the same call gives the same weights.

Loss per segment frame: binary cross-entropy of the voicing logit against the label's voicing, plus
``LOG_F0_WEIGHT`` x L1 of log-F0 on voiced frames (1 unit of log-F0 = 1731 cents). A random level offset
of the whole segment (``GAIN_RANGE``, in the mel's natural-log units) keeps the predictor from reading
pitch off loudness.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vocoder.errors import InputError, ModelError

LOG_F0_WEIGHT = 5.0
GAIN_RANGE = 1.5


@dataclass
class _Clip:
    mel: np.ndarray  # (n_mels, T) float32
    f0: np.ndarray  # (T,) float32 Hz, 0 = unvoiced


def _split_paths(roots: list[Path]) -> dict[str, list[Path]]:
    """The audio files of the train and valid splits of every folder in ``roots`` (one manifest each)."""
    from vocoder.data.manifest import build_manifest

    paths: dict[str, list[Path]] = {"train": [], "valid": []}
    for root in roots:
        manifest = build_manifest(root, min_seconds=0.3)
        for split, files in paths.items():
            files += [root / u.path for u in manifest.split(split)]
    return paths


def _clips(paths: list[Path], features: Any, cache_dir: Path | None) -> list[_Clip]:
    """Log-mel and cached F0 labels of each file, with the model's ``features``."""
    from vocoder.audio.io import read_audio
    from vocoder.audio.mel_numpy import log_mel_numpy
    from vocoder.data.dataset import f0_of_files

    wavs = [read_audio(p, features.sample_rate) for p in paths]
    f0s = f0_of_files(paths, wavs, features, cache_dir)
    return [_Clip(log_mel_numpy(w, features), f.astype(np.float32)) for w, f in zip(wavs, f0s)]


def _batch(
    clips: list[_Clip], weights: np.ndarray, rng: np.random.Generator, batch: int, frames: int, floor: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``mel (B, n_mels, frames)``, ``f0 (B, frames)``, ``valid (B, frames)`` (False on padding)."""
    n_mels = clips[0].mel.shape[0]
    mel = np.full((batch, n_mels, frames), floor, dtype=np.float32)
    f0 = np.zeros((batch, frames), dtype=np.float32)
    valid = np.zeros((batch, frames), dtype=bool)
    for b, i in enumerate(rng.choice(len(clips), size=batch, p=weights)):
        clip = clips[i]
        length = clip.mel.shape[1]
        start = int(rng.integers(0, max(length - frames, 0) + 1))
        take = min(frames, length - start)
        gain = rng.uniform(-GAIN_RANGE, GAIN_RANGE)
        mel[b, :, :take] = np.maximum(clip.mel[:, start : start + take] + gain, floor)
        f0[b, :take] = clip.f0[start : start + take]
        valid[b, :take] = True
    return torch.from_numpy(mel), torch.from_numpy(f0), torch.from_numpy(valid)


def predictor_loss(
    log_f0: torch.Tensor, vuv: torch.Tensor, f0: torch.Tensor, valid: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """Scalar loss and its terms; all inputs ``(B, T)`` (``f0`` in Hz, 0 = unvoiced; ``valid`` bool)."""
    voiced = (f0 > 0) & valid
    bce = torch.nn.functional.binary_cross_entropy_with_logits(vuv[valid], voiced[valid].float())
    if voiced.any():
        l1 = (log_f0[voiced] - f0[voiced].log()).abs().mean()
    else:
        l1 = log_f0.sum() * 0.0
    return bce + LOG_F0_WEIGHT * l1, {"vuv_bce": bce.item(), "log_f0_l1": l1.item()}


def measure(predictor: torch.nn.Module, clips: list[_Clip]) -> dict[str, float]:
    """Mean over clips of the F0 RMSE in cents (frames voiced in both) and the V/UV error against the labels."""
    from vocoder.eval.metrics import f0_rmse_cents, vuv_error

    rmse, vuv = [], []
    with torch.no_grad():
        for clip in clips:
            pred = predictor.predict(torch.from_numpy(clip.mel)[None])[0].numpy()
            r = f0_rmse_cents(clip.f0, pred)
            if not math.isnan(r):
                rmse.append(r)
            vuv.append(vuv_error(clip.f0, pred))
    return {
        "f0_rmse_cents": float(np.mean(rmse)) if rmse else float("nan"),
        "vuv_error": float(np.mean(vuv)) if vuv else float("nan"),
    }


def train_f0_predictor(
    model_dir: str | Path,
    data: list[str | Path],
    steps: int = 4000,
    batch_size: int = 16,
    segment_frames: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    threads: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fit the predictor of the model folder ``model_dir`` on the audio under ``data``; returns the
    ``training`` record it stores (steps, data, wall time, validation metrics)."""
    import vocoder
    from vocoder.data.dataset import default_cache_dir
    from vocoder.models.artifact import MODEL_FILE
    from vocoder.models.f0_predictor import F0Predictor, F0PredictorConfig, save_f0_predictor

    model_dir = Path(model_dir)
    if not (model_dir / MODEL_FILE).is_file():
        raise InputError(f"{model_dir}: not a model folder (no model.safetensors); give a checkpoint folder "
                         "such as checkpoints/demo-wavehax or runs/NAME/checkpoints/best")
    model = vocoder.load(model_dir)
    if not model.needs_f0:
        raise ModelError(f"{model_dir}: the {model.generator_name} generator takes no F0; nothing to predict")
    roots = [Path(d) for d in data]
    for root in roots:
        if not root.is_dir():
            raise InputError(f"--data {root}: no such folder")
    if steps < 1 or batch_size < 1 or segment_frames < 1:
        raise InputError(f"steps, batch size and segment frames must be positive, got {steps}, {batch_size}, "
                         f"{segment_frames}")
    if threads:
        torch.set_num_threads(int(threads))
    features = model.features
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    started = time.perf_counter()
    splits = _split_paths(roots)
    train = _clips(splits["train"], features, cache)
    valid = _clips(splits["valid"], features, cache)
    if not train:
        raise InputError(f"--data {', '.join(map(str, roots))}: no training audio found")
    seconds = sum(c.mel.shape[1] for c in train) * features.hop / features.sample_rate
    log(f"F0 predictor: {len(train)} training clips ({seconds / 60:.1f} min), {len(valid)} validation clips")

    torch.manual_seed(seed)
    cfg = F0PredictorConfig(n_mels=features.n_mels, f0_min=float(features.f0_min), f0_max=float(features.f0_max))
    predictor = F0Predictor(cfg)
    opt = torch.optim.AdamW(predictor.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr * 0.05)
    rng = np.random.default_rng(seed)
    lengths = np.array([c.mel.shape[1] for c in train], dtype=np.float64)
    weights = lengths / lengths.sum()
    floor = float(np.log(features.clamp))
    history: list[dict[str, float]] = []
    for step in range(1, steps + 1):
        predictor.train()
        mel, f0, ok = _batch(train, weights, rng, batch_size, segment_frames, floor)
        log_f0, vuv = predictor(mel)
        loss, terms = predictor_loss(log_f0, vuv, f0, ok)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(predictor.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % max(steps // 8, 1) == 0 or step == steps:
            predictor.eval()
            metrics = measure(predictor, valid) if valid else {}
            history.append({"step": step, **terms, **metrics})
            shown = ", ".join(f"{k} {v:.3g}" for k, v in {**terms, **metrics}.items())
            log(f"step {step}/{steps}: {shown}")
    predictor.eval()
    record = {
        "data": [str(r) for r in roots],
        "train_clips": len(train),
        "train_minutes": round(seconds / 60, 2),
        "valid_clips": len(valid),
        "steps": steps,
        "batch_size": batch_size,
        "segment_frames": segment_frames,
        "lr": lr,
        "seed": seed,
        "f0_labels": f"{features.f0_method} {features.f0_min:g}-{features.f0_max:g} Hz",
        "wall_seconds": round(time.perf_counter() - started, 1),
        "valid": history[-1] if history else {},
        "history": history,
    }
    save_f0_predictor(model_dir, predictor, record)
    log(f"wrote {model_dir / 'f0_predictor.safetensors'} ({sum(p.numel() for p in predictor.parameters())} "
        "parameters)")
    return record
