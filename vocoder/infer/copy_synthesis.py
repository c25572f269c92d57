"""Copy synthesis: a model's inputs computed from audio with the model's own features (``vocoder
synthesize --from-audio``; ``vocoder features`` writes the same numbers to files). Numpy only.

The mel is :func:`~vocoder.audio.mel_numpy.log_mel_numpy` (the numbers training uses), ``(n_mels, T)``
with ``T = L // hop`` at the model's rate, so synthesis gives back ``T * hop`` samples; the F0 is
extracted with the model's F0 method and range (:func:`~vocoder.infer.f0_inputs.f0_from_samples`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vocoder.audio.io import read_audio
from vocoder.audio.mel_numpy import log_mel_numpy
from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig
from vocoder.errors import InputError
from vocoder.infer.f0_inputs import f0_from_samples


def mel_from_samples(wav: np.ndarray, features: FeatureConfig, name: str | Path) -> np.ndarray:
    """Log-mel ``(n_mels, L // hop)`` float32 of audio ``(L,)`` at the features' rate; a problem (audio
    shorter than one frame, NaN samples) is one :class:`InputError` line starting with ``name``."""
    try:
        return log_mel_numpy(wav, features)
    except InputError as err:
        raise InputError(f"{name}: {str(err).removeprefix('log_mel_numpy: ')}") from None


def load_audio_input(
    path: str | Path, features: FeatureConfig, with_f0: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(mel (n_mels, T), f0 (T,) or None)`` of an audio file for copy synthesis, ``T = L // hop`` at
    the model's rate (so synthesis gives back ``T * hop`` samples)."""
    features = resolve_features(features)
    wav = read_audio(path, features.sample_rate, check_silence=False)
    mel = mel_from_samples(wav, features, path)
    return mel, (f0_from_samples(wav, features, path) if with_f0 else None)
