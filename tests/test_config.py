"""Config loading: sections, types, overrides, presets and one-line errors."""

from __future__ import annotations

import pytest
import yaml

from vocoder.config import RunConfig, config_from_dict, load_config, save_config
from vocoder.errors import ConfigError

RECIPE = {
    "features": {"preset": "demo-16k"},
    "generator": {"name": "wavehax", "params": {"channels": 16}},
    "discriminators": [{"name": "mpd"}, {"name": "mrd", "params": {}}],
    "losses": {"mel": {"weight": 45.0}, "adversarial_kind": "hinge", "feature_matching_weight": 2},
    "optim": {"generator": {"lr": 2e-4, "betas": [0.8, 0.9], "grad_clip": 10}},
    "train": {"max_steps": 100, "batch_size": 4},
    "data": {"root": "wavs", "valid_count": 2},
}


def write(tmp_path, data, name="recipe.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_sections_are_typed(tmp_path):
    cfg = load_config(write(tmp_path, RECIPE))
    assert isinstance(cfg, RunConfig)
    assert cfg.generator.name == "wavehax" and cfg.generator.params == {"channels": 16}
    assert [d.name for d in cfg.discriminators] == ["mpd", "mrd"]
    assert cfg.losses.mel.weight == 45.0 and cfg.losses.mrstft is None
    assert cfg.losses.feature_matching_weight == 2.0 and isinstance(cfg.losses.feature_matching_weight, float)
    assert cfg.optim.generator.betas == [0.8, 0.9] and cfg.optim.generator.grad_clip == 10.0
    assert cfg.optim.discriminator.lr == 2e-4  # default
    assert cfg.train.max_steps == 100 and cfg.train.batch_size == 4
    # the preset fills the mel settings
    assert (cfg.features.sample_rate, cfg.features.hop, cfg.features.n_mels) == (16000, 160, 80)
    # a relative data root is resolved against the recipe's folder
    assert cfg.data.root == str((tmp_path / "wavs").resolve())


def test_overrides_parse_yaml_values(tmp_path):
    cfg = load_config(
        write(tmp_path, RECIPE),
        ["train.max_steps=7", "optim.generator.betas=[0.5, 0.9]", "generator.params.channels=8",
         "losses.mrstft.weight=2.5", "discriminators.1.name=msstft", "features.n_mels=100"],
    )
    assert cfg.train.max_steps == 7
    assert cfg.optim.generator.betas == [0.5, 0.9]
    assert cfg.generator.params["channels"] == 8
    assert cfg.losses.mrstft.weight == 2.5
    assert cfg.discriminators[1].name == "msstft"
    assert cfg.features.n_mels == 100 and cfg.features.hop == 160  # override on top of the preset


def test_exponent_floats_without_a_dot(tmp_path):
    """``5e-4`` is a float in files and overrides (PyYAML alone reads it as a string)."""
    path = write(tmp_path, RECIPE)
    cfg = load_config(path, ["optim.generator.lr=5e-4", "optim.discriminator.lr=2E-4", "losses.mel.weight=4.5e1"])
    assert cfg.optim.generator.lr == 5e-4 and cfg.optim.discriminator.lr == 2e-4 and cfg.losses.mel.weight == 45.0
    assert cfg.train.init_from is None
    with pytest.raises(ConfigError, match="train.max_steps must be an integer"):
        load_config(path, ["train.max_steps=1e5"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.bach_size=3", "unknown key 'train.bach_size'"),
        ("train.max_steps=many", "train.max_steps must be an integer, got 'many'"),
        ("train.max_steps=1.5", "train.max_steps must be an integer"),
        ("optim.generator.lr=fast", "optim.generator.lr must be a number"),
        ("losses.mel=3", "losses.mel must be a mapping"),
        ("nosuchsection.x=1", "unknown key 'nosuchsection'"),
        ("train.max_steps", "expected KEY=VALUE"),
    ],
)
def test_bad_overrides_name_key_and_file(tmp_path, override, message):
    path = write(tmp_path, RECIPE)
    with pytest.raises(ConfigError) as err:
        load_config(path, [override])
    text = str(err.value)
    assert message in text
    assert "\n" not in text
    if "KEY=VALUE" not in message:
        assert str(path) in text


def test_unknown_key_in_file(tmp_path):
    bad = {**RECIPE, "train": {"max_step": 3}}
    path = write(tmp_path, bad)
    with pytest.raises(ConfigError, match=r"recipe.yaml: unknown key 'train.max_step' \(known: max_steps"):
        load_config(path)


def test_unknown_preset_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="preset"):
        config_from_dict({"features": {"preset": "nope-48k"}}, "x.yaml")
    path = tmp_path / "broken.yaml"
    path.write_text("train: [1, 2\n  max_steps: 3")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML at line \d+"):
        load_config(path)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(write(tmp_path, RECIPE), ["train.seed=99"])
    out = tmp_path / "run" / "config.yaml"
    out.parent.mkdir()
    save_config(cfg, out)
    again = load_config(out)
    assert again.to_dict() == cfg.to_dict()
    assert again.train.seed == 99
