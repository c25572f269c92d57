"""``vocoder.features`` and ``vocoder features``: mels (and F0) matched to a model or preset, written as
``.npz`` files that ``vocoder synthesize`` reads back with their metadata checked."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import soundfile as sf
from helpers_synth import DEMO, DEMO_WAVS, HOP, SR, demo_audio, make_demo_checkpoint

import vocoder
from vocoder.audio.f0 import extract_f0
from vocoder.audio.io import read_audio
from vocoder.audio.mel_numpy import log_mel_numpy
from vocoder.audio.mel_presets import resolve_features
from vocoder.cli import main
from vocoder.errors import AudioError, InputError
from vocoder.infer.feature_files import feature_metadata, write_feature_files
from vocoder.infer.mel_files import METADATA_KEYS, load_mel


@pytest.fixture(scope="module")
def wavehax(tmp_path_factory):
    return make_demo_checkpoint(tmp_path_factory.mktemp("ckpt") / "wavehax", "wavehax")


def test_features_of_a_file_for_a_model_with_f0(wavehax):
    voc = vocoder.load(wavehax)
    got = vocoder.features(DEMO_WAVS[0], voc)
    audio = demo_audio(0)
    np.testing.assert_array_equal(got["mel"], log_mel_numpy(audio, DEMO))
    assert got["mel"].shape == (80, len(audio) // HOP) and got["mel"].dtype == np.float32
    np.testing.assert_array_equal(got["f0"], extract_f0(audio, SR, HOP, DEMO.f0_min, DEMO.f0_max, DEMO.f0_method))
    assert got["preset"] == "demo-16k" and got["sample_rate"] == 16000 and got["win_length"] == 640
    assert set(got) == {"mel", "f0", "preset", *METADATA_KEYS}
    assert vocoder.features(DEMO_WAVS[0], wavehax)["mel"].shape == got["mel"].shape  # a model path works too


def test_features_of_an_array_by_preset_and_rate():
    audio = demo_audio(3, 24000)
    got = vocoder.features(audio, "hifigan-22k", sample_rate=24000)
    hifigan = resolve_features({"preset": "hifigan-22k"})
    assert "f0" not in got and got["preset"] == "hifigan-22k" and got["sample_rate"] == 22050
    assert got["mel"].shape == (80, len(read_audio(DEMO_WAVS[3], 22050)) // 256)
    assert abs(got["mel"].shape[1] - round(len(audio) / 24000 * 22050 / 256)) <= 1
    assert "f0" in vocoder.features(audio, hifigan, sample_rate=24000, f0=True)
    # no preset name unless every value is the preset's; None values are written as load_mel reads them
    custom = feature_metadata({"preset": "vocos-24k", "fmax": 8000.0})
    assert "preset" not in custom and custom["fmax"] == 8000.0 and custom["mel_norm"] == "none"
    assert feature_metadata({"preset": "vocos-24k"})["fmax"] == 12000.0


@pytest.mark.parametrize(
    "wav, target, words",
    [
        (np.zeros(16000, np.float32), "demo-16k", "wav: audio is silent (peak below -80 dBFS)"),
        (np.ones((2, 100), np.float32) * 0.1, "demo-16k", "wav: audio of shape (2, 100); expected a mono"),
        (np.full(50, 0.1, np.float32), "demo-16k", "wav: waveform of 50 samples is shorter than one hop (160"),
        (np.full(1600, 1, np.int16), "demo-16k", "wav: audio has dtype int16"),
        (np.full(1600, 0.1, np.float32), "demo-16", "demo-16: neither a mel preset (hifigan-22k, "),
        (DEMO_WAVS[0], "missing-model", "missing-model: neither a mel preset"),
    ],
)
def test_bad_features_inputs_are_one_line(wav, target, words):
    with pytest.raises((InputError, AudioError)) as err:
        vocoder.features(wav, target)
    assert str(err.value).startswith(words) and "\n" not in str(err.value), str(err.value)


def test_features_command_round_trip_into_synthesize(tmp_path, wavehax, capsys):
    audio_dir = tmp_path / "audio"
    (audio_dir / "spk").mkdir(parents=True)
    sf.write(audio_dir / "a.wav", demo_audio(0), SR, subtype="FLOAT")
    sf.write(audio_dir / "spk" / "b.flac", demo_audio(1, 24000), 24000)  # resampled to the model's rate
    feats = tmp_path / "feats"
    assert main(["features", str(audio_dir), "--out", str(feats), "--model", str(wavehax)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.strip().startswith("wrote 2 feature (.npz) file(s), ") and str(feats) in out
    assert sorted(p.relative_to(feats).as_posix() for p in feats.rglob("*")) == ["a.npz", "spk", "spk/b.npz"]
    with np.load(feats / "a.npz", allow_pickle=False) as data:  # no pickled objects: load_mel reads it
        assert set(data.files) == {"mel", "f0", "preset", *METADATA_KEYS}
        mel, f0 = data["mel"], data["f0"]
    got_mel, got_f0 = load_mel(feats / "a.npz", vocoder.load(wavehax).features)
    np.testing.assert_array_equal(got_mel, mel)
    np.testing.assert_array_equal(got_f0, f0)
    # synthesize reads the files back, F0 from the file, without a warning or an error line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["synthesize", str(wavehax), str(feats), "--out", str(tmp_path / "wavs")]) == 0
    assert capsys.readouterr().err == ""
    assert sf.info(tmp_path / "wavs" / "a.wav").frames == mel.shape[1] * HOP
    assert (tmp_path / "wavs" / "spk" / "b.wav").is_file()
    # the metadata refuses the files for a model of other features, naming both
    assert main(["features", str(audio_dir / "a.wav"), "--out", str(tmp_path / "f22"), "--preset", "hifigan-22k"]) == 0
    capsys.readouterr()
    assert main(["synthesize", str(wavehax), str(tmp_path / "f22"), "--out", str(tmp_path / "w22")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: {tmp_path / 'f22' / 'a.npz'}: made with preset hifigan-22k (22050 Hz, hop 256), the model expects "
        "demo-16k (16000 Hz, hop 160): sample_rate 22050 vs 16000, hop 256 vs 160, win_length 1024 vs 640"
    ]


def test_features_command_bad_inputs_one_line_each_good_files_written(tmp_path, capsys):
    sf.write(tmp_path / "good.wav", demo_audio(2), SR)
    sf.write(tmp_path / "silent.wav", np.zeros(SR, np.float32), SR)
    (tmp_path / "broken.flac").write_bytes(b"not audio at all")
    out = tmp_path / "out"
    code = main(["features", str(tmp_path / "good.wav"), str(tmp_path / "missing.wav"), str(tmp_path / "silent.wav"),
                 str(tmp_path / "broken.flac"), "--out", str(out), "--preset", "demo-16k"])
    stdout, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"error: {tmp_path / 'missing.wav'}: no such file or folder",
        f"error: {tmp_path / 'silent.wav'}: audio is silent (peak below -80 dBFS)",
        f"error: {tmp_path / 'broken.flac'}: cannot read audio (format not recognised)",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["good.npz"] and "; 3 failed" in stdout
    with np.load(out / "good.npz") as data:
        assert "f0" not in data.files and str(data["preset"]) == "demo-16k"


def test_features_command_refuses_an_unwritable_out_and_a_bad_preset(tmp_path, capsys):
    sf.write(tmp_path / "a.wav", demo_audio(2), SR)
    (tmp_path / "file").write_text("x")
    cases = [
        (["--out", str(tmp_path / "file"), "--preset", "demo-16k"], f"error: {tmp_path / 'file'}: not a folder"),
        (["--out", str(tmp_path / "o"), "--preset", "demo-16"], "error: --preset demo-16: unknown mel preset (known: "),
    ]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases.append((["--out", str(locked), "--preset", "demo-16k"], f"error: {locked}: cannot write"))
    for extra, start in cases:
        assert main(["features", str(tmp_path / "a.wav"), *extra]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(start), err
    with pytest.raises(SystemExit) as exit_:  # --preset or --model is required
        main(["features", str(tmp_path / "a.wav"), "--out", str(tmp_path / "o")])
    assert exit_.value.code == 2
    assert "one of the arguments --preset --model is required" in capsys.readouterr().err


def test_write_feature_files_reports_through_the_callback(tmp_path):
    sf.write(tmp_path / "a.wav", demo_audio(4)[: SR // 2], SR)
    messages = []
    summary = write_feature_files([tmp_path / "a.wav", tmp_path / "b.wav"], tmp_path / "o", preset="demo-16k",
                                  f0=True, progress=False, report=messages.append)
    assert summary.written == [tmp_path / "o" / "a.npz"] and not summary.ok
    assert messages == [f"error: {tmp_path / 'b.wav'}: no such file or folder"]
    with np.load(tmp_path / "o" / "a.npz") as data:
        assert data["f0"].shape == (data["mel"].shape[1],)
    assert not [p for p in (tmp_path / "o").iterdir() if p.name.startswith(".")]  # no temporary files left
