"""onnxruntime inference engine: :class:`OnnxVocoder` runs a file written by ``vocoder export``.

Imports numpy, onnxruntime and the standard library, plus the package's torch-free modules (errors,
config dataclasses, input checks, seeded noise, the metadata schema), so a deployment needs no torch.
Everything about the model (sample rate, hop, mel config, which inputs it takes, streaming context) is
read from the file's ``vocoder.*`` metadata (:mod:`vocoder.infer.onnx_metadata`).

``OnnxVocoder(path, threads=None).synthesize(mel, f0=None, seed=0)``: mel ``(n_mels, T)`` ->
``(T * hop,)`` float32, or ``(B, n_mels, T)`` -> ``(B, T * hop)``, inputs checked once as on torch
(:mod:`vocoder.infer.checks`). ``OnnxVocoder.run`` (arrays from a caller) checks every array's shape
against the model (:meth:`~vocoder.infer.base.Vocoder.check_run_inputs`) before onnxruntime sees it, so a
wrong length is one :class:`~vocoder.errors.InputError` line naming the input.

``OnnxFrontend(path).mel(wav)``: the mel front-end graph of ``vocoder export --frontend``
(:mod:`vocoder.infer.frontend_export`), audio ``(L,)`` -> mel ``(n_mels, L // hop)`` float32 (or
``(B, L)`` -> ``(B, n_mels, L // hop)``), the numbers of :func:`vocoder.audio.mel_numpy.log_mel_numpy`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from vocoder.errors import ConfigError, InputError, ModelError
from vocoder.infer import onnx_metadata
from vocoder.infer.base import StreamContext, Vocoder


def session_options(threads: int | None = None, inter_op_threads: int | None = None) -> ort.SessionOptions:
    """Sequential execution with every graph optimisation; ``threads`` intra-op threads (None: ORT's
    default, one per core) and ``inter_op_threads`` (None: 1 when ``threads`` is given)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # The memory-pattern planner doubled PWG's peak on the second run (2.2 GB vs 1.16 GB for 2 s of
    # audio) with no measurable speed gain: lengths vary from call to call, so the pattern rarely helps.
    options.enable_mem_pattern = False
    # The default topological order runs nodes as soon as their inputs exist, so PWG v1 computed all 30
    # aux 1x1 convs of the upsampled mel up front and held them: 3.1 GB peak for 4 s of audio. Priority
    # order follows the graph's node order: 350 MB, same speed (iSTFTNet and Wavehax unchanged).
    options.execution_order = ort.ExecutionOrder.PRIORITY_BASED
    if threads is not None:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = int(inter_op_threads or 1)
    elif inter_op_threads is not None:
        options.inter_op_num_threads = int(inter_op_threads)
    return options


def _first_line(err: Exception) -> str:
    """The readable core of an (onnxruntime) error message, on one line."""
    text = " ".join(str(err).split())
    # "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from X failed:Protobuf parsing failed."
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"^Load model from .*? failed:", "", text)
    # drop a C++ source location and signature: "/ort_src/model.cc:256 ns::Model::Model(...) Unsupported ..."
    text = re.sub(r"^\S+\.(?:cc|h|cpp):\d+ .*?\) (?=[A-Z])", "", text)
    return (text.strip() or type(err).__name__)[:160]


def open_session(path: Path, threads: int | None = None, inter_op_threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime CPU session of ``path``; a missing or corrupt file is one :class:`ModelError` line."""
    if not path.is_file():
        raise ModelError(f"{path}: no such ONNX file")
    try:
        return ort.InferenceSession(
            str(path), session_options(threads, inter_op_threads), providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # onnxruntime raises its own untyped errors for corrupt files
        raise ModelError(f"{path}: not a valid ONNX model ({_first_line(err)})") from None


class OnnxVocoder(Vocoder):
    """A vocoder ONNX file on onnxruntime (CPU). See :class:`~vocoder.infer.base.Vocoder` for the API."""

    backend = "onnx"

    def __init__(self, path: str | Path, threads: int | None = None, inter_op_threads: int | None = None) -> None:
        path = Path(path)
        self.source = str(path)
        self.session = open_session(path, threads, inter_op_threads)
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        if onnx_metadata.is_frontend(meta):
            raise ModelError(
                f"{path}: is a mel front end (audio -> mel), not a vocoder; load the vocoder graph "
                f"{meta.get('vocoder.feeds') or 'it feeds'} and run this one with OnnxFrontend"
            )
        missing = onnx_metadata.missing(meta)
        if missing:
            raise ModelError(f"{path}: no vocoder metadata ({missing[0]} missing); export it with `vocoder export`")
        try:
            self._read_metadata(meta)
        except (ValueError, KeyError, TypeError, ConfigError) as err:
            raise ModelError(f"{path}: bad vocoder metadata ({_first_line(err)})") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self._dtypes = {
            i.name: np.float64 if i.type == "tensor(double)" else np.float32 for i in self.session.get_inputs()
        }
        if self.input_names != self.inputs_declared:
            raise ModelError(f"{path}: graph inputs {self.input_names} differ from its metadata {self.inputs_declared}")

    def _read_metadata(self, meta: dict[str, str]) -> None:
        parsed = onnx_metadata.VocoderMetadata.from_props(meta)
        self.metadata = meta
        self.generator_name = parsed.generator
        self.sample_rate, self.hop, self.n_mels = parsed.sample_rate, parsed.hop, parsed.n_mels
        self.needs_f0, self.needs_noise = parsed.needs_f0 or parsed.f0_predictor, parsed.needs_noise
        self.predicts_f0 = self.f0_in_graph = parsed.f0_predictor
        self.min_frames = parsed.min_frames
        self.inputs_declared = parsed.inputs
        self.features, self.config = parsed.features, parsed.config
        self.context = parsed.stream_context or StreamContext(
            0, 0, exact=False, reason="the file has no streaming context"
        )
        self.version = parsed.version

    def run_checked(
        self, mel: np.ndarray, f0: np.ndarray | None, noise: np.ndarray | None, phase: np.ndarray | None
    ) -> np.ndarray:
        return self._run_graph({"mel": mel, "f0": f0, "noise": noise, "phase": phase})

    def run_predicting_f0(
        self, mel: np.ndarray, noise: np.ndarray | None, phase: np.ndarray | None, f0_scale: float
    ) -> np.ndarray:
        """A graph with F0 predicted inside (``vocoder.f0_predictor``): checked ``mel`` (+ noise, phase) ->
        ``(B, T * hop)`` float32, every F0 multiplied by ``f0_scale``."""
        scale = np.full((mel.shape[0], 1), f0_scale, dtype=np.float32)
        return self._run_graph({"mel": mel, "noise": noise, "phase": phase, "f0_scale": scale})

    def _run_graph(self, given: dict[str, np.ndarray | None]) -> np.ndarray:
        """Feed each graph input from ``given`` in the graph's dtype; ``wav`` ``(B, T * hop)`` float32."""
        feed = {}
        for name in self.input_names:
            value = given.get(name)
            if value is None:
                raise ModelError(f"{self.source}: the graph input {name!r} is not one of {', '.join(given)}")
            feed[name] = np.ascontiguousarray(value, dtype=self._dtypes[name])
        return self.session.run(None, feed)[0][:, 0]


class OnnxFrontend:
    """A mel front-end file (``m.frontend.onnx``) on onnxruntime: ``mel(wav)`` -> log-mel, float32.

    Attributes from its metadata: ``sample_rate``, ``hop``, ``n_mels``, ``features``
    (:class:`~vocoder.config.FeatureConfig`), ``feeds`` (the vocoder file it was exported with).
    """

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        path = Path(path)
        self.source = str(path)
        self.session = open_session(path, threads)
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        if not onnx_metadata.is_frontend(meta):
            raise ModelError(f"{path}: not a mel front end (no vocoder.kind = frontend in its metadata)")
        try:
            parsed = onnx_metadata.FrontendMetadata.from_props(meta)
        except (ValueError, KeyError, TypeError, ConfigError) as err:
            raise ModelError(f"{path}: bad front-end metadata ({_first_line(err)})") from None
        self.metadata = meta
        self.features = parsed.features
        self.sample_rate, self.hop, self.n_mels = self.features.sample_rate, self.features.hop, self.features.n_mels
        self.feeds = parsed.feeds

    def mel(self, wav: Any) -> np.ndarray:
        """Audio at ``sample_rate`` ``(L,)`` or ``(B, L)`` -> log-mel ``(n_mels, L // hop)`` or
        ``(B, n_mels, L // hop)`` float32; a short, non-float or non-finite input is one InputError."""
        from vocoder.audio.mel_numpy import check_length

        arr = np.asarray(wav)
        if arr.ndim not in (1, 2) or not np.issubdtype(arr.dtype, np.floating):
            raise InputError(f"wav: expected a float array (samples,) or (batch, samples), got {arr.dtype} {arr.shape}")
        batched = arr.ndim == 2
        arr = np.ascontiguousarray(arr if batched else arr[None], dtype=np.float32)
        check_length(arr.shape[1], self.features)
        if not np.isfinite(arr).all():
            raise InputError("wav: contains NaN or Inf")
        mel = self.session.run(["mel"], {"wav": arr})[0]
        return mel if batched else mel[0]
