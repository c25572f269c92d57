"""GAN losses: least-squares and hinge adversarial losses, and L1 feature matching.

Every discriminator in this package returns, per sub-discriminator, a logit tensor of any shape
(``(B, 1, T')`` for waveform discriminators, ``(B, 1, T', F')`` for spectral ones) and a list of
feature maps. The functions here take lists of those, one entry per sub-discriminator.

Reductions follow HiFi-GAN (jik876/hifi-gan ``models.py``, kept by BigVGAN and Amphion): each
sub-discriminator contributes the *mean* over all elements of its logits, and the contributions are
*summed* over sub-discriminators (not averaged), so adding a sub-discriminator adds a term. Feature
matching is likewise the mean absolute difference per feature map, summed over the maps of every
sub-discriminator.

Weights are not applied here; the training objective (:mod:`vocoder.losses.objective`) multiplies by the
config's weights. Known-good values:
lambda_adv 1 and lambda_feat 2 with mel L1 x45 (HiFi-GAN, BigVGAN), lambda_adv 4 with MR-STFT
(Parallel WaveGAN, LSGAN, no feature matching), adv 4 / feat 4 hinge (EnCodec).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from vocoder.errors import ConfigError, InputError
from vocoder.registry import register_loss

KINDS = ("lsgan", "hinge")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"adversarial loss kind {kind!r} is unknown (known: {', '.join(KINDS)})")


def _as_list(logits: Tensor | Sequence[Tensor], what: str) -> list[Tensor]:
    """Accept one logit tensor or a list of them (one per sub-discriminator)."""
    out = [logits] if isinstance(logits, Tensor) else list(logits)
    if not out:
        raise InputError(f"{what}: no discriminator outputs were given")
    return out


def generator_adversarial_loss(fake_logits: Tensor | Sequence[Tensor], kind: str = "lsgan") -> Tensor:
    """Generator's adversarial loss, summed over sub-discriminators.

    lsgan: sum_k mean((1 - D_k(fake))^2); hinge: sum_k -mean(D_k(fake)).
    """
    _check_kind(kind)
    loss = None
    for logit in _as_list(fake_logits, "generator adversarial loss"):
        term = torch.mean((1.0 - logit) ** 2) if kind == "lsgan" else -torch.mean(logit)
        loss = term if loss is None else loss + term
    return loss


def discriminator_adversarial_loss(
    real_logits: Tensor | Sequence[Tensor], fake_logits: Tensor | Sequence[Tensor], kind: str = "lsgan"
) -> tuple[Tensor, Tensor]:
    """Discriminator's loss as ``(real_loss, fake_loss)``, each summed over sub-discriminators.

    lsgan: real mean((1 - D(real))^2), fake mean(D(fake)^2);
    hinge: real mean(relu(1 - D(real))), fake mean(relu(1 + D(fake))). The caller adds the two.
    ``fake_logits`` should come from a detached generator output.
    """
    _check_kind(kind)
    real = _as_list(real_logits, "discriminator adversarial loss (real)")
    fake = _as_list(fake_logits, "discriminator adversarial loss (fake)")
    if len(real) != len(fake):
        raise InputError(f"discriminator adversarial loss: {len(real)} real outputs but {len(fake)} fake outputs")
    real_loss = fake_loss = None
    for r, f in zip(real, fake):
        if kind == "lsgan":
            r_term, f_term = torch.mean((1.0 - r) ** 2), torch.mean(f**2)
        else:
            r_term, f_term = torch.mean(F.relu(1.0 - r)), torch.mean(F.relu(1.0 + f))
        real_loss = r_term if real_loss is None else real_loss + r_term
        fake_loss = f_term if fake_loss is None else fake_loss + f_term
    return real_loss, fake_loss


def feature_matching_loss(real_feats: Sequence[Sequence[Tensor]], fake_feats: Sequence[Sequence[Tensor]]) -> Tensor:
    """L1 feature matching: sum over sub-discriminators and layers of mean |real - fake|.

    ``real_feats[k][l]`` is layer ``l`` of sub-discriminator ``k``; real features are detached so the
    discriminator is not trained by this loss. Summing (not averaging) is HiFi-GAN's choice, which its
    weight of 2 was tuned for; with ``n`` maps in total, features offset by ``c`` everywhere give
    ``n * |c|``.
    """
    if len(real_feats) != len(fake_feats):
        raise InputError(f"feature matching: {len(real_feats)} real sub-discriminators but {len(fake_feats)} fake")
    if not real_feats:
        raise InputError("feature matching: no discriminator features were given")
    loss = None
    for k, (real_maps, fake_maps) in enumerate(zip(real_feats, fake_feats)):
        if len(real_maps) != len(fake_maps):
            raise InputError(
                f"feature matching: sub-discriminator {k} has {len(real_maps)} real maps but {len(fake_maps)} fake maps"
            )
        for layer, (r, f) in enumerate(zip(real_maps, fake_maps)):
            if r.shape != f.shape:
                raise InputError(
                    f"feature matching: sub-discriminator {k} layer {layer} shapes differ "
                    f"({tuple(r.shape)} real, {tuple(f.shape)} fake)"
                )
            term = torch.mean(torch.abs(r.detach() - f))
            loss = term if loss is None else loss + term
    if loss is None:
        raise InputError("feature matching: the discriminators returned no feature maps")
    return loss


@register_loss("adversarial")
class AdversarialLoss(torch.nn.Module):
    """Adversarial loss of one ``kind`` ("lsgan" or "hinge") for both players.

    ``generator(fake_logits)`` -> scalar; ``discriminator(real_logits, fake_logits)`` ->
    ``(real_loss, fake_loss)``; logits are lists with one tensor of any shape per sub-discriminator.
    ``generator_terms`` / ``discriminator_terms`` name them for logging: ``g_adv``; ``d_real``, ``d_fake``.
    """

    def __init__(self, kind: str = "lsgan") -> None:
        super().__init__()
        _check_kind(kind)
        self.kind = kind

    def generator(self, fake_logits: Tensor | Sequence[Tensor]) -> Tensor:
        return generator_adversarial_loss(fake_logits, self.kind)

    def discriminator(
        self, real_logits: Tensor | Sequence[Tensor], fake_logits: Tensor | Sequence[Tensor]
    ) -> tuple[Tensor, Tensor]:
        return discriminator_adversarial_loss(real_logits, fake_logits, self.kind)

    def forward(self, fake_logits: Tensor | Sequence[Tensor]) -> Tensor:
        return self.generator(fake_logits)

    def generator_terms(self, fake_logits: Sequence[Tensor]) -> dict[str, Tensor]:
        return {"g_adv": self.generator(fake_logits)}

    def discriminator_terms(self, real_logits: Sequence[Tensor], fake_logits: Sequence[Tensor]) -> dict[str, Tensor]:
        real, fake = self.discriminator(real_logits, fake_logits)
        return {"d_real": real, "d_fake": fake}

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"


@register_loss("feature_matching")
class FeatureMatchingLoss(torch.nn.Module):
    """:func:`feature_matching_loss` as a module: ``forward(real_feats, fake_feats)`` -> scalar; ``terms``
    names it ``feature_matching``."""

    def forward(self, real_feats: Sequence[Sequence[Tensor]], fake_feats: Sequence[Sequence[Tensor]]) -> Tensor:
        return feature_matching_loss(real_feats, fake_feats)

    def terms(
        self, real_feats: Sequence[Sequence[Tensor]], fake_feats: Sequence[Sequence[Tensor]]
    ) -> dict[str, Tensor]:
        return {"feature_matching": self(real_feats, fake_feats)}
