"""The generator's adversarial pass: frozen D parameters and an autograd-free real half give the same
generator gradient as one differentiated D pass over cat([real, fake]), and leave D's gradients alone."""

from __future__ import annotations

import pytest
import torch

from vocoder.config import config_from_dict
from vocoder.losses.adversarial import feature_matching_loss, generator_adversarial_loss
from vocoder.losses.objective import critic_for_generator, flatten, halves
from vocoder.train.trainer import Trainer


def _reference_loss(trainer: Trainer, y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
    """The former form: one pass over cat([y, y_hat]) with autograd everywhere."""
    real, fake = halves(trainer.discriminator(torch.cat([y, y_hat])))
    real_feats = flatten(real)[1]
    fake_logits, fake_feats = flatten(fake)
    fm = feature_matching_loss([[f.detach() for f in fs] for fs in real_feats], fake_feats)
    return generator_adversarial_loss(fake_logits, "lsgan") + 2.0 * fm


@pytest.mark.parametrize("discriminators", [("msstft",), ("mpd",), ("mssbcqt",), ("pwg",)])
def test_generator_gradient_equals_the_single_pass_form(tmp_path, recipe_factory, discriminators):
    recipe = recipe_factory("istftnet", discriminators, steps=1)
    trainer = Trainer(config_from_dict(recipe), tmp_path / "run", progress=False)
    batch = trainer.train_data.batch(2, step=0)
    y = batch.wav
    mel = trainer.mel(y)

    def generator_grads(loss_fn) -> dict[str, torch.Tensor]:
        trainer.generator.zero_grad(set_to_none=True)
        trainer.discriminator.zero_grad(set_to_none=True)
        loss_fn(y, trainer.generator(mel)).backward()
        return {n: p.grad.detach().clone() for n, p in trainer.generator.named_parameters() if p.grad is not None}

    def new_form(y, y_hat):
        real_feats, fake_logits, fake_feats = critic_for_generator(trainer.discriminator, y, y_hat)
        return generator_adversarial_loss(fake_logits, "lsgan") + 2.0 * feature_matching_loss(real_feats, fake_feats)

    old = generator_grads(lambda a, b: _reference_loss(trainer, a, b))
    new = generator_grads(new_form)
    assert old.keys() == new.keys() and old
    for name in old:
        scale = float(old[name].abs().max()) + 1e-12
        assert float((old[name] - new[name]).abs().max()) <= 1e-4 * scale, name
    assert all(p.grad is None for p in trainer.discriminator.parameters())  # no D weight gradients made
    assert all(p.requires_grad for p in trainer.discriminator.parameters())  # and D trains again after
