"""Mels (and F0) matched to a model or a preset: as arrays (:func:`features`, i.e. ``vocoder.features``) or
as ``.npz`` files that ``vocoder synthesize`` reads back (:func:`write_feature_files`, ``vocoder features``).

Torch-free unless a torch model is named (then :func:`vocoder.load` loads it).

``features(wav, model_or_preset, sample_rate=None, f0=None)`` returns a dict:

* ``mel``: ``(n_mels, T)`` float32 log-mel, ``T = L // hop`` at the features' rate, computed with
  :func:`~vocoder.audio.mel_numpy.log_mel_numpy` (the numbers training and copy synthesis use);
* ``f0``: ``(T,)`` float32 Hz (0 = unvoiced), extracted with the features' F0 method and range, when the
  model needs F0 (``f0=True`` asks for it anyway, ``f0=False`` never);
* the metadata :func:`~vocoder.infer.mel_files.load_mel` compares with a model: ``preset`` (only when every
  value equals that preset's) and every key of :data:`~vocoder.infer.mel_files.METADATA_KEYS`
  (``win_length`` as the window actually used, ``fmax`` None as the Nyquist frequency, ``mel_norm`` None
  as ``"none"``).

``np.savez(path, **features(...))`` is such a file; :func:`write_feature_files` writes one per input
audio file, ``OUT/<name>.npz`` (the output names follow ``vocoder synthesize``'s rule), atomically. A file
that fails (missing, unreadable, silent, too short) is one ``error: FILE: problem`` line and the others
are still written; an output folder that cannot be written is one error before any work.

``model_or_preset``: a loaded :class:`~vocoder.infer.base.Vocoder`, a model path (run or checkpoint
folder, ``.onnx``), a preset name (:data:`~vocoder.audio.mel_presets.PRESETS`), or a features mapping /
:class:`~vocoder.config.FeatureConfig`. ``wav``: an audio path (read as mono at the features' rate,
resampled when needed) or a mono float array at ``sample_rate`` (None: already at the features' rate).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vocoder.atomic import atomic_path
from vocoder.audio.io import SILENCE_PEAK, read_audio, resample
from vocoder.audio.mel_presets import PRESETS, find_preset, resolve_features
from vocoder.config import FeatureConfig
from vocoder.errors import AudioError, ConfigError, InputError, VocoderError
from vocoder.infer.checks import to_numpy
from vocoder.infer.copy_synthesis import mel_from_samples
from vocoder.infer.f0_inputs import f0_from_samples, fit_f0
from vocoder.infer.mel_files import METADATA_KEYS, NONE_VALUE
from vocoder.infer.mel_settings import features_label, mel_field
from vocoder.infer.synthesize import Summary, collect_inputs
from vocoder.output_paths import check_out_dir, os_reason

FEATURE_SUFFIX = ".npz"


@dataclass(frozen=True)
class Target:
    """What features are made for: the feature config, whether F0 goes with it, and a name for messages."""

    features: FeatureConfig
    needs_f0: bool
    label: str


def resolve_target(model_or_preset: Any) -> Target:
    """A :class:`Target` from a Vocoder, a model path, a preset name, or a features mapping / FeatureConfig."""
    from vocoder.infer.base import Vocoder

    if isinstance(model_or_preset, Vocoder):
        feats = resolve_features(model_or_preset.features)
        return Target(feats, bool(model_or_preset.needs_f0), model_or_preset.source or features_label(feats))
    if isinstance(model_or_preset, (FeatureConfig, Mapping)):
        feats = resolve_features(model_or_preset)
        return Target(feats, False, features_label(feats))
    if isinstance(model_or_preset, (str, os.PathLike)):
        if isinstance(model_or_preset, str) and model_or_preset in PRESETS:
            return Target(resolve_features({"preset": model_or_preset}), False, model_or_preset)
        path = Path(model_or_preset)
        if not path.exists():
            raise InputError(
                f"{path}: neither a mel preset ({', '.join(PRESETS)}) nor a model (no such file or folder)"
            )
        import vocoder

        return resolve_target(vocoder.load(path))
    kind = type(model_or_preset).__name__
    raise InputError(f"model_or_preset: expected a Vocoder, a model path, a preset name or features, got {kind}")


def feature_metadata(features: FeatureConfig) -> dict[str, Any]:
    """The metadata keys of a feature file, as :func:`~vocoder.infer.mel_files.load_mel` reads them back."""
    features = resolve_features(features)
    meta: dict[str, Any] = {}
    preset = find_preset(features)
    if preset is not None:
        meta["preset"] = preset
    for key in METADATA_KEYS:
        value = mel_field(features, key)
        meta[key] = NONE_VALUE if value is None else value
    return meta


def _audio(wav: Any, features: FeatureConfig, sample_rate: int | None) -> tuple[np.ndarray, str]:
    """Mono float32 ``(L,)`` at the features' rate, and the name messages use."""
    if isinstance(wav, (str, os.PathLike)):
        if sample_rate is not None:
            raise InputError(f"{wav}: sample_rate is for arrays; an audio file's rate is read from the file")
        return read_audio(wav, features.sample_rate, check_silence=True), str(wav)
    name = "wav"
    arr = to_numpy(wav, name, "audio")
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"{name}: audio has dtype {arr.dtype}; expected float samples in [-1, 1]")
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{name}: audio of shape {tuple(arr.shape)}; expected a mono (samples,) array")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise AudioError(f"{name}: audio contains NaN or Inf samples")
    if float(np.max(np.abs(arr))) < SILENCE_PEAK:
        raise AudioError(f"{name}: audio is silent (peak below -80 dBFS)")
    if sample_rate is not None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise InputError(f"sample_rate: expected a positive integer (Hz), got {sample_rate!r}")
        arr = resample(arr, int(sample_rate), features.sample_rate)
    return arr, name


def features(
    wav: Any, model_or_preset: Any, sample_rate: int | None = None, f0: bool | None = None
) -> dict[str, Any]:
    """``{"mel": (n_mels, T), "f0": (T,) (when wanted), <metadata>}`` of ``wav`` for ``model_or_preset``
    (see the module docstring). Every problem is one :class:`~vocoder.errors.VocoderError` line."""
    target = model_or_preset if isinstance(model_or_preset, Target) else resolve_target(model_or_preset)
    feats = target.features
    audio, name = _audio(wav, feats, sample_rate)
    mel = mel_from_samples(audio, feats, name)
    out: dict[str, Any] = {"mel": mel}
    if target.needs_f0 if f0 is None else f0:
        out["f0"] = fit_f0(f0_from_samples(audio, feats, name), mel.shape[1], f"{name} (F0)")
    out.update(feature_metadata(feats))
    return out


def save_feature_file(path: str | Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` (arrays, numbers, strings) as an ``.npz`` (no pickled objects), atomically: a
    temporary file in the same folder, renamed."""
    arrays = {k: np.asarray(v) for k, v in data.items()}
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def _stderr_line(text: str) -> None:
    from tqdm import tqdm

    tqdm.write(text, file=sys.stderr)


def write_feature_files(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    preset: str | None = None,
    model: Any = None,
    f0: bool | None = None,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
) -> Summary:
    """One ``OUT/<name>.npz`` per audio file of ``inputs`` (files or folders, searched recursively), made
    for ``preset`` or ``model`` (exactly one). Returns a :class:`~vocoder.infer.synthesize.Summary`;
    problems with single inputs go to ``report`` (default: stderr) as ``error: FILE: problem``."""
    report = report or _stderr_line
    if (preset is None) == (model is None):
        raise ConfigError("features: give a preset (--preset NAME) or a model (--model PATH), one of them")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"--preset {preset}: unknown mel preset (known: {', '.join(PRESETS)})")
    target = resolve_target(preset if preset is not None else model)
    out_dir = Path(out_dir)
    jobs, problems = collect_inputs(list(inputs), from_audio=True, suffix=FEATURE_SUFFIX)
    if jobs:
        check_out_dir(out_dir, "feature files")
    summary = Summary(out_dir=out_dir, what="feature (.npz)")
    for source, message in problems:
        report(f"error: {message}")
        summary.failed.append((source, message))

    from tqdm import tqdm

    for job in tqdm(jobs, desc="features", unit="file", disable=None if progress else True, file=sys.stderr):
        assert job.output is not None  # collect_inputs drops jobs without an output
        target_path = out_dir / job.output
        try:
            data = features(job.source, target, f0=f0)
        except VocoderError as err:
            message = str(err)
        except Exception as err:  # one odd file must not lose the rest of the batch
            first = (str(err).strip().splitlines() or [""])[0][:160]
            message = f"{job.source}: feature extraction failed ({type(err).__name__}: {first})"
        else:
            try:
                save_feature_file(target_path, data)
            except OSError as err:  # the next files would fail the same way (full disk, read-only folder)
                raise ConfigError(
                    f"{target_path}: cannot write the feature file ({os_reason(err)}); "
                    f"stopped after {len(summary.written)} of {len(jobs)} file(s)"
                ) from None
            summary.written.append(target_path)
            summary.seconds += data["mel"].shape[1] * target.features.hop / target.features.sample_rate
            continue
        report(f"error: {message}")
        summary.failed.append((str(job.source), message))
    return summary
