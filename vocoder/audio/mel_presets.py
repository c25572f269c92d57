"""Named log-mel presets and the resolution of a ``features`` config into checked values.

Torch-free (the ONNX runtime imports it). :data:`PRESETS` holds the mel settings of the systems we
reproduce; :func:`resolve_features` merges a preset with the keys given beside it and validates every
value, raising :class:`~vocoder.errors.ConfigError` with one line that names the key.

Sources of the preset values (read in each project's code):

* ``hifigan-22k``: HiFi-GAN ``meldataset.py`` / ``config_v1.json``: reflect-pad ``(n_fft - hop) / 2`` on
  both sides, ``center=False``, magnitude, librosa (slaney) mel, ``ln(clamp(., 1e-5))``. HiFi-GAN adds
  1e-9 under the square root; we do not (it only lifts near-silent bins).
* ``pwg-24k`` / ``pwg-22k``: ParallelWaveGAN ``logmelfilterbank``: ``librosa.stft`` (``center=True``,
  reflect), magnitude, librosa mel, ``log10(max(., 1e-10))``. PWG keeps ``L // hop + 1`` frames and pads
  the audio to match; our "center" drops the last frame instead, so ``T * hop`` samples give ``T`` frames.
  PWG's per-bin mean/std (``compute_statistics``) go in ``mean`` / ``std`` when wanted.
* ``vocos-24k``: Vocos ``MelSpectrogramFeatures``: torchaudio ``MelSpectrogram`` defaults (htk scale,
  no filter norm, ``f_max`` = Nyquist, power 1, reflect ``center=True``), ``ln(clip(., 1e-7))``.
* ``wavehax-24k``: Wavehax ``extract_features.yaml``: 24 kHz, n_fft 1024, hop 240, 100 mels, 0-8000 Hz,
  ``ln(clamp(., 1e-5))``, "same" framing.
* ``demo-16k``: our 16 kHz demo. Window 640 (40 ms) inside n_fft 1024: window / hop = 4 as in HiFi-GAN
  (1024 / 256) and Wavehax (1024 / 240); a 1024 window would span 6.4 hops. Measured: a click stays
  within 20 dB of its peak over 4 frames (6 with 1024); the harmonic peak-to-valley in the mel bins
  below 1 kHz is 45 dB at F0 200 Hz (the demo voice; 51 dB with 1024) but only 9 dB at F0 90 Hz
  (16 dB with 1024), so a corpus of low male voices may prefer ``win_length: 1024``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from vocoder.config import FeatureConfig
from vocoder.dsp.framing import PADDINGS
from vocoder.errors import ConfigError

PRESETS: dict[str, dict[str, Any]] = {
    "hifigan-22k": dict(
        sample_rate=22050, n_fft=1024, hop=256, win_length=1024, n_mels=80, fmin=0.0, fmax=8000.0,
        log="ln", clamp=1e-5, padding="same", pad_mode="reflect", mel_scale="slaney", mel_norm="slaney",
        power=1.0,
    ),
    "pwg-24k": dict(
        sample_rate=24000, n_fft=2048, hop=300, win_length=1200, n_mels=80, fmin=80.0, fmax=7600.0,
        log="log10", clamp=1e-10, padding="center", pad_mode="reflect", mel_scale="slaney", mel_norm="slaney",
        power=1.0,
    ),
    "pwg-22k": dict(
        sample_rate=22050, n_fft=1024, hop=256, win_length=1024, n_mels=80, fmin=80.0, fmax=7600.0,
        log="log10", clamp=1e-10, padding="center", pad_mode="reflect", mel_scale="slaney", mel_norm="slaney",
        power=1.0,
    ),
    "vocos-24k": dict(
        sample_rate=24000, n_fft=1024, hop=256, win_length=1024, n_mels=100, fmin=0.0, fmax=None,
        log="ln", clamp=1e-7, padding="center", pad_mode="reflect", mel_scale="htk", mel_norm=None,
        power=1.0,
    ),
    "wavehax-24k": dict(
        sample_rate=24000, n_fft=1024, hop=240, win_length=1024, n_mels=100, fmin=0.0, fmax=8000.0,
        log="ln", clamp=1e-5, padding="same", pad_mode="reflect", mel_scale="slaney", mel_norm="slaney",
        power=1.0,
    ),
    "demo-16k": dict(
        sample_rate=16000, n_fft=1024, hop=160, win_length=640, n_mels=80, fmin=0.0, fmax=8000.0,
        log="ln", clamp=1e-5, padding="same", pad_mode="reflect", mel_scale="slaney", mel_norm="slaney",
        power=1.0,
    ),
}

LOGS = ("ln", "log10")
PAD_MODES = ("reflect", "constant")
MEL_SCALES = ("slaney", "htk")
MEL_NORMS = ("slaney", None)
POWERS = (1.0, 2.0)

_FIELDS = {f.name: f for f in dataclasses.fields(FeatureConfig)}
_DEFAULTS = FeatureConfig()
# Set on every config this module returns: its values are final, so resolving it again (MelSpectrogram
# does) must not re-apply the preset over a key that was deliberately set back to a dataclass default.
_RESOLVED_MARK = "_vocoder_features_resolved"

_INT_KEYS = ("sample_rate", "n_fft", "hop", "n_mels")
_FLOAT_KEYS = ("fmin", "clamp", "power", "f0_min", "f0_max")
_MAX_SIZE = 2**31 - 1  # sizes and rates are int32 in ONNX graphs and metadata readers


def resolve_features(cfg: FeatureConfig | Mapping[str, Any]) -> FeatureConfig:
    """Merge ``cfg.preset`` with the explicitly given keys and validate; returns a new FeatureConfig.

    For a mapping, the keys present are the explicit ones; for a :class:`FeatureConfig`, the fields that
    differ from the dataclass defaults (a config returned by this function is taken as it is). The
    ``preset`` name is kept in the result as a label. Numbers are normalised (ints for sizes, floats for
    frequencies, ``mean``/``std`` as lists of floats).
    """
    if isinstance(cfg, FeatureConfig):
        if getattr(cfg, _RESOLVED_MARK, False):
            given = dataclasses.asdict(cfg)
        else:
            given = {k: v for k, v in dataclasses.asdict(cfg).items() if v != getattr(_DEFAULTS, k)}
    elif isinstance(cfg, Mapping):
        given = dict(cfg)
        for key in given:
            if key not in _FIELDS:
                raise ConfigError(f"features: unknown key {key!r} (known: {', '.join(_FIELDS)})")
    else:
        raise ConfigError(f"features must be a mapping or FeatureConfig, got {type(cfg).__name__}")

    preset = given.get("preset")
    values = dataclasses.asdict(_DEFAULTS)
    if preset is not None:
        if not isinstance(preset, str) or preset not in PRESETS:
            raise ConfigError(f"features.preset: unknown preset {preset!r} (known: {', '.join(PRESETS)})")
        values.update(PRESETS[preset])
    values.update(given)
    out = FeatureConfig(**_checked(values))
    setattr(out, _RESOLVED_MARK, True)
    return out


def find_preset(cfg: FeatureConfig) -> str | None:
    """Name of the preset whose every value equals ``cfg``'s, else None (e.g. for ``vocoder info``)."""
    for name, values in PRESETS.items():
        if all(getattr(cfg, k) == v for k, v in values.items()):
            return name
    return None


def _checked(v: dict[str, Any]) -> dict[str, Any]:
    """Type-normalise and validate resolved values; raises ConfigError naming the first bad key."""
    for key in _INT_KEYS:
        v[key] = _integer(key, v[key])
        if v[key] <= 0:
            raise ConfigError(f"features.{key} must be positive, got {v[key]}")
        if v[key] > _MAX_SIZE:  # also keeps sample_rate / 2 within float range
            raise ConfigError(f"features.{key} must be at most {_MAX_SIZE}, got {v[key]}")
    if v["win_length"] is not None:
        v["win_length"] = _integer("win_length", v["win_length"])
    for key in _FLOAT_KEYS:
        v[key] = _number(key, v[key])
    if v["fmax"] is not None:
        v["fmax"] = _number("fmax", v["fmax"])
    for key in ("mean", "std"):
        if v[key] is not None:
            v[key] = _vector(key, v[key])

    sr, n_fft, hop = v["sample_rate"], v["n_fft"], v["hop"]
    if hop >= n_fft:
        raise ConfigError(f"features.hop must be below features.n_fft ({n_fft}), got {hop}")
    win = v["win_length"]
    if win is not None and not 0 < win <= n_fft:
        raise ConfigError(f"features.win_length must be in 1..n_fft ({n_fft}) or null, got {win}")
    nyquist = sr / 2
    if v["fmin"] < 0:
        raise ConfigError(f"features.fmin must be >= 0 Hz, got {v['fmin']:g}")
    top = nyquist if v["fmax"] is None else v["fmax"]
    if v["fmax"] is not None and v["fmax"] > nyquist:
        raise ConfigError(f"features.fmax must be <= sample_rate / 2 ({nyquist:g} Hz), got {v['fmax']:g}")
    if v["fmin"] >= top:
        raise ConfigError(f"features.fmin ({v['fmin']:g} Hz) must be below fmax ({top:g} Hz)")
    _choice("log", v["log"], LOGS)
    _choice("padding", v["padding"], PADDINGS)
    _choice("pad_mode", v["pad_mode"], PAD_MODES)
    _choice("mel_scale", v["mel_scale"], MEL_SCALES)
    _choice("mel_norm", v["mel_norm"], MEL_NORMS)
    _choice("power", v["power"], POWERS)
    if not (v["clamp"] > 0 and math.isfinite(v["clamp"])):
        raise ConfigError(f"features.clamp must be a positive number, got {v['clamp']:g}")
    if (v["mean"] is None) != (v["std"] is None):
        raise ConfigError("features.mean and features.std must be given together (or neither)")
    for key in ("mean", "std"):
        if v[key] is not None and len(v[key]) != v["n_mels"]:
            raise ConfigError(f"features.{key} must have n_mels ({v['n_mels']}) values, got {len(v[key])}")
    if v["std"] is not None and min(v["std"]) <= 0:
        raise ConfigError("features.std values must all be positive")

    from vocoder.audio.f0 import F0_METHODS

    _choice("f0_method", v["f0_method"], F0_METHODS)
    if not 0 < v["f0_min"] < v["f0_max"]:
        raise ConfigError(f"features.f0_min ({v['f0_min']:g}) must be > 0 and below f0_max ({v['f0_max']:g})")
    if v["f0_max"] > nyquist:
        raise ConfigError(f"features.f0_max must be <= sample_rate / 2 ({nyquist:g} Hz), got {v['f0_max']:g}")
    return v


def _integer(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"features.{key} must be an integer, got {value!r}")
    return value


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"features.{key} must be a finite number, got {value!r}")
    return float(value)


def _vector(key: str, value: Any) -> list[float]:
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"features.{key} must be a list of numbers, got {type(value).__name__}")
    return [_number(key, x) for x in value]


def _choice(key: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        shown = ", ".join("null" if a is None else str(a) for a in allowed)
        raise ConfigError(f"features.{key} must be one of {shown}, got {value!r}")
