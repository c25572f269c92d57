"""Public inference API: :func:`load` a model (ONNX file or torch checkpoint) and :func:`stream` from it.

``vocoder.load(path)`` returns a :class:`~vocoder.infer.base.Vocoder`:

* a path ending in ``.onnx`` -> :class:`~vocoder.infer.runtime.OnnxVocoder` (onnxruntime; torch is
  never imported);
* anything else (run folder, checkpoint folder) -> :class:`~vocoder.infer.torch_backend.TorchVocoder`.

Both have ``sample_rate``, ``hop``, ``n_mels``, ``needs_f0``, ``features`` (FeatureConfig) and
``synthesize(mel, f0=None, seed=0)``: mel ``(n_mels, T)`` -> ``(T * hop,)`` float32 numpy, or
``(B, n_mels, T)`` -> ``(B, T * hop)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from numbers import Integral
from pathlib import Path
from typing import Any

from vocoder.errors import ConfigError
from vocoder.infer.base import Vocoder


def load(path: str | Path, threads: int | None = None) -> Vocoder:
    """A ready-to-use vocoder from an ``.onnx`` file or a run/checkpoint folder; ``threads`` CPU threads."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, Integral) or threads < 1):
        raise ConfigError(f"threads: expected a positive integer, got {threads!r}")
    if str(path).lower().endswith(".onnx"):
        from vocoder.infer.runtime import OnnxVocoder

        return OnnxVocoder(path, threads=threads)
    from vocoder.infer.torch_backend import TorchVocoder

    return TorchVocoder(path, threads=threads)


def stream(
    model: Vocoder, mel_chunks: Iterable[Any], f0_chunks: Iterable[Any] | None = None, seed: int = 0
) -> Iterator[Any]:
    """Waveform pieces from consecutive mel chunks; joined they equal ``model.synthesize`` of the whole
    mel (see :mod:`vocoder.infer.streaming`)."""
    from vocoder.infer.streaming import stream as _stream

    return _stream(model, mel_chunks, f0_chunks, seed)
