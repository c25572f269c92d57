"""The log-mel front end of a model as an ONNX graph of its own, to run beside the vocoder graph.

``vocoder export MODEL --out m.onnx --frontend`` writes ``m.frontend.onnx`` (:func:`frontend_path`):

==========  ================================  =======  ==============================================
name        shape                             dtype    meaning
==========  ================================  =======  ==============================================
``wav``     ``(batch, samples)``              float32  mono audio at the model's sample rate, [-1, 1]
``mel``     ``(batch, n_mels, frames)``       float32  log-mel, the ``mel`` input of the vocoder graph
==========  ================================  =======  ==============================================

``frames = samples // hop``; samples past ``frames * hop`` are ignored (as in
:func:`vocoder.audio.mel_numpy.log_mel_numpy`, whose numbers the graph reproduces: the tests measure
<= 1e-5 max abs on the log scale for speech and tones). With reflect padding the signal must be longer than
the widest pad (``vocoder.min_samples`` in the metadata); shorter input is an onnxruntime error, so check
the length first (:class:`vocoder.infer.runtime.OnnxFrontend` does).

The graph is built node by node (no torch) and computes in float64, as ``log_mel_numpy`` does:
float32 input -> cast -> trim to ``frames * hop`` -> pad ("same" or "center", reflect or zeros) ->
frames gathered at ``t * hop`` (only the taps where the window is non-zero) -> real DFT as two MatMuls
with windowed cos / sin bases (only the bins the mel filters touch) -> power or magnitude -> mel
filterbank -> clamp -> ln or log10 -> optional per-bin mean / std -> float32, ``(batch, n_mels, frames)``.
float64 is needed: in float32 an STFT is exact to ~1e-7 of each frame's peak, so a bin 80 dB below the
peak would be off by 1e-3 on the log scale. onnxruntime has no float64 ``Conv``, hence Gather + MatMul
rather than the strided conv of :mod:`vocoder.dsp.stft`. The DFT bases are computed in the graph from
the window (constant subgraphs, folded by onnxruntime when the session starts), so the file holds only
the window and the filterbank. Work memory: about ``16 * frames * win`` bytes per batch item (taps x
frames, float64, plus the two spectra), e.g. 100 MB per minute of 16 kHz audio with ``demo-16k``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vocoder import __version__
from vocoder.audio.mel_numpy import hann_window, mel_filterbank, padding_for
from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig
from vocoder.infer.onnx_metadata import FRONTEND_INPUT as INPUT_NAME
from vocoder.infer.onnx_metadata import FRONTEND_OUTPUT as OUTPUT_NAME
from vocoder.infer.onnx_metadata import FrontendMetadata

SUFFIX = ".frontend.onnx"


def frontend_path(vocoder_path: str | Path) -> Path:
    """``m.onnx`` -> ``m.frontend.onnx`` (any other name gets ``.frontend.onnx`` appended)."""
    path = Path(vocoder_path)
    stem = path.name[: -len(".onnx")] if path.name.lower().endswith(".onnx") else path.name
    return path.with_name(stem + SUFFIX)


def model_version() -> int:
    """``10000 * major + 100 * minor + patch`` of the package version (0.1.0 -> 100); the ONNX
    ``model_version`` of both exported graphs."""
    parts = [int("".join(c for c in p if c.isdigit()) or 0) for p in __version__.split(".")[:3]]
    major, minor, patch = (parts + [0, 0, 0])[:3]
    return 10000 * major + 100 * minor + patch


def min_samples(cfg: FeatureConfig) -> int:
    """Shortest ``samples`` the graph accepts: one frame, and for reflect padding more aligned samples
    than the widest pad (the rule of :func:`vocoder.audio.mel_numpy.check_length`)."""
    if cfg.pad_mode != "reflect":
        return cfg.hop
    return (max(padding_for(cfg)) // cfg.hop + 1) * cfg.hop


def frontend_metadata(cfg: FeatureConfig, vocoder_file: str | None = None) -> FrontendMetadata:
    """The metadata of a front-end graph (:mod:`vocoder.infer.onnx_metadata`), with the texts of its input
    and output."""
    cfg = resolve_features(cfg)
    target = f"the `mel` input of {vocoder_file}" if vocoder_file else "the `mel` input of the vocoder graph"
    norm = ", minus mean and divided by std per bin" if cfg.mean is not None else ""
    log = "ln" if cfg.log == "ln" else "log10"
    docs = {
        INPUT_NAME: (
            f"float32 (batch, samples): mono audio at {cfg.sample_rate} Hz, full scale [-1, 1] "
            f"(resample and mix down first); frames = samples // {cfg.hop}, samples past frames * {cfg.hop} "
            f"are ignored; at least {min_samples(cfg)} samples"
        ),
        OUTPUT_NAME: (
            f"float32 (batch, {cfg.n_mels}, frames): {log} of the {'power' if cfg.power == 2.0 else 'magnitude'} "
            f"mel spectrogram clamped at {cfg.clamp:g}{norm}; feed it unchanged to {target}"
        ),
    }
    return FrontendMetadata(cfg, min_samples(cfg), vocoder_file or "", docs)


@dataclass
class FrontendReport:
    path: str
    sample_rate: int
    hop: int
    n_mels: int
    size_bytes: int
    max_diff: float | None = None  # vs log_mel_numpy, when checked

    def summary(self) -> str:
        line = (
            f"wrote {self.path} (mel front end: wav (batch, samples) at {self.sample_rate} Hz -> "
            f"mel (batch, {self.n_mels}, samples // {self.hop}), {self.size_bytes / 1e6:.2f} MB)"
        )
        if self.max_diff is not None:
            line += f"\ncheck: front end vs log_mel_numpy max abs diff {self.max_diff:.2e} (log scale)"
        return line


class _Graph:
    """A tiny node-list builder: every helper returns the name of the tensor it made."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, *inputs: str, name: str | None = None, **attrs) -> str:
        self._count += 1
        out = name or f"{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=f"{op_type}_{self._count}", **attrs))
        return out


def build_frontend(cfg: FeatureConfig, opset: int = 17, vocoder_file: str | None = None) -> onnx.ModelProto:
    """The front-end graph of ``cfg`` (see the module docstring) with its metadata."""
    cfg = resolve_features(cfg)
    n_fft, hop = cfg.n_fft, cfg.hop
    window = hann_window(cfg)
    taps = np.flatnonzero(window)  # frame offsets where the window is non-zero
    basis = mel_filterbank(cfg)  # (n_mels, n_fft // 2 + 1)
    bins = np.flatnonzero(basis.any(axis=0))  # DFT bins that some filter weighs
    k0, k1 = int(bins[0]), int(bins[-1]) + 1
    left, right = padding_for(cfg)

    g = _Graph()
    i64 = np.int64
    x = g.op("Cast", INPUT_NAME, to=TensorProto.DOUBLE)
    # frames = samples // hop; keep frames * hop samples
    length = g.op("Shape", x, start=1, end=2)
    frames = g.op("Div", length, g.const("hop", np.array([hop], i64)))
    kept = g.op("Mul", frames, "hop")
    x = g.op("Slice", x, g.const("zero", np.array([0], i64)), kept, g.const("one", np.array([1], i64)))
    pads = g.const("pads", np.array([0, left, 0, right], i64))
    if cfg.pad_mode == "reflect":
        x = g.op("Pad", x, pads, mode="reflect")
    else:
        x = g.op("Pad", x, pads, g.const("pad_value", np.array(0.0)), mode="constant")
    # index (frames, taps) of every windowed sample: t * hop + tap
    starts = g.op("Range", g.const("zero_s", np.array(0, i64)), g.op("Squeeze", frames, "zero"),
                  g.const("one_s", np.array(1, i64)))
    starts = g.op("Unsqueeze", g.op("Mul", starts, "hop"), "one")
    index = g.op("Add", starts, g.const("taps", taps.astype(i64)[None, :]))
    framed = g.op("Gather", x, index, axis=1)  # (B, frames, taps)
    # windowed DFT bases (taps, bins): angle 2 pi (k n mod n_fft) / n_fft, as vocoder.dsp.stft does
    kn = g.op("Mul", g.const("tap_index", taps.astype(i64)[:, None]), g.const("bins", np.arange(k0, k1, dtype=i64)))
    kn = g.op("Mod", kn, g.const("n_fft", np.array(n_fft, i64)))
    step = g.const("two_pi_over_n", np.array(2.0 * math.pi / n_fft))
    angle = g.op("Mul", g.op("Cast", kn, to=TensorProto.DOUBLE), step)
    win = g.const("window", window[taps][:, None])
    cos_basis = g.op("Mul", g.op("Cos", angle), win, name="dft_cos")
    sin_basis = g.op("Mul", g.op("Sin", angle), win, name="dft_sin")
    re = g.op("MatMul", framed, cos_basis)
    im = g.op("MatMul", framed, sin_basis)
    power = g.op("Add", g.op("Mul", re, re), g.op("Mul", im, im))  # (B, frames, bins)
    mag = power if cfg.power == 2.0 else g.op("Sqrt", power)
    mel = g.op("MatMul", mag, g.const("mel_basis", np.ascontiguousarray(basis[:, k0:k1].T)))  # (B, frames, n_mels)
    mel = g.op("Log", g.op("Max", mel, g.const("clamp", np.array(cfg.clamp))))
    if cfg.log == "log10":
        mel = g.op("Div", mel, g.const("ln10", np.array(math.log(10.0))))
    if cfg.mean is not None:
        mean, std = np.asarray(cfg.mean, np.float64), np.asarray(cfg.std, np.float64)
        mel = g.op("Div", g.op("Sub", mel, g.const("mean", mean)), g.const("std", std))
    mel = g.op("Transpose", mel, perm=[0, 2, 1])
    g.op("Cast", mel, to=TensorProto.FLOAT, name=OUTPUT_NAME)

    meta = frontend_metadata(cfg, vocoder_file)
    inp = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", "samples"])
    inp.doc_string = meta.docs[INPUT_NAME]
    out = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", cfg.n_mels, "frames"])
    out.doc_string = meta.docs[OUTPUT_NAME]
    graph = helper.make_graph(g.nodes, "mel_frontend", [inp], [out], initializer=g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="vocoder",
                              producer_version=__version__)
    model.ir_version = 8  # readable by onnxruntime >= 1.14
    model.model_version = model_version()
    model.doc_string = (
        f"vocoder {__version__} log-mel front end: wav (batch, samples) float32 at {cfg.sample_rate} Hz -> "
        f"mel (batch, {cfg.n_mels}, samples // {hop}) float32 for {vocoder_file or 'the vocoder graph'}"
    )
    helper.set_model_props(model, meta.to_props())
    onnx.checker.check_model(model, full_check=True)
    return model


def export_frontend(
    cfg: FeatureConfig, out_path: str | Path, opset: int = 17, vocoder_file: str | None = None
) -> FrontendReport:
    """Write the front-end graph of ``cfg`` to ``out_path``; ``vocoder_file`` (a file name) goes into the
    metadata as the graph its output feeds."""
    cfg = resolve_features(cfg)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(build_frontend(cfg, opset, vocoder_file), str(out_path))
    return FrontendReport(str(out_path), cfg.sample_rate, cfg.hop, cfg.n_mels, out_path.stat().st_size)


def check_signals(cfg: FeatureConfig, seconds: float = 0.5, seed: int = 0) -> dict[str, np.ndarray]:
    """Test signals for :func:`check_frontend`: a 220 Hz tone with harmonics, white noise at -20 dBFS
    and a ``frames * hop + hop // 2``-sample tail (so the trim is exercised)."""
    cfg = resolve_features(cfg)
    n = max(int(seconds * cfg.sample_rate) // cfg.hop, min_samples(cfg) // cfg.hop + 1) * cfg.hop + cfg.hop // 2
    t = np.arange(n) / cfg.sample_rate
    tone = sum(0.3 / k * np.sin(2 * np.pi * 220.0 * k * t + k) for k in range(1, 6))
    noise = 0.1 * np.random.default_rng(seed).standard_normal(n)
    return {"tone": tone.astype(np.float32), "noise": noise.astype(np.float32)}


def check_frontend(path: str | Path, cfg: FeatureConfig, signals: dict[str, np.ndarray] | None = None) -> float:
    """Max abs difference (log scale) between the graph at ``path`` and ``log_mel_numpy`` over
    ``signals`` (default :func:`check_signals`), each run alone and all as one batch when equally long."""
    import onnxruntime as ort

    from vocoder.audio.mel_numpy import log_mel_numpy

    cfg = resolve_features(cfg)
    signals = check_signals(cfg) if signals is None else signals
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    diff = 0.0
    refs = {name: log_mel_numpy(wav, cfg) for name, wav in signals.items()}
    for name, wav in signals.items():
        out = session.run([OUTPUT_NAME], {INPUT_NAME: np.asarray(wav, np.float32)[None]})[0][0]
        diff = max(diff, float(np.abs(out.astype(np.float64) - refs[name]).max()))
    if len({len(w) for w in signals.values()}) == 1 and len(signals) > 1:
        batch = np.stack([np.asarray(w, np.float32) for w in signals.values()])
        out = session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
        diff = max(diff, float(np.abs(out.astype(np.float64) - np.stack(list(refs.values()))).max()))
    return diff
