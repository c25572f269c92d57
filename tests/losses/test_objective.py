"""The training objective built from the ``losses:`` list: order, weights, named terms, GAN assembly, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vocoder.config import LossSpec
from vocoder.errors import ConfigError
from vocoder.losses.objective import Objective, halves
from vocoder.losses.spectral import MultiResolutionSTFTLoss

MRSTFT = {"fft_sizes": [64, 32], "hop_sizes": [16, 8], "win_lengths": [64, 32]}


class ToyCritic(nn.Module):
    """One sub-discriminator: logits ``w * x`` and one feature map ``2 w x`` (``w = 0.5``)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor) -> dict:
        return {"toy": [(self.w * x, [2 * self.w * x])]}


def _specs(*entries: tuple) -> list[LossSpec]:
    return [LossSpec(name, weight, params or {}) for name, weight, params in entries]


def test_terms_are_weighted_summed_in_list_order_and_named():
    objective = Objective(
        _specs(("mrstft", 2.0, MRSTFT), ("waveform", 100.0, None), ("adversarial", 1.0, {"kind": "lsgan"}),
               ("feature_matching", 2.0, None)),
        16000, discriminator=True,
    )
    assert [loss.registry_name for loss in objective.reconstruction] == ["mrstft", "waveform"]
    torch.manual_seed(0)
    y, y_hat = 0.1 * torch.randn(2, 1, 256), 0.1 * torch.randn(2, 1, 256)
    sc, mag = MultiResolutionSTFTLoss(**MRSTFT)(y_hat, y)
    l1 = (y_hat - y).abs().mean()
    total, logs = objective.generator_loss(y_hat, y, critic=None)  # before discriminator_start: no GAN terms
    assert torch.allclose(total, 2.0 * (sc + mag) + 100.0 * l1, rtol=1e-6)
    assert set(logs) == {"loss/mrstft_sc", "loss/mrstft_mag", "loss/mrstft", "loss/waveform"}
    assert logs["loss/mrstft"] == pytest.approx(float(sc + mag), rel=1e-6)
    assert logs["loss/waveform"] == pytest.approx(float(l1), rel=1e-6)
    assert objective.validation_metrics(y_hat, y) == {"valid/mrstft": pytest.approx(float(sc + mag), rel=1e-6)}


def test_gan_terms_with_a_critic():
    objective = Objective(
        _specs(("waveform", 100.0, None), ("adversarial", 1.0, {"kind": "lsgan"}), ("feature_matching", 2.0, None)),
        16000, discriminator=True,
    )
    critic = ToyCritic()
    y, y_hat = torch.full((2, 1, 8), 0.2), torch.full((2, 1, 8), 0.6, requires_grad=True)
    # G: LSGAN (1 - 0.3)^2 = 0.49, feature matching |0.2 - 0.6| = 0.4 (x2), sample L1 0.4 (x100)
    total, logs = objective.generator_loss(y_hat, y, critic)
    assert total.item() == pytest.approx(40.0 + 0.49 + 0.8, rel=1e-6)
    assert logs == {"loss/waveform": pytest.approx(0.4), "loss/g_adv": pytest.approx(0.49),
                    "loss/feature_matching": pytest.approx(0.4)}
    total.backward()
    assert critic.w.grad is None and critic.w.requires_grad  # D frozen for the generator's pass, then trainable
    # D: real (1 - 0.1)^2 = 0.81, fake 0.3^2 = 0.09; y_hat is detached
    d_loss, d_logs = objective.discriminator_loss(critic, y, y_hat)
    assert d_loss.item() == pytest.approx(0.9, rel=1e-6)
    assert d_logs == {"loss/d_real": pytest.approx(0.81), "loss/d_fake": pytest.approx(0.09)}
    y_hat.grad = None
    d_loss.backward()
    assert y_hat.grad is None and critic.w.grad is not None


def test_hinge_kind_and_weights():
    objective = Objective(_specs(("adversarial", 4.0, {"kind": "hinge"})), 16000, discriminator=True)
    y, y_hat = torch.full((1, 1, 4), 0.2), torch.full((1, 1, 4), 0.6)
    total, logs = objective.generator_loss(y_hat, y, ToyCritic())
    assert total.item() == pytest.approx(4.0 * -0.3) and logs == {"loss/g_adv": pytest.approx(-0.3)}
    d_loss, _ = objective.discriminator_loss(ToyCritic(), y, y_hat)
    assert d_loss.item() == pytest.approx((1 - 0.1) + (1 + 0.3))


def test_weight_zero_turns_a_term_off_but_adversarial_still_trains_d():
    objective = Objective(
        _specs(("mel", 0.0, {"bad": 1}), ("waveform", 1.0, None), ("adversarial", 0.0, {"kind": "lsgan"}),
               ("feature_matching", 0.0, None)),
        16000, discriminator=True,
    )
    assert [loss.registry_name for loss in objective.reconstruction] == ["waveform"]  # mel not even built
    assert objective.feature_matching is None and objective.adversarial.kind == "lsgan"
    y, y_hat = torch.full((1, 1, 4), 0.2), torch.full((1, 1, 4), 0.6)
    total, logs = objective.generator_loss(y_hat, y, ToyCritic())
    assert total.item() == pytest.approx(0.4) and logs["loss/g_adv"] == pytest.approx(0.49)


def test_halves_splits_the_batch():
    out = {"toy": [(torch.arange(4.0).view(4, 1, 1), [torch.arange(8.0).view(4, 2)])]}
    real, fake = halves(out)
    assert real["toy"][0][0].flatten().tolist() == [0.0, 1.0] and fake["toy"][0][0].flatten().tolist() == [2.0, 3.0]
    assert fake["toy"][0][1][0].tolist() == [[4.0, 5.0], [6.0, 7.0]]


@pytest.mark.parametrize(
    "entries, discriminator, message",
    [
        ((("mel", 45.0, None), ("mel", 1.0, None)), False, "losses: 'mel' is listed twice"),
        ((("mel", -1.0, None),), False, "losses.mel.weight must be >= 0, got -1"),
        ((("melx", 1.0, None),), False, "unknown loss 'melx' (known: adversarial, feature_matching, mel,"),
        ((("", 1.0, None),), False, "losses[0].name is empty"),
        ((("mel", 1.0, {"hops": 3}),), False, "losses.mel.params: unknown key 'hops'"),
        ((("adversarial", 1.0, {"kind": "wgan"}),), True, "losses.adversarial.params: adversarial loss kind 'wgan'"),
        ((("mel", 45.0, None),), True, "discriminators are set but losses has no adversarial entry (add {name: adv"),
        ((("adversarial", 1.0, None), ("mel", 0.0, None)), False, "no loss is enabled"),
    ],
)
def test_bad_losses_are_one_line(entries, discriminator, message):
    with pytest.raises(ConfigError) as err:
        Objective(_specs(*entries), 16000, discriminator)
    assert message in str(err.value) and "\n" not in str(err.value)
