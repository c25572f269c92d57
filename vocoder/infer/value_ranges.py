"""The values a log-mel of one feature config can take, and the check that refuses mels of another scale
(dB, log10, linear, normalised) before a model turns them into noise. Numpy only.

From below the clamp floor ``log(clamp)``; from above the largest mel a signal within [-1, 1] can reach
(per filter, the smaller of the bounds from ``|X_k| <= sum(window)`` and from Parseval). A mel is refused
(:func:`check_mel_values`) when

* a value lies below ``floor - 1 nat`` or above ``ceiling + 6 dB`` (room for a predicted mel's
  undershoot and overshoot, and for float audio a little beyond full scale);
* its mean lies above the mean log-mel of full-scale uniform white noise minus 1 nat (real speech sits
  2.6 nats or more below that limit even peak-normalised; mean/std-normalised and linear mels near 0);
* at least ``n_mels`` values sit exactly on the clamp floor of another log base or clamp
  (``log10(1e-5) = -5``, ``ln(1e-10)``, ``-100 dB``...): digital silence and band limits show the
  floor a mel was made with.

An accepted mel's values a little below the clamp floor are raised to it (:func:`fit_to_range`): the model
never saw lower ones.

Measured on the demo corpus with every preset, at the original gain, peak-normalised and at -40 dB: no
speech file refused. Not detectable: a log10 mel that never reaches its floor, given to an ln model (its
values -5..1 are also a plausible ln-mel of loud, noisy audio), normalised mels for a config without
filter normalisation (vocos-24k), whose ceiling lies far above 0, and a mel of another sample rate or
hop with the same n_mels and log (declare it: ``mel_preset``). A model with ``mean``/``std`` in its
features gets the floor/ceiling bounds per bin, normalised, and only those.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache

import numpy as np

from vocoder.audio.mel_numpy import hann_window, log_mel_numpy, mel_filterbank
from vocoder.audio.mel_presets import resolve_features
from vocoder.config import FeatureConfig
from vocoder.errors import InputError
from vocoder.infer.mel_settings import features_label

FLOOR_TOLERANCE_NATS = 1.0  # an acoustic model's predicted mel may undershoot the clamp floor a little
HEADROOM_DB = 6.0  # above the full-scale bound: float audio beyond [-1, 1], predicted overshoot
NOISE_MARGIN_NATS = 1.0  # below the mean log-mel of full-scale uniform white noise


def _fmt_clamp(clamp: float) -> str:
    exponent = round(math.log10(clamp))
    return f"1e{exponent}" if math.isclose(clamp, 10.0**exponent, rel_tol=1e-9) else f"{clamp:g}"


def _scale_label(features: FeatureConfig) -> str:
    power = "" if features.power == 1.0 else " power"
    norm = " mean/std-normalised" if features.mean is not None else ""
    return f"{features.log}(clamp {_fmt_clamp(features.clamp)}){power}{norm}"


@dataclasses.dataclass(frozen=True)
class MelRange:
    """Values a log-mel of one feature config can take.

    ``low``/``high``: ``(n_mels,)`` accepted bounds per mel bin and ``floor``: ``(n_mels,)`` the clamp floor
    per bin, all in the model's units (normalised when the config has mean/std). ``log_clamp``:
    ``log(clamp)`` before normalisation. ``mean_limit``: the highest accepted mean over a whole mel (None
    for normalised configs). ``label``: e.g. ``demo-16k ln(clamp 1e-5)``.
    """

    low: np.ndarray
    high: np.ndarray
    floor: np.ndarray
    log_clamp: float
    mean_limit: float | None
    label: str

    @property
    def normalised(self) -> bool:
        return self.mean_limit is None


def _log(x: np.ndarray | float, base: str) -> np.ndarray:
    return np.log(x) if base == "ln" else np.log10(x)


def _nats(features: FeatureConfig, nats: float) -> float:
    """``nats`` (natural-log units of magnitude) in the units of this config's log (and power)."""
    scaled = nats * features.power
    return scaled if features.log == "ln" else scaled / math.log(10.0)


def _full_scale_bound(features: FeatureConfig) -> np.ndarray:
    """Per-bin upper bound ``(n_mels,)`` of the (linear) mel of any signal within [-1, 1].

    ``|X_k| <= sum(window)`` for every bin, and by Parseval ``sum_k |X_k|^2 <= n_fft * sum(window^2)``;
    each filter takes the smaller of the two bounds it implies (Cauchy-Schwarz for magnitudes).
    """
    weights = mel_filterbank(features)
    window = hann_window(features)
    total, energy = float(window.sum()), float((window**2).sum())
    if features.power == 2.0:
        bound = np.minimum(weights.sum(1) * total**2, weights.max(1) * features.n_fft * energy)
    else:
        bound = np.minimum(weights.sum(1) * total, np.linalg.norm(weights, axis=1) * math.sqrt(features.n_fft * energy))
    return np.maximum(bound, features.clamp)


def _noise_mean(features: FeatureConfig) -> float:
    """Mean log-mel (before normalisation) of one second of full-scale uniform white noise."""
    raw = resolve_features({**dataclasses.asdict(features), "mean": None, "std": None})
    length = max(raw.sample_rate, 4 * raw.n_fft)
    noise = np.random.default_rng(0).uniform(-1.0, 1.0, length).astype(np.float32)
    return float(log_mel_numpy(noise, raw).mean())


@lru_cache(maxsize=16)
def _range_for(key: tuple) -> MelRange:
    features = resolve_features(dict(key))
    log_clamp = float(_log(features.clamp, features.log))
    floor = np.full(features.n_mels, log_clamp)
    ceiling = _log(_full_scale_bound(features), features.log)
    headroom = _log((10.0 ** (HEADROOM_DB / 20.0)) ** features.power, features.log)
    low = floor - _nats(features, FLOOR_TOLERANCE_NATS)
    high = ceiling + headroom
    label = f"{features_label(features)} {_scale_label(features)}"
    if features.mean is not None:
        mean, std = np.asarray(features.mean), np.asarray(features.std)
        return MelRange((low - mean) / std, (high - mean) / std, (floor - mean) / std, log_clamp, None, label)
    mean_limit = _noise_mean(features) - _nats(features, NOISE_MARGIN_NATS)
    return MelRange(low, np.full(features.n_mels, float(high.max())), floor, log_clamp, mean_limit, label)


def mel_value_range(features: FeatureConfig) -> MelRange:
    """The :class:`MelRange` of ``features`` (cached per config)."""
    resolved = resolve_features(features)
    key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in dataclasses.asdict(resolved).items())
    return _range_for(key)


def _foreign_floor(mel: np.ndarray, floor: float, min_ties: int) -> str | None:
    """Name of the clamp floor (``log10(clamp 1e-5)``...) at which ``min_ties`` or more values sit, when
    it is not the model's own ``floor``; None otherwise."""
    lowest = float(mel.min())
    if abs(lowest - floor) < 1e-3 or int(np.count_nonzero(mel == mel.min())) < min_ties:
        return None
    for k in range(1, 13):
        if abs(lowest + k * math.log(10.0)) < 1e-3:
            return f"ln(clamp 1e-{k})"
        if abs(lowest + k) < 1e-3:
            return f"log10(clamp 1e-{k})"
    for k in range(3, 13):
        if abs(lowest + 10 * k) < 1e-3:
            return f"decibel (floor -{10 * k} dB)"
    return None


def check_mel_values(mel: np.ndarray, features: FeatureConfig, name: str = "mel") -> None:
    """Raise :class:`InputError` (naming ``name``) unless ``mel`` ``(n_mels, T)`` can be a log-mel of
    ``features`` (see the module docstring for the rule)."""
    rng = mel_value_range(features)
    lo, hi, mean = float(mel.min()), float(mel.max()), float(mel.mean(dtype=np.float64))
    out_of_range = bool((mel < rng.low[:, None]).any() or (mel > rng.high[:, None]).any())
    too_loud = rng.mean_limit is not None and mean > rng.mean_limit
    foreign = None
    if not rng.normalised:
        # in range, a foreign floor must hold at least a frame's worth of values (digital silence, band
        # limits): a few values that happen to equal log(1e-k) in a legit (e.g. float16) mel do not count
        foreign = _foreign_floor(mel, rng.log_clamp, 1 if out_of_range else mel.shape[0])
    if not (out_of_range or too_loud or foreign):
        return
    if foreign:
        looks = f"look like {foreign} mels"
    elif lo >= 0.0 and not rng.normalised:
        looks = "look like linear (not log) mel magnitudes"
    elif abs(mean) < 1.5 and lo < 0.0 < hi and not rng.normalised:
        looks = "look like mean/std-normalised mels"
    elif rng.normalised and mean < -3.0:
        looks = "look like log-mels without the model's mean/std normalisation"
    else:
        looks = "are not what this feature config gives"
    expect = f"values {float(rng.low.min()):.1f}..{float(rng.high.max()):.1f}"
    raise InputError(
        f"{name}: values {lo:.1f}..{hi:.1f} (mean {mean:.1f}) {looks}; "
        f"the model expects {rng.label} log-mels ({expect})"
    )


def fit_to_range(mel: np.ndarray, features: FeatureConfig, name: str = "mel") -> np.ndarray:
    """Finite float32 ``mel`` ``(B, n_mels, T)`` checked item by item (:func:`check_mel_values`, messages
    naming ``name``, or ``name[b]`` in a batch of several), with values below the clamp floor raised to it."""
    for b in range(mel.shape[0]):
        check_mel_values(mel[b], features, name if mel.shape[0] == 1 else f"{name}[{b}]")
    # a predicted mel may undershoot the clamp floor (within the tolerance); the model never saw such values
    floor = mel_value_range(features).floor[:, None].astype(np.float32)
    return np.maximum(mel, floor) if (mel < floor).any() else mel
