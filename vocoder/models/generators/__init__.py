"""Generators: mel (+ F0, noise) -> waveform ``(B, 1, T * hop)``.

Importing this package registers every generator with :mod:`vocoder.registry`
("pwg", "istftnet", "wavehax").
"""

from vocoder.models.generators import istftnet, pwg, wavehax  # noqa: F401  (registration)
from vocoder.models.generators.base import Generator

__all__ = ["Generator"]
