"""Name -> class tables for generators, discriminators and losses, so a recipe picks classes by name.

Classes register themselves with a decorator in their own module; ``build_*`` imports the model
packages lazily so that importing the registry stays cheap.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from vocoder.errors import ConfigError

GENERATORS: dict[str, type] = {}
DISCRIMINATORS: dict[str, type] = {}
LOSSES: dict[str, type] = {}

_PACKAGES = {
    "generator": ("vocoder.models.generators", GENERATORS),
    "discriminator": ("vocoder.models.discriminators", DISCRIMINATORS),
    "loss": ("vocoder.losses", LOSSES),
}


def _register(table: dict[str, type], name: str) -> Callable[[type], type]:
    def deco(cls: type) -> type:
        if name in table and table[name] is not cls:
            raise RuntimeError(f"duplicate registration of {name!r}")
        table[name] = cls
        cls.registry_name = name
        return cls

    return deco


def register_generator(name: str) -> Callable[[type], type]:
    return _register(GENERATORS, name)


def register_discriminator(name: str) -> Callable[[type], type]:
    return _register(DISCRIMINATORS, name)


def register_loss(name: str) -> Callable[[type], type]:
    return _register(LOSSES, name)


def lookup(kind: str, name: str) -> type:
    """Return the class registered as ``name`` for ``kind`` ("generator", "discriminator", "loss")."""
    package, table = _PACKAGES[kind]
    importlib.import_module(package)
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise ConfigError(f"unknown {kind} {name!r} (known: {known})")
    return table[name]


def names(kind: str) -> list[str]:
    """Registered names of ``kind`` in registration order (for generators: the import order of
    ``vocoder.models.generators``, then any registered later). Imports the model package (torch)."""
    package, table = _PACKAGES[kind]
    importlib.import_module(package)
    return list(table)


def classes(kind: str) -> dict[str, type]:
    """``{name: class}`` of ``kind`` in registration order (see :func:`names`)."""
    package, table = _PACKAGES[kind]
    importlib.import_module(package)
    return dict(table)


def check_params(cls: type, params: dict[str, Any], where: str) -> None:
    """Refuse keyword arguments that ``cls.__init__`` does not take, naming the key and ``where``."""
    sig = inspect.signature(cls.__init__)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    allowed = [n for n in sig.parameters if n != "self"]
    for key in params:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r} for {cls.__name__} (known: {', '.join(allowed)})")


def build(kind: str, name: str, params: dict[str, Any] | None = None, where: str = "config", **fixed: Any):
    """Instantiate ``name`` of ``kind`` with ``params`` (from the config) plus ``fixed`` keyword arguments."""
    cls = lookup(kind, name)
    params = dict(params or {})
    check_params(cls, params, f"{where}.{kind}.{name}.params" if kind != "loss" else where)
    try:
        return cls(**fixed, **params)
    except TypeError as err:
        raise ConfigError(f"{where}: cannot build {kind} {name!r}: {err}") from None
