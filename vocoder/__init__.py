"""vocoder: train neural vocoders, synthesize speech from mel spectrograms, ship them with ONNX.

``vocoder.load(path)`` gives a :class:`Vocoder` (``.onnx`` -> onnxruntime, else torch) with
``synthesize(mel, f0=None, seed=0, mel_preset=None)``; ``vocoder.stream(model, mel_chunks)`` synthesizes
chunk by chunk; ``vocoder.features(wav, model_or_preset)`` makes the mel (and F0) a model takes.
Importing the package loads neither torch nor numpy; ``load``/``stream``/``features``/``Vocoder`` import
on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from vocoder.errors import VocoderError  # noqa: E402

__all__ = ["Vocoder", "VocoderError", "__version__", "features", "load", "stream"]


def load(path: Any, threads: int | None = None) -> Any:
    """See :func:`vocoder.api.load`."""
    from vocoder.api import load as _load

    return _load(path, threads=threads)


def stream(model: Any, mel_chunks: Any, f0_chunks: Any = None, seed: int = 0) -> Any:
    """See :func:`vocoder.api.stream`."""
    from vocoder.api import stream as _stream

    return _stream(model, mel_chunks, f0_chunks, seed)


def features(wav: Any, model_or_preset: Any, sample_rate: int | None = None, f0: bool | None = None) -> dict:
    """See :func:`vocoder.api.features`."""
    from vocoder.api import features as _features

    return _features(wav, model_or_preset, sample_rate=sample_rate, f0=f0)


def __getattr__(name: str) -> Any:
    if name == "Vocoder":
        from vocoder.infer.base import Vocoder

        return Vocoder
    raise AttributeError(f"module 'vocoder' has no attribute {name!r}")
