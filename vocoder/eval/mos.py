"""Non-intrusive MOS predictors: listener-opinion estimates of one waveform, without a reference.

Two predictors, both run on 16 kHz mono float audio (other rates are resampled with
:func:`vocoder.audio.io.resample`), both loaded once per process and cached:

* **Distill-MOS** (:func:`distill_mos`; ``distillmos`` package, MIT, its bundled ``distill_mos_v7.pt``):
  a convolutional transformer distilled from an XLS-R speech-quality model, MOS 1..5. It scores
  7.68 s windows (122,880 samples), each normalised to peak 1 inside the model: a shorter clip is
  zero-padded to one window, a longer one is scored on windows spread evenly from start to end at most
  1 s apart (the package's own segmentation) and the window scores are averaged.
* **DNSMOS** (:func:`dnsmos`; ``speechmos`` package, MIT, Microsoft's ONNX models): the P.808 MOS and
  the P.835 SIG (speech), BAK (background) and OVRL (overall) MOS, 1..5. It scores 9.01 s windows 1 s
  apart; a shorter clip is looped (repeated) to 9.01 s by the package. Samples outside [-1, 1] are
  clipped first (as a 16-bit file of the clip would be).

Input rules, the same for both (:func:`mos_scores` gives the reason, :func:`distill_mos` NaN):

* a clip shorter than :data:`MIN_SECONDS` (0.25 s, PESQ's floor too) gets no score: padding or looping
  it to the window length would rate the padding, not the speech;
* an all-silent clip (peak below -80 dBFS) or one with NaN/Inf samples gets no score;
* a very long clip is scored on at most :data:`MAX_WINDOWS` windows per predictor, spread evenly over
  the whole clip, each window scored in full (a 10 min clip: 53 s for both predictors on a busy 2-core
  machine, instead of ~600 windows each and, for Distill-MOS, all of them in one batch in memory);
* an error inside a predictor costs that clip's score only, never the batch.

ONNX Runtime and torch both use ``torch.get_num_threads()`` threads.

Installing: ``pip install speechmos==0.0.1.1 requests`` and
``pip install --no-deps distillmos==0.9.1 xls-r-sqa==0.1.0`` (both declare torchaudio, which is not
needed here and must not be installed next to this torch). ``make venv`` does both.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import sys
import types
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from vocoder.audio.io import SILENCE_PEAK, resample
from vocoder.errors import InputError, ModelError

MOS_RATE = 16000
MIN_SECONDS = 0.25
MAX_WINDOWS = 60
DISTILL_WINDOW = 122880  # 7.68 s, the model's fixed input length
DISTILL_HOP = 16000  # at most 1 s between window starts (the package's MAX_HOP_LEN)
DISTILL_BATCH = 8  # windows per forward pass (bounds memory for long clips)
DNSMOS_WINDOW = 9.01  # seconds
MOS_NAMES = ("distill_mos", "dnsmos_p808", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")
MOS_DESCRIPTIONS = {
    "distill_mos": "Distill-MOS v7, predicted MOS 1..5 of the clip alone (higher is better)",
    "dnsmos_p808": "DNSMOS P.808, predicted MOS 1..5 (higher is better)",
    "dnsmos_sig": "DNSMOS P.835 SIG, speech quality 1..5 (higher is better)",
    "dnsmos_bak": "DNSMOS P.835 BAK, background noise 1..5 (higher is better)",
    "dnsmos_ovrl": "DNSMOS P.835 OVRL, overall quality 1..5 (higher is better)",
}
MOS_BETTER = {name: "higher" for name in MOS_NAMES}
_DNSMOS_KEYS = {"dnsmos_p808": "p808_mos", "dnsmos_sig": "sig_mos", "dnsmos_bak": "bak_mos", "dnsmos_ovrl": "ovrl_mos"}
_INSTALL = "pip install --no-deps distillmos==0.9.1 xls-r-sqa==0.1.0 && pip install speechmos==0.0.1.1 requests"


# ------------------------------------------------------------------------------------------ inputs


def prepare(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Check one clip and bring it to the predictors' form: float32 ``(L,)`` at 16 kHz in [-1, 1].

    Raises InputError (one line, the reason) for a clip no predictor should score (see the module docstring).
    """
    a = np.asarray(wav)
    if a.ndim != 1:
        raise InputError(f"expected a mono (L,) waveform, got shape {tuple(a.shape)}")
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"expected a float waveform, got dtype {a.dtype}")
    seconds = len(a) / sample_rate
    if seconds < MIN_SECONDS:
        raise InputError(f"too short for MOS prediction ({seconds:.2f} s < {MIN_SECONDS} s)")
    if not np.isfinite(a).all():
        raise InputError("waveform contains NaN or Inf")
    if float(np.max(np.abs(a))) < SILENCE_PEAK:
        raise InputError("silent (peak below -80 dBFS)")
    x = resample(np.ascontiguousarray(a, dtype=np.float32), int(sample_rate), MOS_RATE)
    return np.clip(x, -1.0, 1.0).astype(np.float32, copy=False)


def window_starts(length: int, window: int, hop: int, max_windows: int | None = None) -> list[int]:
    """Start samples of the windows that cover ``length`` samples: ``[0]`` when one window holds it all,
    else ``ceil((length - window) / hop) + 1`` starts spread evenly from 0 to ``length - window``,
    at most ``max_windows`` (default :data:`MAX_WINDOWS`) of them."""
    over = length - window
    if over <= 0:
        return [0]
    count = min(math.ceil(over / hop) + 1, MAX_WINDOWS if max_windows is None else max_windows)
    return [int(c * over) for c in np.linspace(0.0, 1.0, count)]


def _threads() -> int:
    import torch

    return max(1, int(torch.get_num_threads()))


# ------------------------------------------------------------------------------------------ Distill-MOS


def _import_distillmos() -> Any:
    """``import distillmos`` without torchaudio: the package imports it at the top but only its file-list
    command uses it, so a stand-in module is visible during this import only."""
    stub = None
    if "torchaudio" not in sys.modules and importlib.util.find_spec("torchaudio") is None:
        stub = sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    try:
        import distillmos
    except ImportError as err:
        raise ModelError(f"Distill-MOS is not installed ({err}); install it with '{_INSTALL}'") from None
    finally:
        if stub is not None and sys.modules.get("torchaudio") is stub:
            del sys.modules["torchaudio"]
    return distillmos


@lru_cache(maxsize=1)
def _distill_model() -> Any:
    distillmos = _import_distillmos()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line when the weights are loaded
        model = distillmos.ConvTransformerSQAModel(load_weights=True, segmenting_in_forward=False)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _distill_prepared(clips: Sequence[np.ndarray]) -> list[float]:
    """Distill-MOS of prepared 16 kHz clips: all their windows in batches of :data:`DISTILL_BATCH`."""
    import torch

    model = _distill_model()
    windows, owner = [], []
    for index, x in enumerate(clips):
        padded = np.pad(x, (0, max(0, DISTILL_WINDOW - len(x))))
        for start in window_starts(len(padded), DISTILL_WINDOW, DISTILL_HOP):
            windows.append(padded[start : start + DISTILL_WINDOW])
            owner.append(index)
    scores = []
    with torch.no_grad():
        for i in range(0, len(windows), DISTILL_BATCH):
            batch = torch.from_numpy(np.stack(windows[i : i + DISTILL_BATCH]))
            scores.append(model(batch).reshape(-1).double().numpy())
    per_window = np.concatenate(scores) if scores else np.zeros(0)
    owner_ = np.asarray(owner)
    return [float(np.mean(per_window[owner_ == k])) for k in range(len(clips))]


def distill_mos(wavs: list[np.ndarray], sample_rate: int) -> list[float]:
    """Distill-MOS (1..5, higher is better) of each mono ``(L_i,)`` float waveform at ``sample_rate``.

    Batched over the clips' windows, without gradients, in eval mode; the model is loaded on first use.
    A clip that cannot be scored (too short, silent, NaN; see the module docstring) gets NaN, and so do
    all clips if the model itself fails. Raises ModelError only when the package is not installed.
    """
    prepared: list[np.ndarray | None] = []
    for wav in wavs:
        try:
            prepared.append(prepare(wav, sample_rate))
        except InputError:
            prepared.append(None)
    good = [x for x in prepared if x is not None]
    if not good:
        return [math.nan] * len(prepared)
    _distill_model()  # a missing package is an error, not NaN
    try:
        values = iter(_distill_prepared(good))
    except Exception:  # noqa: BLE001 - a failing third-party model: NaN for these clips, not a crash
        values = iter([math.nan] * len(good))
    return [math.nan if x is None else _finite_or_nan(next(values)) for x in prepared]


def _finite_or_nan(value: float) -> float:
    return float(value) if math.isfinite(value) else math.nan


# ---------------------------------------------------------------------------------------------- DNSMOS


@lru_cache(maxsize=4)
def _dnsmos_model(threads: int) -> Any:
    """The package's DNSMOS scorer (P.835 sig/bak/ovr + P.808 ONNX models) on sessions with ``threads``."""
    try:
        import onnxruntime as ort
        from speechmos import dnsmos as dnsmos_module
    except ImportError as err:
        raise ModelError(f"DNSMOS is not installed ({err}); install it with '{_INSTALL}'") from None
    from pathlib import Path

    folder = Path(dnsmos_module.__file__).resolve().parent / "dnsmos_models"
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1

    class _Scorer(dnsmos_module.DNSMOS):
        def __init__(self) -> None:  # the package's constructor, with the thread count set
            self.primary_model_path = str(folder / "sig_bak_ovr.onnx")
            providers = ["CPUExecutionProvider"]
            self.onnx_sess = ort.InferenceSession(self.primary_model_path, options, providers=providers)
            self.p808_onnx_sess = ort.InferenceSession(str(folder / "model_v8.onnx"), options, providers=providers)

    return _Scorer()


def _dnsmos_prepared(x: np.ndarray) -> dict[str, float]:
    scorer = _dnsmos_model(_threads())
    window = int(DNSMOS_WINDOW * MOS_RATE)
    # the package's own windows: 1 s apart, int(floor(seconds) - 9.01) + 1 of them
    package_windows = int(np.floor(len(x) / MOS_RATE) - DNSMOS_WINDOW) + 1
    if package_windows <= MAX_WINDOWS:
        pieces = [x]
    else:  # evenly spread excerpts of exactly one window each
        pieces = [x[s : s + window] for s in window_starts(len(x), window, MOS_RATE)]
    results = [scorer(np.ascontiguousarray(p, dtype=np.float32), MOS_RATE, False) for p in pieces]
    return {name: float(np.mean([r[key] for r in results])) for name, key in _DNSMOS_KEYS.items()}


def dnsmos(wav: np.ndarray, sample_rate: int) -> dict[str, float]:
    """DNSMOS of one mono ``(L,)`` float waveform: ``{"dnsmos_p808", "dnsmos_sig", "dnsmos_bak",
    "dnsmos_ovrl"}`` (1..5, higher is better). Raises InputError for a clip that cannot be scored."""
    scores = _dnsmos_prepared(prepare(wav, sample_rate))
    bad = [name for name, value in scores.items() if not math.isfinite(value)]
    if bad:
        raise InputError(f"DNSMOS gave a non-finite {bad[0]}")
    return scores


# ---------------------------------------------------------------------------------------------- both


def load_predictors() -> None:
    """Load (and cache) both predictors now; raises ModelError naming the install command when a
    package is missing."""
    _distill_model()
    _dnsmos_model(_threads())


def mos_scores(wavs: Sequence[np.ndarray], sample_rate: int) -> list[dict[str, float | str | None]]:
    """Every predictor for each mono ``(L_i,)`` waveform: ``{name: score or None for name in MOS_NAMES,
    "mos_error": None or the one-line reason some scores are None}``. Never raises for a bad clip;
    raises ModelError only when a predictor package is missing."""
    load_predictors()
    rows: list[dict[str, float | str | None]] = []
    prepared: list[np.ndarray | None] = []
    for wav in wavs:
        row: dict[str, float | str | None] = dict.fromkeys(MOS_NAMES)
        row["mos_error"] = None
        try:
            prepared.append(prepare(wav, sample_rate))
        except InputError as err:
            prepared.append(None)
            row["mos_error"] = str(err)
        rows.append(row)
    good = [k for k, x in enumerate(prepared) if x is not None]
    errors: dict[int, list[str]] = {k: [] for k in good}
    try:
        distill = _distill_prepared([prepared[k] for k in good])
    except Exception as err:  # noqa: BLE001 - a failing third-party model costs these scores only
        distill = [math.nan] * len(good)
        for k in good:
            errors[k].append(f"Distill-MOS failed ({_reason(err)})")
    for k, value in zip(good, distill):
        if math.isfinite(value):
            rows[k]["distill_mos"] = value
        elif not errors[k]:
            errors[k].append("Distill-MOS gave a non-finite score")
        try:
            for name, score in _dnsmos_prepared(prepared[k]).items():
                rows[k][name] = score if math.isfinite(score) else None
            if any(rows[k][name] is None for name in _DNSMOS_KEYS):
                errors[k].append("DNSMOS gave a non-finite score")
        except Exception as err:  # noqa: BLE001 - as above
            errors[k].append(f"DNSMOS failed ({_reason(err)})")
        if errors[k]:
            rows[k]["mos_error"] = "; ".join(errors[k])
    return rows


def _reason(err: Exception) -> str:
    text = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
