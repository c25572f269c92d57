"""Copy-synthesis evaluation: reference audio -> log-mel (+ F0) -> vocoder -> metrics against the audio.

:func:`evaluate` runs a model and a Griffin-Lim baseline on the same mels and returns a report dict;
:func:`format_markdown` renders it as the tables ``vocoder evaluate`` prints. Per utterance: read at the
model's rate (mono, resampled), trim to whole hops, log-mel ``(n_mels, T)`` with the model's features, F0
``(T,)`` with the features' extractor (the model's input when it needs F0, and the reference for the F0
metrics), synthesize ``(T * hop,)`` and score with :func:`vocoder.eval.metrics.compute_metrics`, plus
(unless ``mos=False``, CLI ``--no-mos``) the non-intrusive predictors of :mod:`vocoder.eval.mos`
(Distill-MOS, DNSMOS P.808 / SIG / BAK / OVRL) on each output alone.

Systems: the model, Griffin-Lim, and "recordings": every metric of the references themselves, the
ceiling (intrusive metrics are trivially perfect there: MR-STFT, MCD, F0 RMSE 0, PESQ-WB 4.64; the MOS
predictors say how good the recordings sound). A MOS predictor that cannot score an output (too short,
silent) leaves None and its reason under ``mos_error``, with a log line; the other metrics stay.

Data: a folder is evaluated whole (every audio file below it, e.g. the held-out voices of
``tools/build_heldout_sets.py``); a manifest JSON by its test split only.

F0 factors (models with F0 input only), the Wavehax extrapolation protocol: the same mel with F0 scaled
by ``factor``; the output's F0 (searched in the features' range times ``factor``) is compared with the
scaled contour (F0 RMSE in cents, V/UV error against the reference voicing). Spectral metrics against the
unscaled reference mean nothing there, so factor rows have F0 metrics only.

Report layout (JSON-ready; missing values are None)::

    {"model", "data", "split", "generator", "sample_rate", "hop", "features", "seed", "griffin_lim_iters",
     "mos": bool, "metrics": {name: description}, "better": {name: "lower" | "higher"},
     "systems": {"model" | "griffin_lim" | "recordings":
                 {"label", "mean": {metric: value}, "count": {metric: n},
                  "utterances": [{"path", "seconds", metric..., "pesq_wb_error"[, "mos_error"]}]}},
     "f0_factors": None | [{"factor", "mean", "count", "utterances": [{"path", "f0_rmse_cents", "vuv_error"}]}],
     "f0_predictor": None | {"mean", "count", "utterances": [{"path", "f0_rmse_cents", "vuv_error"}]},  # --predicted-f0
     "skipped": ["path: reason"]}

``metrics`` and ``better`` list the metrics computed (the MOS ones only with ``mos``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vocoder.audio.io import find_audio, read_audio
from vocoder.audio.mel_numpy import align_audio, check_length, log_mel_numpy
from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig
from vocoder.data.manifest import Manifest
from vocoder.errors import ConfigError, InputError, ModelError, VocoderError
from vocoder.eval.metrics import (
    METRIC_BETTER,
    METRIC_NAMES,
    compute_metrics,
    f0_of,
    f0_rmse_cents,
    griffin_lim,
    vuv_error,
)
from vocoder.eval.mos import MOS_BETTER, MOS_DESCRIPTIONS, MOS_NAMES

GRIFFIN_LIM_ITERS = 32
F0_FACTOR_METRICS = ("f0_rmse_cents", "vuv_error")
METRIC_DESCRIPTIONS = {
    "mrstft": "PWG MR-STFT distance: spectral convergence + log-magnitude L1 over 3 resolutions (lower is better)",
    "log_mel_l1": "mean |ln mel(ref) - ln mel(gen)| with the model's mel (lower is better)",
    "mcd_db": "mel-cepstral distortion, order 24, WORLD envelope, active frames, dB (lower is better)",
    "f0_rmse_cents": "F0 RMSE on frames voiced in both, cents (lower is better)",
    "vuv_error": "fraction of frames with a different voicing decision (lower is better)",
    "pesq_wb": "wide-band PESQ at 16 kHz, 1.0 .. 4.64 (higher is better)",
}
BETTER = {**METRIC_BETTER, **MOS_BETTER}
ARROWS = {"lower": "↓", "higher": "↑"}  # the header mark of the better direction
SYSTEMS = ("model", "griffin_lim", "recordings")
_COLUMNS = (
    ("mrstft", "MR-STFT", "{:.3f}"),
    ("log_mel_l1", "log-mel L1", "{:.3f}"),
    ("mcd_db", "MCD [dB]", "{:.2f}"),
    ("f0_rmse_cents", "F0 RMSE [cent]", "{:.1f}"),
    ("vuv_error", "V/UV error [%]", "{:.2f}"),
    ("pesq_wb", "PESQ-WB", "{:.3f}"),
    ("distill_mos", "Distill-MOS", "{:.2f}"),
    ("dnsmos_p808", "DNSMOS P.808", "{:.2f}"),
    ("dnsmos_sig", "SIG", "{:.2f}"),
    ("dnsmos_bak", "BAK", "{:.2f}"),
    ("dnsmos_ovrl", "OVRL", "{:.2f}"),
)


def parse_factors(text: str | Sequence[float] | None) -> list[float] | None:
    """``"0.5,1,2"`` (or a sequence) -> ``[0.5, 1.0, 2.0]``; None stays None. Factors must be positive."""
    if text is None:
        return None
    items = [s.strip() for s in text.split(",")] if isinstance(text, str) else list(text)
    factors = []
    for item in items:
        try:
            value = float(item)
        except (TypeError, ValueError):
            raise ConfigError(f"--f0-factors: {item!r} is not a number") from None
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"--f0-factors: factors must be positive numbers, got {item!r}")
        factors.append(value)
    if not factors:
        raise ConfigError("--f0-factors: no factor given")
    return factors


def utterance_paths(data: str | Path) -> tuple[list[tuple[Path, str]], str | None]:
    """``([(file, name shown in the report)], split)``: every audio file of a folder (split None) or the
    test split of a manifest JSON (names relative to its root)."""
    data = Path(data)
    if data.is_dir():
        files = find_audio(data)
        if not files:
            raise ConfigError(f"{data}: no audio files found")
        return [(f, str(f.relative_to(data))) for f in files], None
    if not data.is_file():
        raise ConfigError(f"{data}: no such folder or manifest file")
    try:
        manifest = Manifest.load(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{data}: not a manifest JSON ({type(err).__name__})") from None
    except (KeyError, TypeError, AttributeError) as err:
        raise ConfigError(f"{data}: not a manifest JSON (missing or wrong field {err})") from None
    if not manifest.test:
        raise ConfigError(f"{data}: the manifest's test split is empty")
    root = Path(manifest.root)
    if not root.is_absolute() and not root.is_dir() and (data.parent / root).is_dir():
        root = data.parent / root
    return [(root / u.path, u.path) for u in manifest.test], "test"


def _load_model(model: Any) -> tuple[Any, str]:
    if hasattr(model, "synthesize"):
        return model, str(getattr(model, "source", "") or type(model).__name__)
    import vocoder

    return vocoder.load(model), str(model)


def _finite(scores: dict[str, Any]) -> dict[str, Any]:
    """Non-finite numbers as None, so the report is strict JSON and means skip them."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in scores.items()}


def _factor_scores(
    vocoder_: Any,
    features: FeatureConfig,
    mel: np.ndarray,
    ref_f0: np.ndarray,
    generated: np.ndarray,
    factor: float,
    seed: int,
) -> dict[str, Any]:
    """F0 metrics of the output for F0 scaled by ``factor`` against the scaled contour; a failed
    synthesis gives None values and its reason under ``error``."""
    target = ref_f0 * np.float32(factor)
    try:
        shifted = generated if factor == 1.0 else vocoder_.synthesize(mel, f0=target, seed=seed)
        out_f0 = f0_of(shifted, features, factor=factor)
    except VocoderError as err:
        return {"f0_rmse_cents": None, "vuv_error": None, "error": str(err)}
    return _finite({"f0_rmse_cents": f0_rmse_cents(target, out_f0), "vuv_error": vuv_error(target, out_f0)})


def _summary(rows: list[dict[str, Any]], names: Sequence[str]) -> tuple[dict[str, float | None], dict[str, int]]:
    mean, count = {}, {}
    for name in names:
        values = [r[name] for r in rows if r.get(name) is not None]
        mean[name] = float(np.mean(values)) if values else None
        count[name] = len(values)
    return mean, count


def _os_reason(err: OSError) -> str:
    return (err.strerror or type(err).__name__).lower()


def check_writable(path: str | Path) -> Path:
    """Make sure a file can be written at ``path`` (creating its parent folders) before any work is done;
    raises ConfigError ``PATH: cannot write (reason)``. A probe file it creates is removed again."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: cannot write (is a folder)")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ConfigError(f"{path}: cannot write ({blocker} is not a folder)")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as err:
        raise ConfigError(f"{path}: cannot write ({_os_reason(err)})") from None
    if not existed:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return path


def _write_report(out: Path, report: dict[str, Any]) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, allow_nan=False))
    except OSError as err:
        raise ConfigError(f"{out}: cannot write ({_os_reason(err)})") from None


def _mos_rows(
    outputs: dict[str, np.ndarray], sample_rate: int, name: str, say: Callable[[str], None], prefix: str
) -> dict[str, dict[str, Any]]:
    """MOS predictions of each system's output for one utterance (one batch), with a log line per output
    that could not be scored."""
    from vocoder.eval.mos import mos_scores

    keys = list(outputs)
    scores = dict(zip(keys, mos_scores([outputs[k] for k in keys], sample_rate)))
    for key, row in scores.items():
        if row["mos_error"]:
            say(f"{prefix} {name}: warning: no MOS for {key} ({row['mos_error']})")
    return scores


def evaluate(
    model: Any,
    data: str | Path,
    f0_factors: str | Sequence[float] | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    griffin_lim_iters: int = GRIFFIN_LIM_ITERS,
    log: Callable[[str], None] | None = None,
    mos: bool = True,
    html: str | Path | None = None,
    predicted_f0: bool = False,
) -> dict[str, Any]:
    """Evaluate ``model`` (a path for :func:`vocoder.load`, or a loaded vocoder) by copy synthesis of
    ``data`` (folder of audio, evaluated whole, or manifest JSON, its test split); returns the report
    (see the module docstring) and writes it as JSON to ``out`` when given (checked writable first).
    ``mos`` adds the Distill-MOS and DNSMOS predictions. Unusable files are listed in ``skipped``.
    ``html`` (a folder, checked writable first) gets the page of :mod:`vocoder.eval.report_html`.
    ``predicted_f0``: an F0 model synthesizes with its F0 predictor instead of the recording's F0, and
    the report's ``f0_predictor`` holds the predictor's F0 RMSE / V/UV error against that F0."""
    out = check_writable(out) if out is not None else None
    page = None
    if html is not None:
        from vocoder.eval.report_html import HtmlReport

        page = HtmlReport(html)
    factors = parse_factors(f0_factors)
    vocoder_, source = _load_model(model)
    if factors is not None and not vocoder_.needs_f0:
        name = getattr(vocoder_, "generator_name", "this model")
        raise InputError(f"--f0-factors: {name} takes no F0 input, so its F0 cannot be scaled")
    if predicted_f0 and not getattr(vocoder_, "predicts_f0", False):
        raise InputError(f"--predicted-f0: {source} has no F0 predictor (`vocoder train-f0` trains one)")
    features = resolve_features(vocoder_.features)
    sr, hop = features.sample_rate, features.hop
    min_frames = int(getattr(vocoder_, "min_frames", 1))
    items, split = utterance_paths(data)
    say = log or (lambda _msg: None)
    if mos:
        from vocoder.eval.mos import load_predictors

        try:
            load_predictors()
        except ModelError as err:
            raise ModelError(f"{err} (or leave the MOS predictors out with --no-mos)") from None
    names = METRIC_NAMES + (MOS_NAMES if mos else ())
    generator = str(getattr(vocoder_, "generator_name", "model")) + (" (predicted F0)" if predicted_f0 else "")
    predictor_rows: list[dict[str, Any]] = []
    labels = {"model": generator, "griffin_lim": f"Griffin-Lim ({griffin_lim_iters} it.)", "recordings": "recordings"}

    rows: dict[str, list[dict[str, Any]]] = {key: [] for key in SYSTEMS}
    factor_rows: dict[float, list[dict[str, Any]]] = {k: [] for k in factors or []}
    skipped: list[str] = []
    for index, (path, name) in enumerate(items, 1):
        prefix = f"[{index}/{len(items)}]"
        try:
            wav = align_audio(read_audio(path, sr), hop)
            frames = check_length(len(wav), features)
            if frames < min_frames:
                raise InputError(f"{frames} frames is shorter than the model's minimum of {min_frames}")
            mel = log_mel_numpy(wav, features)
            ref_f0 = f0_of(wav, features)
            model_f0 = ref_f0 if vocoder_.needs_f0 else None
            if predicted_f0:
                model_f0 = vocoder_.predict_f0(mel[None])[0]
                predictor_rows.append({"path": name, **_finite(
                    {"f0_rmse_cents": f0_rmse_cents(ref_f0, model_f0), "vuv_error": vuv_error(ref_f0, model_f0)}
                )})
            generated = vocoder_.synthesize(mel, f0=model_f0, seed=seed)
            # inside the try: a diverged model's NaN output is one skipped file with its reason
            model_scores = compute_metrics(wav, generated, features, ref_f0)
        except VocoderError as err:
            reason = str(err)
            skipped.append(reason if reason.startswith(str(path)) else f"{path}: {reason}")
            say(f"{prefix} {name}: skipped ({reason})")
            continue
        base = {"path": name, "seconds": len(wav) / sr}
        baseline = griffin_lim(mel, features, n_iter=griffin_lim_iters, seed=seed)
        outputs = {"model": generated, "griffin_lim": baseline, "recordings": wav}
        if page is not None:
            page.add(name, outputs, features, labels)
        scores = {
            "model": model_scores,
            "griffin_lim": compute_metrics(wav, baseline, features, ref_f0),
            "recordings": compute_metrics(wav, wav, features, ref_f0),
        }
        if mos:
            for key, mos_row in _mos_rows(outputs, sr, name, say, prefix).items():
                scores[key] = {**scores[key], **mos_row}
        for key in SYSTEMS:
            rows[key].append({**base, **_finite(scores[key])})
        for factor in factor_rows:
            f_scores = _factor_scores(vocoder_, features, mel, ref_f0, generated, factor, seed)
            factor_rows[factor].append({"path": name, **f_scores})
        m = rows["model"][-1]
        line = f"{prefix} {name}: MR-STFT {_cell(m['mrstft'], '{:.3f}')}, PESQ-WB {_cell(m['pesq_wb'], '{:.2f}')}"
        if mos:
            line += f", Distill-MOS {_cell(m['distill_mos'], '{:.2f}')}"
        say(line)
    if not rows["model"]:
        raise InputError(f"{data}: no utterance could be evaluated ({len(skipped)} skipped)")

    systems = {}
    for key, system_rows in rows.items():
        mean, count = _summary(system_rows, names)
        systems[key] = {"label": labels[key], "mean": mean, "count": count, "utterances": system_rows}
    factor_report = None
    if factors is not None:
        factor_report = []
        for factor, f_rows in factor_rows.items():
            mean, count = _summary(f_rows, F0_FACTOR_METRICS)
            factor_report.append({"factor": factor, "mean": mean, "count": count, "utterances": f_rows})
    descriptions = {**METRIC_DESCRIPTIONS, **MOS_DESCRIPTIONS}
    report = {
        "model": source,
        "data": str(data),
        "split": split,
        "generator": generator,
        "sample_rate": sr,
        "hop": hop,
        "features": dataclasses.asdict(features),
        "seed": seed,
        "griffin_lim_iters": griffin_lim_iters,
        "mos": mos,
        "metrics": {name: descriptions[name] for name in names},
        "better": {name: BETTER[name] for name in names},
        "systems": systems,
        "f0_factors": factor_report,
        "f0_predictor": None,
        "skipped": skipped,
    }
    if predicted_f0:
        mean, count = _summary(predictor_rows, F0_FACTOR_METRICS)
        report["f0_predictor"] = {"mean": mean, "count": count, "utterances": predictor_rows}
    if out is not None:
        _write_report(out, report)
    if page is not None:
        page.write(report, vocoder_)
    return report


def _cell(value: float | None, fmt: str, percent: bool = False) -> str:
    if value is None:
        return "n/a"
    return fmt.format(100.0 * value if percent else value)


def _header(title: str, metric: str) -> str:
    return f"{title} {ARROWS[BETTER[metric]]}"


def format_markdown(report: dict[str, Any]) -> str:
    """The report's means as Markdown: one table of systems (model, Griffin-Lim, recordings), one of F0
    factors. Each column header carries the better direction (↓ lower, ↑ higher)."""
    columns = [c for c in _COLUMNS if c[0] in report["metrics"]]
    head = "| system | " + " | ".join(_header(title, key) for key, title, _ in columns) + " |"
    lines = [head, "|" + "---|" * (len(columns) + 1)]
    for system in report["systems"].values():
        cells = [_cell(system["mean"].get(key), fmt, key == "vuv_error") for key, _, fmt in columns]
        lines.append(f"| {system['label']} | " + " | ".join(cells) + " |")
    count = len(report["systems"]["model"]["utterances"])
    what = f"{report['split']} split of {report['data']}" if report["split"] else report["data"]
    lines.append("")
    noun = "utterance" if count == 1 else "utterances"
    lines.append(f"{count} {noun} ({what}), {len(report['skipped'])} skipped; means over utterances.")
    if "recordings" in report["systems"]:
        lines.append(
            "recordings: each metric of the reference audio itself, the ceiling (intrusive metrics are "
            "trivially 0 / PESQ-WB 4.64 there)."
        )
    predictor = report.get("f0_predictor")
    if predictor:
        rmse = _cell(predictor["mean"]["f0_rmse_cents"], "{:.1f}")
        vuv = _cell(predictor["mean"]["vuv_error"], "{:.2f}", percent=True)
        lines.append(f"F0 predictor against the recordings' F0: RMSE {rmse} cent, V/UV error {vuv} %.")
    if report["f0_factors"]:
        rmse_head, vuv_head = _header("F0 RMSE [cent]", "f0_rmse_cents"), _header("V/UV error [%]", "vuv_error")
        lines += ["", f"| F0 factor | {rmse_head} | {vuv_head} |", "|---|---|---|"]
        for row in report["f0_factors"]:
            rmse = _cell(row["mean"]["f0_rmse_cents"], "{:.1f}")
            vuv = _cell(row["mean"]["vuv_error"], "{:.2f}", percent=True)
            lines.append(f"| {row['factor']:g} | {rmse} | {vuv} |")
    return "\n".join(lines)
