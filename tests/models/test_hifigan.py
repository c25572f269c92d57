"""HiFi-GAN as the iSTFT-free iSTFTNet: sizes, parity with the official implementation, the checkpoint
converter, its one-line errors, and the warm start of an iSTFTNet from HiFi-GAN weights.

The parity fixture ``tests/fixtures/hifigan_reference_tiny.npz`` was made by
``tools/make_hifigan_fixture.py`` with the official ``models.py`` (random weights with legacy weight norm,
a mel and the reference's output); see that script's docstring.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import vocoder
from vocoder.config import config_from_dict
from vocoder.errors import ConfigError, ModelError
from vocoder.models.convert_hifigan import config_from_reference, convert_state_dict, load_generator_state
from vocoder.models.generators.istftnet import ISTFTNetGenerator
from vocoder.train.warm_start import warm_start

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "hifigan_reference_tiny.npz"
TOOL = ROOT / "tools" / "convert_hifigan_checkpoint.py"
TOL = 1e-5


@pytest.fixture(scope="module")
def ref() -> dict:
    with np.load(FIXTURE) as data:
        return {
            "config": json.loads(str(data["config"])),
            "state": {k[4:]: torch.from_numpy(data[k].copy()) for k in data.files if k.startswith("ref/")},
            "mel": torch.from_numpy(data["mel"].copy()),
            "output": torch.from_numpy(data["output"].copy()),
        }


def from_reference(ref: dict, weight_norm: bool = True) -> ISTFTNetGenerator:
    cfg = config_from_reference(ref["config"])
    f = cfg["features"]
    model = ISTFTNetGenerator(f["sample_rate"], f["hop"], f["n_mels"], **cfg["generator"]["params"])
    if not weight_norm:
        model.remove_weight_norm()
    state = convert_state_dict(ref["state"], num_kernels=len(ref["config"]["resblock_kernel_sizes"]),
                               weight_norm=weight_norm)
    model.load_state_dict(state, strict=True)
    return model.eval()


@pytest.mark.parametrize(
    "variant,with_norm,folded",
    [("hifigan-v1", 13_936_130, 13_926_017), ("hifigan-v2", 928_514, 925_985), ("hifigan-v3", 1_464_322, 1_462_273)],
)
def test_variant_sizes_match_the_paper(variant, with_norm, folded):
    """Paper: V1 13.92 M, V2 0.92 M, V3 1.46 M. The official UNIVERSAL_V1 checkpoint holds exactly
    13,936,130 values (weight_g + weight_v + bias), which our V1 reproduces tensor for tensor."""
    g = ISTFTNetGenerator(22050, 256, 80, variant=variant)
    assert g.num_params() == with_norm
    g.remove_weight_norm()
    assert g.num_params() == folded
    assert g(torch.randn(2, 80, 3)).shape == (2, 1, 3 * 256)


def test_fixture_output_is_not_saturated(ref):
    """The parity check means something only if tanh is not pinned at +-1."""
    out = ref["output"]
    assert out.shape == (1, 1, ref["mel"].shape[-1] * ref["config"]["hop_size"])
    assert 0.05 < float(out.std()) and float((out.abs() > 0.99).float().mean()) < 0.2


@pytest.mark.parametrize("weight_norm", [True, False])
def test_parity_with_reference(ref, weight_norm):
    with torch.no_grad():
        out = from_reference(ref, weight_norm)(ref["mel"])
    assert out.shape == ref["output"].shape
    assert (out - ref["output"]).abs().max().item() <= TOL


def test_dropping_the_gains_breaks_parity(ref):
    state = {k: v for k, v in ref["state"].items()}
    for k in state:
        if k.endswith("weight_g"):
            state[k] = state[k].flatten(1).norm(dim=1).reshape(state[k].shape) * 0 + 1.0
    with torch.no_grad():
        out = from_reference({**ref, "state": state})(ref["mel"])
    assert (out - ref["output"]).abs().max().item() > 100 * TOL


def test_config_from_reference(ref):
    cfg = config_from_reference(ref["config"])
    assert cfg["features"]["preset"] == "hifigan-22k" and cfg["features"]["hop"] == 16
    assert cfg["generator"]["params"]["istft_n_fft"] == 0
    v1 = {**ref["config"], "upsample_rates": [8, 8, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4],
          "upsample_initial_channel": 512, "resblock_kernel_sizes": [3, 7, 11],
          "resblock_dilation_sizes": [[1, 3, 5]] * 3}
    assert config_from_reference(v1)["generator"]["params"] == {"variant": "hifigan-v1"}
    with pytest.raises(ConfigError, match="missing key 'hop_size'"):
        config_from_reference({k: v for k, v in ref["config"].items() if k != "hop_size"})


def _write_checkpoint(ref: dict, folder: Path, config: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = folder / "g_00001000"
    torch.save({"generator": ref["state"]}, ckpt)
    (folder / "config.json").write_text(json.dumps(config or ref["config"]))
    return ckpt


def test_convert_tool_round_trip_loads_with_both_backends(ref, tmp_path):
    ckpt = _write_checkpoint(ref, tmp_path / "hifigan")
    out = tmp_path / "model"
    run = subprocess.run([sys.executable, str(TOOL), str(ckpt), "--out", str(out)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["generator"]["name"] == "istftnet" and cfg["features"]["sample_rate"] == 16000
    voc = vocoder.load(out)
    mel = ref["mel"][0].numpy()
    wav = voc.synthesize(mel, check_values=False)  # the fixture mel is random, not a real log-mel
    assert np.abs(wav - ref["output"][0, 0].numpy()).max() <= TOL


@pytest.mark.parametrize("case", ["text", "discriminator", "config_disagrees", "folder"])
def test_convert_tool_bad_inputs_are_one_line(ref, tmp_path, case):
    if case == "text":
        bad = tmp_path / "g_bad"
        bad.write_text("not a checkpoint")
        (tmp_path / "config.json").write_text(json.dumps(ref["config"]))
        expect = "not a HiFi-GAN checkpoint"
    elif case == "discriminator":
        bad = tmp_path / "do_00001000"
        torch.save({"mpd": {"w": torch.zeros(1)}, "msd": {"w": torch.zeros(1)}, "steps": 1}, bad)
        (tmp_path / "config.json").write_text(json.dumps(ref["config"]))
        expect = "discriminator checkpoint"
    elif case == "config_disagrees":
        bad = _write_checkpoint(ref, tmp_path, {**ref["config"], "upsample_initial_channel": 32})
        expect = "weights do not fit"
    else:
        bad = tmp_path
        (tmp_path / "config.json").write_text(json.dumps(ref["config"]))
        expect = "is a folder"
    run = subprocess.run([sys.executable, str(TOOL), str(bad), "--out", str(tmp_path / "m")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.startswith("error: ") and expect in run.stderr and str(bad) in run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert not (tmp_path / "m").exists()


def test_load_refuses_pickled_code(tmp_path):
    bad = tmp_path / "g_evil"
    torch.save({"generator": {}, "args": Path("x")}, bad)  # a class instance: refused by weights_only
    with pytest.raises(ModelError, match="weights_only"):
        load_generator_state(bad)


def _istftnet_recipe(root: Path) -> dict:
    """An iSTFTNet whose first stage equals the fixture HiFi-GAN's (16 channels, x4, ResBlocks 3/5)."""
    return {
        "features": {"preset": "hifigan-22k", "sample_rate": 16000, "n_fft": 64, "hop": 16, "win_length": 64},
        "generator": {"name": "istftnet", "params": {
            "upsample_rates": [4], "upsample_kernel_sizes": [8], "upsample_initial_channel": 16,
            "resblock_kernel_sizes": [3, 5], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
            "istft_n_fft": 16, "istft_hop": 4}},
    }


def test_warm_start_copies_every_fitting_tensor_from_hifigan(ref, tmp_path):
    ckpt = _write_checkpoint(ref, tmp_path / "hifigan")
    cfg = config_from_dict(_istftnet_recipe(tmp_path))
    from vocoder.models.factory import build_generator

    torch.manual_seed(0)
    student = build_generator(cfg)
    fresh_post = student.conv_post.parametrizations.weight.original1.detach().clone()
    report = warm_start(str(ckpt), student, None)
    own = student.state_dict()
    teacher = from_reference(ref).state_dict()
    shared = [k for k in own if k.startswith(("conv_pre.", "ups.0.", "mrfs.0."))]
    assert shared and sorted(shared) == report.copied
    for k in shared:
        assert torch.equal(own[k], teacher[k]), k
    assert all(k.startswith("conv_post.") for k in report.fresh) and len(report.fresh) == 3
    assert torch.equal(student.conv_post.parametrizations.weight.original1, fresh_post)
    line = report.lines()[0]
    assert f"copied {len(shared)} of {len(shared) + 3} tensors" in line and "conv_post.bias" in line


def test_warm_start_into_another_hifigan_shape_is_one_line(ref, tmp_path):
    ckpt = _write_checkpoint(ref, tmp_path / "hifigan")
    recipe = _istftnet_recipe(tmp_path)
    recipe["generator"]["params"] = {**recipe["generator"]["params"], "upsample_initial_channel": 8}
    from vocoder.models.factory import build_generator

    student = build_generator(config_from_dict(recipe))
    with pytest.raises(ConfigError, match="no tensor of it fits"):
        warm_start(str(ckpt), student, None)
