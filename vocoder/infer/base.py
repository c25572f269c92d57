"""What every inference backend offers: :class:`Vocoder` (the loaded model) and :class:`StreamContext`.

Torch-free (numpy only), so the onnxruntime backend can build on it. A backend fills in the attributes
and implements :meth:`Vocoder.run` on checked arrays; input checks, seeded noise and batching live here
once.

``synthesize(mel, f0=None, seed=0, f0_scale=1.0)``: mel ``(n_mels, T)`` -> waveform ``(T * hop,)``
float32, or mel ``(B, n_mels, T)`` -> ``(B, T * hop)``. ``f0`` (Hz, 0 = unvoiced) is ``(T,)`` / ``(B, T)``;
it is required when ``needs_f0`` unless the model carries an F0 predictor (``predicts_f0``: then F0 comes
from the mel, and the model says so once), and ignored otherwise; ``f0_scale`` multiplies it (given or
predicted) before synthesis. Noise and start phase come from ``seed``
(:mod:`vocoder.infer.noise`), so equal seeds give equal waveforms on both backends. Inputs longer than
``chunk_frames`` frames are synthesized window by window in bounded memory (:mod:`vocoder.infer.chunking`).

Checked once: ``synthesize`` validates its inputs (:meth:`Vocoder.prepare_inputs`, :mod:`vocoder.infer.checks`)
and hands them to :meth:`Vocoder.synthesize_checked`, which the CLI calls with the arrays its file reader
(:func:`~vocoder.infer.mel_files.load_mel`) has validated;
from there a backend's :meth:`Vocoder.run_checked` gets them unchecked. :meth:`Vocoder.run` (arrays from
a caller, noise and phase included) checks them first.
"""

from __future__ import annotations

import sys
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from vocoder.config import FeatureConfig, RunConfig
from vocoder.errors import InputError
from vocoder.infer import noise as seeded
from vocoder.infer.checks import check_f0, check_f0_scale, check_seed, float_input, prepare_mel

_WHAT = {
    "f0": "float32 Hz per mel frame, 0 = unvoiced",
    "noise": "float32 i.i.d. N(0, 1)",
    "phase": "float64 start phase in cycles, [0, 1)",
}


@dataclass(frozen=True)
class StreamContext:
    """Mel frames a chunk needs beyond its own for chunked synthesis to equal offline synthesis.

    ``left``/``right``: frames of context on each side (``right`` is also the look-ahead latency).
    ``exact``: False when no finite context reproduces offline synthesis (e.g. a layer norm over the
    whole utterance); ``reason`` then says why.
    """

    left: int
    right: int
    exact: bool = True
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"left": self.left, "right": self.right, "exact": self.exact, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamContext:
        return cls(int(data["left"]), int(data["right"]), bool(data.get("exact", True)), str(data.get("reason", "")))


class Vocoder(ABC):
    """A loaded vocoder: ``synthesize(mel, f0=None, seed=0) -> np.ndarray`` plus what describes it.

    Attributes: ``sample_rate``, ``hop``, ``n_mels``, ``needs_f0``, ``needs_noise``, ``input_names``
    (what :meth:`run` feeds the model, e.g. ``["mel", "f0", "noise", "phase"]``), ``min_frames`` (shortest
    mel accepted), ``features`` (:class:`~vocoder.config.FeatureConfig` the model was trained
    on), ``config`` (the whole :class:`~vocoder.config.RunConfig`), ``generator_name``,
    ``context`` (:class:`StreamContext`), ``backend`` ("torch" or "onnx") and ``source`` (the path).

    ``chunk_frames`` (settable per instance): mels longer than this are synthesized in windows of at most
    this many frames plus the streaming context, so memory stays bounded (a 10-minute mel would need
    gigabytes whole); None synthesizes every input whole. The result equals whole-input synthesis up to
    float rounding, except for Wavehax models with ``framewise_norm: false`` (cross-faded windows, see
    :mod:`vocoder.infer.chunking`).
    """

    chunk_frames: int | None = 2000

    backend: str = ""
    source: str = ""
    sample_rate: int
    hop: int
    n_mels: int
    needs_f0: bool
    needs_noise: bool
    input_names: list[str]
    min_frames: int
    generator_name: str
    features: FeatureConfig
    config: RunConfig
    context: StreamContext
    predicts_f0: bool = False  # an F0 predictor stands in when no F0 is given (needs_f0 models)
    f0_in_graph: bool = False  # the predictor runs inside the backend's graph (ONNX mel -> F0 -> waveform)
    f0_context: int = 0  # frames the predictor reaches on each side (included in ``context``)
    _said_predicted: bool = False

    @abstractmethod
    def run_checked(
        self, mel: np.ndarray, f0: np.ndarray | None, noise: np.ndarray | None, phase: np.ndarray | None
    ) -> np.ndarray:
        """Checked inputs -> waveform ``(B, T * hop)`` float32; nothing is checked again here.

        ``mel`` ``(B, n_mels, T)`` float32; ``f0`` ``(B, T)`` float32 when ``needs_f0``; ``noise``
        ``(B, 1, T * hop)`` float32 when ``needs_noise``; ``phase`` ``(B, 1)`` float64 cycles when
        :attr:`takes_phase` (the harmonic prior's start phase). Unused inputs are None.
        """

    def run(self, mel: Any, f0: Any, noise: Any, phase: Any) -> np.ndarray:
        """:meth:`run_checked` on arrays from a caller, checked first (:meth:`check_run_inputs`), so a wrong
        shape is one :class:`InputError` line rather than a backend's own error."""
        return self.run_checked(**self.check_run_inputs(mel, f0, noise, phase))

    def check_run_inputs(
        self, mel: Any, f0: Any, noise: Any, phase: Any
    ) -> dict[str, np.ndarray | None]:
        """The arrays :meth:`run` takes, checked against the model before any backend sees them:
        ``{"mel", "f0", "noise", "phase"}`` as contiguous arrays of the graph's dtypes (None where the
        model takes no such input; a given unused input is ignored).

        A missing input, a non-float array or a wrong shape is one :class:`InputError` line naming the
        input, the expected shape (with its rule) and the given one, e.g. ``noise: expected shape
        (1, 1, 640) = (batch, 1, frames * hop) for 20 frames at hop 32, got (1, 1, 600)``.
        """
        arr = np.ascontiguousarray(float_input(mel, "mel"), dtype=np.float32)
        if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] != self.n_mels:
            raise InputError(
                f"mel: expected shape (batch, {self.n_mels}, frames) = (batch, n_mels, frames), got {arr.shape}"
            )
        batch, _, frames = arr.shape
        if frames < self.min_frames:
            raise InputError(f"mel: has {frames} frames (shape {arr.shape}); this model needs at least "
                             f"{self.min_frames}")
        out: dict[str, np.ndarray | None] = {"mel": arr, "f0": None, "noise": None, "phase": None}
        wanted = {
            "f0": ("f0" in self.input_names, (batch, frames), "(batch, frames)", np.float32),
            "noise": (self.needs_noise, (batch, 1, frames * self.hop), "(batch, 1, frames * hop)", np.float32),
            "phase": (self.takes_phase, (batch, 1), "(batch, 1)", np.float64),
        }
        given = {"f0": f0, "noise": noise, "phase": phase}
        for name, (needed, shape, rule, dtype) in wanted.items():
            if not needed:
                continue
            if given[name] is None:
                raise InputError(f"{name}: missing; this model takes {name} of shape {shape} = {rule}, {_WHAT[name]}")
            value = np.ascontiguousarray(float_input(given[name], name), dtype=dtype)
            if value.shape != shape:
                raise InputError(
                    f"{name}: expected shape {shape} = {rule} for {frames} frames"
                    f"{f' at hop {self.hop}' if name == 'noise' else ''}, got {value.shape}"
                )
            out[name] = value
        return out

    def synthesize(
        self, mel: Any, f0: Any = None, seed: int = 0, mel_preset: str | None = None, check_values: bool = True,
        f0_scale: float = 1.0,
    ) -> np.ndarray:
        """mel ``(n_mels, T)`` -> ``(T * hop,)``, or ``(B, n_mels, T)`` -> ``(B, T * hop)``, float32.

        The mel is checked and oriented as ``vocoder synthesize`` checks mel files
        (:func:`~vocoder.infer.checks.prepare_mel`): ``(T, n_mels)`` is transposed, dB/linear/normalised
        mels and a declared ``mel_preset`` other than the model's features are refused. ``check_values=False``
        skips only the log-mel value range (random mels in benchmarks). ``f0_scale`` multiplies F0 (given
        or predicted; a pitch shift; ignored by models without F0)."""
        mel3, f0b, batched = self.prepare_inputs(mel, f0, mel_preset, check_values)
        scale = check_f0_scale(f0_scale) if self.needs_f0 else 1.0
        wav = self.synthesize_checked(mel3, f0b, check_seed(seed), scale)
        return wav if batched else wav[0]

    def prepare_inputs(
        self, mel: Any, f0: Any = None, mel_preset: str | None = None, check_values: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None, bool]:
        """The one check of a mel and its F0 for this model: ``(mel (B, n_mels, T) float32, f0 (B, T)
        float32 or None, batched)`` (:func:`~vocoder.infer.checks.prepare_mel`, :meth:`check_f0`)."""
        mel3, batched = prepare_mel(
            mel, self.features, min_frames=self.min_frames, mel_preset=mel_preset, check_values=check_values
        )
        return mel3, self.check_f0(f0, mel3.shape[0], mel3.shape[2], batched), batched

    def synthesize_checked(
        self, mel: np.ndarray, f0: np.ndarray | None, seed: int, f0_scale: float = 1.0
    ) -> np.ndarray:
        """Inputs as the checks leave them -> ``(B, T * hop)`` float32, with seeded noise and phase.

        ``mel`` ``(B, n_mels, T)`` float32 from :func:`~vocoder.infer.checks.prepare_mel` (at least
        ``min_frames`` frames), ``f0`` ``(B, T)`` float32 Hz when ``needs_f0`` (else None; None for a model
        that predicts F0 means "predict it"), ``seed`` a non-negative int, ``f0_scale`` a positive float:
        not checked again. Inputs longer than ``chunk_frames`` go window by window."""
        batch, _, frames = mel.shape
        if self.needs_f0 and f0 is None:  # check_f0 let it through: the model predicts F0
            if self.f0_in_graph:
                self._say_predicted()
                noise, phase = self.random_inputs(seed, batch, 0, frames)
                return self.run_predicting_f0(mel, noise, phase, f0_scale)
            f0 = self.predict_f0(mel)
        if f0 is not None and f0_scale != 1.0:
            f0 = (f0 * np.float32(f0_scale)).astype(np.float32)
        if self.chunk_frames and frames > self.chunk_frames and self._can_chunk():
            from vocoder.infer.chunking import synthesize_chunked

            return synthesize_chunked(self, mel, f0, seed, max(int(self.chunk_frames), 2 * self.min_frames))
        noise, phase = self.random_inputs(seed, batch, 0, frames)
        return self.run_checked(mel, f0, noise, phase)

    def _can_chunk(self) -> bool:
        """False (with a warning) when the model's streaming context is unknown: whole-input synthesis."""
        ctx = self.context
        if ctx.exact or ctx.left or ctx.right:
            return True
        warnings.warn(
            f"{self.source}: long input synthesized whole (memory grows with its length): {ctx.reason}",
            stacklevel=4,  # the caller of synthesize (synthesize -> synthesize_checked -> here)
        )
        return False

    def check_f0(self, f0: Any, batch: int, frames: int, batched: bool) -> np.ndarray | None:
        """Checked ``(B, T)`` float32 F0 when the model uses it, else None (a given F0 is ignored).

        None also when the model predicts F0 and none is given."""
        if not self.needs_f0:
            return None
        if f0 is None:
            if not self.predicts_f0:
                raise InputError(f"{self.generator_name} needs F0 (one value in Hz per mel frame, 0 = unvoiced)")
            return None
        if self.f0_in_graph:
            raise InputError(f"{self.source}: this graph predicts F0 from the mel and takes no F0 input; to give F0, "
                             "use the model folder or a graph exported with `vocoder export --f0-input`")
        return check_f0(f0, batch, frames, batched)

    def predict_f0(self, mel: np.ndarray) -> np.ndarray:
        """Checked mel ``(B, n_mels, T)`` -> predicted F0 ``(B, T)`` float32 Hz (0 = unvoiced), from the
        model's F0 predictor (:meth:`predict_f0_checked`); the first use says so on stderr."""
        if not self.predicts_f0 or self.f0_in_graph:
            raise InputError(f"{self.source}: this model has no F0 predictor that runs on its own")
        self._say_predicted()
        return self.predict_f0_checked(mel)

    def predict_f0_checked(self, mel: np.ndarray) -> np.ndarray:
        """What :meth:`predict_f0` computes; backends whose model carries an F0 predictor implement it."""
        raise InputError(f"{self.source}: this model has no F0 predictor")

    def _say_predicted(self) -> None:
        if not self._said_predicted:
            self._said_predicted = True
            print(f"note: {self.source}: no F0 given; F0 from the model's predictor (mel -> F0)", file=sys.stderr)

    def run_predicting_f0(
        self, mel: np.ndarray, noise: np.ndarray | None, phase: np.ndarray | None, f0_scale: float
    ) -> np.ndarray:
        """Like :meth:`run` for graphs that predict F0 inside (``f0_in_graph``): ``(B, T * hop)`` float32."""
        raise InputError(f"{self.source}: this model does not predict F0 inside its graph")

    def random_inputs(self, seed: int, batch: int, start: int, frames: int) -> tuple[np.ndarray | None, ...]:
        """(noise ``(B, 1, frames * hop)`` for frames ``[start, start + frames)``, start phase ``(B, 1)``
        of the utterance), each None when the model does not take it."""
        return seeded.random_inputs(seed, batch, start, frames, self.hop, self.needs_noise, self.takes_phase)

    @property
    def takes_phase(self) -> bool:
        """True when the model has a start-phase input (Wavehax's harmonic prior)."""
        return "phase" in self.input_names

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.generator_name!r}, {self.source!r}, sample_rate={self.sample_rate}, "
            f"hop={self.hop}, n_mels={self.n_mels}, needs_f0={self.needs_f0})"
        )
