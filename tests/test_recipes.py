"""Every shipped recipe loads, builds its models and losses, and keeps the paper's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from vocoder.config import load_config
from vocoder.models.factory import build_discriminator, build_generator
from vocoder.train.trainer import build_loss

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes").glob("*/*.yaml"))


def test_all_recipes_are_found():
    names = {f"{p.parent.name}/{p.stem}" for p in RECIPES}
    assert {"demo/pwg", "demo/istftnet", "demo/wavehax", "demo/wavehax_msstft_cqt", "ljspeech/pwg",
            "ljspeech/istftnet_c8c8i", "jvs/wavehax", "allison16k/pwg", "allison16k/istftnet",
            "allison16k/wavehax"} <= names
    for folder in {p.parent for p in RECIPES}:
        assert (folder / "README.md").is_file() or folder.name == "demo"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recipe_builds(recipe):
    cfg = load_config(recipe)
    gen = build_generator(cfg)
    assert gen.hop == cfg.features.hop and gen.sample_rate == cfg.features.sample_rate
    for name in ("mrstft", "mel", "multiscale_mel", "waveform"):
        term = getattr(cfg.losses, name)
        if term is not None:
            build_loss(name, term.params, cfg.features.sample_rate, name)
    disc = build_discriminator(cfg)
    assert (disc is None) == (not cfg.discriminators)
    assert cfg.train.segment_frames * cfg.features.hop >= 4096 or recipe.parent.name == "demo"


def test_paper_settings():
    pwg = load_config(ROOT / "recipes/ljspeech/pwg.yaml")
    assert build_generator(pwg).num_params() == 1_346_042
    assert (pwg.losses.adversarial_kind, pwg.losses.adversarial_weight) == ("lsgan", 4.0)
    assert pwg.train.discriminator_start == 100_000 and pwg.optim.generator.name == "radam"
    ist = load_config(ROOT / "recipes/ljspeech/istftnet_c8c8i.yaml")
    assert build_generator(ist).num_params() == 13_262_244
    assert ist.losses.mel.weight == 45.0 and ist.losses.feature_matching_weight == 2.0
    assert ist.optim.generator.betas == [0.8, 0.99]
    wh = load_config(ROOT / "recipes/jvs/wavehax.yaml")
    assert build_generator(wh).num_params() == 622_951
    assert wh.losses.adversarial_kind == "hinge" and wh.optim.generator.grad_clip == 10.0
    assert wh.optim.generator.betas == [0.8, 0.9] and wh.optim.generator.scheduler == "cosine"
    assert [d.name for d in wh.discriminators] == ["mpd", "mrd"]
    variant = load_config(ROOT / "recipes/demo/wavehax_msstft_cqt.yaml")
    assert [d.name for d in variant.discriminators] == ["msstft", "mssbcqt"]
