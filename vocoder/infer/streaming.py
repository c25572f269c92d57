"""Chunked synthesis whose joined output equals offline synthesis; numpy only, works on both backends.

Mel chunks ``(n_mels, T_i)`` (or ``(B, n_mels, T_i)``) arrive one at a time. A frame's audio is final once
``right`` more frames have arrived; it is then computed from a window that also holds ``left`` frames
before it (:class:`~vocoder.infer.base.StreamContext`, each generator's
``stream_context()``, stored in ONNX files). The window starts at frame 0 or ends at the last
frame exactly where the whole utterance does, so even the edges match offline synthesis; inside,
everything a frame's output depends on is in the window. What differs is float rounding (~1e-7).

Random inputs continue across windows rather than restarting: the noise of window ``[a, b)`` is the slice
``[a * hop, b * hop)`` of the seeded noise stream (:func:`~vocoder.infer.noise.noise_segment`), and
Wavehax's prior starts at the phase the whole utterance has at frame ``a``: the seeded start phase plus
the per-frame increments ``frac(f0 * hop / sr)`` of frames ``< a``, carried in float64 and passed in as
the float64 ``phase`` input.

Cost and latency: each window computes ``left + new + right`` frames for ``new`` frames of output, and
audio for a frame comes out ``right`` frames after it went in. Wavehax models with an utterance-wide
layer norm (``framewise_norm: false``, the reference's default) cannot be streamed exactly: they are
refused with a :class:`~vocoder.errors.ModelError`.

A model with an F0 predictor streams without F0 too: the F0 of a frame is predicted once the
predictor's reach of frames after it has arrived, and the generator's window then waits on predicted
frames (the context includes both reaches).

* :class:`StreamingSynthesizer`: ``push(mel, f0=None) -> audio``, ``flush() -> audio``.
* :func:`stream`: the same as a generator over chunks (what ``vocoder.stream`` returns).
* :func:`chunk_latencies`: seconds each push took, for ``vocoder bench``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from vocoder.errors import InputError, ModelError
from vocoder.infer.base import Vocoder
from vocoder.infer.checks import check_chunk, check_f0_scale, check_seed
from vocoder.infer.noise import phase_advance


class StreamingSynthesizer:
    """Push mel (and F0) chunks of one utterance (or a batch of equal-length ones); get audio back.

    ``push`` returns the samples that became final, ``(n * hop,)`` for ``(n_mels, T_i)`` chunks or
    ``(B, n * hop)`` for batched ones (``n`` may be 0); ``flush`` returns the rest. Joined, they equal
    ``model.synthesize(whole_mel, whole_f0, seed)``.
    """

    def __init__(self, model: Vocoder, seed: int = 0, f0_scale: float = 1.0) -> None:
        if not model.context.exact:
            raise ModelError(f"{model.source}: cannot stream this model: {model.context.reason}")
        self.model = model
        self.seed = check_seed(seed)
        self.f0_scale = check_f0_scale(f0_scale)
        self.left, self.right = model.context.left, model.context.right
        self._predicting: bool | None = None  # F0 from the model's predictor (decided by the first push)
        self._f0_known = 0  # frames [0, _f0_known) have their F0 (given F0: every received frame)
        self._mel: np.ndarray | None = None  # buffered frames [start, received), (B, n_mels, n)
        self._f0: np.ndarray | None = None
        self._phase: np.ndarray | None = None  # prior phase at frame ``start``, (B, 1) float64
        self._batched: bool | None = None
        self.start = 0
        self.emitted = 0
        self.received = 0
        self.finished = False

    def push(self, mel: Any, f0: Any = None) -> np.ndarray:
        """Add a chunk; return the audio of every frame that now has its right context."""
        if self.finished:
            raise InputError("stream: push after flush")
        chunk, batched = check_chunk(mel, self.model.n_mels)
        batch, _, frames = chunk.shape
        if self._mel is None:
            self._batched = batched
            self._mel = np.zeros((batch, self.model.n_mels, 0), dtype=np.float32)
            self._f0 = np.zeros((batch, 0), dtype=np.float32)
            _, self._phase = self.model.random_inputs(self.seed, batch, 0, 0)
        elif batched != self._batched or batch != self._mel.shape[0]:
            raise InputError(f"stream: chunk shape {np.shape(mel)} does not continue the earlier chunks")
        f0_chunk = self.model.check_f0(f0, batch, frames, batched)
        predicting = self.model.needs_f0 and f0_chunk is None
        if self._predicting is None:
            self._predicting = predicting
            if predicting:  # the predictor's reach is part of the context; the generator needs the rest
                self.left -= self.model.f0_context
                self.right -= self.model.f0_context
        elif predicting != self._predicting:
            raise InputError("stream: F0 was given with some chunks and not with others")
        self._mel = np.concatenate([self._mel, chunk], axis=2)
        if f0_chunk is not None:
            self._f0 = np.concatenate([self._f0, f0_chunk * np.float32(self.f0_scale)], axis=1)
        self.received += frames
        if self._predicting:
            self._predict_f0(self.received - self.model.f0_context)
        else:
            self._f0_known = self.received
        return self._emit(self._f0_known - self.right)

    def _predict_f0(self, upto: int) -> None:
        """Predicted F0 of frames ``[_f0_known, upto)``, from a mel window that holds the predictor's reach
        on both sides (or the utterance edge), so it equals prediction over the whole utterance."""
        upto = min(upto, self.received)
        if upto <= self._f0_known:
            return
        a = max(self.start, self._f0_known - self.model.f0_context)
        pred = self.model.predict_f0(self._mel[:, :, a - self.start :])
        new = pred[:, self._f0_known - a : upto - a] * np.float32(self.f0_scale)
        self._f0 = np.concatenate([self._f0, new.astype(np.float32)], axis=1)
        self._f0_known = upto

    def flush(self) -> np.ndarray:
        """The audio of the frames still held back; ends the stream."""
        if self._mel is None:
            raise InputError("stream: no mel chunk was given")
        if self.received < self.model.min_frames:
            raise InputError(f"mel: has {self.received} frames; this model needs at least {self.model.min_frames}")
        if self._predicting:
            self._predict_f0(self.received)
        out = self._emit(self.received)
        self.finished = True
        return out

    def _empty(self) -> np.ndarray:
        batch = self._mel.shape[0]
        out = np.zeros((batch, 0), dtype=np.float32)
        return out if self._batched else out[0]

    def _emit(self, upto: int) -> np.ndarray:
        a, b = max(0, self.emitted - self.left), self._f0_known
        if upto <= self.emitted or b - a < self.model.min_frames:
            return self._empty()
        lo, hi = a - self.start, b - self.start
        mel = self._mel[:, :, lo:hi]
        f0 = self._f0[:, lo:hi] if self.model.needs_f0 else None
        noise, _ = self.model.random_inputs(self.seed, mel.shape[0], a, b - a)
        phase = None
        if self._phase is not None:
            phase = phase_advance(self._f0[:, :lo], self.model.hop, self.model.sample_rate, self._phase)
        wav = self.model.run_checked(mel, f0, noise, phase)
        hop = self.model.hop
        out = wav[:, (self.emitted - a) * hop : (upto - a) * hop]
        self.emitted = upto
        keep = self.emitted - self.left
        if self._predicting:  # the predictor still needs its reach before the next unpredicted frame
            keep = min(keep, self._f0_known - self.model.f0_context)
        self._trim(max(self.start, keep))
        return out if self._batched else out[0]

    def _trim(self, new_start: int) -> None:
        """Drop the frames before ``new_start``: no later window reaches back to them."""
        drop = new_start - self.start
        if drop <= 0:
            return
        if self._phase is not None:
            self._phase = phase_advance(self._f0[:, :drop], self.model.hop, self.model.sample_rate, self._phase)
        self._mel = self._mel[:, :, drop:]
        self._f0 = self._f0[:, drop:]
        self.start = new_start


def stream(
    model: Vocoder, mel_chunks: Iterable[Any], f0_chunks: Iterable[Any] | None = None, seed: int = 0
) -> Iterator[np.ndarray]:
    """Yield audio after each mel chunk (possibly empty) and the rest at the end; their concatenation
    equals ``model.synthesize(mel, f0, seed)`` of the joined chunks. ``f0_chunks`` go with the mel chunks
    one to one (required when ``model.needs_f0``). A model that cannot stream raises here, not at the
    first ``next``."""
    synth = StreamingSynthesizer(model, seed)
    if model.needs_f0 and f0_chunks is None and not model.predicts_f0:
        raise InputError(f"{model.generator_name} needs F0 chunks (one value in Hz per mel frame, 0 = unvoiced)")

    def run() -> Iterator[np.ndarray]:
        f0_iter = iter(f0_chunks) if f0_chunks is not None else None
        for mel in mel_chunks:
            f0 = None
            if f0_iter is not None:
                try:
                    f0 = next(f0_iter)
                except StopIteration:
                    raise InputError("stream: fewer F0 chunks than mel chunks") from None
            yield synth.push(mel, f0)
        yield synth.flush()

    return run()


def chunk_latencies(
    model: Vocoder, mel: Any, f0: Any = None, chunk_frames: int = 10, seed: int = 0
) -> list[float]:
    """Wall-clock seconds of each ``push`` (and the final ``flush``) when ``mel`` ``(n_mels, T)`` is fed in
    chunks of ``chunk_frames``; for benchmarks, never asserted in tests."""
    if chunk_frames < 1:
        raise InputError(f"chunk_frames must be >= 1, got {chunk_frames}")
    mel_arr = np.asarray(mel)
    f0_arr = None if f0 is None else np.asarray(f0)
    synth = StreamingSynthesizer(model, seed)
    times = []
    for start in range(0, mel_arr.shape[-1], chunk_frames):
        part = None if f0_arr is None else f0_arr[..., start : start + chunk_frames]
        t0 = time.perf_counter()
        synth.push(mel_arr[..., start : start + chunk_frames], part)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    synth.flush()
    times.append(time.perf_counter() - t0)
    return times
