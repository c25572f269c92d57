"""Batch synthesis and ``vocoder synthesize``: folders, per-file errors, F0 sources, copy synthesis, ONNX."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from helpers_synth import DEMO, HOP, ROOT, SR, demo_audio, demo_mel, make_demo_checkpoint

import vocoder
from vocoder.audio.f0 import extract_f0
from vocoder.cli import main
from vocoder.infer.synthesize import collect_inputs, synthesize_files


@pytest.fixture(scope="module")
def istftnet(tmp_path_factory):
    return make_demo_checkpoint(tmp_path_factory.mktemp("ckpt") / "istftnet", "istftnet")


@pytest.fixture(scope="module")
def wavehax(tmp_path_factory):
    return make_demo_checkpoint(tmp_path_factory.mktemp("ckpt") / "wavehax", "wavehax")


@pytest.fixture(scope="module")
def mels():
    return [demo_mel(i) for i in (0, 5, 9)]


def wav_frames(path) -> tuple[int, int]:
    info = sf.info(path)
    return info.frames, info.samplerate


def test_cli_batch_with_one_bad_file(tmp_path, istftnet, mels, capsys):
    folder = tmp_path / "mels"
    (folder / "spk").mkdir(parents=True)
    np.save(folder / "a.npy", mels[0])
    np.save(folder / "spk" / "b.npy", mels[1].T)
    np.savez(folder / "c.npz", mel=mels[2])
    bad = mels[0].copy()
    bad[2, 3] = np.nan
    np.save(folder / "bad.npy", bad)
    code = main(["synthesize", str(istftnet), str(folder), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 1
    problem = "mel has 1 NaN/Inf values (or values beyond float32)"
    assert err.strip().splitlines() == [f"error: {folder / 'bad.npy'}: {problem}"]
    assert "Traceback" not in err
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.wav"))
    assert written == ["a.wav", "c.wav", "spk/b.wav"]
    for name, mel in (("a.wav", mels[0]), ("spk/b.wav", mels[1]), ("c.wav", mels[2])):
        assert wav_frames(tmp_path / "out" / name) == (mel.shape[1] * HOP, SR)
    seconds = sum(m.shape[1] for m in mels) * HOP / SR
    assert out.strip() == f"wrote 3 wav file(s), {seconds:.1f} s of audio, to {tmp_path / 'out'}; 1 failed"
    assert not [p for p in (tmp_path / "out").rglob(".*")]  # no temporary files left


def test_written_audio_is_the_model_output(tmp_path, istftnet, mels):
    np.save(tmp_path / "a.npy", mels[0])
    summary = synthesize_files(istftnet, [tmp_path / "a.npy"], tmp_path / "out", progress=False)
    assert summary.ok and summary.written == [tmp_path / "out" / "a.wav"]
    got, _ = sf.read(tmp_path / "out" / "a.wav", dtype="float32")
    want = vocoder.load(istftnet).synthesize(mels[0])
    assert np.abs(want).max() > 0.01
    np.testing.assert_allclose(got, np.clip(want, -1, 1), atol=1.5 / 32768)


def test_all_good_exit_zero_and_missing_inputs(tmp_path, istftnet, mels, capsys):
    np.save(tmp_path / "a.npy", mels[0])
    assert main(["synthesize", str(istftnet), str(tmp_path / "a.npy"), "--out", str(tmp_path / "o1")]) == 0
    assert capsys.readouterr().err == ""
    (tmp_path / "empty").mkdir()
    code = main(["synthesize", str(istftnet), str(tmp_path / "nope.npy"), str(tmp_path / "empty"),
                 str(tmp_path / "a.npy"), "--out", str(tmp_path / "o2")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and (tmp_path / "o2" / "a.wav").is_file()
    assert err == [
        f"error: {tmp_path / 'nope.npy'}: no such file or folder",
        f"error: {tmp_path / 'empty'}: no mel files (.npy, .npz, .pt) in this folder",
    ]


def test_bad_model_is_one_line(tmp_path, mels, capsys):
    np.save(tmp_path / "a.npy", mels[0])
    code = main(["synthesize", str(tmp_path / "no-model"), str(tmp_path / "a.npy"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "no-model" in err and "Traceback" not in err


def test_name_collisions_keep_subfolders(tmp_path, istftnet, mels):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        np.save(tmp_path / folder / "same.npy", mels[0])
    np.save(tmp_path / "x" / "other.npy", mels[1])
    summary = synthesize_files(istftnet, [tmp_path / "x", tmp_path / "y"], tmp_path / "out", progress=False)
    assert summary.ok
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in summary.written) == [
        "x/other.wav", "x/same.wav", "y/same.wav",
    ]
    # without a collision, names stay flat; a folder and a file inside it are one input
    jobs, problems = collect_inputs([tmp_path / "x", tmp_path / "x" / "same.npy"])
    assert not problems and sorted(j.output.as_posix() for j in jobs) == ["other.wav", "same.wav"]
    # same stem, same folder: the second input is an error, the first is written
    np.savez(tmp_path / "x" / "other.npz", mel=mels[1])
    messages = []
    summary = synthesize_files(istftnet, [tmp_path / "x"], tmp_path / "out2", progress=False, report=messages.append)
    assert [p.name for p in summary.written] == ["other.wav", "same.wav"]
    assert messages == [
        f"error: {tmp_path / 'x' / 'other.npz'}: would write the same other.wav as {tmp_path / 'x' / 'other.npy'}; "
        "rename one of them"
    ]


def test_f0_model_sources(tmp_path, wavehax):
    frames = [demo_mel(i).shape[1] for i in (0, 1, 2)]
    audio = {i: demo_audio(i) for i in (0, 1, 2)}
    f0 = {i: extract_f0(audio[i], SR, HOP, DEMO.f0_min, DEMO.f0_max, DEMO.f0_method) for i in audio}
    mels_dir, ref_dir = tmp_path / "mels", tmp_path / "ref"
    mels_dir.mkdir()
    ref_dir.mkdir()
    np.savez(mels_dir / "a.npz", mel=demo_mel(0), f0=f0[0])  # F0 inside the file
    np.save(mels_dir / "b.npy", demo_mel(1))
    np.save(mels_dir / "b.f0.npy", f0[1])  # sibling F0 (not taken as a mel)
    np.save(mels_dir / "c.npy", demo_mel(2))  # no F0 at all
    messages = []
    summary = synthesize_files(wavehax, [mels_dir], tmp_path / "out", progress=False, report=messages.append)
    assert [p.name for p in summary.written] == ["a.wav", "b.wav"]
    assert wav_frames(tmp_path / "out" / "b.wav") == (frames[1] * HOP, SR)
    assert len(messages) == 1 and messages[0].startswith(f"error: {mels_dir / 'c.npy'}: the model needs F0 (wavehax)")
    # the same F0 from the file or from reference audio gives the same waveform
    sf.write(ref_dir / "c.wav", audio[2], SR, subtype="FLOAT")
    np.save(mels_dir / "c.f0.npy", f0[2])
    synthesize_files(wavehax, [mels_dir / "c.npy"], tmp_path / "sib", progress=False)
    messages.clear()
    summary = synthesize_files(
        wavehax, [mels_dir / "c.npy"], tmp_path / "ref_out", f0_from_audio=ref_dir, progress=False,
        report=messages.append,
    )
    assert summary.ok and not messages
    from_ref, _ = sf.read(tmp_path / "ref_out" / "c.wav", dtype="float32")
    from_sibling, _ = sf.read(tmp_path / "sib" / "c.wav", dtype="float32")
    assert len(from_ref) == frames[2] * HOP and np.abs(from_ref).max() > 1e-3
    np.testing.assert_array_equal(from_ref, from_sibling)
    # --f0-from-audio without the reference file
    summary = synthesize_files(
        wavehax, [mels_dir / "b.npy"], tmp_path / "o3", f0_from_audio=ref_dir, progress=False, report=messages.append
    )
    assert not summary.ok and f"--f0-from-audio {ref_dir} has no b.wav/.flac/.ogg" in messages[-1]


def test_copy_synthesis_from_audio(tmp_path, istftnet, wavehax, capsys):
    (tmp_path / "audio").mkdir()
    lengths = {"a": 5000 + 17, "b": 7 * HOP}
    for i, (name, length) in enumerate(lengths.items()):
        sf.write(tmp_path / "audio" / f"{name}.wav", demo_audio(i)[:length], SR, subtype="PCM_16")
    # a 24 kHz file is resampled to the model rate first
    sf.write(tmp_path / "audio" / "c.flac", demo_audio(2, 24000)[:9000], 24000)
    for model in (istftnet, wavehax):
        out = tmp_path / f"out_{model.name}"
        assert main(["synthesize", str(model), str(tmp_path / "audio"), "--from-audio", "--out", str(out)]) == 0
        assert wav_frames(out / "a.wav") == (5000 // HOP * HOP, SR)
        assert wav_frames(out / "b.wav") == (7 * HOP, SR)
        assert wav_frames(out / "c.wav") == (6000 // HOP * HOP, SR)
    assert "error" not in capsys.readouterr().err


def test_onnx_model_without_torch(tmp_path, istftnet, mels):
    from vocoder.infer.onnx_export import export_onnx

    onnx_path = tmp_path / "m.onnx"
    export_onnx(istftnet, onnx_path)
    np.save(tmp_path / "a.npy", mels[0])
    code = (
        "import sys; from vocoder.infer.synthesize import synthesize_files; "
        f"s = synthesize_files({str(onnx_path)!r}, [{str(tmp_path / 'a.npy')!r}], {str(tmp_path / 'onnx')!r}, "
        "progress=False); print(s.ok, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]
    synthesize_files(istftnet, [tmp_path / "a.npy"], tmp_path / "torch", progress=False)
    on_onnx, _ = sf.read(tmp_path / "onnx" / "a.wav", dtype="float32")
    on_torch, _ = sf.read(tmp_path / "torch" / "a.wav", dtype="float32")
    assert len(on_onnx) == mels[0].shape[1] * HOP
    np.testing.assert_allclose(on_onnx, on_torch, atol=2 / 32768)


def test_mel_preset_declares_what_the_mel_files_are(tmp_path, istftnet, mels, capsys):
    np.save(tmp_path / "a.npy", mels[0])
    out = tmp_path / "out"
    # a 22.05 kHz HiFi-GAN mel has demo-16k's 80 bins and log: only the declaration tells them apart
    args = ["synthesize", str(istftnet), str(tmp_path / "a.npy"), "--out", str(out)]
    code = main([*args, "--mel-preset", "hifigan-22k"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == [
        "error: --mel-preset: made with preset hifigan-22k (22050 Hz, hop 256), the model expects demo-16k "
        "(16000 Hz, hop 160): sample_rate 22050 vs 16000, hop 256 vs 160, win_length 1024 vs 640"
    ]
    assert not out.exists()  # refused before any file is read or written
    for flag in ("--mel-preset", "--preset"):  # --preset is the same option
        assert main(["synthesize", str(istftnet), str(tmp_path / "a.npy"), "--out", str(out), flag, "demo-16k"]) == 0
    assert capsys.readouterr().err == "" and (out / "a.wav").is_file()
    for extra, words in (
        (["--mel-preset", "nope"], "--mel-preset nope: unknown mel preset (known: hifigan-22k, "),
        (["--mel-preset", "demo-16k", "--from-audio"], "--mel-preset says what the mel files are; with --from-audio"),
    ):
        code = main(["synthesize", str(istftnet), str(tmp_path / "a.npy"), "--out", str(out), *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and err[0].startswith(f"error: {words}"), err


def test_synthesize_help_documents_the_npz_metadata_and_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["synthesize", "--help"])
    text = capsys.readouterr().out
    assert "examples:\n  vocoder synthesize " in text and "--mel-preset NAME" in text
    for key in ("'preset'", "'sample_rate'", "'hop'", "'win_length'", "'mel_norm'", "'f0'"):
        assert key in text, key
