"""The training objective: the config's ``losses:`` list built through the registry, weighted and summed,
for the discriminator's and the generator's update, with the plumbing of discriminator outputs.

``losses:`` is a list of ``{name, weight, params}`` (:class:`~vocoder.config.LossSpec`), summed in list
order. Each entry is one of:

- a reconstruction loss (:class:`~vocoder.losses.reconstruction.ReconstructionLoss`: ``mrstft``, ``mel``,
  ``multiscale_mel``, ``waveform``) between the generated and the target waveform; weight 0 turns it off;
- ``adversarial`` (``params: {kind: lsgan | hinge}``): the discriminator's loss (unweighted) and, weighted,
  the generator's adversarial term; needed when discriminators are configured, unused without them;
- ``feature_matching``: L1 between the discriminator's feature maps of real and generated audio (generator
  only); weight 0 turns it off.

Every loss names its terms, logged as ``loss/<term>`` (``loss/mel``, ``loss/mrstft_sc``, ``loss/mrstft_mag``
and their sum ``loss/mrstft``, ``loss/g_adv``, ``loss/feature_matching``, ``loss/d_real``, ``loss/d_fake``).

A discriminator returns ``{name: [(logits, [feature maps]), ...]}``, one ``(logits, maps)`` pair per
sub-discriminator (:class:`~vocoder.models.discriminators.CombinedDiscriminator`); :func:`flatten` and
:func:`halves` turn that into the lists the GAN losses take.
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from vocoder import registry
from vocoder.config import LossSpec
from vocoder.errors import ConfigError
from vocoder.losses.adversarial import AdversarialLoss, FeatureMatchingLoss
from vocoder.losses.reconstruction import ReconstructionLoss

ADVERSARIAL_ENTRY = "{name: adversarial, weight: 1.0, params: {kind: lsgan}}"


def build_loss(name: str, params: dict, sample_rate: int, where: str) -> nn.Module:
    """The registered loss ``name`` built with ``params`` (and the run's ``sample_rate`` if it takes one)."""
    cls = registry.lookup("loss", name)
    fixed = {"sample_rate": sample_rate} if "sample_rate" in inspect.signature(cls.__init__).parameters else {}
    return registry.build("loss", name, params, where=where, **fixed)


def flatten(outputs: dict) -> tuple[list[Tensor], list[list[Tensor]]]:
    """Discriminator output -> (all logits, all feature-map lists), one entry per sub-discriminator in a
    fixed order."""
    logits, feats = [], []
    for per_sub in outputs.values():
        for lg, fm in per_sub:
            logits.append(lg)
            feats.append(fm)
    return logits, feats


def halves(outputs: dict) -> tuple[dict, dict]:
    """Split the outputs of D on ``cat([real, fake])`` (batch ``2B``) along the batch into (real, fake)
    outputs of batch ``B`` each."""
    real, fake = {}, {}
    for name, per_sub in outputs.items():
        real[name] = [(lg.chunk(2)[0], [f.chunk(2)[0] for f in fm]) for lg, fm in per_sub]
        fake[name] = [(lg.chunk(2)[1], [f.chunk(2)[1] for f in fm]) for lg, fm in per_sub]
    return real, fake


def critic_for_generator(
    d: nn.Module, y: Tensor, y_hat: Tensor
) -> tuple[list[list[Tensor]], list[Tensor], list[list[Tensor]]]:
    """The discriminator ``d`` on the real ``y`` and the generated ``y_hat`` (``(B, 1, L)`` each), for the
    generator's losses: (real feature maps, fake logits, fake feature maps).

    Only what the generator's gradient needs is differentiated: D's parameters are frozen for this pass
    (no weight gradients are computed, which are about half of a conv backward), and the real half runs
    without autograd (nothing of it reaches the generator: feature matching uses its maps as constants).
    Pass the plain module, not its DDP wrapper: with D's parameters frozen no DDP gradient hook fires, and
    no DDP forward waits for a backward. Same values as one differentiated pass over ``cat([y, y_hat])``.
    """
    frozen = [p for p in d.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        with torch.no_grad():
            real_feats = flatten(d(y))[1]
        fake_logits, fake_feats = flatten(d(y_hat))
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return real_feats, fake_logits, fake_feats


def _total(terms: dict[str, Tensor]) -> Tensor:
    """The sum of a loss's named terms, in their order."""
    return functools.reduce(operator.add, terms.values())


def _logged(terms: dict[str, Tensor]) -> dict[str, float]:
    return {f"loss/{name}": value.item() for name, value in terms.items()}


class Objective(nn.Module):
    """The losses of ``specs`` for a run at ``sample_rate`` (``discriminator``: whether the run has one).

    ``generator_loss(y_hat, y, critic)`` and ``discriminator_loss(critic, y, y_hat)`` return the weighted
    total (a scalar) and the logged values; ``validation_metrics(y_hat, y)`` the ``valid/*`` values.
    """

    def __init__(self, specs: Sequence[LossSpec], sample_rate: int, discriminator: bool) -> None:
        super().__init__()
        self.reconstruction = nn.ModuleList()
        self.weights: list[float] = []
        self.adversarial: AdversarialLoss | None = None
        self.adversarial_weight = 0.0
        self.feature_matching: FeatureMatchingLoss | None = None
        self.feature_matching_weight = 0.0
        seen: set[str] = set()
        for i, spec in enumerate(specs):
            if not spec.name:
                raise ConfigError(f"config: losses[{i}].name is empty (a registered loss, e.g. mel)")
            if spec.name in seen:
                raise ConfigError(f"config: losses: {spec.name!r} is listed twice")
            seen.add(spec.name)
            if spec.weight < 0:
                raise ConfigError(f"config: losses.{spec.name}.weight must be >= 0, got {spec.weight:g}")
            try:
                cls = registry.lookup("loss", spec.name)
            except ConfigError as err:
                raise ConfigError(f"config: losses: {err}") from None
            if spec.weight == 0 and not issubclass(cls, AdversarialLoss):  # D's loss needs the adversarial kind
                continue
            where = f"losses.{spec.name}.params"
            try:
                loss = build_loss(spec.name, spec.params, sample_rate, where)
            except ConfigError as err:  # the loss's own check (e.g. an unknown adversarial kind): name the key
                raise ConfigError(str(err) if str(err).startswith(where) else f"config: {where}: {err}") from None
            if isinstance(loss, ReconstructionLoss):
                self.reconstruction.append(loss)
                self.weights.append(spec.weight)
            elif isinstance(loss, AdversarialLoss):
                self.adversarial, self.adversarial_weight = loss, spec.weight
            elif isinstance(loss, FeatureMatchingLoss):
                self.feature_matching, self.feature_matching_weight = loss, spec.weight
            else:
                raise ConfigError(f"config: losses.{spec.name}: {type(loss).__name__} is not a training loss")
        if discriminator and self.adversarial is None:
            raise ConfigError(
                f"config: discriminators are set but losses has no adversarial entry (add {ADVERSARIAL_ENTRY})"
            )
        if not self.reconstruction and not discriminator:
            raise ConfigError("config: no loss is enabled (no reconstruction loss with weight > 0, no discriminators)")

    def generator_loss(self, y_hat: Tensor, y: Tensor, critic: nn.Module | None) -> tuple[Tensor, dict[str, float]]:
        """The generator's loss on ``y_hat`` against ``y`` (``(B, 1, L)`` each); with ``critic`` (the plain
        discriminator, once it trains) the adversarial and feature-matching terms are added."""
        total = y_hat.new_zeros(())
        logs: dict[str, float] = {}
        for loss, weight in zip(self.reconstruction, self.weights):
            terms = loss.terms(y_hat, y)
            value = _total(terms)
            logs.update(_logged(terms))
            logs[f"loss/{loss.registry_name}"] = value.item()
            total = total + weight * value
        if critic is not None:
            real_feats, fake_logits, fake_feats = critic_for_generator(critic, y, y_hat)
            terms = self.adversarial.generator_terms(fake_logits)
            total = total + self.adversarial_weight * _total(terms)
            logs.update(_logged(terms))
            if self.feature_matching is not None:
                terms = self.feature_matching.terms(real_feats, fake_feats)
                total = total + self.feature_matching_weight * _total(terms)
                logs.update(_logged(terms))
        return total, logs

    def discriminator_loss(self, critic: nn.Module, y: Tensor, y_hat: Tensor) -> tuple[Tensor, dict[str, float]]:
        """The discriminator's loss: ``critic`` (DDP-wrapped or not) in one pass over ``cat([y, y_hat])``
        (``y_hat`` detached), real and fake terms summed."""
        real, fake = halves(critic(torch.cat([y, y_hat.detach()])))
        terms = self.adversarial.discriminator_terms(flatten(real)[0], flatten(fake)[0])
        return _total(terms), _logged(terms)

    def validation_metrics(self, y_hat: Tensor, y: Tensor) -> dict[str, float]:
        """``valid/<name>`` of the losses that are also validation metrics, on one utterance ``(1, 1, L)``."""
        return {
            f"valid/{loss.registry_name}": float(_total(loss.terms(y_hat, y)))
            for loss in self.reconstruction
            if loss.validation_metric
        }
