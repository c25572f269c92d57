"""The mel -> F0 predictor: shapes, its range, its reach (measured) and its files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from vocoder.errors import ModelError
from vocoder.models.f0_predictor import (
    F0Predictor,
    F0PredictorConfig,
    has_f0_predictor,
    load_f0_predictor,
    save_f0_predictor,
)

CFG = F0PredictorConfig(n_mels=8, channels=8, layers=2, kernel=3, f0_min=60.0, f0_max=400.0)


def _predictor(seed: int = 0) -> F0Predictor:
    torch.manual_seed(seed)
    p = F0Predictor(CFG)
    with torch.no_grad():  # unit-scale weights: voicing and F0 vary with the mel
        for q in p.parameters():
            q.normal_(0.0, 0.5)
    return p.eval()


@torch.no_grad()
def test_shapes_and_range():
    p = _predictor()
    mel = torch.randn(3, 8, 50) * 2 - 6
    log_f0, vuv = p(mel)
    assert log_f0.shape == vuv.shape == (3, 50)
    f0 = p.predict(mel)
    voiced = f0 > 0
    assert 0 < int(voiced.sum()) < f0.numel()  # both voiced and unvoiced frames
    assert float(f0[voiced].min()) >= 60.0 and float(f0[voiced].max()) <= 400.0
    assert torch.equal(voiced, vuv > 0)


@torch.no_grad()
def test_fresh_predictor_starts_in_the_middle_of_its_range():
    log_f0, _ = F0Predictor(CFG).eval()(torch.full((1, 8, 20), -6.0))
    middle = 0.5 * (np.log(60.0) + np.log(400.0))  # 155 Hz
    assert abs(float(log_f0.mean()) - middle) < np.log(1.5)


@torch.no_grad()
def test_reach_is_the_declared_context():
    p = _predictor().double()
    mel = torch.randn(1, 8, 60, dtype=torch.float64)
    base = torch.cat(p(mel), 0)
    bumped = mel.clone()
    bumped[..., 30] += 1.0
    changed = (torch.cat(p(bumped), 0) - base).abs().amax(0) > 1e-12
    frames = torch.nonzero(changed).flatten()
    reach = int(max(30 - frames.min(), frames.max() - 30))
    assert reach == p.context == 2  # 2 layers of kernel 3


def test_files_round_trip(tmp_path):
    p = _predictor()
    assert not has_f0_predictor(tmp_path) and load_f0_predictor(tmp_path) is None
    save_f0_predictor(tmp_path, p, {"steps": 12})
    back = load_f0_predictor(tmp_path)
    mel = torch.randn(2, 8, 17) - 6
    torch.testing.assert_close(back.predict(mel), p.predict(mel))
    assert back.cfg == CFG and not back.training
    assert yaml.safe_load((tmp_path / "f0_predictor.yaml").read_text())["training"] == {"steps": 12}
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f0_predictor.safetensors", "f0_predictor.yaml"]


def test_damaged_files_are_one_line(tmp_path):
    save_f0_predictor(tmp_path, _predictor(), {})
    (tmp_path / "f0_predictor.yaml").write_text("config: [1, 2")
    with pytest.raises(ModelError, match="f0_predictor.yaml: not a readable F0 predictor config"):
        load_f0_predictor(tmp_path)
    bigger = F0Predictor(F0PredictorConfig(n_mels=8, channels=16, layers=2, kernel=3))
    save_f0_predictor(tmp_path, _predictor(), {})
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in bigger.state_dict().items()}, str(tmp_path / "f0_predictor.safetensors"))
    with pytest.raises(ModelError, match="does not fit the F0 predictor"):
        load_f0_predictor(tmp_path)


def test_even_kernel_is_refused():
    with pytest.raises(ValueError, match="odd"):
        F0Predictor(F0PredictorConfig(kernel=4))


def test_predict_is_deterministic_float32():
    p = _predictor()
    mel = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 8, 9)).astype(np.float32))
    assert p.predict(mel).dtype == torch.float32
    torch.testing.assert_close(p.predict(mel), p.predict(mel), rtol=0, atol=0)


def test_info_line_of_a_damaged_config_is_one_line(tmp_path):
    from vocoder.models.f0_predictor import describe_f0_predictor

    save_f0_predictor(tmp_path, _predictor(), {"steps": 3})
    assert describe_f0_predictor(tmp_path)[0].startswith("f0 predictor: 2 ConvNeXt-1D blocks x 8 ch")
    (tmp_path / "f0_predictor.yaml").write_text("config: [1, 2")
    assert describe_f0_predictor(tmp_path) == [f"f0 predictor: {tmp_path / 'f0_predictor.yaml'} is not readable"]
