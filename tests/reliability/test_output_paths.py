"""Output paths that cannot be written and files ``vocoder info`` is given: one ``error: PATH: problem`` line,
exit code 1, no traceback, through the real CLI (``python -m vocoder`` in a subprocess, or ``vocoder.cli.main``
with capsys where a subprocess would only add start-up time).

Unwritable places are paths below a regular file (``blocker/out``): that fails for root too, who writes into
read-only folders; the chmod variants run only for other users.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from badinputs import MARKER, plausible_mel
from cli_runner import run_cli
from helpers_synth import DEMO, DEMO_WAVS, HOP, SR

from vocoder.cli import main

ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


def one_error(code: int, err: str, *names: str) -> str:
    """Assert exit 1, no traceback and exactly one ``error:`` line holding each of ``names``; returns it."""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1, (code, err[-2000:])
    assert "Traceback" not in err and len(errors) == 1, err[-2000:]
    for name in names:
        assert name in errors[0], (name, errors[0])
    return errors[0]


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def blocker(tmp_path) -> Path:
    path = tmp_path / "blocker"
    path.write_text("a regular file")
    return path


@pytest.fixture
def locked(tmp_path):
    """A folder without write permission (only meaningful for a user other than root)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --------------------------------------------------------------------------------------------- export


def test_export_to_a_folder_is_one_line(capsys, models, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    for out in (f"{folder}/", str(folder)):
        code, stdout, err = cli(capsys, "export", models["istftnet"], "--out", out)
        one_error(code, err, f"error: {folder}: is a folder", str(folder / "model.onnx"))
        assert "wrote" not in stdout
    assert listing(folder) == []
    # a path ending in a separator names a folder even when it does not exist yet
    code, _, err = cli(capsys, "export", models["istftnet"], "--out", f"{tmp_path / 'new'}/")
    one_error(code, err, f"{tmp_path / 'new'}: is a folder")
    assert not (tmp_path / "new").exists()


def test_export_where_nothing_can_be_written_is_one_line(models, blocker):
    result = run_cli("export", models["istftnet"], "--out", blocker / "model.onnx")
    one_error(result.code, result.stderr, f"error: {blocker / 'model.onnx'}: cannot write the ONNX file here")
    assert blocker.read_text() == "a regular file"


@pytest.mark.skipif(ROOT_USER, reason="root writes into read-only folders")
def test_export_into_a_read_only_folder_is_one_line(capsys, models, locked):
    code, _, err = cli(capsys, "export", models["istftnet"], "--out", locked / "model.onnx")
    one_error(code, err, f"{locked / 'model.onnx'}: cannot write the ONNX file here")
    assert listing(locked) == []


# ---------------------------------------------------------------------------------------------- bench


def test_bench_json_that_cannot_be_written_fails_before_the_bench(capsys, blocker, tmp_path):
    args = ("bench", "--generators", "pwg", "--backends", "torch", "--threads", "1", "--seconds", "0.05",
            "--repeats", "1")
    code, out, err = cli(capsys, *args, "--json", blocker / "rows.json")
    one_error(code, err, f"error: {blocker / 'rows.json'}: cannot write the JSON file here")
    assert out == "" and "pwg" not in err  # the bench never ran: no table, no progress
    folder = tmp_path / "results"
    folder.mkdir()
    code, out, err = cli(capsys, *args, "--json", folder)
    one_error(code, err, f"error: {folder}: is a folder")
    assert out == "" and listing(folder) == []


# ----------------------------------------------------------------------------------------- synthesize


def mel_folder(folder: Path, names: tuple[str, ...], bad: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        np.save(folder / f"{name}.npy", plausible_mel(DEMO, seed=i))
    for name in bad:
        (folder / f"{name}.npy").write_text("not a mel")
    return folder


def test_synthesize_into_an_unwritable_folder_stops_before_any_synthesis(models, blocker, tmp_path):
    inputs = mel_folder(tmp_path / "mels", ("a", "b"), bad=("broken",))
    result = run_cli("synthesize", models["istftnet.onnx"], inputs, "--out", blocker / "out")
    # one line for the folder; the broken input was not even looked at, nothing was synthesized
    one_error(result.code, result.stderr, f"error: {blocker / 'out'}: cannot create the output folder")
    assert "wrote" not in result.stdout and "broken" not in result.stderr
    result = run_cli("synthesize", models["istftnet.onnx"], inputs, "--out", blocker)
    one_error(result.code, result.stderr, f"error: {blocker}: not a folder")


@pytest.mark.skipif(ROOT_USER, reason="root writes into read-only folders")
def test_synthesize_into_a_read_only_folder_is_one_line(capsys, models, locked, tmp_path):
    inputs = mel_folder(tmp_path / "mels", ("a", "b"))
    code, out, err = cli(capsys, "synthesize", models["istftnet.onnx"], inputs, "--out", locked)
    one_error(code, err, f"error: {locked}: cannot write to the output folder")
    assert "wrote" not in out and listing(locked) == []


def test_synthesize_stops_at_the_first_wav_it_cannot_write(capsys, models, tmp_path):
    inputs = mel_folder(tmp_path / "mels", ("a", "b", "c"))
    out_dir = tmp_path / "out"
    (out_dir / "b.wav").mkdir(parents=True)  # in the way of the second wav, whoever runs the test
    code, out, err = cli(capsys, "synthesize", models["istftnet.onnx"], inputs, "--out", out_dir)
    one_error(code, err, f"error: {out_dir / 'b.wav'}: cannot write the wav", "stopped after 1 of 3 file(s)")
    assert listing(out_dir) == ["a.wav", "b.wav"] and (out_dir / "b.wav").is_dir()  # c was not attempted


# ----------------------------------------------------------------------------------------------- info


def test_info_describes_an_onnx_model(models):
    result = run_cli("info", models["wavehax.onnx"])
    assert result.code == 0 and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"onnx: {models['wavehax.onnx']}: opset 17, ")
    assert lines[1].startswith(f"generator: wavehax (vocoder 0.1.0): {SR} Hz, hop {HOP}, 80 mels, needs F0 and noise")
    assert lines[2].startswith("features: demo-16k: 16000 Hz")
    assert "inputs: mel (batch, 80, frames) float32, f0 (batch, frames) float32, noise (batch, 1, samples) float32, " \
           "phase (batch, 1) float64" in lines
    assert "outputs: wav (batch, 1, samples) float32" in lines
    result = run_cli("info", models["istftnet.onnx"])
    assert result.code == 0 and "needs the mel only" in result.stdout and "inputs: mel (batch, 80, frames) float32" \
        in result.stdout


def test_info_describes_mel_files(capsys, tmp_path):
    mel = plausible_mel(DEMO, frames=31)
    np.save(tmp_path / "a.npy", mel)
    shape = f"shape (80, 31), float32, values {mel.min():.4g} to {mel.max():.4g} (mean {mel.mean():.4g})"
    code, out, err = cli(capsys, "info", tmp_path / "a.npy")
    assert code == 0 and err == "", err
    assert out.splitlines() == [f"mel: {tmp_path / 'a.npy'}: {shape}",
                                "metadata: none stored (preset, sample_rate, hop, ...)"]

    f0 = np.where(np.arange(31) < 10, 0.0, 150.0).astype(np.float32)
    np.savez(tmp_path / "b.npz", mel=mel, f0=f0, preset="demo-16k", sample_rate=16000)
    code, out, err = cli(capsys, "info", tmp_path / "b.npz")
    assert code == 0 and err == "", err
    assert out.splitlines() == [
        f"mel: {tmp_path / 'b.npz'}: {shape}",
        "metadata: preset demo-16k, sample_rate 16000",
        "f0 (key 'f0'): shape (31,), float32, values 0 to 150 (mean 101.6), 68% voiced (150.0-150.0 Hz)",
    ]

    torch.save({"mel": torch.from_numpy(mel)}, tmp_path / "c.pt")
    np.save(tmp_path / "c.f0.npy", f0)
    code, out, err = cli(capsys, "info", tmp_path / "c.pt")
    assert code == 0 and err == "", err
    assert out.splitlines()[0] == f"mel: {tmp_path / 'c.pt'}: {shape}"
    assert out.splitlines()[2].startswith(f"f0 ({tmp_path / 'c.f0.npy'}): shape (31,)")


def test_info_describes_an_audio_file(capsys):
    code, out, err = cli(capsys, "info", DEMO_WAVS[0])
    assert code == 0 and err == ""
    assert out.startswith(f"audio: {DEMO_WAVS[0]}: 16000 Hz, 1 channel(s), ") and "FLAC" in out


def test_info_on_broken_files_is_one_line(bad_inputs, tmp_path):
    junk_onnx = tmp_path / "junk.onnx"
    shutil.copy(bad_inputs["model/model_corrupt"][0], junk_onnx)
    cases = {
        junk_onnx: "not a valid ONNX model",
        bad_inputs["mel/mel_text"][0]: "cannot read .npy file (no NumPy header: not a .npy file)",
        bad_inputs["mel/mel_corrupt"][0]: "cannot read",
        bad_inputs["mel/mel_payload"][0]: "refused to load .pt file",
        bad_inputs["audio/audio_text"][0]: "cannot read audio",
    }
    for path, problem in cases.items():
        result = run_cli("info", path)
        one_error(result.code, result.stderr, f"error: {path}: {problem}")
    assert not (bad_inputs["mel/mel_payload"][0].parent / MARKER).exists()  # nothing was unpickled
