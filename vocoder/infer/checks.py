"""Input checks shared by every way into a model; numpy only (no torch, no audio I/O).

One path validates every mel a model gets, whether it comes from a file (``vocoder synthesize``,
:func:`~vocoder.infer.inputs.load_mel`) or from Python (``Vocoder.synthesize`` on torch and on
onnxruntime): :func:`prepare_mel`. It

* converts the input (numpy array, CPU torch tensor through ``.numpy()`` without importing torch, nested
  lists) and refuses non-float dtypes (a log-mel is never integer-valued);
* orients it: ``(n_mels, T)`` or ``(T, n_mels)`` (the orientation whose mel axis has the model's
  ``n_mels``; a square ``(n_mels, n_mels)`` array is taken as ``(n_mels, T)``), with a leading batch
  axis ``(B, n_mels, T)`` / ``(B, T, n_mels)`` where batches are allowed (a file holds one mel: a batch
  of 1 is dropped, more are refused);
* refuses 0 frames (or fewer than the model's ``min_frames``), NaN/Inf and values beyond float32;
* compares a declared feature preset (``mel_preset=``, ``--mel-preset``, a file's ``preset`` metadata)
  with the model's features, value by value (:func:`preset_differences`), so a preset equal in every
  value to the model's features is fine and any other is refused naming both;
* checks the values a log-mel of the model's feature config can take (:func:`check_mel_values`) and
  raises values a little below the clamp floor to it (the model never saw lower ones).

Every failure is one :class:`~vocoder.errors.InputError` line; the same problem gives the same words
after the name (a file path, or ``mel`` in the API).

Value range (:func:`check_mel_values`, :func:`mel_value_range`): from below the clamp floor
``log(clamp)``; from above the largest mel a signal within [-1, 1] can reach (per filter, the smaller of
the bounds from ``|X_k| <= sum(window)`` and from Parseval). A mel is refused when

* a value lies below ``floor - 1 nat`` or above ``ceiling + 6 dB`` (room for a predicted mel's
  undershoot and overshoot, and for float audio a little beyond full scale);
* its mean lies above the mean log-mel of full-scale uniform white noise minus 1 nat (real speech sits
  2.6 nats or more below that limit even peak-normalised; mean/std-normalised and linear mels near 0);
* at least ``n_mels`` values sit exactly on the clamp floor of another log base or clamp
  (``log10(1e-5) = -5``, ``ln(1e-10)``, ``-100 dB``...): digital silence and band limits show the
  floor a mel was made with.

Measured on the demo corpus with every preset, at the original gain, peak-normalised and at -40 dB: no
speech file refused. Not detectable: a log10 mel that never reaches its floor, given to an ln model (its
values -5..1 are also a plausible ln-mel of loud, noisy audio), normalised mels for a config without
filter normalisation (vocos-24k), whose ceiling lies far above 0, and a mel of another sample rate or
hop with the same n_mels and log (declare it: ``mel_preset``). A model with ``mean``/``std`` in its
features gets the floor/ceiling bounds per bin, normalised, and only those.

Also here: :func:`check_mel` (shape, dtype and finiteness only, for streaming chunks), :func:`check_f0`,
:func:`check_seed`.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache
from typing import Any

import numpy as np

from vocoder.audio.mel_numpy import hann_window, log_mel_numpy, mel_filterbank
from vocoder.audio.mel_presets import PRESETS, find_preset, resolve_features
from vocoder.config import FeatureConfig
from vocoder.errors import InputError

FLOOR_TOLERANCE_NATS = 1.0  # an acoustic model's predicted mel may undershoot the clamp floor a little
HEADROOM_DB = 6.0  # above the full-scale bound: float audio beyond [-1, 1], predicted overshoot
NOISE_MARGIN_NATS = 1.0  # below the mean log-mel of full-scale uniform white noise

# What makes a log-mel what it is (mean/std normalisation aside, which the value check sees), in the order
# a mismatch is reported: a sample-rate or hop difference first.
MEL_FIELDS = (
    "sample_rate", "hop", "n_mels", "n_fft", "win_length", "fmin", "fmax", "log", "clamp", "power", "padding",
    "pad_mode", "mel_scale", "mel_norm",
)


# ------------------------------------------------------------------------------------------- labels


def _fmt_clamp(clamp: float) -> str:
    exponent = round(math.log10(clamp))
    return f"1e{exponent}" if math.isclose(clamp, 10.0**exponent, rel_tol=1e-9) else f"{clamp:g}"


def features_label(features: FeatureConfig) -> str:
    """Short name of a feature config: its preset, else its rate and hop (e.g. ``custom 16000 Hz hop 200``)."""
    name = features.preset or find_preset(features)
    return name if name else f"custom {features.sample_rate} Hz hop {features.hop}"


def _scale_label(features: FeatureConfig) -> str:
    power = "" if features.power == 1.0 else " power"
    norm = " mean/std-normalised" if features.mean is not None else ""
    return f"{features.log}(clamp {_fmt_clamp(features.clamp)}){power}{norm}"


# ---------------------------------------------------------------------------------- declared presets


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


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _rate_hop(features: FeatureConfig) -> str:
    return f"{features.sample_rate} Hz, hop {features.hop}"


# -------------------------------------------------------------------------------------- value range


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


# -------------------------------------------------------------------------------------------- arrays


def first_line(err: BaseException) -> str:
    """``Type: first line of the message`` (at most 120 characters of it)."""
    text = (str(err).strip().splitlines() or [""])[0].strip()
    text = text[:120] + ("..." if len(text) > 120 else "")
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _subject(name: str, what: str = "mel") -> str:
    """``NAME: mel`` for a file, ``mel`` in the API (name == what): the messages read the same after the name."""
    return what if name == what else f"{name}: {what}"


def to_numpy(value: Any, name: str, what: str) -> np.ndarray:
    """A numpy array from an array, tensor or number (torch tensors via ``.numpy()``, torch not imported)."""
    subject = _subject(name, what)
    if type(value).__module__.startswith("torch"):
        try:
            tensor = value.detach().cpu()
            if tensor.is_floating_point() and tensor.element_size() < 4:
                tensor = tensor.float()  # bfloat16 has no numpy dtype
        except Exception as err:
            raise InputError(f"{subject} cannot be read as an array ({first_line(err)})") from None
        if tensor.is_complex():
            raise InputError(f"{subject} is complex ({tensor.dtype}); expected a real array")
        return tensor.numpy()
    try:
        return np.asarray(value)
    except Exception as err:
        raise InputError(f"{subject} cannot be read as an array ({first_line(err)})") from None


def float_array(arr: np.ndarray, name: str, what: str) -> np.ndarray:
    """``arr`` when its dtype is floating point, else an :class:`InputError` naming ``name``."""
    if np.issubdtype(arr.dtype, np.floating):
        return arr
    subject = _subject(name, what)
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        raise InputError(
            f"{subject} has dtype {arr.dtype}; a log-mel is floating point (integer values are not log-mels)"
        )
    raise InputError(f"{subject} has dtype {arr.dtype}; expected a floating-point array")


def orient_mel(arr: np.ndarray, n_mels: int, name: str, label: str = "", batch: bool = False) -> np.ndarray:
    """``(B, n_mels, T)`` from ``(n_mels, T)`` / ``(T, n_mels)`` (B = 1) or, with ``batch``, ``(B, n_mels, T)`` /
    ``(B, T, n_mels)``; without ``batch`` only a leading batch of 1 is accepted. A square last pair of axes
    is taken as ``(n_mels, T)``."""
    shape = tuple(arr.shape)
    what = _subject(name)
    if arr.ndim == 3 and not batch and shape[0] != 1:
        raise InputError(f"{name}: holds a batch of {shape[0]} mels {shape}; save one mel per file")
    if arr.ndim not in (2, 3):
        kind = "1-D array" if arr.ndim == 1 else f"{arr.ndim}-D array"
        expected = "(n_mels, frames) or (batch, n_mels, frames)" if batch else "(n_mels, frames)"
        raise InputError(f"{what} is a {kind} of shape {shape}; expected {expected}")
    arr3 = arr if arr.ndim == 3 else arr[None]
    model = f"{label}: {n_mels} mels" if label else f"{n_mels} mels"
    if arr3.shape[1] == n_mels:
        out = arr3
    elif arr3.shape[2] == n_mels:
        out = arr3.transpose(0, 2, 1)
    else:
        raise InputError(f"{what} of shape {shape} has no axis of {n_mels} bins; the model expects {model}")
    if out.shape[0] == 0:
        raise InputError(f"{what} is an empty batch (shape {shape})")
    if out.shape[2] == 0:
        raise InputError(f"{what} has 0 frames (shape {shape})")
    return out


def prepare_mel(
    mel: Any,
    features: FeatureConfig,
    name: str = "mel",
    min_frames: int = 1,
    batch: bool = True,
    mel_preset: str | None = None,
    check_values: bool = True,
) -> tuple[np.ndarray, bool]:
    """The one validation of a model's mel input: ``(mel (B, n_mels, T) float32, batched)``.

    ``batched`` is False when ``mel`` was 2-D (or, without ``batch``, a file's ``(1, ...)`` array).
    ``name`` starts every message (a file path, or ``mel``). ``mel_preset``: the preset the caller says
    the mel was made with, refused when its values differ from ``features``. ``check_values=False``
    skips only the log-mel value range (e.g. random mels in a benchmark). See the module docstring.
    """
    features = resolve_features(features)
    if mel_preset is not None:
        check_preset(mel_preset, features, name)
    arr = float_array(to_numpy(mel, name, "mel"), name, "mel")
    batched = batch and arr.ndim == 3
    out = orient_mel(arr, features.n_mels, name, features_label(features), batch=batch)
    frames = out.shape[2]
    if frames < min_frames:
        raise InputError(f"{_subject(name)} has {frames} frames; this model needs at least {min_frames}")
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(out, dtype=np.float32)  # checked after the cast: 1e300 would become inf
    bad = int(np.count_nonzero(~np.isfinite(out)))
    if bad:
        raise InputError(f"{_subject(name)} has {bad} NaN/Inf values (or values beyond float32)")
    if check_values:
        for b in range(out.shape[0]):
            check_mel_values(out[b], features, name if out.shape[0] == 1 else f"{name}[{b}]")
        # a predicted mel may undershoot the clamp floor (within the tolerance); the model never saw such values
        floor = mel_value_range(features).floor[:, None].astype(np.float32)
        if (out < floor).any():
            out = np.maximum(out, floor)
    return out, batched


def check_mel(mel: Any, n_mels: int, min_frames: int = 1) -> tuple[np.ndarray, bool]:
    """Shape, dtype and finiteness of a streaming chunk: ``(mel (B, n_mels, T) float32, batched)``;
    ``batched`` is False when ``mel`` was ``(n_mels, T)``. Whole mels go through :func:`prepare_mel`."""
    arr = _as_float_array(mel, "mel")
    if arr.ndim not in (2, 3):
        raise InputError(f"mel: expected shape (n_mels, frames) or (batch, n_mels, frames), got {arr.shape}")
    batched = arr.ndim == 3
    if not batched:
        arr = arr[None]
    if arr.shape[1] != n_mels:
        raise InputError(f"mel: has {arr.shape[1]} mel bins but the model expects {n_mels} (shape {arr.shape})")
    if arr.shape[0] < 1:
        raise InputError("mel: empty batch")
    if arr.shape[2] < min_frames:
        raise InputError(f"mel: has {arr.shape[2]} frames; this model needs at least {min_frames}")
    with np.errstate(over="ignore"):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():  # checked after the cast: 1e300 in a float64 mel would become inf
        raise InputError("mel: contains NaN or Inf (or values beyond float32)")
    return arr, batched


# ------------------------------------------------------------------------------------- F0 and seeds


def _as_float_array(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception as err:  # e.g. a tensor that needs grad or lives on a GPU
        raise InputError(f"{name}: cannot be read as an array ({type(err).__name__}: {err})") from None
    if not (np.issubdtype(arr.dtype, np.floating) and arr.dtype.itemsize >= 2):
        raise InputError(f"{name}: expected a floating-point array, got dtype {arr.dtype}")
    return arr


def check_f0(f0: Any, batch: int, frames: int, batched: bool) -> np.ndarray:
    """F0 in Hz (0 = unvoiced) for a mel of ``batch`` x ``frames`` -> ``(batch, frames)`` float32.

    Shapes: ``(frames,)`` or ``(1, frames)`` beside an unbatched mel; ``(batch, frames)`` or
    ``(batch, 1, frames)`` beside a batched one.
    """
    arr = _as_float_array(f0, "f0")
    given = arr.shape
    if arr.ndim == 3 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 1 and not batched:
        arr = arr[None]
    if arr.shape != (batch, frames):
        want = f"({batch}, {frames})" if batched else f"({frames},)"
        raise InputError(f"f0: expected one value per mel frame, shape {want}, got {given}")
    with np.errstate(over="ignore"):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():  # checked after the cast, as for the mel
        raise InputError("f0: contains NaN or Inf (or values beyond float32)")
    if (arr < 0).any():
        raise InputError(f"f0: has negative values (min {float(arr.min()):.3g} Hz); use 0 for unvoiced frames")
    return arr


def check_f0_scale(scale: Any) -> float:
    """``scale`` as a float; :class:`InputError` unless it is a finite number > 0."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise InputError(f"f0_scale: expected a number > 0, got {scale!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"f0_scale: expected a finite number > 0, got {scale!r}")
    return value


def check_seed(seed: Any) -> int:
    """``seed`` as an int; :class:`InputError` unless it is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed: expected a non-negative integer, got {seed!r}")
    return int(seed)
