"""The HTML report of ``vocoder evaluate --html DIR``: one self-contained page ``DIR/index.html``.

The page (inline CSS, no scripts, no external resources; relative links only) holds the metric table of
the report (the numbers and better-direction marks of :func:`vocoder.eval.evaluate.format_markdown`),
the F0-factor table when there is one, a summary of the model (generator and its parameters, features,
checkpoint path) and of the Griffin-Lim baseline, and per utterance: audio players for the recording, the
model's output and Griffin-Lim (16-bit wavs under ``DIR/audio/``), their log-mel spectrograms side by side
in one PNG under ``DIR/images/`` (one colour scale and one colour bar per utterance) and the utterance's
metric values. Every text put into the page is escaped.

:class:`HtmlReport` is driven by :func:`vocoder.eval.evaluate.evaluate`: built before any work (it checks
the folder is writable), :meth:`HtmlReport.add` once per evaluated utterance with the waveforms (written
at once, so they are not kept in memory), :meth:`HtmlReport.write` with the finished report.
"""

from __future__ import annotations

import dataclasses
import html
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from vocoder.atomic import write_bytes
from vocoder.audio.io import write_audio
from vocoder.audio.mel_numpy import log_mel_numpy
from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig
from vocoder.errors import ConfigError
from vocoder.eval.evaluate import _COLUMNS, ARROWS, _cell, _os_reason, check_writable

PAGE = "index.html"
AUDIO_DIR, IMAGE_DIR = "audio", "images"
# the order of players and spectrogram panels (system, wav file suffix): what the output should sound like first
SHOWN = (("recordings", "recording"), ("model", "model"), ("griffin_lim", "griffin_lim"))
ONE_RECORDING = {"recordings": "recording"}  # caption of the reference of one utterance
COLORMAP = "magma"

_CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1160px; padding: 16px 20px;
       color: #1d1d1f; background: #fff; line-height: 1.4; }
h1 { font-size: 1.45em; margin: 0.2em 0 0.3em; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin: 0 0 0.5em; }
.meta, .note { color: #555; font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #d0d0d0; padding: 3px 8px; }
th { background: #f0f0f3; text-align: center; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.name, th.name { text-align: left; white-space: nowrap; }
tr.model td { background: #eef5ff; }
table.kv th { text-align: left; white-space: nowrap; }
code { font-size: 0.92em; word-break: break-all; }
section.utt { margin: 1.2em 0 1.8em; padding-top: 0.4em; border-top: 1px solid #e4e4e4; }
.players { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; margin-bottom: 6px; }
.players figure { margin: 0; }
.players figcaption { font-size: 0.9em; font-weight: 600; margin-bottom: 2px; }
audio { width: 100%; }
img.spec { width: 100%; height: auto; display: block; }
.error { color: #a00000; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _href(relative: str) -> str:
    """A relative link as an attribute value: URL-quoted, then escaped."""
    return _e(quote(relative))


def _slug(name: str) -> str:
    """A file-name-safe short form of an utterance name (the index in front keeps it unique)."""
    stem = re.sub(r"\.(wav|flac|ogg)$", "", name, flags=re.IGNORECASE)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:60] or "utterance"


def _write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` through a temporary file in the same folder and a rename (no half-written file)."""
    try:
        write_bytes(path, data)
    except OSError as err:
        raise ConfigError(f"{path}: cannot write ({_os_reason(err)})") from None


def _plain_ln_mel(wav: np.ndarray, features: FeatureConfig) -> np.ndarray:
    """Natural-log mel ``(n_mels, T)`` with the model's mel but without its mean/std normalisation."""
    cfg = resolve_features(dataclasses.replace(features, mean=None, std=None))
    mel = log_mel_numpy(np.asarray(wav, dtype=np.float32), cfg).astype(np.float64)
    return mel * np.log(10.0) if cfg.log == "log10" else mel


def spectrogram_png(mels: list[np.ndarray], titles: list[str], sample_rate: int, hop: int) -> bytes:
    """PNG of the log-mels ``(n_mels, T)`` side by side on one colour scale with one colour bar."""
    from matplotlib.figure import Figure  # no pyplot: no global state, the Agg canvas of savefig

    low = min(float(m.min()) for m in mels)
    high = max(float(m.max()) for m in mels)
    fig = Figure(figsize=(11.2, 2.9), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(mels), sharey=True, squeeze=False)[0]
    image = None
    for ax, mel, title in zip(axes, mels, titles):
        seconds = mel.shape[1] * hop / sample_rate
        image = ax.imshow(
            mel, origin="lower", aspect="auto", cmap=COLORMAP, vmin=low, vmax=high, interpolation="nearest",
            extent=(0.0, seconds, 0.0, mel.shape[0]),
        )
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("time [s]")
    axes[0].set_ylabel("mel bin")
    fig.colorbar(image, ax=list(axes), label="ln mel", fraction=0.04, pad=0.01)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


class HtmlReport:
    """The page under construction in ``folder`` (see the module docstring)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        check_writable(self.folder / PAGE)  # PATH: cannot write (reason), before anything is computed
        self.media: dict[str, dict[str, str]] = {}  # utterance name -> {"recordings": "audio/...", ..., "image"}

    def add(self, name: str, outputs: dict[str, np.ndarray], features: FeatureConfig, labels: dict[str, str]) -> None:
        """Write one utterance's wavs ``{"model", "griffin_lim", "recordings": (L,)}`` at the features'
        sample rate and its spectrogram PNG; ``labels`` names the systems in the panel titles."""
        cfg = resolve_features(features)
        stem = f"{len(self.media) + 1:03d}_{_slug(name)}"
        files: dict[str, str] = {}
        for key, suffix in SHOWN:
            relative = f"{AUDIO_DIR}/{stem}_{suffix}.wav"
            try:
                write_audio(self.folder / relative, outputs[key], cfg.sample_rate)
            except OSError as err:
                raise ConfigError(f"{self.folder / relative}: cannot write ({_os_reason(err)})") from None
            files[key] = relative
        mels = [_plain_ln_mel(outputs[key], cfg) for key, _ in SHOWN]
        titles = [ONE_RECORDING.get(key) or labels.get(key, key) for key, _ in SHOWN]
        png = spectrogram_png(mels, titles, cfg.sample_rate, cfg.hop)
        files["image"] = f"{IMAGE_DIR}/{stem}.png"
        _write_bytes(self.folder / files["image"], png)
        self.media[name] = files

    def write(self, report: dict[str, Any], model: Any = None) -> Path:
        """Write ``index.html`` for ``report`` (the dict of :func:`~vocoder.eval.evaluate.evaluate`);
        ``model`` (the loaded vocoder) adds its generator parameters. Returns the page's path."""
        path = self.folder / PAGE
        _write_bytes(path, render_page(report, self.media, model).encode("utf-8"))
        return path


# ------------------------------------------------------------------------------------------------ page


def _columns(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [c for c in _COLUMNS if c[0] in report["metrics"]]


def _header_cells(report: dict[str, Any]) -> str:
    cells = []
    for key, title, _ in _columns(report):
        arrow = ARROWS[report["better"][key]]
        tip = report["metrics"].get(key, "")
        cells.append(f'<th title="{_e(tip)}">{_e(title)} {_e(arrow)}</th>')
    return "".join(cells)


def _value_cells(report: dict[str, Any], values: dict[str, Any]) -> str:
    return "".join(
        f'<td class="num">{_e(_cell(values.get(key), fmt, key == "vuv_error"))}</td>'
        for key, _, fmt in _columns(report)
    )


def _system_row(report: dict[str, Any], key: str, values: dict[str, Any]) -> str:
    label = report["systems"][key]["label"]
    return f'<tr class="{_e(key)}"><td class="name">{_e(label)}</td>{_value_cells(report, values)}</tr>'


def _metric_table(report: dict[str, Any]) -> str:
    rows = [f'<tr><th class="name">system</th>{_header_cells(report)}</tr>']
    rows += [_system_row(report, key, system["mean"]) for key, system in report["systems"].items()]
    return '<table class="metrics" id="metrics">\n' + "\n".join(rows) + "\n</table>"


def _factor_table(report: dict[str, Any]) -> str:
    if not report.get("f0_factors"):
        return ""
    rows = [
        f"<tr><th>F0 factor</th><th>F0 RMSE [cent] {_e(ARROWS[report['better']['f0_rmse_cents']])}</th>"
        f"<th>V/UV error [%] {_e(ARROWS[report['better']['vuv_error']])}</th></tr>"
    ]
    for row in report["f0_factors"]:
        rmse = _cell(row["mean"]["f0_rmse_cents"], "{:.1f}")
        vuv = _cell(row["mean"]["vuv_error"], "{:.2f}", percent=True)
        rows.append(f'<tr><td class="num">{row["factor"]:g}</td><td class="num">{_e(rmse)}</td>'
                    f'<td class="num">{_e(vuv)}</td></tr>')
    return (
        "<h2>F0 factors</h2>\n<p class=\"note\">The same mel with F0 scaled by the factor; the output's F0 "
        "against the scaled contour.</p>\n<table>\n" + "\n".join(rows) + "\n</table>"
    )


def _kv_table(rows: list[tuple[str, str]]) -> str:
    """Key/value rows; values are HTML already (escaped by the caller)."""
    body = "\n".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv">\n{body}\n</table>'


def _parameter_count(model: Any) -> int | None:
    generator = getattr(model, "generator", None)
    if generator is None or not hasattr(generator, "parameters"):
        return None
    return int(sum(p.numel() for p in generator.parameters()))


def _features_text(f: dict[str, Any]) -> str:
    fmax = "sr/2" if f.get("fmax") is None else f"{f['fmax']:g}"
    win = f.get("win_length") or f.get("n_fft")
    normalised = ", mean/std normalised" if f.get("mean") is not None else ""
    return (
        f"{f.get('preset') or 'custom'}: {f['sample_rate']} Hz, hop {f['hop']}, {f['n_mels']} mels "
        f"({f['fmin']:g}-{fmax} Hz), n_fft {f['n_fft']}, win {win}, {f['log']}, padding {f['padding']}"
        f"{normalised}; F0 {f['f0_method']} {f['f0_min']:g}-{f['f0_max']:g} Hz"
    )


def _model_summary(report: dict[str, Any], model: Any) -> str:
    features = _e(_features_text(report["features"]))
    config = getattr(model, "config", None)
    params = getattr(getattr(config, "generator", None), "params", None)
    count = _parameter_count(model)
    rows = [
        ("generator", _e(report["generator"])),
        ("generator params", f"<code>{_e(json.dumps(params, sort_keys=True))}</code>" if params is not None else "n/a"),
        ("parameters", f"{count:,}" if count is not None else "n/a"),
        ("features", features),
        ("checkpoint", f"<code>{_e(report['model'])}</code>"),
        ("backend", _e(getattr(model, "backend", "") or "n/a")),
    ]
    baseline = [
        ("method", _e(f"librosa fast Griffin-Lim, {report['griffin_lim_iters']} iterations, seed {report['seed']}, "
                      "magnitude from the mel by NNLS")),
        ("features", features),
    ]
    return (
        f"<h3>{_e(report['systems']['model']['label'])}</h3>\n{_kv_table(rows)}\n"
        f"<h3>{_e(report['systems']['griffin_lim']['label'])}</h3>\n{_kv_table(baseline)}"
    )


def _utterance_section(report: dict[str, Any], index: int, name: str, media: dict[str, str]) -> str:
    systems = report["systems"]
    rows_of = {key: next((r for r in s["utterances"] if r["path"] == name), None) for key, s in systems.items()}
    seconds = next((r["seconds"] for r in rows_of.values() if r is not None), None)
    captions = {key: ONE_RECORDING.get(key) or (systems[key]["label"] if key in systems else key) for key, _ in SHOWN}
    players = []
    for key, _ in SHOWN:
        label = captions[key]
        players.append(
            f"<figure><figcaption>{_e(label)}</figcaption>"
            f'<audio controls preload="metadata" src="{_href(media[key])}"></audio></figure>'
        )
    table = [f'<tr><th class="name">system</th>{_header_cells(report)}</tr>']
    notes = []
    for key, system in systems.items():
        row = rows_of[key]
        if row is None:
            continue
        table.append(_system_row(report, key, row))
        for field in ("pesq_wb_error", "mos_error"):
            if row.get(field):
                notes.append(f"{system['label']}: {field.removesuffix('_error')}: {row[field]}")
    alt = f"log-mel spectrograms of {name}: " + ", ".join(captions.values())
    length = f" ({seconds:.2f} s)" if seconds is not None else ""
    note_html = "".join(f'<p class="note error">{_e(n)}</p>' for n in notes)
    return (
        f'<section class="utt" id="u{index}">\n<h3>{index}. {_e(name)}{_e(length)}</h3>\n'
        f'<div class="players">{"".join(players)}</div>\n'
        f'<img class="spec" src="{_href(media["image"])}" alt="{_e(alt)}">\n'
        f'<table class="utt-metrics">\n' + "\n".join(table) + f"\n</table>\n{note_html}</section>"
    )


def page_title(report: dict[str, Any]) -> str:
    what = f"{report['split']} split of {report['data']}" if report.get("split") else report["data"]
    return f"{report['generator']} ({report['model']}) on {what}"


def render_page(report: dict[str, Any], media: dict[str, dict[str, str]], model: Any = None) -> str:
    """The whole page as a string; ``media`` maps utterance names to their files relative to the page."""
    from vocoder import __version__

    title = page_title(report)
    count = len(report["systems"]["model"]["utterances"])
    noun = "utterance" if count == 1 else "utterances"
    meta = (
        f"{count} {noun}, {len(report['skipped'])} skipped; means over utterances. Sample rate "
        f"{report['sample_rate']} Hz, hop {report['hop']}, seed {report['seed']}."
    )
    legend = "".join(
        f"<li><b>{_e(key)}</b> ({_e(report['better'][key])} is better): {_e(text)}</li>"
        for key, text in report["metrics"].items()
    )
    sections = [
        _utterance_section(report, i, name, files) for i, (name, files) in enumerate(media.items(), 1)
    ]
    skipped = ""
    if report["skipped"]:
        items = "".join(f"<li>{_e(s)}</li>" for s in report["skipped"])
        skipped = f"<h2>Skipped</h2>\n<ul>{items}</ul>"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>vocoder evaluate: {_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(meta)}</p>',
        "<h2>Metrics</h2>",
        _metric_table(report),
        '<p class="note">↓ lower is better, ↑ higher is better. recordings: each metric of the reference '
        "audio itself, the ceiling (intrusive metrics are trivially 0 / PESQ-WB 4.64 there).</p>",
        f'<details class="note"><summary>metric definitions</summary><ul>{legend}</ul></details>',
        _factor_table(report),
        "<h2>Models</h2>",
        _model_summary(report, model),
        "<h2>Utterances</h2>",
        '<p class="note">Copy synthesis of each recording (mel of the recording at the model\'s rate). '
        "Spectrograms: the model's log-mel without normalisation, one colour scale per utterance.</p>",
        *sections,
        skipped,
        f'<p class="meta">written by vocoder {_e(__version__)} (<code>vocoder evaluate --html</code>)</p>',
        "</body>",
        "</html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"
