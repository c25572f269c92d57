"""Export a trained generator to ONNX, with its feature config in the file, and check it against torch.

The graph (TorchScript exporter, ``dynamo=False``, tracing the generator's ``export_module()``; weight norm
folded first) has dynamic batch and length; its inputs are the generator's ``input_names``:

==========  =====================  =======  ====================================================
input       shape                  dtype    when
==========  =====================  =======  ====================================================
``mel``     ``(B, n_mels, T)``     float32  always
``f0``      ``(B, T)``             float32  ``needs_f0`` (Wavehax): Hz, 0 = unvoiced
``noise``   ``(B, 1, T * hop)``    float32  ``needs_noise`` (PWG, Wavehax): i.i.d. N(0, 1)
``phase``   ``(B, 1)``             float64  ``takes_phase`` (Wavehax): prior start phase in cycles, [0, 1)
``f0_scale`` ``(B, 1)``            float32  F0 predicted in the graph: factor on the predicted F0
==========  =====================  =======  ====================================================

A Wavehax model folder with an F0 predictor (``vocoder train-f0``) is exported as one graph mel -> F0 ->
waveform (:class:`~vocoder.models.predicted_f0.PredictedF0Generator`: inputs ``mel``, ``noise``,
``phase``, ``f0_scale``; metadata ``vocoder.f0_predictor`` = "true"), a drop-in mel vocoder; ``f0_input``
(``vocoder export --f0-input``) exports the generator alone, with its ``f0`` input, instead.

output ``wav`` ``(B, 1, T * hop)`` float32. The conv-basis iSTFT (iSTFTNet, Wavehax) and Wavehax's PCPH
prior are part of the graph; the random ``noise`` and ``phase`` are inputs so that a run is deterministic
and streaming can continue them (:mod:`vocoder.infer.noise` draws them from a seed). ``phase`` is float64
so that the phase carried across streaming chunks keeps its precision (the prior sums phases in float64).

Metadata (``metadata_props``): the model's features, config, generator, inputs, streaming context and a
line per graph input and output (:func:`input_docs`; the same texts are the graph values' ``doc_string``),
as :class:`~vocoder.infer.onnx_metadata.VocoderMetadata` writes them; ``vocoder.frontend`` names the mel
front-end graph written beside it (``export --frontend``, :mod:`vocoder.infer.frontend_export`), else it
is empty. The ONNX ``model_version`` is ``10000 * major + 100 * minor + patch`` of the package version.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from vocoder import __version__, output_paths
from vocoder.config import RunConfig
from vocoder.errors import ConfigError, ModelError
from vocoder.infer.frontend_export import (
    FrontendReport,
    check_frontend,
    export_frontend,
    frontend_path,
    model_version,
)
from vocoder.infer.onnx_metadata import OUTPUT_NAME, VocoderMetadata, decoded
from vocoder.models.artifact import load_generator, resolve_model
from vocoder.models.f0_predictor import load_f0_predictor
from vocoder.models.predicted_f0 import PredictedF0Generator

DEFAULT_TOLERANCE = 1e-4
FRONTEND_TOLERANCE = 1e-5  # front end vs log_mel_numpy, log scale
# (batch, frames) pairs of the parity check: odd lengths, a long one and batch 2
CHECK_SHAPES = ((1, 7), (1, 40), (2, 23), (1, 131))
_DYNAMIC_AXES = {
    "mel": {0: "batch", 2: "frames"},
    "f0": {0: "batch", 1: "frames"},
    "noise": {0: "batch", 2: "samples"},
    "phase": {0: "batch"},
    "f0_scale": {0: "batch"},
    OUTPUT_NAME: {0: "batch", 2: "samples"},
}


@dataclass
class ExportReport:
    """What :func:`export_onnx` wrote: the file, its inputs and (with ``check``) the parity per shape."""

    path: str
    generator: str
    inputs: list[str]
    opset: int
    size_bytes: int
    checks: list[tuple[int, int, float]] = field(default_factory=list)  # (batch, frames, max abs diff)
    frontend: FrontendReport | None = None  # the mel front-end graph, with ``export --frontend``

    @property
    def max_diff(self) -> float | None:
        return max((d for _, _, d in self.checks), default=None)

    def summary(self) -> str:
        line = (
            f"wrote {self.path} ({self.generator}, opset {self.opset}, {self.size_bytes / 1e6:.2f} MB, "
            f"inputs: {', '.join(self.inputs)})"
        )
        if self.checks:
            shapes = ", ".join(f"{b}x{t}" for b, t, _ in self.checks)
            line += f"\ncheck: onnxruntime vs torch max abs diff {self.max_diff:.2e} over (batch x frames) {shapes}"
        if self.frontend is not None:
            line += "\n" + self.frontend.summary()
        return line


class _Positional(nn.Module):
    """Calls the generator with keyword inputs from positional ones (the exporter passes a tuple)."""

    def __init__(self, generator: nn.Module, names: list[str]) -> None:
        super().__init__()
        self.generator = generator
        self.names = names

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.generator(**dict(zip(self.names, args)))


def input_docs(generator: nn.Module) -> dict[str, str]:
    """What each graph input (and the output ``wav``) holds: dtype, shape and length rule, units and
    distribution, one line each, for someone running the file without this package."""
    hop, n_mels, sr = int(generator.hop), int(generator.n_mels), int(generator.sample_rate)
    min_frames = generator.min_frames
    docs = {
        "mel": (
            f"float32 (batch, {n_mels}, frames), frames >= {min_frames}: log-mel spectrogram computed with "
            f"vocoder.features (the front-end graph written by `vocoder export --frontend` computes it from "
            f"audio); one frame per {hop} output samples"
        ),
        "f0": (
            "float32 (batch, frames): fundamental frequency in Hz, one value per mel frame (same frames as mel), "
            "0 = unvoiced, never negative"
        ),
        "noise": (
            f"float32 (batch, 1, frames*{hop}): i.i.d. standard normal N(0, 1) samples, exactly frames*hop = "
            f"the output length; draw new noise per utterance (the package draws it from a seed)"
        ),
        "phase": (
            "float64 (batch, 1): start phase of the harmonic excitation in cycles (not radians), uniform "
            "in [0, 1); float64 because the phase carried across streaming chunks needs the precision"
        ),
        "f0_scale": (
            "float32 (batch, 1): factor on the F0 the graph predicts from the mel; 1 keeps the predicted pitch, "
            "2 is an octave up"
        ),
    }
    out = {n: docs[n] for n in generator.input_names}
    out[OUTPUT_NAME] = f"float32 (batch, 1, frames*{hop}): waveform at {sr} Hz, nominal range [-1, 1]"
    return out


def metadata(generator: nn.Module, cfg: RunConfig, frontend: str = "") -> VocoderMetadata:
    """The metadata written into the ONNX file (:mod:`vocoder.infer.onnx_metadata`)."""
    return VocoderMetadata(
        generator=cfg.generator.name,
        sample_rate=int(generator.sample_rate),
        hop=int(generator.hop),
        n_mels=int(generator.n_mels),
        needs_f0=bool(generator.needs_f0),
        needs_noise=bool(generator.needs_noise),
        min_frames=int(generator.min_frames),
        inputs=list(generator.input_names),
        features=cfg.features,
        config=cfg,
        stream_context=generator.stream_context(),
        docs=input_docs(generator),
        frontend=frontend,
        f0_predictor=isinstance(generator, PredictedF0Generator),
    )


def export_generator(
    generator: nn.Module, cfg: RunConfig, out_path: str | Path, opset: int = 17, frontend: str = ""
) -> ExportReport:
    """Export an eval-mode generator with folded weight norm to ``out_path`` and add the metadata
    (``frontend``: file name of the front-end graph written beside it, if any)."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    names = generator.input_names
    # batch 2 and more frames than any reflection pad needs, so no size is traced as a special case
    inputs = generator.example_inputs(2, max(16, 2 * generator.min_frames))
    wrapper = _Positional(generator.export_module(), names).eval()
    with warnings.catch_warnings(), torch.no_grad():
        # the tracer warns about every Python-level shape check of the generators; they are not in the graph
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            tuple(inputs[n] for n in names),
            str(out_path),
            dynamo=False,
            opset_version=opset,
            input_names=names,
            output_names=[OUTPUT_NAME],
            dynamic_axes={n: _DYNAMIC_AXES[n] for n in [*names, OUTPUT_NAME]},
        )
    model = onnx.load(str(out_path))
    meta = metadata(generator, cfg, frontend)
    onnx.helper.set_model_props(model, meta.to_props())
    for value in [*model.graph.input, *model.graph.output]:
        value.doc_string = meta.docs.get(value.name, "")
    model.model_version = model_version()  # torch writes 2**63 - 1
    model.doc_string = f"vocoder {__version__} {cfg.generator.name}: inputs {', '.join(names)} -> {OUTPUT_NAME}"
    onnx.checker.check_model(model)
    onnx.save(model, str(out_path))
    return ExportReport(str(out_path), cfg.generator.name, names, opset, out_path.stat().st_size)


def check_parity(
    generator: nn.Module,
    onnx_path: str | Path,
    shapes: tuple[tuple[int, int], ...] = CHECK_SHAPES,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
) -> list[tuple[int, int, float]]:
    """Run torch and onnxruntime on the same random inputs per ``(batch, frames)``; return the max abs
    differences, or raise :class:`ModelError` (one line with the number) when one exceeds ``tolerance``."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    results = []
    for i, (batch, frames) in enumerate(shapes):
        frames = max(frames, generator.min_frames)
        inputs = generator.example_inputs(batch, frames, seed=seed + i)
        with torch.inference_mode():
            ref = generator(**inputs).numpy()
        feed = {n: inputs[n].numpy() for n in names}
        out = session.run([OUTPUT_NAME], feed)[0]
        if out.shape != ref.shape:
            raise ModelError(f"{onnx_path}: onnxruntime output shape {out.shape} != torch {ref.shape}")
        diff = float(np.abs(out.astype(np.float64) - ref).max())
        if not diff <= tolerance:
            raise ModelError(
                f"{onnx_path}: onnxruntime differs from torch by {diff:.3g} (> {tolerance:g}) "
                f"at batch {batch}, {frames} frames"
            )
        results.append((batch, frames, diff))
    return results


def check_out_file(out_path: str | Path) -> Path:
    """Refuse (one :class:`ConfigError` line) an ``--out`` that is a folder or cannot be written, before
    any export work (:func:`vocoder.output_paths.check_out_file`)."""
    hint = f"--out is the path of the .onnx file to write (e.g. {Path(out_path) / 'model.onnx'})"
    return output_paths.check_out_file(out_path, "ONNX file", hint)


def export_onnx(
    model_path: str | Path,
    out_path: str | Path,
    opset: int = 17,
    check: bool = False,
    tolerance: float = DEFAULT_TOLERANCE,
    frontend: bool = False,
    f0_input: bool = False,
) -> ExportReport:
    """Export the generator of a run or checkpoint folder to ``out_path``; ``check`` compares
    onnxruntime with torch at several lengths and batch 2 and raises :class:`ModelError` above
    ``tolerance``. ``frontend`` also writes the model's mel front end to :func:`frontend_path`
    (``m.onnx`` -> ``m.frontend.onnx``); ``check`` then compares it with ``log_mel_numpy`` too
    (:data:`FRONTEND_TOLERANCE`). A folder with an F0 predictor gives one graph mel -> F0 -> waveform
    unless ``f0_input``."""
    out_path = check_out_file(out_path)
    front_path = frontend_path(out_path) if frontend else None
    generator, cfg = load_generator(model_path)
    if generator.needs_f0 and not f0_input:
        predictor = load_f0_predictor(resolve_model(model_path))
        if predictor is not None:
            generator = PredictedF0Generator(generator, predictor).eval()
    try:
        report = export_generator(generator, cfg, out_path, opset, front_path.name if front_path else "")
        if front_path is not None:
            report.frontend = export_frontend(cfg.features, front_path, opset, vocoder_file=out_path.name)
    except OSError as err:  # e.g. the disk filled up while writing
        raise ConfigError(f"{out_path}: cannot write the ONNX file ({output_paths.os_reason(err)})") from None
    except (RuntimeError, ValueError, onnx.checker.ValidationError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise ModelError(f"{model_path}: ONNX export failed ({first})") from None
    if check:
        report.checks = check_parity(generator, out_path, tolerance=tolerance)
        if report.frontend is not None:
            diff = check_frontend(report.frontend.path, cfg.features)
            if not diff <= FRONTEND_TOLERANCE:
                raise ModelError(
                    f"{report.frontend.path}: the front end differs from log_mel_numpy by {diff:.3g} "
                    f"(> {FRONTEND_TOLERANCE:g}, log scale)"
                )
            report.frontend.max_diff = diff
    return report


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``vocoder.*`` metadata of an exported file, JSON values decoded (for tests and ``info``)."""
    return decoded({p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props})
