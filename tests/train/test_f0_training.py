"""`vocoder train-f0`: the predictor learns the cached F0 labels of real speech and lands in the model folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import vocoder
from vocoder.cli import main
from vocoder.models.f0_predictor import F0Predictor, load_f0_predictor
from vocoder.train.f0_training import _clips, _split_paths, predictor_loss, train_f0_predictor

ROOT = Path(__file__).resolve().parents[2]
CLIPS = sorted((ROOT / "recipes" / "demo" / "wavs").glob("*.flac"))[:20]  # 4 train, 8 valid, 8 test


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("f0data")
    for clip in CLIPS:
        shutil.copy(clip, folder / clip.name)
    return folder


@pytest.fixture()
def model(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "infer"))
    from tiny_models import make_checkpoint

    return make_checkpoint(tmp_path / "wavehax", "wavehax")


def _loss(predictor: F0Predictor, clips) -> float:
    with torch.no_grad():
        total = 0.0
        for clip in clips:
            log_f0, vuv = predictor(torch.from_numpy(clip.mel)[None])
            f0 = torch.from_numpy(clip.f0)[None]
            total += float(predictor_loss(log_f0, vuv, f0, torch.ones_like(f0, dtype=torch.bool))[0])
    return total / len(clips)


def test_training_lowers_the_loss_and_writes_the_predictor(model, data, tmp_path):
    record = train_f0_predictor(model, [data], steps=150, batch_size=8, segment_frames=48, lr=3e-3,
                                cache_dir=tmp_path / "cache", log=lambda _m: None)
    features = vocoder.load(model).features
    clips = _clips(_split_paths([data])["train"], features, tmp_path / "cache")
    assert record["train_clips"] == len(clips) > 0
    trained = load_f0_predictor(model)
    torch.manual_seed(0)
    fresh = F0Predictor(trained.cfg).eval()
    before, after = _loss(fresh, clips), _loss(trained, clips)
    assert after < 0.6 * before, (before, after)
    assert record["steps"] == 150 and record["valid"]["step"] == 150
    assert np.isfinite(record["valid"]["log_f0_l1"])
    # the model folder now synthesizes from the mel alone
    voc = vocoder.load(model)
    assert voc.predicts_f0
    assert voc.synthesize(clips[0].mel).shape == (clips[0].mel.shape[1] * voc.hop,)


def test_same_call_same_weights(model, data, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(model, other)
    for folder in (model, other):
        train_f0_predictor(folder, [data], steps=5, batch_size=2, segment_frames=16,
                           cache_dir=tmp_path / "cache", log=lambda _m: None)
    a, b = load_f0_predictor(model).state_dict(), load_f0_predictor(other).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_mistakes_are_one_line(model, data, tmp_path, capsys):
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "infer"))
    from tiny_models import make_checkpoint

    istft = make_checkpoint(tmp_path / "istft", "istftnet")
    cases = [
        ([str(tmp_path / "nowhere"), "--data", str(data)], "not a model folder"),
        ([str(istft), "--data", str(data)], "takes no F0"),
        ([str(model), "--data", str(tmp_path / "missing")], "no such folder"),
        ([str(model), "--data", str(data), "--steps", "0"], "must be positive"),
    ]
    for args, expected in cases:
        assert main(["train-f0", *args]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and expected in err and err.count("\n") == 1, err
    assert not (model / "f0_predictor.safetensors").exists()
