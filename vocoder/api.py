"""Public inference API: :func:`load` a model (ONNX file or torch checkpoint), :func:`stream` from it, and
make mels (and F0) matched to it with :func:`features`.

``vocoder.load(path)`` returns a :class:`~vocoder.infer.base.Vocoder`:

* a path ending in ``.onnx`` -> :class:`~vocoder.infer.runtime.OnnxVocoder` (onnxruntime; torch is
  never imported);
* anything else (run folder, checkpoint folder) -> :class:`~vocoder.infer.torch_backend.TorchVocoder`.

Both have ``sample_rate``, ``hop``, ``n_mels``, ``needs_f0``, ``features`` (FeatureConfig) and
``synthesize(mel, f0=None, seed=0, mel_preset=None)``: mel ``(n_mels, T)`` -> ``(T * hop,)`` float32
numpy, or ``(B, n_mels, T)`` -> ``(B, T * hop)``. The mel is checked and oriented exactly as
``vocoder synthesize`` checks mel files (:func:`vocoder.infer.checks.prepare_mel`): ``(T, n_mels)`` is
transposed; dB, linear or normalised mels, and a ``mel_preset`` whose values differ from the model's
features, are refused with one line.

``features(wav, model_or_preset, sample_rate=None)``: ``{"mel": (n_mels, T), "f0": (T,) when the model
needs F0, <metadata>}`` (:mod:`vocoder.infer.feature_files`); ``np.savez(path, **result)`` is a mel file
``vocoder synthesize`` reads back with its metadata checked.
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


def features(wav: Any, model_or_preset: Any, sample_rate: int | None = None, f0: bool | None = None) -> dict:
    """Mel ``(n_mels, T)`` (and F0 ``(T,)`` when the model needs it, or ``f0=True``) of ``wav`` (an audio
    path, or a mono float array at ``sample_rate``; None: the features' rate) for a model (loaded or a
    path) or a preset name, with the metadata keys mel files carry (see :mod:`vocoder.infer.feature_files`)."""
    from vocoder.infer.feature_files import features as _features

    return _features(wav, model_or_preset, sample_rate=sample_rate, f0=f0)
