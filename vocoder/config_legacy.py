"""Config forms written before ``losses:`` became a list, converted on load.

Recipes, run folders (``--resume``) and the shipped checkpoints' ``config.yaml`` written before then keep
loading unchanged. The old ``losses:`` was a mapping of fixed names::

    losses: {mrstft: {weight, params}, mel: {...}, multiscale_mel: null, waveform: {...},
             adversarial_kind: lsgan, adversarial_weight: 1.0, feature_matching_weight: 2.0}

and becomes the list the objective sums in order (the old trainer's order: reconstruction terms, then the
adversarial term, then feature matching, which is left out at weight 0 as before)::

    losses:
      - {name: mrstft, weight: 1.0, params: {...}}
      - {name: mel, weight: 45.0, params: {...}}
      - {name: adversarial, weight: 1.0, params: {kind: lsgan}}
      - {name: feature_matching, weight: 2.0}

``--set`` keys of the old form (``losses.feature_matching_weight=2.0``) keep working on a list-form config
through :data:`OVERRIDE_KEYS`. ``train.num_workers`` and ``train.amp`` never took effect and are gone: at
the value that did nothing (as every saved config holds them) they are dropped, any other value is one
error line.
"""

from __future__ import annotations

from typing import Any

from vocoder.errors import ConfigError

RECONSTRUCTION = ("mrstft", "mel", "multiscale_mel", "waveform")  # the old fixed fields, in summation order
GAN_KEYS = {"adversarial_kind": "lsgan", "adversarial_weight": 1.0, "feature_matching_weight": 0.0}
OVERRIDE_KEYS = {
    "losses.adversarial_kind": "losses.adversarial.params.kind",
    "losses.adversarial_weight": "losses.adversarial.weight",
    "losses.feature_matching_weight": "losses.feature_matching.weight",
}
REMOVED_TRAIN_KEYS = {
    "num_workers": (0, "data loading runs in the training process"),
    "amp": ("none", "training runs in float32"),
}
NEW_FORM = "losses: [{name: mel, weight: 45.0, params: {...}}, {name: adversarial, params: {kind: lsgan}}]"


def losses_from_mapping(old: dict[str, Any], source: str) -> list[dict[str, Any]]:
    """The old ``losses:`` mapping -> the list form (plain dicts, checked like the new form)."""
    from vocoder.config import LossSpec, _convert

    for key in old:
        if key not in RECONSTRUCTION and key not in GAN_KEYS:
            known = ", ".join([*RECONSTRUCTION, *GAN_KEYS])
            raise ConfigError(f"{source}: unknown key 'losses.{key}' (known: {known}; or the list form {NEW_FORM})")
    specs = []
    for name in RECONSTRUCTION:
        term = old.get(name)
        if term is None:
            continue
        if not isinstance(term, dict):
            raise ConfigError(f"{source}: losses.{name} must be a mapping, got {type(term).__name__}")
        specs.append(_convert({**term, "name": name}, LossSpec, f"losses.{name}", source))
    given = {key: old.get(key, default) for key, default in GAN_KEYS.items()}
    kind = _convert(given["adversarial_kind"], str, "losses.adversarial_kind", source)
    adversarial = _convert(given["adversarial_weight"], float, "losses.adversarial_weight", source)
    specs.append(LossSpec("adversarial", adversarial, {"kind": kind}))
    fm = _convert(given["feature_matching_weight"], float, "losses.feature_matching_weight", source)
    if fm != 0:
        specs.append(LossSpec("feature_matching", fm))
    return [{"name": s.name, "weight": s.weight, "params": s.params} for s in specs]


def drop_removed_train_keys(train: dict[str, Any], source: str) -> None:
    """Remove ``train.num_workers`` / ``train.amp`` at the values that did nothing; refuse any other value."""
    for key, (noop, why) in REMOVED_TRAIN_KEYS.items():
        if key in train and train.pop(key) != noop:
            raise ConfigError(
                f"{source}: train.{key} was removed ({why}; the setting never took effect): "
                "delete it from the config (or drop the --set)"
            )
