"""Read model inputs from files: log-mels ``(n_mels, T)`` float32 and F0 ``(T,)`` Hz, checked against
the model's :class:`~vocoder.config.FeatureConfig`.

Torch-free (numpy and the package's numpy modules); torch is imported only to read a ``.pt`` file, and
then with ``torch.load(weights_only=True)``, which refuses any pickle that would run code.

Mel files (:func:`load_mel`):

* ``.npy``: a float array ``(n_mels, T)``, ``(T, n_mels)`` or ``(1, n_mels, T)`` / ``(1, T, n_mels)``.
  The orientation is the one whose mel axis has the model's ``n_mels``; a square ``(n_mels, n_mels)``
  array is ambiguous and taken as ``(n_mels, T)``.
* ``.npz``: key ``mel`` (or a single unnamed array), optional ``f0``; optional metadata keys
  (``preset``, ``sample_rate``, ``hop``, ``n_fft``, ``win_length``, ``n_mels``, ``fmin``, ``fmax``,
  ``log``, ``clamp``, ``padding``, ``power``) are compared with the model's features and refused when
  they differ.
* ``.pt``: a tensor, or a dict with ``mel`` (and optionally ``f0`` and the same metadata keys).

Checks (each an :class:`~vocoder.errors.InputError` of one line naming the file): readable, floating
dtype (integer mels are refused: a log-mel is never integer-valued), 2-D after dropping a leading batch
of 1, an axis of ``n_mels``, at least one frame, finite values, and values a log-mel of this feature
config can take (:func:`mel_value_range`).

Value range (:func:`check_mel_values`, :func:`mel_value_range`): from below the clamp floor
``log(clamp)``; from above the largest mel a signal within [-1, 1] can reach (per filter, the smaller of
the bounds from ``|X_k| <= sum(window)`` and from Parseval). A file is refused when

* a value lies below ``floor - 1 nat`` or above ``ceiling + 6 dB`` (room for a predicted mel's
  undershoot and overshoot, and for float audio a little beyond full scale);
* its mean lies above the mean log-mel of full-scale uniform white noise minus 1 nat (real speech sits
  2.6 nats or more below that limit even peak-normalised; mean/std-normalised and linear mels near 0);
* at least ``n_mels`` values sit exactly on the clamp floor of another log base or clamp
  (``log10(1e-5) = -5``, ``ln(1e-10)``, ``-100 dB``...): digital silence and band limits show the
  floor a mel was made with.

Values between ``floor - 1 nat`` and the floor are raised to the floor (the model never saw lower ones).
Measured on the demo corpus with every preset, at the original gain, peak-normalised and at -40 dB: no
speech file refused. Not detectable: a log10 mel that never reaches its floor, given to an ln model (its
values -5..1 are also a plausible ln-mel of loud, noisy audio), and normalised mels for a config without
filter normalisation (vocos-24k), whose ceiling lies far above 0. A model with ``mean``/``std`` in its
features gets the floor/ceiling bounds per bin, normalised, and only those.

F0 (Hz, 0 = unvoiced) comes from the ``.npz``/``.pt`` key ``f0``, a sibling ``NAME.f0.npy``, or
reference audio (:func:`f0_from_audio`, extracted with the model's F0 settings). Length rule: F0 must
have the mel's ``T`` values, or up to :data:`F0_LENGTH_SLACK` more or fewer (another tool's framing),
which are trimmed or padded at the end with the last value.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from vocoder.audio.f0 import extract_f0
from vocoder.audio.io import AUDIO_EXTENSIONS, read_audio
from vocoder.audio.mel_numpy import hann_window, log_mel_numpy, mel_filterbank
from vocoder.audio.mel_presets import PRESETS, find_preset, resolve_features
from vocoder.config import FeatureConfig
from vocoder.errors import InputError, VocoderError

MEL_EXTENSIONS = (".npy", ".npz", ".pt")
F0_SUFFIX = ".f0.npy"
F0_LENGTH_SLACK = 2  # frames of F0 that may be trimmed or padded to meet the mel's length

FLOOR_TOLERANCE_NATS = 1.0  # an acoustic model's predicted mel may undershoot the clamp floor a little
HEADROOM_DB = 6.0  # above the full-scale bound: float audio beyond [-1, 1], predicted overshoot
NOISE_MARGIN_NATS = 1.0  # below the mean log-mel of full-scale uniform white noise

METADATA_KEYS = (
    "sample_rate", "hop", "n_fft", "win_length", "n_mels", "fmin", "fmax", "log", "clamp", "padding", "power",
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


# -------------------------------------------------------------------------------------- value range


@dataclasses.dataclass(frozen=True)
class MelRange:
    """Values a log-mel of one feature config can take.

    ``low``/``high``: ``(n_mels,)`` accepted bounds per mel bin and ``floor``: ``(n_mels,)`` the clamp floor
    per bin, all in the model's units (normalised when the config has mean/std). ``log_clamp``:
    ``log(clamp)`` before normalisation. ``mean_limit``: the highest accepted mean over a whole file (None
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


def _first_line(err: BaseException) -> str:
    text = (str(err).strip().splitlines() or [""])[0].strip()
    text = text[:120] + ("..." if len(text) > 120 else "")
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _to_numpy(value: Any, name: str, what: str) -> np.ndarray:
    """A numpy array from an array, tensor or number (torch tensors via ``.numpy()``)."""
    if type(value).__module__.startswith("torch"):
        tensor = value.detach().cpu()
        if tensor.is_floating_point() and tensor.element_size() < 4:
            tensor = tensor.float()  # bfloat16 has no numpy dtype
        if tensor.is_complex():
            raise InputError(f"{name}: {what} is complex ({tensor.dtype}); expected a real array")
        return tensor.numpy()
    try:
        return np.asarray(value)
    except Exception as err:
        raise InputError(f"{name}: {what} cannot be read as an array ({_first_line(err)})") from None


def _float_array(arr: np.ndarray, name: str, what: str) -> np.ndarray:
    if np.issubdtype(arr.dtype, np.floating):
        return arr
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        raise InputError(
            f"{name}: {what} has dtype {arr.dtype}; a log-mel is floating point (integer values are not log-mels)"
        )
    raise InputError(f"{name}: {what} has dtype {arr.dtype}; expected a floating-point array")


def orient_mel(arr: np.ndarray, n_mels: int, name: str, label: str = "") -> np.ndarray:
    """``(n_mels, T)`` from a 2-D array in either orientation (or 3-D with a leading batch of 1)."""
    shape = tuple(arr.shape)
    if arr.ndim == 3:
        if shape[0] != 1:
            raise InputError(f"{name}: holds a batch of {shape[0]} mels {shape}; save one mel per file")
        arr = arr[0]
    if arr.ndim != 2:
        kind = "1-D array" if arr.ndim == 1 else f"{arr.ndim}-D array"
        raise InputError(f"{name}: mel is a {kind} of shape {shape}; expected (n_mels, frames)")
    model = f"{label}: {n_mels} mels" if label else f"{n_mels} mels"
    if arr.shape[0] == n_mels:
        out = arr
    elif arr.shape[1] == n_mels:
        out = arr.T
    else:
        raise InputError(f"{name}: mel of shape {shape} has no axis of {n_mels} bins; the model expects {model}")
    if out.shape[1] == 0:
        raise InputError(f"{name}: mel has 0 frames (shape {shape})")
    return out


# ------------------------------------------------------------------------------------------- reading


NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive (.npz) starts with a member or, empty, its end


def _check_magic(path: Path, magics: tuple[bytes, ...], what: str, reason: str) -> None:
    """Refuse a file that does not start like ``what``: np.load picks the format from the content, so a text
    file or a .npz named .npy would otherwise be read as something else (or reported as a pickle)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(max(len(m) for m in magics))
    except OSError as err:
        raise InputError(f"{path}: cannot read {what} ({_first_line(err)})") from None
    if not head:
        raise InputError(f"{path}: cannot read {what} (empty file, 0 bytes)")
    if not head.startswith(magics):
        raise InputError(f"{path}: cannot read {what} ({reason})")


def _read_npy(path: Path) -> dict[str, Any]:
    _check_magic(path, (NPY_MAGIC,), ".npy file", "no NumPy header: not a .npy file")
    try:
        return {"mel": np.load(path, allow_pickle=False)}
    except Exception as err:  # truncated data, pickled objects refused...
        raise InputError(f"{path}: cannot read .npy file ({_first_line(err)})") from None


def _read_npz(path: Path) -> dict[str, Any]:
    _check_magic(path, ZIP_MAGICS, ".npz file", "not a zip archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            if "mel" in keys:
                return {k: archive[k] for k in keys if k in ("mel", "f0", "preset", *METADATA_KEYS)}
            if len(keys) == 1:  # np.savez(path, mel) names it arr_0
                return {"mel": archive[keys[0]]}
    except Exception as err:  # bad zip, corrupt deflate data (zlib.error), truncated member, pickled objects...
        raise InputError(f"{path}: cannot read .npz file ({_first_line(err)})") from None
    raise InputError(f"{path}: .npz has no 'mel' array (keys: {', '.join(keys) or 'none'})")


def _read_pt(path: Path) -> dict[str, Any]:
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # weights_only refused a global (loading the file would have called it) or an opcode
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        other = re.search(r"WeightsUnpickler error:\s*([^\n]+)", str(err))
        reason = f"it would call {found.group(1)}" if found else other.group(1).strip() if other else _first_line(err)
        raise InputError(
            f"{path}: refused to load .pt file: it holds more than tensors, numbers and dicts ({reason})"
        ) from None
    except Exception as err:
        raise InputError(f"{path}: cannot read .pt file ({_first_line(err)})") from None
    if isinstance(obj, dict):
        if "mel" not in obj:
            found = ", ".join(map(str, obj)) or "none"
            raise InputError(f"{path}: .pt dict has no 'mel' entry (keys: {found})")
        return {k: v for k, v in obj.items() if k in ("mel", "f0", "preset", *METADATA_KEYS)}
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        return {"mel": obj}
    raise InputError(f"{path}: .pt file holds a {type(obj).__name__}; expected a tensor or a dict with 'mel'")


def _scalar(value: Any, path: Path, key: str) -> Any:
    arr = _to_numpy(value, str(path), f"'{key}'")
    if arr.size != 1:
        raise InputError(f"{path}: metadata '{key}' must be a single value, got shape {tuple(arr.shape)}")
    item = arr.reshape(()).item()
    if isinstance(item, bytes):
        item = item.decode("utf-8", errors="replace")
    if item is not None and not isinstance(item, (str, int, float)):  # complex, date, record, dict...
        raise InputError(f"{path}: metadata '{key}' must be a number or a string, got {arr.dtype}")
    return item


def _check_metadata(data: dict[str, Any], features: FeatureConfig, path: Path) -> None:
    """Refuse a file whose stored feature settings differ from the model's."""
    label = features_label(features)
    if "preset" in data:
        preset = str(_scalar(data["preset"], path, "preset"))
        if preset not in PRESETS:
            raise InputError(f"{path}: made with unknown preset {preset!r} (known: {', '.join(PRESETS)})")
        differ = [k for k, v in PRESETS[preset].items() if getattr(features, k) != v]
        if differ:
            shown = ", ".join(f"{k} {PRESETS[preset][k]} vs {getattr(features, k)}" for k in differ[:3])
            raise InputError(f"{path}: made with preset {preset}, the model expects {label} ({shown})")
    for key in METADATA_KEYS:
        if key not in data:
            continue
        value, want = _scalar(data[key], path, key), getattr(features, key)
        if key == "win_length":
            value, want = value or features.n_fft, features.win
        elif key == "fmax":
            value, want = value or features.sample_rate / 2, want or features.sample_rate / 2
        same = (
            value == want
            if isinstance(want, str) or want is None or isinstance(value, str) or value is None
            else math.isclose(float(value), float(want), rel_tol=1e-6)
        )
        if not same:
            raise InputError(f"{path}: made with {key} {value}, the model ({label}) expects {want}")


def load_mel(path: str | Path, features: FeatureConfig, with_f0: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """``(mel (n_mels, T) float32, f0 (T,) float32 or None)`` from a ``.npy``, ``.npz`` or ``.pt`` file.

    ``f0`` comes from the file's ``f0`` entry, else a sibling ``NAME.f0.npy``; it is only looked for when
    ``with_f0`` (a model without F0 ignores both). Every problem is an :class:`InputError` naming ``path``.
    """
    path = Path(path)
    features = resolve_features(features)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        data = _read_npy(path)
    elif suffix == ".npz":
        data = _read_npz(path)
    elif suffix == ".pt":
        data = _read_pt(path)
    else:
        raise InputError(f"{path}: unknown mel file type {path.suffix!r} (use {', '.join(MEL_EXTENSIONS)})")
    _check_metadata(data, features, path)
    arr = _float_array(_to_numpy(data["mel"], str(path), "mel"), str(path), "mel")
    mel = orient_mel(arr, features.n_mels, str(path), features_label(features))
    with np.errstate(over="ignore"):
        mel = np.ascontiguousarray(mel, dtype=np.float32)
    bad = int(np.count_nonzero(~np.isfinite(mel)))
    if bad:
        raise InputError(f"{path}: mel has {bad} NaN/Inf values (or values beyond float32)")
    check_mel_values(mel, features, str(path))
    # a predicted mel may undershoot the clamp floor (within the tolerance); the model never saw such values
    mel = np.maximum(mel, mel_value_range(features).floor[:, None].astype(np.float32))
    if not with_f0:
        return mel, None
    frames = mel.shape[1]
    if "f0" in data:
        return mel, fit_f0(data["f0"], frames, f"{path} (key 'f0')")
    sibling = f0_sibling(path)
    if sibling.is_file():
        return mel, load_f0_file(sibling, frames)
    return mel, None


# ------------------------------------------------------------------------------------------------ F0


def f0_sibling(mel_path: str | Path) -> Path:
    """``dir/NAME.f0.npy`` beside a mel file ``dir/NAME.npy`` (or ``.npz`` / ``.pt``)."""
    mel_path = Path(mel_path)
    return mel_path.with_name(mel_path.stem + F0_SUFFIX)


def fit_f0(value: Any, frames: int, name: str) -> np.ndarray:
    """Checked F0 ``(frames,)`` float32 Hz from an array of ``frames`` (+- :data:`F0_LENGTH_SLACK`) values.

    Accepts ``(T,)``, ``(1, T)``, ``(T, 1)`` or ``(1, 1, T)``; integer Hz values are fine. Refuses NaN/Inf,
    negative values, and voiced values that cannot be Hz (all below 15 Hz: log-F0?).
    """
    arr = _to_numpy(value, name, "F0")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"{name}: F0 has dtype {arr.dtype}; expected numbers in Hz")
    shape = tuple(arr.shape)
    if arr.size > 0 and sum(s > 1 for s in shape) <= 1:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise InputError(f"{name}: F0 of shape {shape}; expected one value per mel frame, shape ({frames},)")
    f0 = arr.astype(np.float64)
    with np.errstate(over="ignore"):
        finite = bool(np.isfinite(f0.astype(np.float32)).all())  # the model gets float32
    if not finite:
        raise InputError(f"{name}: F0 has NaN/Inf values (or values beyond float32)")
    if (f0 < 0).any():
        raise InputError(f"{name}: F0 has negative values (min {f0.min():.3g}); use 0 Hz for unvoiced frames")
    voiced = f0[f0 > 0]
    if voiced.size and voiced.max() < 15.0:
        raise InputError(
            f"{name}: F0 values {voiced.min():.3g}..{voiced.max():.3g} are all below 15 Hz; F0 must be in Hz "
            "(not log-F0)"
        )
    diff = len(f0) - frames
    if abs(diff) > F0_LENGTH_SLACK:
        raise InputError(
            f"{name}: F0 has {len(f0)} frames, the mel has {frames} (at most {F0_LENGTH_SLACK} apart is accepted)"
        )
    if diff > 0:
        f0 = f0[:frames]
    elif diff < 0:
        fill = f0[-1] if len(f0) else 0.0
        f0 = np.concatenate([f0, np.full(-diff, fill)])
    return f0.astype(np.float32)


def load_f0_file(path: str | Path, frames: int) -> np.ndarray:
    """F0 ``(frames,)`` from a ``.npy`` file (see :func:`fit_f0` for the accepted shapes and lengths)."""
    path = Path(path)
    _check_magic(path, (NPY_MAGIC,), "F0 file", "no NumPy header: not a .npy file")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as err:
        raise InputError(f"{path}: cannot read F0 file ({_first_line(err)})") from None
    return fit_f0(arr, frames, str(path))


def find_reference_audio(audio_dir: str | Path, relative: str | Path) -> Path | None:
    """Audio file for the input ``relative`` (a path relative to its input folder, e.g. ``spk1/a.npy``):
    ``audio_dir/spk1/a.{wav,flac,ogg}``, else ``audio_dir/a.{wav,flac,ogg}``; None when neither exists."""
    audio_dir, relative = Path(audio_dir), Path(relative)
    stem = relative.name[: -len(relative.suffix)] if relative.suffix else relative.name
    for folder in dict.fromkeys([audio_dir / relative.parent, audio_dir]):
        for ext in AUDIO_EXTENSIONS:
            candidate = folder / (stem + ext)
            if candidate.is_file():
                return candidate
    return None


def f0_from_audio(audio_path: str | Path, features: FeatureConfig, frames: int | None = None) -> np.ndarray:
    """F0 ``(T,)`` of an audio file read at the model's rate, with the model's F0 method and range.

    With ``frames``, the result is fitted to the mel's length (+- :data:`F0_LENGTH_SLACK`).
    """
    features = resolve_features(features)
    wav = read_audio(audio_path, features.sample_rate, check_silence=False)
    f0 = _extract(wav, features, audio_path)
    return f0 if frames is None else fit_f0(f0, frames, f"{audio_path} (F0 from audio)")


def _extract(wav: np.ndarray, features: FeatureConfig, name: str | Path) -> np.ndarray:
    if len(wav) < features.hop:
        raise InputError(f"{name}: audio of {len(wav)} samples is shorter than one hop ({features.hop})")
    try:
        return extract_f0(
            wav, features.sample_rate, features.hop, features.f0_min, features.f0_max, features.f0_method
        )
    except VocoderError as err:
        raise InputError(f"{name}: F0 extraction failed ({err})") from None


def load_audio_input(
    path: str | Path, features: FeatureConfig, with_f0: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(mel (n_mels, T), f0 (T,) or None)`` of an audio file for copy synthesis, ``T = L // hop`` at
    the model's rate (so synthesis gives back ``T * hop`` samples)."""
    features = resolve_features(features)
    wav = read_audio(path, features.sample_rate, check_silence=False)
    try:
        mel = log_mel_numpy(wav, features)
    except InputError as err:
        raise InputError(f"{path}: {str(err).removeprefix('log_mel_numpy: ')}") from None
    return mel, (_extract(wav, features, path) if with_f0 else None)


def is_f0_file(path: Path) -> bool:
    """True for ``NAME.f0.npy`` (an F0 sidecar, not a mel)."""
    return path.name.lower().endswith(F0_SUFFIX)


def input_extensions(from_audio: bool) -> Iterable[str]:
    return AUDIO_EXTENSIONS if from_audio else MEL_EXTENSIONS

