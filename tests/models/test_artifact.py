"""Model folders (vocoder.models.artifact): weights + config written and read back, float16 weights loaded
into float32 modules, discriminator weights, and which folder a run / checkpoints / model path resolves to."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open

from vocoder.config import config_from_dict
from vocoder.errors import ModelError
from vocoder.models import artifact
from vocoder.models.factory import build_discriminator, build_generator

CFG = {
    "features": {"sample_rate": 8000, "n_fft": 128, "hop": 32, "n_mels": 8, "fmax": None},
    "generator": {"name": "pwg", "params": {"layers": 4, "stacks": 2, "residual_channels": 8, "gate_channels": 16,
                                            "skip_channels": 8}},
    "discriminators": [{"name": "pwg", "params": {"layers": 3, "channels": 4}}],
}


def tiny(seed: int = 0):
    cfg = config_from_dict(CFG)
    torch.manual_seed(seed)
    return build_generator(cfg), cfg


def file_dtypes_and_metadata(path):
    with safe_open(str(path), "pt") as fh:
        return {fh.get_tensor(k).dtype for k in fh.keys()}, fh.metadata()


def test_write_model_round_trip(tmp_path):
    generator, cfg = tiny()
    artifact.write_model(tmp_path / "m", generator, cfg, step=7)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.yaml", "model.safetensors"]
    dtypes, meta = file_dtypes_and_metadata(tmp_path / "m" / artifact.MODEL_FILE)
    assert dtypes == {torch.float32}
    assert meta == {"format": "vocoder", "generator": "pwg", "step": "7"}
    assert artifact.read_config(tmp_path / "m") == cfg

    loaded, loaded_cfg = artifact.load_generator(tmp_path / "m", fold_weight_norm=False)
    assert loaded_cfg == cfg and not loaded.training
    own = generator.state_dict()
    assert all(torch.equal(v, own[k]) for k, v in loaded.state_dict().items())
    mel = torch.randn(1, 8, 5, generator=torch.Generator().manual_seed(1))
    noise = torch.randn(1, 1, 5 * 32, generator=torch.Generator().manual_seed(2))
    folded, _ = artifact.load_generator(tmp_path / "m")
    with torch.no_grad():
        diff = (folded(mel, noise=noise) - generator.eval()(mel, noise=noise)).abs().max().item()
    assert diff < 1e-5  # weight norm folded: the same function


def test_float16_copy_loads_into_float32_modules(tmp_path):
    generator, cfg = tiny()
    artifact.write_model(tmp_path / "run", generator, cfg, step=3)
    artifact.copy_model(tmp_path / "run", tmp_path / "small", float16=True)
    dtypes, meta = file_dtypes_and_metadata(tmp_path / "small" / artifact.MODEL_FILE)
    assert dtypes == {torch.float16}
    assert meta == {"format": "vocoder", "generator": "pwg", "step": "3", "dtype": "float16"}
    assert (tmp_path / "small" / "config.yaml").read_bytes() == (tmp_path / "run" / "config.yaml").read_bytes()
    size = (tmp_path / "small" / artifact.MODEL_FILE).stat().st_size
    full = (tmp_path / "run" / artifact.MODEL_FILE).stat().st_size
    numel = sum(v.numel() for v in generator.state_dict().values())
    assert abs((full - size) - 2 * numel) <= 100  # 2 bytes less per value (the header differs a little)

    loaded, _ = artifact.load_generator(tmp_path / "small", fold_weight_norm=False)
    own = generator.state_dict()
    for k, v in loaded.state_dict().items():
        assert v.dtype == torch.float32, k
        assert torch.equal(v, own[k].half().float()), k

    artifact.copy_model(tmp_path / "run", tmp_path / "same")  # float32: a byte copy
    same, run = tmp_path / "same" / artifact.MODEL_FILE, tmp_path / "run" / artifact.MODEL_FILE
    assert same.read_bytes() == run.read_bytes()


def test_discriminator_weights_round_trip(tmp_path):
    generator, cfg = tiny()
    artifact.write_model(tmp_path, generator, cfg)
    assert artifact.read_discriminator(tmp_path) is None
    torch.manual_seed(4)
    discriminator = build_discriminator(cfg)
    artifact.write_discriminator(tmp_path, discriminator.state_dict())
    weights = artifact.read_discriminator(tmp_path)
    own = discriminator.state_dict()
    assert sorted(weights) == sorted(own) and len(own) > 0
    assert all(torch.equal(weights[k], own[k]) for k in own)
    fresh = build_discriminator(artifact.read_config(tmp_path))  # its config is the folder's config.yaml
    fresh.load_state_dict(weights)


def test_resolve_model_finds_best_then_newest_step(tmp_path):
    generator, cfg = tiny()
    run = tmp_path / "run"
    root = run / artifact.CHECKPOINTS_DIR
    for step in (2, 10):
        artifact.write_model(root / artifact.step_folder_name(step), generator, cfg, step)
    (root / "step-00000011").mkdir()  # a step folder without weights is skipped
    assert artifact.step_folder_name(10) == "step-00000010" and artifact.step_of("step-00000010") == 10
    assert artifact.step_of("best") is None and artifact.step_of("step-x") is None
    assert [p.name for p in artifact.list_checkpoints(root)] == ["step-00000002", "step-00000010", "step-00000011"]
    assert artifact.resolve_model(run) == root / "step-00000010"
    assert artifact.resolve_model(root) == root / "step-00000010"
    artifact.write_model(root / artifact.BEST_DIR, generator, cfg, 2)
    assert artifact.resolve_model(run) == root / "best"
    assert artifact.resolve_model(root / "step-00000002") == root / "step-00000002"

    with pytest.raises(ModelError, match=r"nowhere: no such file or folder$"):
        artifact.resolve_model(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"empty: no checkpoint found \(expected model.safetensors \+ config.yaml\)"):
        artifact.resolve_model(tmp_path / "empty")


def test_broken_weights_are_one_line(tmp_path):
    generator, cfg = tiny()
    artifact.write_model(tmp_path, generator, cfg)
    path = tmp_path / artifact.MODEL_FILE
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelError, match=r"model.safetensors: not a valid safetensors file") as err:
        artifact.load_generator(tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match=r"discriminator.safetensors: no model weights"):
        artifact.read_weights(tmp_path, artifact.DISCRIMINATOR_FILE)
