"""Long inputs in bounded memory: synthesize a long mel ``(B, n_mels, T)`` window by window; numpy only.

A generator's activations grow with the input (Wavehax v1 at hop 160 holds ``161 x T x 64`` floats per
layer: ~2.5 GB for a 10-minute mel), so :meth:`~vocoder.infer.base.Vocoder.synthesize` hands inputs
longer than ``Vocoder.chunk_frames`` to :func:`synthesize_chunked`. Output frames are split into nearly
equal blocks; each block is computed from a window holding the model's streaming context
(:class:`~vocoder.infer.base.StreamContext`) on both sides, with the noise slice and prior start phase
the whole utterance has there (as :mod:`vocoder.infer.streaming` does). Peak memory is then that of one
window of ``chunk_frames + left + right`` frames whatever the input length.

* Exact models (every PWG and iSTFTNet, Wavehax with ``framewise_norm: true``): blocks are joined end
  to end and the result equals whole-input synthesis up to float rounding (same windows as streaming).
* Wavehax with ``framewise_norm: false`` normalises over the whole input, which no window reproduces.
  Such models are still chunked -- whole-input synthesis of a 10-minute mel needs gigabytes, and the
  model was trained on segments of tens of frames, so statistics over a ~20 s window are as much "in
  distribution" as statistics over 10 minutes. Neighbouring blocks overlap by ``INEXACT_OVERLAP`` frames
  and are cross-faded (raised cosine, weights summing to 1) so no step appears at a block edge. Measured
  with the demo Wavehax (``recipes/demo/wavehax.yaml`` trained 5250 steps) on 2 minutes of speech in
  2000-frame chunks: chunked minus whole-input output is -29.5 dB (RMS, relative to the signal), a
  log-mel L1 of 0.036 between the two -- a fifth of what changing the noise seed does (0.186) -- and
  both are 0.397 log-mel L1 from the real recording: chunking costs no measurable fidelity.
* A model without a known context (an ONNX file without ``vocoder.stream_context``) is synthesized whole.
"""

from __future__ import annotations

import math

import numpy as np

from vocoder.infer.noise import phase_advance

INEXACT_OVERLAP = 32  # frames of cross-fade between blocks of models that cannot be chunked exactly


def plan_blocks(frames: int, chunk: int, overlap: int = 0) -> list[tuple[int, int]]:
    """Output blocks ``[(start, end), ...]`` covering ``[0, frames)``, each at most ``chunk`` frames and
    nearly equal in length, consecutive ones sharing ``overlap`` frames (``0 <= overlap < chunk // 2``)."""
    if frames <= chunk:
        return [(0, frames)]
    count = math.ceil((frames - overlap) / (chunk - overlap))
    size = math.ceil((frames + (count - 1) * overlap) / count)
    starts = [i * (size - overlap) for i in range(count)]
    return [(s, min(frames, s + size)) for s in starts]


def _fade(length: int) -> np.ndarray:
    """Raised-cosine fade-in of ``length`` samples; ``1 - fade`` is the matching fade-out."""
    t = (np.arange(length, dtype=np.float64) + 0.5) / length
    return (0.5 - 0.5 * np.cos(np.pi * t)).astype(np.float32)


def synthesize_chunked(
    model, mel: np.ndarray, f0: np.ndarray | None, seed: int, chunk: int
) -> np.ndarray:
    """Checked ``mel`` ``(B, n_mels, T)``, ``f0`` ``(B, T)`` or None -> ``(B, T * hop)`` float32, computed in
    windows of at most ``chunk + left + right`` frames (see the module docstring for exactness)."""
    batch, _, frames = mel.shape
    hop, ctx = model.hop, model.context
    overlap = 0 if ctx.exact else min(INEXACT_OVERLAP, chunk // 4)
    out = np.zeros((batch, frames * hop), dtype=np.float32)
    _, start_phase = model.random_inputs(seed, batch, 0, 0)
    phase, phase_at = start_phase, 0
    previous_end = 0
    for start, end in plan_blocks(frames, chunk, overlap):
        a, b = max(0, start - ctx.left), min(frames, end + ctx.right)
        noise, _ = model.random_inputs(seed, batch, a, b - a)
        if phase is not None:
            phase = phase_advance(f0[:, phase_at:a], hop, model.sample_rate, phase)  # the prior's phase at a
            phase_at = a
        wav = model.run_checked(mel[:, :, a:b], None if f0 is None else f0[:, a:b], noise, phase)
        block = wav[:, (start - a) * hop : (end - a) * hop]
        shared = (previous_end - start) * hop  # samples overlapping the previous block
        if shared > 0:
            fade = _fade(shared)
            out[:, start * hop : previous_end * hop] *= 1.0 - fade
            block = block.copy()
            block[:, :shared] *= fade
            out[:, start * hop : end * hop] += block
        else:
            out[:, start * hop : end * hop] = block
        previous_end = end
    return out
