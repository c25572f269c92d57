"""Batch synthesis: mel files (or audio, for copy synthesis) -> wav files, one model load for all.

:func:`synthesize_files` expands folders (recursively, sorted), loads the model once with
:func:`vocoder.load` (run/checkpoint folder on torch, ``.onnx`` on onnxruntime), and for each input
reads the mel ``(n_mels, T)`` (and F0 ``(T,)`` for F0 models, see :mod:`vocoder.infer.mel_files`), runs
the model and writes ``OUT/NAME.wav`` (``T * hop`` samples, 16-bit, atomically). A file that fails is
reported as one ``error: FILE: problem`` line and skipped; the others are still written. Each input is
checked once: a mel file by its reader, a mel computed from audio by ``model.prepare_inputs``; the model
then runs it unchecked (``model.synthesize_checked``), as ``model.synthesize`` does after its own check.

Output names: ``OUT/<path relative to the input folder>.wav`` for files found in a folder and
``OUT/<name>.wav`` for files given directly. When two inputs would write the same wav (same name in
different folders), every output keeps its path relative to the inputs' common folder instead; two
inputs that still collide (``a.npy`` and ``a.npz`` side by side) are an error for the second.

Output folder: created and test-written (:func:`check_out_dir`) before anything is synthesized; a wav
that cannot be written stops the batch with one ``error:`` line (a full disk fails every file after it).

A model with an F0 predictor (``vocoder train-f0``) needs no F0 source: without one (or with
``--predict-f0``) F0 comes from the mel, said once. ``--f0-scale`` multiplies F0 before synthesis.
F0 sources, first found wins: ``--f0-from-audio DIR`` (explicit: F0 extracted from ``DIR/<rel>.wav``
or ``DIR/<name>.wav``), the mel file's own ``f0`` entry, a sibling ``NAME.f0.npy``. With
``--from-audio`` the inputs are audio: the mel is computed with the model's features and the F0 is
extracted from the same audio (unless ``--f0-from-audio`` names other audio).

What the mel files are: ``--mel-preset NAME`` declares the preset they were made with; it is compared
value by value with the model's features once, before any file is read, and refused (one line naming
both) when any setting differs (sample rate, hop, window, mel band, log, clamp...). A ``.npz`` can carry
the same declaration itself (keys ``preset`` and/or ``sample_rate``, ``hop``, ...; see
:mod:`vocoder.infer.mel_files`), which ``vocoder features`` writes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vocoder import output_paths
from vocoder.audio.io import AUDIO_EXTENSIONS, write_audio
from vocoder.audio.mel_presets import PRESETS
from vocoder.errors import ConfigError, InputError, VocoderError
from vocoder.infer.checks import check_f0_scale
from vocoder.infer.copy_synthesis import load_audio_input
from vocoder.infer.f0_inputs import f0_from_audio, find_reference_audio, is_f0_file
from vocoder.infer.mel_files import MEL_EXTENSIONS, load_mel
from vocoder.infer.mel_settings import check_preset
from vocoder.output_paths import os_reason


@dataclass
class Job:
    """One input file and the path of its wav relative to the output folder."""

    source: Path
    relative: Path  # the input's path relative to its input folder (or its bare name)
    output: Path | None = None


@dataclass
class Summary:
    """What a batch did: ``written`` wav paths, ``failed`` ``(input, one-line problem)``, seconds of audio."""

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    out_dir: Path = Path()
    what: str = "wav"  # the kind of file written, for :meth:`line`

    @property
    def ok(self) -> bool:
        return not self.failed

    def line(self) -> str:
        text = f"wrote {len(self.written)} {self.what} file(s), {self.seconds:.1f} s of audio, to {self.out_dir}"
        return text + (f"; {len(self.failed)} failed" if self.failed else "")


class _WriteFailed(Exception):
    """A wav could not be written (raised by :func:`_run_one`, turned into one error by the batch loop)."""

    def __init__(self, target: Path, err: OSError) -> None:
        super().__init__(str(target))
        self.target, self.reason = target, os_reason(err)


def check_out_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` and test-write it before any synthesis (see :mod:`vocoder.output_paths`)."""
    return output_paths.check_out_dir(out_dir, "wav files")


def _stderr_line(text: str) -> None:
    from tqdm import tqdm

    tqdm.write(text, file=sys.stderr)


def collect_inputs(
    inputs: Sequence[str | Path], from_audio: bool = False, suffix: str = ".wav"
) -> tuple[list[Job], list[tuple[str, str]]]:
    """Input files as :class:`Job` (outputs ``NAME + suffix`` assigned, de-duplicated) and problems
    ``(input, message)``."""
    exts = {e.lower() for e in (AUDIO_EXTENSIONS if from_audio else MEL_EXTENSIONS)}
    kind = "audio" if from_audio else "mel"
    jobs: list[Job] = []
    problems: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def add(source: Path, relative: Path) -> None:
        key = source.resolve()
        if key not in seen:
            seen.add(key)
            jobs.append(Job(source, relative))

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in exts and (from_audio or not is_f0_file(p))
            )
            if not found:
                problems.append((str(path), f"{path}: no {kind} files ({', '.join(sorted(exts))}) in this folder"))
            for p in found:
                add(p, p.relative_to(path))
        elif path.is_file():
            add(path, Path(path.name))
        else:
            problems.append((str(path), f"{path}: no such file or folder"))
    problems += _assign_outputs(jobs, suffix)
    return [j for j in jobs if j.output is not None], problems


def _stem_path(relative: Path) -> Path:
    return relative.with_name(relative.name[: -len(relative.suffix)] if relative.suffix else relative.name)


def _assign_outputs(jobs: list[Job], suffix: str = ".wav") -> list[tuple[str, str]]:
    """Set ``job.output`` (relative ``NAME + suffix`` path); returns the jobs left without one as problems."""
    names = [_stem_path(j.relative) for j in jobs]
    if len(set(names)) < len(names):
        # same name from different folders: keep each input's path below the common folder
        common = Path(os.path.commonpath([str(j.source.absolute().parent) for j in jobs]))
        names = [_stem_path(j.source.absolute().relative_to(common)) for j in jobs]
    problems = []
    taken: dict[Path, Job] = {}
    for job, name in zip(jobs, names):
        output = name.with_name(name.name + suffix)
        if output in taken:
            problems.append((
                str(job.source),
                f"{job.source}: would write the same {output} as {taken[output].source}; rename one of them",
            ))
            continue
        taken[output] = job
        job.output = output
    return problems


def _inputs_for(
    job: Job, model: Any, f0_dir: Path | None, from_audio: bool, predict_f0: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Checked mel ``(1, n_mels, T)`` float32 and F0 ``(1, T)`` float32 of one job, as
    :meth:`~vocoder.infer.base.Vocoder.synthesize_checked` takes them: a mel file is checked by its reader,
    a mel computed from audio by the model's :meth:`~vocoder.infer.base.Vocoder.prepare_inputs`. F0 is
    None for models without F0, and for a model with an F0 predictor when ``predict_f0`` or no F0 source
    has it."""
    need_f0 = bool(model.needs_f0) and not predict_f0
    use_dir = need_f0 and f0_dir is not None
    if from_audio:
        mel, f0 = load_audio_input(job.source, model.features, with_f0=need_f0 and not use_dir)
    else:
        mel, f0 = load_mel(job.source, model.features, with_f0=need_f0 and not use_dir, min_frames=model.min_frames)
    if use_dir:
        reference = find_reference_audio(f0_dir, job.relative)
        if reference is None:
            raise InputError(
                f"{job.source}: the model needs F0 and --f0-from-audio {f0_dir} has no "
                f"{_stem_path(job.relative).name}.wav/.flac/.ogg"
            )
        f0 = f0_from_audio(reference, model.features, frames=mel.shape[1])
    if need_f0 and f0 is None and not model.predicts_f0:
        raise InputError(
            f"{job.source}: the model needs F0 ({model.generator_name}); give it as 'f0' in a .npz, as "
            f"{_stem_path(job.source).name}.f0.npy beside the mel, or with --f0-from-audio DIR"
        )
    if from_audio:
        try:
            mel3, f0b, _ = model.prepare_inputs(mel, f0)
        except VocoderError as err:
            raise InputError(f"{job.source}: {err}") from None
        return mel3, f0b
    return mel[None], (f0[None] if f0 is not None else None)


def _run_one(
    job: Job, model: Any, out_dir: Path, f0_dir: Path | None, from_audio: bool, f0_scale: float, predict_f0: bool
) -> tuple[Path, float]:
    assert job.output is not None  # collect_inputs drops jobs without an output
    target = out_dir / job.output
    if target.absolute() == job.source.absolute():
        raise InputError(f"{job.source}: the output would overwrite this input; choose another --out")
    mel, f0 = _inputs_for(job, model, f0_dir, from_audio, predict_f0)
    try:
        wav = model.synthesize_checked(mel, f0, 0, f0_scale)[0]
    except VocoderError as err:
        raise InputError(f"{job.source}: {err}") from None
    try:
        write_audio(target, wav, model.sample_rate)
    except OSError as err:
        raise _WriteFailed(target, err) from None
    return target, len(wav) / model.sample_rate


def synthesize_files(
    model_path: str | Path,
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    f0_from_audio: str | Path | None = None,
    from_audio: bool = False,
    threads: int | None = None,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
    mel_preset: str | None = None,
    f0_scale: float = 1.0,
    predict_f0: bool = False,
) -> Summary:
    """Synthesize every input into ``out_dir``; returns a :class:`Summary` (``summary.ok`` False when any
    input failed). Problems with single inputs go to ``report`` (default: stderr, beside the progress
    bar) as ``error: FILE: problem``; a model that cannot be loaded, an output folder that cannot be
    written (checked before any synthesis), a declared ``mel_preset`` whose values differ from the
    model's features (checked once, before any file is read) and a wav that cannot be written (the batch
    stops there) raise a :class:`VocoderError`. ``f0_scale`` multiplies F0 (a pitch shift; F0 models only);
    ``predict_f0`` ignores every F0 source and uses the model's F0 predictor.
    """
    import vocoder

    report = report or _stderr_line
    out_dir = Path(out_dir)
    f0_dir = Path(f0_from_audio) if f0_from_audio is not None else None
    if f0_dir is not None and not f0_dir.is_dir():
        raise InputError(f"--f0-from-audio {f0_dir}: no such folder")
    if mel_preset is not None:
        if from_audio:
            raise ConfigError(
                "--mel-preset says what the mel files are; with --from-audio the mels are computed from the "
                "audio with the model's own features"
            )
        if mel_preset not in PRESETS:
            raise ConfigError(f"--mel-preset {mel_preset}: unknown mel preset (known: {', '.join(PRESETS)})")
    model = vocoder.load(model_path, threads=threads)
    if f0_scale != 1.0 and not model.needs_f0:
        raise ConfigError(f"--f0-scale: {model_path} ({model.generator_name}) takes no F0; nothing to scale")
    check_f0_scale(f0_scale)
    if predict_f0 and not model.predicts_f0:
        raise ConfigError(f"--predict-f0: {model_path} has no F0 predictor (`vocoder train-f0` trains one)")
    if mel_preset is not None:
        check_preset(mel_preset, model.features, "--mel-preset")
    jobs, problems = collect_inputs(list(inputs), from_audio)
    if jobs:
        check_out_dir(out_dir)
    summary = Summary(out_dir=out_dir)
    for source, message in problems:
        report(f"error: {message}")
        summary.failed.append((source, message))

    from tqdm import tqdm

    for job in tqdm(jobs, desc="synthesize", unit="file", disable=None if progress else True, file=sys.stderr):
        try:
            target, seconds = _run_one(job, model, out_dir, f0_dir, from_audio, f0_scale, predict_f0)
        except _WriteFailed as err:  # the next files would fail the same way (full disk, read-only folder)
            raise ConfigError(
                f"{err.target}: cannot write the wav ({err.reason}); stopped after {len(summary.written)} of "
                f"{len(jobs)} file(s)"
            ) from None
        except VocoderError as err:
            message = str(err)
        except Exception as err:  # a model failure on one input must not lose the rest of the batch
            first = (str(err).strip().splitlines() or [""])[0][:160]
            message = f"{job.source}: synthesis failed ({type(err).__name__}: {first})"
        else:
            summary.written.append(target)
            summary.seconds += seconds
            continue
        report(f"error: {message}")
        summary.failed.append((str(job.source), message))
    return summary
