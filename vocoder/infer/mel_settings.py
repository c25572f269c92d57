"""Whether mels made with some settings fit a model: short labels of feature configs, and the value-by-value
comparison of a declared preset (``mel_preset=``, ``--mel-preset``, a file's ``preset`` metadata) or of
single settings (a file's ``sample_rate``, ``hop``... metadata) with the model's
:class:`~vocoder.config.FeatureConfig`.

A preset equal in every value to the model's features is fine (:func:`preset_differences` is empty); any
other is refused with one :class:`~vocoder.errors.InputError` line naming both and the differing
settings, sample rate and hop first (:func:`check_preset`). Numpy-free and torch-free.
"""

from __future__ import annotations

import math
from typing import Any

from vocoder.audio.mel_presets import PRESETS, find_preset, resolve_features
from vocoder.config import FeatureConfig
from vocoder.errors import InputError

# What makes a log-mel what it is (mean/std normalisation aside, which the value check sees), in the order
# a mismatch is reported: a sample-rate or hop difference first.
MEL_FIELDS = (
    "sample_rate", "hop", "n_mels", "n_fft", "win_length", "fmin", "fmax", "log", "clamp", "power", "padding",
    "pad_mode", "mel_scale", "mel_norm",
)


def features_label(features: FeatureConfig) -> str:
    """Short name of a feature config: its preset, else its rate and hop (e.g. ``custom 16000 Hz hop 200``)."""
    name = features.preset or find_preset(features)
    return name if name else f"custom {features.sample_rate} Hz hop {features.hop}"


def mel_field(features: FeatureConfig, key: str) -> Any:
    """The value of ``key`` as it acts on the mel: ``win_length`` None is ``n_fft``, ``fmax`` None Nyquist."""
    if key == "win_length":
        return features.win
    if key == "fmax":
        return features.sample_rate / 2 if features.fmax is None else features.fmax
    return getattr(features, key)


def same_value(a: Any, b: Any) -> bool:
    """Equal feature values: numbers to a relative 1e-6, anything else (strings, None) exactly."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-6)
    return a == b


def preset_differences(
    preset: str, features: FeatureConfig, given: dict[str, Any] | None = None
) -> list[tuple[str, Any, Any]]:
    """``(key, declared value, model value)`` for every mel setting in which ``preset`` (with the values in
    ``given`` overriding its own, as a file's metadata does) differs from ``features``; empty when it fits."""
    declared = resolve_features({"preset": preset})
    features = resolve_features(features)
    given = given or {}
    differ = []
    for key in MEL_FIELDS:
        value = given[key] if key in given else mel_field(declared, key)
        if not same_value(value, mel_field(features, key)):
            differ.append((key, value, mel_field(features, key)))
    return differ


def check_preset(
    preset: Any, features: FeatureConfig, name: str = "mel", given: dict[str, Any] | None = None
) -> None:
    """Refuse mels declared as made with ``preset`` (and the settings in ``given``) when their values differ
    from ``features``: one line that names both and the differing settings, sample rate and hop first."""
    if not isinstance(preset, str) or preset not in PRESETS:
        raise InputError(f"{name}: unknown mel preset {preset!r} (known: {', '.join(PRESETS)})")
    features = resolve_features(features)
    differ = preset_differences(preset, features, given)
    if not differ:
        return
    shown = ", ".join(f"{k} {_fmt(a)} vs {_fmt(b)}" for k, a, b in differ[:4])
    more = f" and {len(differ) - 4} more" if len(differ) > 4 else ""
    declared = resolve_features({"preset": preset})
    rate, hop = (given or {}).get("sample_rate", declared.sample_rate), (given or {}).get("hop", declared.hop)
    changed = [k for k, v in (given or {}).items() if k in MEL_FIELDS and not same_value(v, mel_field(declared, k))]
    extra = f" with {', '.join(changed)} changed" if changed else ""
    raise InputError(
        f"{name}: made with preset {preset}{extra} ({_fmt(rate)} Hz, hop {_fmt(hop)}), the model expects "
        f"{features_label(features)} ({_rate_hop(features)}): {shown}{more}"
    )


def check_settings(given: dict[str, Any], features: FeatureConfig, name: str) -> None:
    """Refuse mels declared as made with the settings in ``given`` (e.g. ``{"hop": 256}``, values as
    :func:`mel_field` gives them) when one differs from ``features``: the first differing one is named."""
    for key, value in given.items():
        want = mel_field(features, key)
        if not same_value(value, want):
            raise InputError(f"{name}: made with {key} {value}, the model ({features_label(features)}) expects {want}")


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _rate_hop(features: FeatureConfig) -> str:
    return f"{features.sample_rate} Hz, hop {features.hop}"
