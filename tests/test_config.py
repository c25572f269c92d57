"""Config loading: sections, types, overrides, presets and one-line errors."""

from __future__ import annotations

from pathlib import Path

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
    assert cfg.loss("mel").weight == 45.0 and cfg.loss("mrstft") is None
    assert cfg.loss("feature_matching").weight == 2.0 and isinstance(cfg.loss("feature_matching").weight, float)
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
    assert cfg.loss("mrstft").weight == 2.5
    assert cfg.discriminators[1].name == "msstft"
    assert cfg.features.n_mels == 100 and cfg.features.hop == 160  # override on top of the preset


def test_exponent_floats_without_a_dot(tmp_path):
    """``5e-4`` is a float in files and overrides (PyYAML alone reads it as a string)."""
    path = write(tmp_path, RECIPE)
    cfg = load_config(path, ["optim.generator.lr=5e-4", "optim.discriminator.lr=2E-4", "losses.mel.weight=4.5e1"])
    assert cfg.optim.generator.lr == 5e-4 and cfg.optim.discriminator.lr == 2e-4 and cfg.loss("mel").weight == 45.0
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


# ------------------------------------------------------------------ losses: the list form and the old mapping

ROOT = Path(__file__).resolve().parents[1]


def _losses(cfg: RunConfig) -> list[tuple]:
    return [(s.name, s.weight, s.params) for s in cfg.losses]


def test_old_losses_mapping_becomes_the_list_in_the_old_summation_order(tmp_path):
    old = {**RECIPE, "losses": {"waveform": {"weight": 100.0}, "mel": {"weight": 45.0, "params": {"hop": 160}},
                                "mrstft": {"weight": 2.0}, "multiscale_mel": None, "adversarial_weight": 4}}
    cfg = load_config(write(tmp_path, old))
    assert _losses(cfg) == [("mrstft", 2.0, {}), ("mel", 45.0, {"hop": 160}), ("waveform", 100.0, {}),
                            ("adversarial", 4.0, {"kind": "lsgan"})]  # feature matching 0 (the default) is off
    assert _losses(load_config(write(tmp_path, RECIPE))) == [
        ("mel", 45.0, {}), ("adversarial", 1.0, {"kind": "hinge"}), ("feature_matching", 2.0, {})]
    assert _losses(config_from_dict({})) == [("adversarial", 1.0, {"kind": "lsgan"})]  # no losses: the old default
    # the saved (list-form) config loads back to the same
    save_config(cfg, tmp_path / "saved.yaml")
    saved = yaml.safe_load((tmp_path / "saved.yaml").read_text())["losses"]
    assert saved[0] == {"name": "mrstft", "weight": 2.0, "params": {}}
    assert load_config(tmp_path / "saved.yaml").to_dict() == cfg.to_dict()


@pytest.mark.parametrize("model", ["demo-pwg", "demo-istftnet", "demo-wavehax", "istftnet-universal-22k"])
def test_shipped_checkpoint_configs_load_unchanged(model):
    path = ROOT / "checkpoints" / model / "config.yaml"
    raw = yaml.safe_load(path.read_text())
    if isinstance(raw["losses"], list):  # saved by the current code (a checkpoint retrained since the list form)
        cfg = load_config(path)
        assert [s.name for s in cfg.losses] == [entry["name"] for entry in raw["losses"]]
        assert cfg.loss("mel").weight == 45.0 and "amp" not in raw["train"] and "num_workers" not in raw["train"]
        return
    assert raw["train"]["amp"] == "none" and raw["train"]["num_workers"] == 0
    cfg = load_config(path)
    fm = raw["losses"]["feature_matching_weight"]  # 2.0 for the GAN-trained istftnet-universal-22k, else 0
    names = [s.name for s in cfg.losses]
    assert names[-2:] == (["adversarial", "feature_matching"] if fm else names[-2:-1] + ["adversarial"])
    assert cfg.loss("mel").weight == 45.0 and cfg.loss("mrstft").weight == raw["losses"]["mrstft"]["weight"]
    assert (cfg.loss("feature_matching").weight == fm) if fm else cfg.loss("feature_matching") is None
    assert not hasattr(cfg.train, "amp") and not hasattr(cfg.train, "num_workers")


LIST_RECIPE = {**RECIPE, "discriminators": [], "losses": [
    {"name": "mrstft", "weight": 2.0},
    {"name": "mel", "weight": 45.0, "params": {"n_fft": 1024, "hop": 256, "n_mels": 80}},
    {"name": "waveform", "weight": 100.0},
    {"name": "adversarial", "weight": 1.0, "params": {"kind": "lsgan"}},
]}


def test_overrides_address_loss_entries_by_name(tmp_path):
    path = write(tmp_path, LIST_RECIPE)
    cfg = load_config(path, ["losses.waveform=null", "losses.mel.weight=30", "losses.multiscale_mel={weight: 15}",
                             "losses.mrstft.params.window=hamming"])
    assert [s.name for s in cfg.losses] == ["mrstft", "mel", "adversarial", "multiscale_mel"]
    assert cfg.loss("mel").weight == 30.0 and cfg.loss("mel").params["n_mels"] == 80
    assert cfg.loss("multiscale_mel").weight == 15.0 and cfg.loss("mrstft").params["window"] == "hamming"
    # the old form's --set keys mean the same on a list-form recipe
    cfg = load_config(path, ["losses.feature_matching_weight=2.0", "losses.adversarial_kind=hinge",
                             "losses.adversarial_weight=4", "discriminators=[{name: msstft}]"])
    assert cfg.loss("feature_matching").weight == 2.0 and cfg.loss("feature_matching").params == {}
    assert (cfg.loss("adversarial").weight, cfg.loss("adversarial").params) == (4.0, {"kind": "hinge"})
    assert [d.name for d in cfg.discriminators] == ["msstft"]
    cfg = load_config(write(tmp_path, RECIPE), ["discriminators.mrd.params.bands=3", "discriminators.0.name=pwg"])
    assert [(d.name, d.params) for d in cfg.discriminators] == [("pwg", {}), ("mrd", {"bands": 3})]


@pytest.mark.parametrize(
    "override, message",
    [
        ("losses.mel=3", "losses.mel must be a mapping, got int"),
        ("losses.mel.wieght=3", "unknown key 'losses.mel.wieght' (known: name, weight, params)"),
        ("losses.9.weight=1", "bad list index 'losses.9'"),
        ("losses.mrstft.weight=much", "losses.mrstft.weight must be a number, got 'much'"),
        ("train.num_workers=4", "train.num_workers was removed (data loading runs in the training process; the "
                                "setting never took effect): delete it from the config (or drop the --set)"),
        ("train.amp=bf16", "train.amp was removed (training runs in float32; the setting never took effect)"),
    ],
)
def test_bad_list_form_overrides_are_one_line(tmp_path, override, message):
    path = write(tmp_path, LIST_RECIPE)
    with pytest.raises(ConfigError) as err:
        load_config(path, [override])
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_removed_train_keys_at_their_no_op_values_are_dropped_and_others_refused(tmp_path):
    cfg = load_config(write(tmp_path, {**RECIPE, "train": {"amp": "none", "num_workers": 0, "max_steps": 5}}))
    assert cfg.train.max_steps == 5
    removed = r"recipe.yaml: train.num_workers was removed .*: delete it from the config \(or drop the --set\)$"
    with pytest.raises(ConfigError, match=removed):
        load_config(write(tmp_path, {**RECIPE, "train": {"num_workers": 2}}))
    bad = {**RECIPE, "losses": {"mel": {"weight": 45.0}, "mel_weight": 2}}
    with pytest.raises(ConfigError, match=r"unknown key 'losses.mel_weight' \(known: mrstft, .*; or the list form"):
        load_config(write(tmp_path, bad))
