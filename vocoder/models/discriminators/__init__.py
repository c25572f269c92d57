"""Discriminators; importing this package registers every one of them by name.

Each takes a waveform ``(B, 1, L)`` and returns ``[(logits, feature_maps), ...]``, one pair per
sub-discriminator (see :mod:`vocoder.models.discriminators.base`).
"""

from vocoder.models.discriminators import combined, mpd, mrd, mssbcqt, msstft, pwg  # noqa: F401
from vocoder.models.discriminators.combined import CombinedDiscriminator

__all__ = ["CombinedDiscriminator"]
