"""tools/measure_frame_comb.py: the comb strength is about 0 dB for noise and for a voice-like harmonic
series off the frame rate, and large for a buzz at multiples of the frame rate; the command line measures
a model folder against recordings and reports a bad folder or an empty band in one line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("measure_frame_comb", ROOT / "tools" / "measure_frame_comb.py")
comb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(comb)

SR = 16000


def _noise(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * SR)) * 0.1


def _tones(f0: float, seconds: float = 3.0, amplitude: float = 0.02) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return amplitude * sum(np.sin(2 * np.pi * k * f0 * t + k) for k in range(1, int(7500 / f0)))


def test_noise_and_an_off_rate_harmonic_series_score_near_zero():
    assert abs(comb.frame_comb_db(_noise(), SR, 100.0)) < 1.0
    # a steady 137 Hz voice: its harmonics fall at every phase relative to the 100 Hz grid
    assert abs(comb.frame_comb_db(_noise() + _tones(137.0), SR, 100.0)) < 2.0


def test_a_buzz_at_the_frame_rate_scores_far_above():
    plain = comb.frame_comb_db(_noise(), SR, 100.0)
    buzz = comb.frame_comb_db(_noise() + _tones(100.0), SR, 100.0)
    assert buzz > plain + 8.0  # 12 dB for these amplitudes
    # the same buzz measured against another frame rate's grid is not a comb there
    assert abs(comb.frame_comb_db(_noise() + _tones(100.0), SR, 86.13)) < 3.0


def test_command_line_measures_a_model_against_the_recordings(tmp_path, capsys):
    data = tmp_path / "clips"
    data.mkdir()
    for i in range(2):
        sf.write(data / f"c{i}.wav", (_noise(1.5, seed=i) * 2).astype(np.float32), SR)
    assert comb.main([str(ROOT / "checkpoints" / "demo-pwg"), "--data", str(data)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("c0.wav: recording")
    assert "mean of 2 clips" in lines[-1] and "(100 Hz, 2000-7000 Hz)" in lines[-1]


def test_a_missing_folder_is_one_error_line(tmp_path, capsys):
    assert comb.main([str(ROOT / "checkpoints" / "demo-pwg"), "--data", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "nope" in err[0]


def test_a_band_without_a_multiple_of_the_frame_rate_is_one_error_line(tmp_path, capsys):
    data = tmp_path / "clips"
    data.mkdir()
    sf.write(data / "c.wav", _noise(1.0).astype(np.float32), SR)
    args = [str(ROOT / "checkpoints" / "demo-pwg"), "--data", str(data), "--fmin", "7000", "--fmax", "2000"]
    assert comb.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --fmin 7000 / --fmax 2000: no multiple")
