"""Every bad input of :mod:`badinputs` through the real CLI (``python -m vocoder`` in a subprocess): one
``error:`` line naming the file and the problem, exit code 1, no traceback; in a batch, the good files
are still written (torch checkpoint and ONNX file)."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from badinputs import GOOD_FRAMES, MARKER, plausible_mel
from cli_runner import CliResult, run_cli
from helpers_synth import DEMO, HOP, SR

from vocoder.audio.mel_numpy import log_mel_numpy
from vocoder.infer.copy_synthesis import load_audio_input

KINDS = ("mel", "audio", "f0", "model", "config")
GOOD = {"good_a.npy": 31, "good_b.npz": 57}  # good mels of the batches: name -> frames


def _commands(name: str, path: Path, models: dict[str, Path], good: Path, out: Path) -> dict[str, tuple]:
    """The CLI call(s) of one case, keyed by a label."""
    kind, dest = name.split("/")[0], out / name.replace("/", "_")
    # the torch-free engine keeps these runs short; the batches below cover the torch engine too
    if kind == "mel":
        return {name: ("synthesize", models["istftnet.onnx"], path, "--out", dest)}
    if kind == "audio":
        return {name: ("synthesize", models["istftnet.onnx"], path, "--from-audio", "--out", dest)}
    if kind == "f0":
        return {name: ("synthesize", models["wavehax.onnx"], path, "--out", dest)}
    if kind == "model":
        return {name: ("synthesize", path, good, "--out", dest)}
    return {f"{name} train": ("train", path, "--out", dest), f"{name} info": ("info", path)}


def _batch_folder(folder: Path, bad_inputs: dict[str, tuple[Path, str | None]]) -> dict[str, str]:
    """Every bad mel file plus the good ones in ``folder``; returns ``{bad file name: expected problem}``."""
    folder.mkdir()
    expected = {}
    for name, (path, problem) in bad_inputs.items():
        if name.startswith("mel/"):
            shutil.copy(path, folder / path.name)
            expected[path.name] = problem
    np.save(folder / "good_a.npy", plausible_mel(DEMO, GOOD["good_a.npy"], seed=1))
    np.savez(folder / "good_b.npz", mel=plausible_mel(DEMO, GOOD["good_b.npz"], seed=2).T)
    return expected


@dataclass
class Runs:
    """Results of every CLI call (``results[label]``), their output folder, and the batch's bad files."""

    results: dict[str, CliResult]
    out: Path
    batch: Path
    batch_expected: dict[str, str]

    def __getitem__(self, label: str) -> CliResult:
        return self.results[label]


@pytest.fixture(scope="module")
def runs(models, bad_inputs, tmp_path_factory) -> Runs:
    """Every CLI call of this module, two at a time: one per case (two per config) and the two batches."""
    out = tmp_path_factory.mktemp("runs")
    good = out / "good.npy"
    np.save(good, plausible_mel(DEMO))
    batch = out / "batch"
    batch_expected = _batch_folder(batch, bad_inputs)
    commands: dict[str, tuple] = {}
    for name, (path, _) in bad_inputs.items():
        commands.update(_commands(name, path, models, good, out))
    for backend, model in (("torch", models["istftnet"]), ("onnx", models["istftnet.onnx"])):
        commands[f"batch {backend}"] = ("synthesize", model, batch, "--out", out / f"batch_{backend}")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {label: pool.submit(run_cli, *cmd) for label, cmd in commands.items()}
        results = {label: future.result() for label, future in futures.items()}
    return Runs(results, out, batch, batch_expected)


def refusal_problems(result: CliResult, path: Path, expected: str) -> list[str]:
    """What is wrong with ``result`` as the CLI's refusal of ``path`` (empty when all is right)."""
    problems = []
    if result.code != 1:
        problems.append(f"exit code {result.code}")
    if "Traceback" in result.stderr:
        problems.append("traceback on stderr")
    named = str(path.parent / path.name.split(".")[0])  # NAME.f0.npy, NAME.wavs: the file the problem is in
    if len(result.errors) != 1:
        problems.append(f"{len(result.errors)} error lines")
    elif expected not in result.errors[0] or named not in result.errors[0]:
        problems.append(f"error line does not name {named} and {expected!r}")
    lines = result.stderr.splitlines()
    other = [line for line in lines if line.strip() and not line.startswith(("error:", "warning:"))]
    if other:
        problems.append(f"other stderr lines: {other[:3]}")
    return problems


def test_the_set_holds_every_kind_of_mistake(bad_inputs):
    assert sorted(bad_inputs) == sorted([
        "mel/mel_empty", "mel/mel_text", "mel/mel_nan", "mel/mel_inf", "mel/mel_wrong_n_mels", "mel/mel_1d",
        "mel/mel_zero_frames", "mel/mel_int", "mel/mel_corrupt", "mel/mel_truncated", "mel/mel_payload",
        "mel/mel_payload_raw", "audio/audio_empty", "audio/audio_truncated_header", "audio/audio_text",
        "audio/audio_stereo", "audio/audio_other_rate", "f0/f0_missing", "f0/f0_short", "f0/f0_negative",
        "model/model_corrupt", "config/config_unknown_key", "config/config_wrong_type", "config/config_missing_data",
    ])
    accepted = sorted(name for name, (path, expected) in bad_inputs.items() if expected is None)
    assert accepted == ["audio/audio_other_rate", "audio/audio_stereo"]
    assert all(path.is_file() for path, _ in bad_inputs.values())


@pytest.mark.parametrize("kind", KINDS)
def test_each_bad_input_is_one_error_line(kind, bad_inputs, runs):
    cases = {name: case for name, case in bad_inputs.items() if name.startswith(f"{kind}/")}
    assert cases, kind
    checked, failures = 0, {}
    for label, result in runs.results.items():
        name = label.split(" ")[0]
        if name not in cases or cases[name][1] is None:
            continue
        path, expected = cases[name]
        if label.endswith(" info") and name == "config/config_missing_data":
            # `vocoder info` describes a recipe before its data stage ran: the missing folder is a line
            # of the description, not an error
            problems = [] if result.code == 0 and expected in result.stdout else [f"exit {result.code}"]
            problems += ["stderr not empty"] if result.stderr.strip() else []
        else:
            problems = refusal_problems(result, path, expected)
        if problems:
            failures[label] = (problems, result.stderr[-600:])
        checked += 1
    assert not failures, failures
    assert checked == sum(1 + (name.startswith("config/")) for name, case in cases.items() if case[1] is not None)


def test_errors_read_as_the_user_sees_them(bad_inputs, runs):
    path, _ = bad_inputs["mel/mel_wrong_n_mels"]
    assert runs["mel/mel_wrong_n_mels"].errors == [
        f"error: {path}: mel of shape (83, {GOOD_FRAMES}) has no axis of 80 bins; the model expects demo-16k: 80 mels"
    ]
    path, _ = bad_inputs["mel/mel_payload"]
    assert runs["mel/mel_payload"].errors == [
        f"error: {path}: refused to load .pt file: it holds more than tensors, numbers and dicts "
        "(it would call io.open)"
    ]
    path, _ = bad_inputs["mel/mel_text"]
    assert runs["mel/mel_text"].errors == [f"error: {path}: cannot read .npy file (no NumPy header: not a .npy file)"]
    path, _ = bad_inputs["f0/f0_short"]
    assert runs["f0/f0_short"].errors == [
        f"error: {path.with_suffix('.f0.npy')}: F0 has {GOOD_FRAMES - 5} frames, the mel has {GOOD_FRAMES} "
        "(at most 2 apart is accepted)"
    ]
    assert runs["mel/mel_nan"].stdout.strip().endswith("wrote 0 wav file(s), 0.0 s of audio, to "
                                                      f"{runs.out / 'mel_mel_nan'}; 1 failed")


def test_stereo_and_other_rate_audio_are_synthesized(bad_inputs, runs):
    for name in ("audio/audio_stereo", "audio/audio_other_rate"):
        result = runs[name]
        assert result.code == 0 and not result.stderr.strip(), result.stderr
        info = sf.info(runs.out / name.replace("/", "_") / f"{name.split('/')[1]}.wav")
        assert (info.frames, info.samplerate, info.channels) == (GOOD_FRAMES * HOP, SR, 1)


def test_stereo_is_mixed_and_other_rates_resampled_by_the_documented_rule(bad_inputs):
    stereo = bad_inputs["audio/audio_stereo"][0]
    data, sr = sf.read(stereo, dtype="float32")
    assert data.shape == (GOOD_FRAMES * HOP, 2) and sr == SR
    mel, _ = load_audio_input(stereo, DEMO)
    np.testing.assert_allclose(mel, log_mel_numpy(data.mean(axis=1), DEMO), atol=1e-5)
    other = bad_inputs["audio/audio_other_rate"][0]
    data, sr = sf.read(other, dtype="float32")
    assert sr == 2 * SR
    mel, _ = load_audio_input(other, DEMO)
    want = log_mel_numpy(soxr.resample(data, sr, SR, quality="HQ").astype(np.float32), DEMO)
    assert mel.shape == (DEMO.n_mels, GOOD_FRAMES)
    np.testing.assert_allclose(mel, want, atol=1e-5)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_batch_writes_every_good_file(backend, runs):
    result, out = runs[f"batch {backend}"], runs.out / f"batch_{backend}"
    assert result.code == 1 and "Traceback" not in result.stderr
    assert len(result.errors) == len(runs.batch_expected) == 12
    for name, expected in runs.batch_expected.items():
        lines = [line for line in result.errors if line.startswith(f"error: {runs.batch / name}: ")]
        assert len(lines) == 1 and expected in lines[0], (name, lines)
    assert sorted(p.name for p in out.iterdir()) == ["good_a.wav", "good_b.wav"]
    for name, frames in GOOD.items():
        info = sf.info(out / f"{name.split('.')[0]}.wav")
        assert (info.frames, info.samplerate) == (frames * HOP, SR)
    seconds = sum(GOOD.values()) * HOP / SR
    assert result.stdout.strip() == f"wrote 2 wav file(s), {seconds:.1f} s of audio, to {out}; 12 failed"


def test_no_payload_ran(bad_inputs, runs):
    folder = next(iter(bad_inputs.values()))[0].parent
    assert not (folder / MARKER).exists()
    assert not (Path.cwd() / MARKER).exists()


def test_error_text_stays_one_line_whatever_it_quotes(tmp_path):
    from vocoder.errors import ConfigError, InputError
    from vocoder.infer.mel_files import load_mel

    assert str(ConfigError("r.yaml: unknown key 'a\nb\x1b[31m'")) == "r.yaml: unknown key 'a\\nb\\x1b[31m'"
    assert str(InputError("plain text, é and λ")) == "plain text, é and λ"
    mel = plausible_mel(DEMO)
    mel[0, 0] = np.nan
    path = tmp_path / "two\nlines.npy"
    np.save(path, mel)
    with pytest.raises(InputError) as err:
        load_mel(path, DEMO)
    assert str(err.value) == f"{tmp_path}/two\\nlines.npy: mel has 1 NaN/Inf values (or values beyond float32)"
