"""Generators: mel (+ F0, noise) -> waveform ``(B, 1, T * hop)``.

Importing this package registers every generator with :mod:`vocoder.registry`; the import order below is
the registration order, which is the order name lists show (``vocoder bench``, its ``--help``, tools).
A new generator is one module (a :class:`Generator` subclass with ``@register_generator``) and one line here.
"""

# isort: off
from vocoder.models.generators import pwg  # noqa: F401  (registration)
from vocoder.models.generators import istftnet  # noqa: F401
from vocoder.models.generators import wavehax  # noqa: F401
# isort: on
from vocoder.models.generators.base import Generator

__all__ = ["Generator"]
