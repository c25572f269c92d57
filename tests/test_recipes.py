"""Every shipped recipe loads, builds its models and losses, and keeps the paper's numbers."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from vocoder.config import load_config
from vocoder.losses.objective import Objective
from vocoder.models.factory import build_discriminator, build_generator

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes").glob("*/*.yaml"))
GAN_LOSSES = ("adversarial", "feature_matching")


def test_all_recipes_are_found():
    names = {f"{p.parent.name}/{p.stem}" for p in RECIPES}
    assert {"demo/pwg", "demo/istftnet", "demo/wavehax", "demo/wavehax_msstft_cqt", "ljspeech/pwg",
            "ljspeech/istftnet_c8c8i", "jvs/wavehax", "allison16k/pwg", "allison16k/istftnet",
            "allison16k/wavehax"} <= names
    for folder in {p.parent for p in RECIPES}:
        assert (folder / "README.md").is_file() or folder.name == "demo"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recipe_builds(recipe):
    assert isinstance(yaml.safe_load(recipe.read_text())["losses"], list)  # written in the list form
    cfg = load_config(recipe)
    gen = build_generator(cfg)
    assert gen.hop == cfg.features.hop and gen.sample_rate == cfg.features.sample_rate
    disc = build_discriminator(cfg)
    assert (disc is None) == (not cfg.discriminators)
    objective = Objective(cfg.losses, cfg.features.sample_rate, disc is not None)  # builds every listed loss
    assert len(objective.reconstruction) == sum(s.weight > 0 for s in cfg.losses if s.name not in GAN_LOSSES)
    assert cfg.train.segment_frames * cfg.features.hop >= 4096 or recipe.parent.name == "demo"


def test_paper_settings():
    pwg = load_config(ROOT / "recipes/ljspeech/pwg.yaml")
    assert build_generator(pwg).num_params() == 1_346_042
    assert (pwg.loss("adversarial").params["kind"], pwg.loss("adversarial").weight) == ("lsgan", 4.0)
    assert pwg.train.discriminator_start == 100_000 and pwg.optim.generator.name == "radam"
    ist = load_config(ROOT / "recipes/ljspeech/istftnet_c8c8i.yaml")
    assert build_generator(ist).num_params() == 13_262_244
    assert ist.loss("mel").weight == 45.0 and ist.loss("feature_matching").weight == 2.0
    assert ist.optim.generator.betas == [0.8, 0.99]
    wh = load_config(ROOT / "recipes/jvs/wavehax.yaml")
    assert build_generator(wh).num_params() == 622_951
    assert wh.loss("adversarial").params["kind"] == "hinge" and wh.optim.generator.grad_clip == 10.0
    assert wh.optim.generator.betas == [0.8, 0.9] and wh.optim.generator.scheduler == "cosine"
    assert [d.name for d in wh.discriminators] == ["mpd", "mrd"]
    variant = load_config(ROOT / "recipes/demo/wavehax_msstft_cqt.yaml")
    assert [d.name for d in variant.discriminators] == ["msstft", "mssbcqt"]


# ------------------------------------------------------------------------ CPU-sized 22.05 / 24 kHz recipes

CPU_RECIPES = sorted((ROOT / "recipes").glob("cpu2[24]k/*.yaml"))
DEMO_WAVS = ROOT / "recipes" / "demo" / "wavs"


def test_cpu_recipes_cover_every_generator_at_both_rates():
    assert {f"{p.parent.name}/{p.stem}" for p in CPU_RECIPES} == {
        f"{folder}/{name}" for folder in ("cpu22k", "cpu24k") for name in ("pwg", "istftnet", "wavehax")
    }
    for folder in ("cpu22k", "cpu24k"):
        readme = (ROOT / "recipes" / folder / "README.md").read_text()
        rate = "22050" if folder == "cpu22k" else "24000"
        assert "--set data.root=/path/to/wavs" in readme and f"{rate} Hz" in readme and "resampled" in readme


@pytest.mark.parametrize("recipe", CPU_RECIPES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_cpu_recipe_upsampling_equals_the_hop(recipe):
    cfg = load_config(recipe)
    f, params = cfg.features, cfg.generator.params
    expected = {"cpu22k": ("hifigan-22k", 22050, 256), "cpu24k": (None, 24000, None)}[recipe.parent.name]
    assert f.sample_rate == expected[1] and f.preset == (expected[0] or f.preset)
    if recipe.parent.name == "cpu24k":  # the paper's features: PWG's hop 300, Wavehax's hop 240
        assert (f.preset, f.hop) == (("pwg-24k", 300) if cfg.generator.name == "pwg" else ("wavehax-24k", 240))
    gen = build_generator(cfg)
    assert gen.hop == f.hop
    if cfg.generator.name == "istftnet":
        rates, kernels = params["upsample_rates"], params["upsample_kernel_sizes"]
        assert math.prod(rates) * gen.istft_hop == f.hop
        assert all((k - r) % 2 == 0 for k, r in zip(kernels, rates))
    elif cfg.generator.name == "pwg":
        assert math.prod(params["upsample_scales"]) == f.hop
    else:
        assert gen.n_fft == 2 * f.hop
    # demo-sized: the demo's batch, no discriminator; data.root a placeholder beside the recipe
    demo = load_config(ROOT / "recipes" / "demo" / f"{cfg.generator.name}.yaml")
    assert cfg.train.batch_size == demo.train.batch_size and cfg.discriminators == []
    assert Path(cfg.data.root) == recipe.parent / "data" / "wavs"


def _tiny_corpus(folder: Path, count: int = 3) -> Path:
    """A few short bundled 16 kHz clips (the recipes resample them when they read them)."""
    folder.mkdir(parents=True)
    clips = [p for p in sorted(DEMO_WAVS.glob("*.flac")) if sf.info(p).duration < 2.0][:count]
    for clip in clips:
        shutil.copy(clip, folder / clip.name)
    return folder


@pytest.mark.parametrize("recipe", ["cpu22k/istftnet", "cpu24k/wavehax"])
def test_cpu_recipe_trains_one_step_on_resampled_clips(recipe, tmp_path, capsys):
    from vocoder.cli import main

    data = _tiny_corpus(tmp_path / "wavs")
    sf.write(data / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)  # skipped with a warning, no abort
    out = tmp_path / "run"
    overrides = [f"data.root={data}", "train.batch_size=1", "train.max_steps=1", "train.valid_mos=false",
                 "data.valid_count=1", "data.test_count=1", "train.eval_utterances=1", "train.threads=1",
                 f"data.cache_dir={tmp_path / 'cache'}"]
    code = main(["train", str(ROOT / "recipes" / f"{recipe}.yaml"), "--out", str(out),
                 *[arg for o in overrides for arg in ("--set", o)]])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"warning: {data / 'silent.wav'}: audio is silent (peak below -80 dBFS); skipped" in err.splitlines()
    assert (out / "checkpoints").is_dir() and any((out / "checkpoints").iterdir())
    saved = load_config(out / "config.yaml")
    assert saved.features.sample_rate == {"cpu22k": 22050, "cpu24k": 24000}[recipe.split("/")[0]]
    if recipe.endswith("wavehax"):
        assert "F0 (harvest)" in err  # the cache was empty: extraction shows its progress


@pytest.mark.parametrize("generator", ["wavehax", "istftnet", "pwg"])
def test_multivoice_recipe_continues_the_shipped_demo_model(generator):
    """recipes/multivoice16k/G.yaml fine-tunes checkpoints/demo-G: same front end and generator, so
    ``train.init_from`` copies every generator tensor (and the shipped discriminator, test below)."""
    cfg = load_config(ROOT / "recipes" / "multivoice16k" / f"{generator}.yaml")
    assert Path(cfg.train.init_from).resolve() == (ROOT / "checkpoints" / f"demo-{generator}").resolve()
    shipped = load_config(ROOT / "checkpoints" / f"demo-{generator}" / "config.yaml")
    assert cfg.features == shipped.features and cfg.generator == shipped.generator
    assert build_generator(cfg).num_params() == build_generator(shipped).num_params()
    assert [d.name for d in cfg.discriminators] == ["msstft"]
    assert cfg.loss("feature_matching").weight == 2.0 and cfg.loss("mel").weight == 45.0
    assert Path(cfg.data.root) == ROOT / "recipes" / "multivoice16k" / "data" / "multivoice16k"


@pytest.mark.parametrize("recipe", ["multivoice16k/wavehax", "multivoice16k/istftnet", "multivoice16k/pwg"])
def test_gan_recipe_starts_from_a_shipped_discriminator(recipe):
    """Every shipped checkpoint a GAN recipe continues carries discriminator weights (discriminator.safetensors)
    that fit the recipe's discriminators, so ``train.init_from`` starts GAN fine-tuning with a trained critic."""
    from vocoder.train.warm_start import warm_start

    cfg = load_config(ROOT / "recipes" / f"{recipe}.yaml")
    discriminator = build_discriminator(cfg)
    fresh = {k: v.clone() for k, v in discriminator.state_dict().items()}
    report = warm_start(cfg.train.init_from, build_generator(cfg), discriminator)
    assert report.discriminator.startswith("initialised from"), report.discriminator
    assert any(not torch.equal(fresh[k], v) for k, v in discriminator.state_dict().items())
