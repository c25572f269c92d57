from __future__ import annotations

import pytest
import torch

from vocoder.errors import ConfigError, InputError
from vocoder.losses import (
    AdversarialLoss,
    FeatureMatchingLoss,
    discriminator_adversarial_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from vocoder.registry import lookup


def _logits(value: float) -> list[torch.Tensor]:
    # Sub-discriminators with different logit shapes: waveform (B,1,T) and spectral (B,1,T,F).
    return [torch.full((2, 1, 7), value), torch.full((2, 1, 5, 3), value)]


def test_lsgan_textbook_values_single_subdiscriminator():
    d = [torch.full((3, 1, 11), 0.5)]
    assert generator_adversarial_loss(d, "lsgan").item() == pytest.approx(0.25)
    real, fake = discriminator_adversarial_loss(d, d, "lsgan")
    assert real.item() == pytest.approx(0.25)
    assert fake.item() == pytest.approx(0.25)


def test_hinge_textbook_values_single_subdiscriminator():
    d = [torch.full((3, 1, 11), 0.5)]
    assert generator_adversarial_loss(d, "hinge").item() == pytest.approx(-0.5)
    real, fake = discriminator_adversarial_loss(d, d, "hinge")
    assert real.item() == pytest.approx(0.5)
    assert fake.item() == pytest.approx(1.5)


def test_losses_sum_over_subdiscriminators_of_any_shape():
    assert generator_adversarial_loss(_logits(0.5), "lsgan").item() == pytest.approx(0.5)
    real, fake = discriminator_adversarial_loss(_logits(1.0), _logits(0.0), "lsgan")
    assert (real.item(), fake.item()) == (0.0, 0.0)  # a perfect LSGAN discriminator
    real, fake = discriminator_adversarial_loss(_logits(2.0), _logits(-3.0), "hinge")
    assert (real.item(), fake.item()) == (0.0, 0.0)  # beyond the hinge margins
    assert generator_adversarial_loss(_logits(-3.0), "hinge").item() == pytest.approx(6.0)


def test_lsgan_mixed_values_match_formula():
    real = [torch.tensor([[0.0, 1.0, 2.0]])]
    fake = [torch.tensor([[0.0, 1.0, 2.0]])]
    r, f = discriminator_adversarial_loss(real, fake, "lsgan")
    assert r.item() == pytest.approx((1 + 0 + 1) / 3)
    assert f.item() == pytest.approx((0 + 1 + 4) / 3)
    r, f = discriminator_adversarial_loss(real, [torch.tensor([[-2.0, -1.0, 0.5]])], "hinge")
    assert r.item() == pytest.approx((1 + 0 + 0) / 3)
    assert f.item() == pytest.approx((0 + 0 + 1.5) / 3)


def test_single_tensor_is_one_subdiscriminator():
    assert generator_adversarial_loss(torch.full((2, 4), 0.5)).item() == pytest.approx(0.25)


def test_gradients_reach_the_logits():
    fake = [torch.full((2, 1, 4), 0.5, requires_grad=True)]
    generator_adversarial_loss(fake, "lsgan").backward()
    # d/dx mean((1-x)^2) = -2(1-x)/N with N = 8
    assert torch.allclose(fake[0].grad, torch.full((2, 1, 4), -2 * 0.5 / 8))


def test_unknown_kind_is_config_error():
    with pytest.raises(ConfigError, match="wgan"):
        generator_adversarial_loss(_logits(0.5), "wgan")
    with pytest.raises(ConfigError, match="wgan"):
        discriminator_adversarial_loss(_logits(0.5), _logits(0.5), "wgan")
    with pytest.raises(ConfigError):
        AdversarialLoss("wgan")


def test_mismatched_counts_are_input_errors():
    with pytest.raises(InputError):
        discriminator_adversarial_loss(_logits(0.5), _logits(0.5)[:1])
    with pytest.raises(InputError):
        generator_adversarial_loss([])


def _feats(offset: float = 0.0) -> list[list[torch.Tensor]]:
    torch.manual_seed(0)
    base = [
        [torch.randn(2, 4, 9), torch.randn(2, 8, 5), torch.randn(2, 1, 5)],
        [torch.randn(2, 4, 6, 3), torch.randn(2, 4, 3, 2)],
    ]
    return [[f + offset for f in sub] for sub in base]


def test_feature_matching_identical_is_zero():
    assert feature_matching_loss(_feats(), _feats()).item() == 0.0


def test_feature_matching_offset_sums_over_all_maps():
    # 5 maps in total, each off by |c| = 0.3 everywhere -> 5 * 0.3
    assert feature_matching_loss(_feats(), _feats(-0.3)).item() == pytest.approx(1.5, abs=1e-6)
    assert FeatureMatchingLoss()(_feats(), _feats(0.3)).item() == pytest.approx(1.5, abs=1e-6)


def test_feature_matching_detaches_real_features():
    real = [[torch.zeros(2, 3, requires_grad=True)]]
    fake = [[torch.ones(2, 3, requires_grad=True)]]
    feature_matching_loss(real, fake).backward()
    assert real[0][0].grad is None
    assert torch.allclose(fake[0][0].grad, torch.full((2, 3), 1 / 6))


def test_feature_matching_shape_mismatch_is_input_error():
    with pytest.raises(InputError, match="layer 1"):
        feature_matching_loss([[torch.zeros(2, 3), torch.zeros(2, 3)]], [[torch.zeros(2, 3), torch.zeros(2, 4)]])


def test_registered_modules():
    adv = lookup("loss", "adversarial")(kind="hinge")
    assert isinstance(adv, AdversarialLoss)
    assert adv(_logits(0.5)).item() == pytest.approx(-1.0)
    real, fake = adv.discriminator(_logits(0.5), _logits(0.5))
    assert (real.item(), fake.item()) == pytest.approx((1.0, 3.0))
    assert lookup("loss", "feature_matching") is FeatureMatchingLoss
