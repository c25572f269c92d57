"""Training losses; importing this package registers them by name (see :mod:`vocoder.registry`).

Spectral: ``"mrstft"``, ``"mel"``, ``"multiscale_mel"``; sample domain: ``"waveform"``.
GAN: ``"adversarial"``, ``"feature_matching"`` and the plain functions they wrap. The config's ``losses:``
list becomes the training objective in :mod:`vocoder.losses.objective`.
"""

from vocoder.losses.adversarial import (
    AdversarialLoss,
    FeatureMatchingLoss,
    discriminator_adversarial_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from vocoder.losses.spectral import MelL1Loss, MultiResolutionSTFTLoss, MultiScaleMelLoss
from vocoder.losses.waveform import WaveformL1Loss

__all__ = [
    "AdversarialLoss",
    "FeatureMatchingLoss",
    "MelL1Loss",
    "MultiResolutionSTFTLoss",
    "MultiScaleMelLoss",
    "WaveformL1Loss",
    "discriminator_adversarial_loss",
    "feature_matching_loss",
    "generator_adversarial_loss",
]
