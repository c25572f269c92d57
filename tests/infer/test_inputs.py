"""Mel and F0 input files: formats, orientation, one-line errors, the log-mel value range on real speech."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers_synth import DEMO, DEMO_WAVS, HOP, N_MELS, ROOT, SR, demo_audio, demo_mel

from vocoder.audio.f0 import extract_f0
from vocoder.audio.mel_numpy import log_mel_numpy
from vocoder.audio.mel_presets import PRESETS, resolve_features
from vocoder.errors import InputError
from vocoder.infer.copy_synthesis import load_audio_input
from vocoder.infer.f0_inputs import f0_from_audio, find_reference_audio, fit_f0
from vocoder.infer.mel_files import load_mel
from vocoder.infer.value_ranges import check_mel_values, mel_value_range


@pytest.fixture(scope="module")
def mel():
    return demo_mel(0)  # (80, 145) real speech, demo-16k


def refused(path, features=DEMO, **kw) -> str:
    with pytest.raises(InputError) as info:
        load_mel(path, features, **kw)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path)), text
    return text


# ---------------------------------------------------------------------------------------------- formats


def test_npy_both_orientations_and_batch_of_one(tmp_path, mel):
    np.save(tmp_path / "a.npy", mel)
    np.save(tmp_path / "b.npy", mel.T)
    np.save(tmp_path / "c.npy", mel[None])
    np.save(tmp_path / "d.npy", mel.T[None].astype(np.float64))
    for name in "abcd":
        got, f0 = load_mel(tmp_path / f"{name}.npy", DEMO)
        assert got.dtype == np.float32 and got.shape == (N_MELS, mel.shape[1]) and f0 is None
        np.testing.assert_array_equal(got, mel)


def test_square_mel_is_taken_as_n_mels_by_frames(tmp_path, mel):
    square = np.ascontiguousarray(mel[:, :N_MELS])
    np.save(tmp_path / "sq.npy", square)
    np.testing.assert_array_equal(load_mel(tmp_path / "sq.npy", DEMO)[0], square)


def test_npz_with_f0_and_matching_metadata(tmp_path, mel):
    f0 = np.linspace(100, 200, mel.shape[1]).astype(np.float32)
    np.savez(tmp_path / "a.npz", mel=mel, f0=f0, sample_rate=16000, hop=160, preset="demo-16k", log="ln")
    got, got_f0 = load_mel(tmp_path / "a.npz", DEMO)
    np.testing.assert_array_equal(got, mel)
    np.testing.assert_array_equal(got_f0, f0)
    assert load_mel(tmp_path / "a.npz", DEMO, with_f0=False)[1] is None
    np.savez(tmp_path / "single.npz", mel.T)  # one unnamed array (arr_0)
    np.testing.assert_array_equal(load_mel(tmp_path / "single.npz", DEMO)[0], mel)


@pytest.mark.parametrize(
    "meta, words",
    [
        ({"sample_rate": 22050}, ["sample_rate 22050", "expects 16000"]),
        ({"hop": 256}, ["hop 256", "expects 160"]),
        ({"log": "log10"}, ["log log10", "expects ln"]),
        ({"preset": "hifigan-22k"}, ["preset hifigan-22k", "expects demo-16k", "sample_rate 22050 vs 16000"]),
        ({"preset": "no-such"}, ["unknown preset 'no-such'"]),
    ],
)
def test_npz_metadata_mismatch_is_refused(tmp_path, mel, meta, words):
    np.savez(tmp_path / "m.npz", mel=mel, **meta)
    text = refused(tmp_path / "m.npz")
    for word in words:
        assert word in text, text


def test_npz_preset_is_compared_value_by_value(tmp_path, mel):
    # the user's case: a 22.05 kHz HiFi-GAN mel (80 bins, ln, clamp 1e-5 like demo-16k) for a 16 kHz model
    np.savez(tmp_path / "hifigan.npz", mel=mel, preset="hifigan-22k")
    assert refused(tmp_path / "hifigan.npz") == (
        f"{tmp_path / 'hifigan.npz'}: made with preset hifigan-22k (22050 Hz, hop 256), the model expects demo-16k "
        "(16000 Hz, hop 160): sample_rate 22050 vs 16000, hop 256 vs 160, win_length 1024 vs 640"
    )
    # keys stored beside a preset override its values, for the comparison too
    np.savez(tmp_path / "override.npz", mel=mel, preset="demo-16k", win_length=1024)
    assert "made with preset demo-16k with win_length changed (16000 Hz, hop 160)" in refused(tmp_path / "override.npz")
    # a model whose features spell out a preset's values without its name takes files of that preset
    spelled = resolve_features({k: v for k, v in PRESETS["demo-16k"].items()})
    assert spelled.preset is None
    np.testing.assert_array_equal(load_mel(tmp_path / "override.npz", {**PRESETS["demo-16k"], "win_length": 1024})[0],
                                  mel)
    np.savez(tmp_path / "ok.npz", mel=mel, preset="demo-16k")
    np.testing.assert_array_equal(load_mel(tmp_path / "ok.npz", spelled)[0], mel)


@pytest.mark.parametrize(
    "meta, ok",
    [
        ({"mel_norm": "slaney", "mel_scale": "slaney", "pad_mode": "reflect"}, True),
        ({"mel_norm": "none"}, False),
        ({"mel_scale": "htk"}, False),
        ({"pad_mode": "constant"}, False),
        ({"fmax": 8000.0, "win_length": 640, "clamp": 1e-5 * (1 + 1e-9)}, True),  # numbers to a relative 1e-6
    ],
)
def test_npz_metadata_keys_beyond_the_preset(tmp_path, mel, meta, ok):
    np.savez(tmp_path / "m.npz", mel=mel, **meta)
    if ok:
        np.testing.assert_array_equal(load_mel(tmp_path / "m.npz", DEMO)[0], mel)
    else:
        key = next(iter(meta))
        assert f"made with {key} " in refused(tmp_path / "m.npz")
    vocos = resolve_features({"preset": "vocos-24k"})  # mel_norm None is stored as "none"
    np.savez(tmp_path / "v.npz", mel=demo_mel(0, vocos), mel_norm="none", preset="vocos-24k")
    assert load_mel(tmp_path / "v.npz", vocos)[0].shape[0] == vocos.n_mels


def test_pt_tensor_and_dict(tmp_path, mel):
    torch.save(torch.from_numpy(mel), tmp_path / "a.pt")
    torch.save(torch.from_numpy(mel.T.copy()).unsqueeze(0).to(torch.bfloat16), tmp_path / "b.pt")
    f0 = torch.full((mel.shape[1],), 150.0)
    torch.save({"mel": torch.from_numpy(mel), "f0": f0, "sample_rate": 16000}, tmp_path / "c.pt")
    np.testing.assert_array_equal(load_mel(tmp_path / "a.pt", DEMO)[0], mel)
    bf16 = load_mel(tmp_path / "b.pt", DEMO)[0]
    assert bf16.shape == mel.shape and np.max(np.abs(bf16 - mel)) < 0.05  # bfloat16 keeps 8 bits
    got, got_f0 = load_mel(tmp_path / "c.pt", DEMO)
    np.testing.assert_array_equal(got, mel)
    np.testing.assert_array_equal(got_f0, np.full(mel.shape[1], 150.0, dtype=np.float32))


class _WritesMarker:
    """Unpickling this runs ``exec`` of code that writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('pwned')",)


def test_pt_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "marker.txt"
    torch.save({"mel": _WritesMarker(marker)}, tmp_path / "evil.pt")
    text = refused(tmp_path / "evil.pt")
    assert "refused to load .pt file" in text and text.endswith("(it would call exec)")
    assert not marker.exists()


# --------------------------------------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    "array, words",
    [
        (np.zeros(100, np.float32) - 5, ["1-D array", "(100,)"]),
        (np.zeros((N_MELS, 0), np.float32), ["0 frames"]),
        (np.zeros((0, N_MELS), np.float32), ["0 frames"]),
        (np.zeros((3, N_MELS, 10), np.float32) - 5, ["batch of 3"]),
        (np.full((N_MELS, 20), -5, np.int16), ["dtype int16", "not log-mels"]),
        (np.full((N_MELS, 20), -5, np.float32) + np.where(np.arange(20) == 7, np.nan, 0)[None], ["80 NaN/Inf"]),
        (np.full((N_MELS, 20), 1e39, np.float64), ["NaN/Inf", "beyond float32"]),
        (np.full((100, 20), -5, np.float32), ["shape (100, 20)", "no axis of 80 bins", "demo-16k: 80 mels"]),
        (np.array(["a", "b"]), ["dtype <U1"]),
    ],
)
def test_bad_arrays_give_one_line_errors_naming_the_file(tmp_path, array, words):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    text = refused(path)
    for word in words:
        assert word in text, text


def test_nan_counted_once_per_value(tmp_path, mel):
    bad = mel.copy()
    bad[3, 5] = np.nan
    bad[4, 9] = np.inf
    np.save(tmp_path / "nan.npy", bad)
    assert "2 NaN/Inf values" in refused(tmp_path / "nan.npy")


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", ["cannot read .npz"]),
        (b"PK\x03\x04 definitely not a zip archive" * 3, ["cannot read .npz"]),
    ],
)
def test_corrupt_npz(tmp_path, content, words):
    (tmp_path / "c.npz").write_bytes(content)
    text = refused(tmp_path / "c.npz")
    for word in words:
        assert word in text, text


def test_truncated_npz_npy_and_pt(tmp_path, mel):
    np.savez(tmp_path / "t.npz", mel=mel)
    np.save(tmp_path / "t.npy", mel)
    torch.save(torch.from_numpy(mel), tmp_path / "t.pt")
    for name in ("t.npz", "t.npy", "t.pt"):
        data = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
        assert "cannot read" in refused(tmp_path / name)
    np.savez(tmp_path / "two.npz", a=mel, b=mel)
    assert "no 'mel' array (keys: a, b)" in refused(tmp_path / "two.npz")
    np.save(tmp_path / "obj.npy", np.array([{"mel": 1}], dtype=object), allow_pickle=True)
    assert "cannot read .npy" in refused(tmp_path / "obj.npy")
    (tmp_path / "x.txt").write_text("1 2 3")
    assert "unknown mel file type '.txt'" in refused(tmp_path / "x.txt")
    assert refused(tmp_path / "missing.npy").endswith("no such file")


# ------------------------------------------------------------------------------------------ value range


def test_range_numbers_for_demo_16k():
    rng = mel_value_range(DEMO)
    floor = math.log(1e-5)
    assert rng.low.shape == (N_MELS,) and np.allclose(rng.low, floor - 1.0)
    assert np.allclose(rng.floor, floor) and rng.log_clamp == pytest.approx(floor)
    assert 3.0 < rng.high.max() < 4.0 and -2.5 < rng.mean_limit < -1.0
    assert rng.label == "demo-16k ln(clamp 1e-5)"


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_full_scale_signals_stay_below_the_ceiling(preset):
    features = resolve_features({"preset": preset})
    rng = mel_value_range(features)
    headroom = math.log(2.0) if features.log == "ln" else math.log10(2.0)
    sr = features.sample_rate
    t = np.arange(sr // 2) / sr
    chirp = np.sin(2 * np.pi * (50 * t + (sr / 2 - 100) * t**2)).astype(np.float32)  # 50 Hz .. Nyquist
    square = np.sign(np.sin(2 * np.pi * 1000 * t) + 1e-9).astype(np.float32)
    for wav in (chirp, square):
        top = log_mel_numpy(wav, features).max()
        assert top <= rng.high.max() - headroom + 1e-4  # the bound itself holds, headroom aside
        assert top >= rng.high.max() - headroom - 2.5  # and is not loose by more than ~2.5 nats


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_real_speech_of_every_preset_is_accepted(preset):
    features = resolve_features({"preset": preset})
    rng = mel_value_range(features)
    for index in range(0, len(DEMO_WAVS), 23):  # 6 files
        for gain, silence in ((1.0, 0.0), (0.01, 0.0), (1.0 / np.abs(demo_audio(index)).max(), 0.3)):
            mel = demo_mel(index, features, gain, silence)
            check_mel_values(mel, features, "speech")
            assert mel.mean() < rng.mean_limit - 1.0  # real speech stays far below the normalised-mel limit


def _save(tmp_path, name, mel):
    np.save(tmp_path / name, mel.astype(np.float32))
    return tmp_path / name


def test_wrong_log_base_is_refused(tmp_path):
    log10 = resolve_features({"preset": "demo-16k", "log": "log10"})
    text = refused(_save(tmp_path, "log10.npy", demo_mel(1, log10, silence=0.3)))
    assert "look like log10(clamp 1e-5) mels" in text
    assert "the model expects demo-16k ln(clamp 1e-5) log-mels" in text
    # an ln mel fed to a log10 model (pwg-24k) leaves its range
    pwg = resolve_features({"preset": "pwg-24k"})
    ln_mel = demo_mel(1, resolve_features({"preset": "pwg-24k", "log": "ln"}))
    text = refused(_save(tmp_path, "ln.npy", ln_mel), pwg)
    assert "pwg-24k log10(clamp 1e-10)" in text


def test_other_clamp_and_scales_are_refused(tmp_path):
    ln10 = resolve_features({"preset": "demo-16k", "clamp": 1e-10})
    text = refused(_save(tmp_path, "c10.npy", demo_mel(2, ln10, silence=0.3)))
    assert "values -23.0.." in text and "look like ln(clamp 1e-10) mels" in text
    raw = demo_mel(2)
    assert "look like linear (not log) mel magnitudes" in refused(_save(tmp_path, "lin.npy", np.exp(raw)))
    normalised = (raw - raw.mean(1, keepdims=True)) / raw.std(1, keepdims=True)
    assert "look like mean/std-normalised mels" in refused(_save(tmp_path, "z.npy", normalised))
    db = 20 * np.log10(np.maximum(np.exp(demo_mel(2, silence=0.3)), 1e-5))
    assert "values -100.0..10.5 (mean -61.6) look like decibel (floor -100 dB) mels" in refused(
        _save(tmp_path, "db.npy", db)
    )


def test_model_with_normalisation_checks_per_bin(tmp_path):
    raw = demo_mel(3)
    features = resolve_features({
        "preset": "demo-16k", "mean": raw.mean(1).tolist(), "std": raw.std(1).tolist(),
    })
    normalised = (raw - raw.mean(1, keepdims=True)) / raw.std(1, keepdims=True)
    np.testing.assert_allclose(load_mel(_save(tmp_path, "z.npy", normalised), features)[0], normalised, atol=1e-6)
    text = refused(_save(tmp_path, "raw.npy", raw), features)
    assert "without the model's mean/std normalisation" in text and "mean/std-normalised log-mels" in text


def test_small_undershoot_is_accepted_and_raised_to_the_floor(tmp_path, mel):
    floor = np.float32(math.log(1e-5))
    under = mel.copy()
    under[-5:, :10] = floor - 0.8  # a predicted mel a bit below the clamp
    got = load_mel(_save(tmp_path, "u.npy", under), DEMO)[0]
    assert got.min() == floor
    np.testing.assert_array_equal(got[:-5], mel[:-5])
    under[-5:, :10] = floor - 1.2
    assert "values -12.7.." in refused(_save(tmp_path, "u2.npy", under))


# ------------------------------------------------------------------------------------------------- F0


def test_f0_length_rule():
    f0 = np.array([0, 100, 110, 120, 130], np.float32)
    np.testing.assert_array_equal(fit_f0(f0, 5, "x"), f0)
    np.testing.assert_array_equal(fit_f0(f0, 3, "x"), f0[:3])  # 2 extra frames trimmed
    np.testing.assert_array_equal(fit_f0(f0, 7, "x"), [0, 100, 110, 120, 130, 130, 130])  # padded with the last
    np.testing.assert_array_equal(fit_f0(f0[None, None].astype(np.int32), 5, "x"), f0)
    for frames in (2, 8):
        with pytest.raises(InputError, match=r"^x: F0 has 5 frames, the mel has \d"):
            fit_f0(f0, frames, "x")


@pytest.mark.parametrize(
    "f0, words",
    [
        (np.array([0, -3, 100.0]), ["negative values", "use 0 Hz"]),
        (np.array([0, np.nan, 100.0]), ["NaN/Inf"]),
        (np.array([0, 4.6, 5.3]), ["below 15 Hz", "log-F0"]),
        (np.ones((2, 3)), ["shape (2, 3)"]),
        (np.array([True, False, True]), ["dtype bool"]),
    ],
)
def test_bad_f0(f0, words):
    with pytest.raises(InputError) as info:
        fit_f0(f0, 3, "name.f0.npy")
    text = str(info.value)
    assert text.startswith("name.f0.npy: ") and "\n" not in text
    for word in words:
        assert word in text, text


def test_f0_sources_npz_and_sibling(tmp_path, mel):
    frames = mel.shape[1]
    sibling = np.linspace(90, 180, frames + 1).astype(np.float32)  # one frame long: trimmed
    np.save(tmp_path / "a.npy", mel)
    np.save(tmp_path / "a.f0.npy", sibling)
    got_mel, got_f0 = load_mel(tmp_path / "a.npy", DEMO)
    np.testing.assert_array_equal(got_f0, sibling[:frames])
    assert load_mel(tmp_path / "a.npy", DEMO, with_f0=False)[1] is None
    np.save(tmp_path / "b.npy", mel)
    assert load_mel(tmp_path / "b.npy", DEMO)[1] is None  # no F0 anywhere: None, the caller decides
    np.save(tmp_path / "b.f0.npy", -sibling)
    with pytest.raises(InputError, match=r"b\.f0\.npy: F0 has negative values \(min -180\)"):
        load_mel(tmp_path / "b.npy", DEMO)
    # an .npz f0 wins over a sibling file
    np.savez(tmp_path / "a.npz", mel=mel, f0=np.full(frames, 123.0))
    np.testing.assert_array_equal(load_mel(tmp_path / "a.npz", DEMO)[1], np.full(frames, 123.0, np.float32))
    np.savez(tmp_path / "c.npz", mel=mel, f0=np.full(frames + 3, 123.0))
    assert "(key 'f0'): F0 has 148 frames, the mel has 145" in refused(tmp_path / "c.npz")


def test_f0_from_reference_audio(tmp_path, mel):
    audio = demo_audio(0)
    (tmp_path / "ref" / "spk").mkdir(parents=True)
    sf.write(tmp_path / "ref" / "spk" / "a.wav", audio, SR, subtype="FLOAT")
    sf.write(tmp_path / "ref" / "b.flac", audio, SR)
    found = find_reference_audio(tmp_path / "ref", "spk/a.npy")
    assert found == tmp_path / "ref" / "spk" / "a.wav"
    assert find_reference_audio(tmp_path / "ref", "other/b.npz") == tmp_path / "ref" / "b.flac"
    assert find_reference_audio(tmp_path / "ref", "c.npy") is None
    f0 = f0_from_audio(found, DEMO, frames=mel.shape[1])
    want = extract_f0(audio, SR, HOP, DEMO.f0_min, DEMO.f0_max, DEMO.f0_method)
    assert f0.shape == (mel.shape[1],) == want.shape
    np.testing.assert_array_equal(f0, want)
    voiced = f0[f0 > 0]
    assert voiced.size > 0.3 * f0.size and 140 < np.median(voiced) < 300  # the demo voice is female


def test_audio_input_for_copy_synthesis(tmp_path):
    audio = demo_audio(4)
    sf.write(tmp_path / "a.wav", audio[: 10 * HOP + 37], SR, subtype="FLOAT")
    mel, f0 = load_audio_input(tmp_path / "a.wav", DEMO, with_f0=True)
    assert mel.shape == (N_MELS, 10) and f0.shape == (10,)
    np.testing.assert_allclose(mel, log_mel_numpy(audio[: 10 * HOP], DEMO), atol=1e-5)
    sf.write(tmp_path / "short.wav", audio[:100], SR, subtype="FLOAT")
    with pytest.raises(InputError, match=r"short\.wav: waveform of 100 samples is shorter than one hop"):
        load_audio_input(tmp_path / "short.wav", DEMO)


def test_inputs_module_does_not_import_torch():
    modules = ("mel_files", "f0_inputs", "copy_synthesis", "value_ranges", "mel_settings", "checks", "array_files")
    code = f"import sys, {', '.join(f'vocoder.infer.{m}' for m in modules)}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
