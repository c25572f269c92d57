"""Parallel WaveGAN generator: sizes, shapes, errors, and parity with kan-bayashi/ParallelWaveGAN 0.6.1.

The parity fixture ``tests/fixtures/pwg_reference_tiny.npz`` was made by ``tools/make_pwg_fixture.py``
from the reference package (random weights with legacy weight norm, a mel, a noise and the reference's
``inference`` output); see that script's docstring.
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
from safetensors.torch import load_file

from vocoder.errors import ConfigError, InputError
from vocoder.models.convert_pwg import config_from_reference, convert_state_dict
from vocoder.models.generators.pwg import ParallelWaveGAN, default_upsample_scales
from vocoder.registry import build

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "pwg_reference_tiny.npz"
TOOL = ROOT / "tools" / "convert_pwg_checkpoint.py"
TOL = 1e-5


@pytest.fixture(scope="module")
def ref() -> dict:
    with np.load(FIXTURE) as data:
        return {
            "config": json.loads(str(data["config"])),
            "state": {k[4:]: torch.from_numpy(data[k].copy()) for k in data.files if k.startswith("ref/")},
            "mel": torch.from_numpy(data["mel"].copy()),
            "noise": torch.from_numpy(data["noise"].copy()),
            "output": torch.from_numpy(data["output"].copy()),
        }


def tiny(**overrides) -> ParallelWaveGAN:
    params = dict(
        layers=6, stacks=3, residual_channels=8, gate_channels=16, skip_channels=8, upsample_scales=[4, 4]
    )
    params.update(overrides)
    return ParallelWaveGAN(16000, 16, 20, **params)


def model_from_reference(ref: dict, weight_norm: bool = True) -> ParallelWaveGAN:
    cfg = config_from_reference(ref["config"])
    params = {**cfg["generator"]["params"], "use_weight_norm": weight_norm}
    feats = cfg["features"]
    model = ParallelWaveGAN(feats["sample_rate"], feats["hop"], feats["n_mels"], **params)
    model.load_state_dict(convert_state_dict(ref["state"], weight_norm=weight_norm), strict=True)
    return model.eval()


def max_diff(model: ParallelWaveGAN, ref: dict) -> float:
    """Worst difference to the reference output over both forms: the training form (autograd on, the
    reference's exact op order) and the in-place no-grad inference form."""
    with torch.no_grad():
        fast = model(ref["mel"], noise=ref["noise"])
    train = model(ref["mel"], noise=ref["noise"]).detach()
    assert fast.shape == train.shape == ref["output"].shape
    return max((fast - ref["output"]).abs().max().item(), (train - ref["output"]).abs().max().item())


def test_param_counts_match_reference_defaults():
    model = ParallelWaveGAN(22050, 256, 80)
    assert model.upsample_scales == [4, 4, 4, 4]
    assert model.num_params() == 1_346_042
    assert model.receptive_field == 6139
    model.remove_weight_norm()
    assert model.num_params() == 1_334_309


@pytest.mark.parametrize(
    "hop, scales",
    [(256, [4, 4, 4, 4]), (300, [4, 3, 5, 5]), (160, [4, 4, 2, 5]), (240, [4, 4, 3, 5]), (441, [3, 3, 7, 7])],
)
def test_default_upsample_scales(hop, scales):
    assert default_upsample_scales(hop) == scales
    assert ParallelWaveGAN(16000, hop, 4, layers=3, stacks=3, residual_channels=4, gate_channels=4,
                           skip_channels=4).upsample_scales == scales


def test_tiny_forward_backward_shapes_and_grads():
    torch.manual_seed(0)
    model = tiny()
    mel = torch.randn(2, 20, 7)
    out = model(mel)
    assert out.shape == (2, 1, 7 * 16)
    out.pow(2).mean().backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    # as in the reference, the last block's residual 1x1 conv feeds nothing (only its skip is used)
    unused = {n for n in grads if n.startswith("blocks.5.residual.")}
    assert len(unused) == 3 and all(grads[n] is None for n in unused)
    assert all(torch.isfinite(g).all() for n, g in grads.items() if n not in unused)
    # every layer, including the mel path (context conv and smoothers), gets a gradient
    assert grads["upsampler.conv_in.parametrizations.weight.original1"].abs().sum() > 0
    assert grads["upsampler.smoothers.1.parametrizations.weight.original0"].abs().sum() > 0
    assert grads["blocks.5.aux.parametrizations.weight.original1"].abs().sum() > 0


def test_noise_makes_output_deterministic_and_is_drawn_when_missing():
    torch.manual_seed(0)
    model = tiny().eval()
    mel = torch.randn(1, 20, 5)
    noise = torch.randn(1, 1, 80)
    with torch.no_grad():
        a, b = model(mel, noise=noise), model(mel, noise=noise.clone())
        c, d = model(mel), model(mel)
    assert torch.equal(a, b)
    assert (c - d).abs().max() > 1e-3


def test_one_frame_and_no_context_window():
    model = tiny(aux_context_window=0)
    assert model.upsampler.conv_in.weight.shape == (20, 20, 1)
    assert model(torch.randn(1, 20, 1)).shape == (1, 1, 16)


@pytest.mark.parametrize("scales", [[4, 2], [4, 4, 2], [0, 16], []])
def test_bad_upsample_scales_raise_config_error(scales):
    with pytest.raises(ConfigError, match="upsample_scales") as info:
        tiny(upsample_scales=scales)
    assert "\n" not in str(info.value)


def test_registry_builds_pwg_and_refuses_bad_scales():
    model = build("generator", "pwg", {"layers": 3, "stacks": 3, "upsample_scales": [2, 8]},
                  sample_rate=16000, hop=16, n_mels=20)
    assert isinstance(model, ParallelWaveGAN) and model.needs_noise and not model.needs_f0
    with pytest.raises(ConfigError, match=r"multiply to 8, but hop is 16"):
        build("generator", "pwg", {"upsample_scales": [2, 4]}, sample_rate=16000, hop=16, n_mels=20)


def test_wrong_inputs_raise_input_error():
    model = tiny()
    with pytest.raises(InputError, match="mel"):
        model(torch.randn(1, 19, 4))
    with pytest.raises(InputError, match="noise"):
        model(torch.randn(1, 20, 4), noise=torch.randn(1, 1, 63))


def test_parity_with_reference_weight_norm(ref):
    model = model_from_reference(ref)
    assert max_diff(model, ref) <= TOL
    # the fixture's gains are not ||v||: dropping them (folding g = ||v||) must break parity
    broken = model_from_reference(ref)
    with torch.no_grad():
        g = broken.input_conv.parametrizations.weight.original0
        g.copy_(broken.input_conv.parametrizations.weight.original1.flatten(1).norm(dim=1).view_as(g))
    assert max_diff(broken, ref) > 1e-3


def test_parity_with_reference_after_remove_weight_norm(ref):
    model = model_from_reference(ref)
    model.remove_weight_norm()
    assert not any("parametrizations" in k for k in model.state_dict())
    assert max_diff(model, ref) <= TOL


def test_parity_with_reference_folded_conversion(ref):
    model = model_from_reference(ref, weight_norm=False)
    assert max_diff(model, ref) <= TOL


def test_config_from_reference_features(ref):
    cfg = config_from_reference(ref["config"])
    assert cfg["generator"] == {
        "name": "pwg",
        "params": {
            "layers": 6, "stacks": 3, "residual_channels": 8, "gate_channels": 16, "skip_channels": 8,
            "kernel_size": 3, "aux_context_window": 2, "upsample_scales": [4, 4], "dropout": 0.0,
            "bias": True, "use_weight_norm": True,
        },
    }
    f = cfg["features"]
    assert (f["sample_rate"], f["n_fft"], f["hop"], f["win_length"], f["n_mels"]) == (16000, 64, 16, None, 20)
    assert (f["log"], f["padding"], f["clamp"]) == ("log10", "center", 1e-10)
    assert (f["fmin"], f["fmax"], f["power"]) == (0.0, 8000.0, 1.0)
    assert (f["mel_scale"], f["mel_norm"], f["pad_mode"]) == ("slaney", "slaney", "reflect")


def test_config_from_reference_refuses_what_we_cannot_run(ref):
    bad = json.loads(json.dumps(ref["config"]))
    bad["generator_params"]["use_causal_conv"] = True
    with pytest.raises(ConfigError, match="use_causal_conv"):
        config_from_reference(bad)
    bad = json.loads(json.dumps(ref["config"]))
    bad["generator_params"]["upsample_params"]["upsample_scales"] = [4, 2]
    with pytest.raises(ConfigError, match="upsample_scales"):
        config_from_reference(bad)


def test_convert_tool_round_trip(ref, tmp_path):
    ckpt = tmp_path / "checkpoint-100steps.pkl"
    torch.save({"model": {"generator": ref["state"], "discriminator": {}}, "steps": 100, "epochs": 1}, ckpt)
    (tmp_path / "config.yml").write_text(yaml.safe_dump(ref["config"]))
    np.save(tmp_path / "stats.npy", np.stack([np.arange(20.0), np.full(20, 2.0)]))
    out = tmp_path / "model"
    run = subprocess.run([sys.executable, str(TOOL), str(ckpt), "--out", str(out)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr

    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["features"]["mean"] == list(np.arange(20.0)) and cfg["features"]["std"] == [2.0] * 20
    feats = cfg["features"]
    model = ParallelWaveGAN(feats["sample_rate"], feats["hop"], feats["n_mels"], **cfg["generator"]["params"])
    model.load_state_dict(load_file(out / "model.safetensors"), strict=True)
    assert max_diff(model.eval(), ref) <= TOL


def test_convert_tool_refuses_pickled_code(tmp_path):
    ckpt = tmp_path / "bad.pkl"
    torch.save({"model": {"generator": {}}, "args": Path("x")}, ckpt)  # a class instance, not plain data
    run = subprocess.run([sys.executable, str(TOOL), str(ckpt), "--out", str(tmp_path / "m")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.startswith("error: ") and "weights_only" in run.stderr
    assert run.stderr.count("\n") == 1
    assert not (tmp_path / "m").exists()
