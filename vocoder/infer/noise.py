"""Deterministic random inputs of the generators, drawn with numpy from a seed; numpy only.

Parallel WaveGAN and Wavehax take Gaussian ``noise`` ``(B, 1, T * hop)`` (and Wavehax a start ``phase``
``(B, 1)`` in cycles). Inference draws them here rather than inside the model, so that

* the torch and the onnxruntime backends give the same waveform for the same seed;
* streaming gives the same waveform as offline synthesis: the noise is a function of
  ``(seed, batch item, sample index)``, so any slice can be drawn on its own.

Noise stream: sample ``n`` of item ``b`` lies in block ``k = n // NOISE_BLOCK``, whose
``NOISE_BLOCK`` standard-normal float32 values come from ``np.random.default_rng([seed, 0, b, k])``.
Start phase of item ``b``: ``np.random.default_rng([seed, 1, b]).random()``. Changing either rule
changes every seeded output, so they are part of the file format's behaviour. :func:`random_inputs` is
the one entry point: both runtimes (:meth:`vocoder.infer.base.Vocoder.random_inputs`), streaming,
chunking, and on the torch side the export and its parity check
(:meth:`vocoder.models.generators.base.Generator.random_inputs`) draw through it.

Phase bookkeeping for chunks (:func:`phase_advance`) follows :class:`vocoder.dsp.excitation.PCPHPrior`:
per-frame increments ``f0 * hop / sr`` reduced modulo 1 and summed in float64.
"""

from __future__ import annotations

import numpy as np

NOISE_BLOCK = 4096
_NOISE_STREAM = 0
_PHASE_STREAM = 1


def _block(seed: int, item: int, index: int) -> np.ndarray:
    rng = np.random.default_rng([seed, _NOISE_STREAM, item, index])
    return rng.standard_normal(NOISE_BLOCK, dtype=np.float32)


def noise_segment(seed: int, batch: int, start: int, length: int) -> np.ndarray:
    """Samples ``[start, start + length)`` of the noise streams of items ``0..batch-1``:
    ``(batch, 1, length)`` float32, the same numbers whatever ``start`` and ``length`` slice them."""
    out = np.empty((batch, 1, length), dtype=np.float32)
    if length == 0:
        return out
    first, last = start // NOISE_BLOCK, (start + length - 1) // NOISE_BLOCK
    offset = start - first * NOISE_BLOCK
    for item in range(batch):
        blocks = np.concatenate([_block(seed, item, k) for k in range(first, last + 1)])
        out[item, 0] = blocks[offset : offset + length]
    return out


def start_phase(seed: int, batch: int) -> np.ndarray:
    """Phase of the first sample of items ``0..batch-1`` in cycles, ``(batch, 1)`` float64 in ``[0, 1)``."""
    return np.array([[np.random.default_rng([seed, _PHASE_STREAM, item]).random()] for item in range(batch)])


def random_inputs(
    seed: int, batch: int, start: int, frames: int, hop: int, noise: bool, phase: bool
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(noise ``(batch, 1, frames * hop)`` float32 of frames ``[start, start + frames)``, start phase
    ``(batch, 1)`` float64 of the utterance) of ``seed``; each None when its flag is False."""
    return (
        noise_segment(seed, batch, start * hop, frames * hop) if noise else None,
        start_phase(seed, batch) if phase else None,
    )


def phase_advance(f0: np.ndarray, hop: int, sample_rate: int, phase: np.ndarray) -> np.ndarray:
    """Phase after the frames ``f0`` ``(B, T)`` Hz, starting from ``phase`` ``(B, 1)``: ``(B, 1)`` float64
    in ``[0, 1)``; the numpy twin of ``PCPHPrior.end_phase``."""
    inc = np.maximum(np.asarray(f0, dtype=np.float32).astype(np.float64), 0.0) * (hop / sample_rate)
    end = np.asarray(phase, dtype=np.float64) + np.sum(inc - np.floor(inc), axis=1, keepdims=True)
    return end - np.floor(end)
