"""A Wavehax model folder with an F0 predictor synthesizes from the mel alone (API, streaming, CLI)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import make_checkpoint, mel_and_f0

import vocoder
from vocoder.errors import InputError
from vocoder.infer.streaming import stream
from vocoder.models.f0_predictor import F0Predictor, F0PredictorConfig, save_f0_predictor

PREDICTOR = F0PredictorConfig(n_mels=8, channels=8, layers=2, kernel=3, f0_min=60.0, f0_max=400.0)


def _with_predictor(folder):
    torch.manual_seed(0)
    p = F0Predictor(PREDICTOR)
    with torch.no_grad():  # random weights with F0 around 150 Hz and about half the frames voiced
        for q in p.parameters():
            q.normal_(0.0, 0.5)
        p.out.weight[0] *= 0.2
        p.out.bias.copy_(torch.tensor([np.log(150.0), 0.0]))
        _, vuv = p(torch.from_numpy(mel_and_f0(64, seed=9)[0][None]))
        p.out.bias[1] -= vuv.median()
    save_f0_predictor(folder, p, {"steps": 0})
    return folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return _with_predictor(make_checkpoint(tmp_path_factory.mktemp("wavehax_f0"), "wavehax"))


def test_no_f0_uses_the_predictor_and_says_so_once(folder, capsys):
    model = vocoder.load(folder)
    assert model.predicts_f0 and model.needs_f0
    mel, f0 = mel_and_f0(40)
    predicted = model.predict_f0(mel[None])[0]
    assert predicted.shape == (40,) and 0 < int((predicted > 0).sum()) < 40
    wav = model.synthesize(mel, seed=2)
    again = model.synthesize(mel, seed=2)
    err = capsys.readouterr().err
    assert err.count("note:") == 1 and "F0 from the model's predictor" in err
    np.testing.assert_array_equal(wav, again)
    np.testing.assert_allclose(wav, model.synthesize(mel, f0=predicted, seed=2), atol=1e-6, rtol=0)
    given = model.synthesize(mel, f0=f0, seed=2)  # F0 given explicitly wins
    assert np.abs(given - wav).max() > 1e-3


def test_f0_scale_multiplies_given_and_predicted_f0(folder):
    model = vocoder.load(folder)
    mel, f0 = mel_and_f0(30)
    np.testing.assert_allclose(
        model.synthesize(mel, f0=f0, seed=1, f0_scale=1.5), model.synthesize(mel, f0=f0 * 1.5, seed=1), atol=1e-6
    )
    predicted = model.predict_f0(mel[None])[0]
    np.testing.assert_allclose(
        model.synthesize(mel, seed=1, f0_scale=0.5), model.synthesize(mel, f0=predicted * 0.5, seed=1), atol=1e-6
    )
    for bad in (0, -1.0, float("nan"), "x"):
        with pytest.raises(InputError, match="f0_scale"):
            model.synthesize(mel, seed=1, f0_scale=bad)


def test_streaming_and_chunking_with_predicted_f0_equal_whole_synthesis(folder):
    model = vocoder.load(folder)
    assert model.f0_context == 2 and model.context.exact
    mel, _ = mel_and_f0(97, seed=4)
    whole = model.synthesize(mel, seed=5)
    for size in (1, 7, 40):
        chunks = [mel[:, i : i + size] for i in range(0, mel.shape[1], size)]
        joined = np.concatenate(list(stream(model, chunks, seed=5)))
        assert joined.shape == whole.shape
        np.testing.assert_allclose(joined, whole, atol=1e-5, rtol=0)
    model.chunk_frames = 20
    np.testing.assert_allclose(model.synthesize(mel, seed=5), whole, atol=1e-5, rtol=0)


def test_streaming_refuses_f0_with_some_chunks_only(folder):
    from vocoder.infer.streaming import StreamingSynthesizer

    model = vocoder.load(folder)
    mel, f0 = mel_and_f0(20)
    synth = StreamingSynthesizer(model, seed=0)
    synth.push(mel[:, :10], f0[:10])
    with pytest.raises(InputError, match="F0 was given with some chunks and not with others"):
        synth.push(mel[:, 10:])


def test_awkward_mels(folder):
    model = vocoder.load(folder)
    silent = np.full((8, 30), np.log(1e-5), dtype=np.float32)  # the clamp floor: nothing voiced expected
    assert model.synthesize(silent).shape == (30 * 32,)
    for frames in (1, 2, 3):
        mel, _ = mel_and_f0(frames)
        try:
            out = model.synthesize(mel)
        except InputError as err:  # too short for the generator: one line
            assert "\n" not in str(err)
        else:
            assert out.shape == (frames * 32,) and np.isfinite(out).all()
    mel, _ = mel_and_f0(20)
    mel[3, 4] = np.nan
    with pytest.raises(InputError) as err:
        model.synthesize(mel)
    assert "\n" not in str(err.value)


def test_model_without_predictor_still_needs_f0(tmp_path):
    model = vocoder.load(make_checkpoint(tmp_path / "plain", "wavehax"))
    assert not model.predicts_f0
    with pytest.raises(InputError, match="needs F0"):
        model.synthesize(mel_and_f0(20)[0])


def test_cli_synthesizes_mel_files_without_f0(folder, tmp_path, capsys):
    from vocoder.cli import main

    mels = tmp_path / "mels"
    mels.mkdir()
    for i in range(2):
        np.save(mels / f"m{i}.npy", mel_and_f0(25, seed=i)[0])
    assert main(["synthesize", str(folder), str(mels), "--out", str(tmp_path / "wavs"), "--f0-scale", "1.2"]) == 0
    err = capsys.readouterr().err
    assert err.count("F0 from the model's predictor") == 1
    assert sorted(p.name for p in (tmp_path / "wavs").iterdir()) == ["m0.wav", "m1.wav"]


def test_cli_f0_options_on_the_wrong_model_are_one_line(tmp_path, capsys):
    from vocoder.cli import main

    plain = make_checkpoint(tmp_path / "istft", "istftnet")
    np.save(tmp_path / "m.npy", mel_and_f0(25)[0])
    assert main(["synthesize", str(plain), str(tmp_path / "m.npy"), "--out", str(tmp_path / "o"),
                 "--f0-scale", "2"]) == 1
    assert "--f0-scale:" in capsys.readouterr().err
    wavehax = make_checkpoint(tmp_path / "wh", "wavehax")
    assert main(["synthesize", str(wavehax), str(tmp_path / "m.npy"), "--out", str(tmp_path / "o"),
                 "--predict-f0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --predict-f0:") and err.count("\n") == 1


def test_export_is_one_graph_mel_to_waveform(folder, tmp_path, capsys):
    from vocoder.infer.onnx_export import export_onnx, read_metadata

    report = export_onnx(folder, tmp_path / "m.onnx", check=True)
    assert report.inputs == ["mel", "noise", "phase", "f0_scale"] and report.max_diff <= 1e-4
    meta = read_metadata(tmp_path / "m.onnx")
    assert meta["vocoder.f0_predictor"] is True and meta["vocoder.inputs"] == report.inputs
    assert "predicts from the mel" in meta["vocoder.input.f0_scale"]
    onnx_voc, torch_voc = vocoder.load(tmp_path / "m.onnx"), vocoder.load(folder)
    assert onnx_voc.predicts_f0 and onnx_voc.f0_in_graph and onnx_voc.needs_f0
    mel, f0 = mel_and_f0(45, seed=3)
    for scale in (1.0, 1.3):
        np.testing.assert_allclose(
            onnx_voc.synthesize(mel, seed=4, f0_scale=scale), torch_voc.synthesize(mel, seed=4, f0_scale=scale),
            atol=1e-4, rtol=0,
        )
    assert capsys.readouterr().err.count("F0 from the model's predictor") == 2  # once per model
    with pytest.raises(InputError, match="predicts F0 from the mel and takes no F0 input"):
        onnx_voc.synthesize(mel, f0=f0)
    with pytest.raises(Exception, match="cannot stream"):
        list(stream(onnx_voc, [mel]))
    plain = export_onnx(folder, tmp_path / "f0.onnx", f0_input=True)
    assert plain.inputs == ["mel", "f0", "noise", "phase"]
    np.testing.assert_allclose(
        vocoder.load(tmp_path / "f0.onnx").synthesize(mel, f0=f0, seed=4), torch_voc.synthesize(mel, f0=f0, seed=4),
        atol=1e-4, rtol=0,
    )


def test_info_names_the_predictor(folder):
    from vocoder.summary import describe

    lines = [line for line in describe(folder).splitlines() if line.startswith("f0 predictor:")]
    assert lines == ["f0 predictor: 2 ConvNeXt-1D blocks x 8 ch, F0 60-400 Hz; trained 0 steps"]
