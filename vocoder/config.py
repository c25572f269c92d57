"""Typed run configuration: dataclasses for every section, YAML loading, ``--set`` overrides.

A recipe YAML has the sections ``features``, ``generator``, ``discriminators``, ``losses``, ``optim``,
``train`` and ``data``. Unknown keys and wrong types raise :class:`~vocoder.errors.ConfigError` with
one line naming the file and the dotted key. ``--set a.b=c`` values are parsed as YAML scalars/lists;
``--set losses.mel.weight=45`` addresses the ``losses`` (and ``discriminators``) entry by its name.
``losses:`` is a list of ``{name, weight, params}`` (:class:`LossSpec`); the older mapping form and removed
keys are converted on load by :mod:`vocoder.config_legacy`.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from vocoder import config_legacy as legacy
from vocoder.errors import ConfigError


class SafeFloatLoader(yaml.SafeLoader):
    """Safe YAML loader that also reads ``1e-4`` / ``2E5`` as floats (YAML 1.2; PyYAML's 1.1 rules need a dot)."""


SafeFloatLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=SafeFloatLoader)  # a SafeLoader subclass


@dataclass
class FeatureConfig:
    """Log-mel front end (and F0 settings) shared by data, models, checkpoints and ONNX files.

    ``padding``: "same" pads (n_fft - hop) // 2 on both sides (HiFi-GAN style), "center" pads n_fft // 2
    (librosa ``center=True``) and drops the last frame. Either way ``T * hop`` samples give ``T`` frames.
    ``preset`` names a set of values from :data:`vocoder.audio.mel.PRESETS`; keys given next to it win.
    """

    preset: str | None = None
    sample_rate: int = 16000
    n_fft: int = 1024
    hop: int = 160
    win_length: int | None = None
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float | None = 8000.0
    log: str = "ln"  # "ln" or "log10"
    clamp: float = 1e-5
    padding: str = "same"  # "same" or "center"
    pad_mode: str = "reflect"
    mel_scale: str = "slaney"  # "slaney" or "htk"
    mel_norm: str | None = "slaney"  # "slaney" or None
    power: float = 1.0  # 1 = magnitude mel, 2 = power mel
    mean: list[float] | None = None  # optional per-bin normalisation stats (ESPnet/PWG style)
    std: list[float] | None = None
    f0_method: str = "harvest"
    f0_min: float = 60.0
    f0_max: float = 700.0

    @property
    def win(self) -> int:
        return self.win_length or self.n_fft


@dataclass
class ModelSpec:
    """A class picked by registry name plus its keyword parameters."""

    name: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class LossSpec:
    """One training loss: the registered loss ``name``, its ``weight`` in the objective and its ``params``.

    A weight of 0 turns a reconstruction or feature-matching loss off; the ``adversarial`` entry (``params:
    {kind: lsgan | hinge}``) is used whenever a discriminator trains (see :mod:`vocoder.losses.objective`).
    """

    name: str = ""
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)


def default_losses() -> list[LossSpec]:
    """The objective of a config without ``losses``: LSGAN at weight 1 (used once a discriminator trains)."""
    return [LossSpec("adversarial", 1.0, {"kind": "lsgan"})]


@dataclass
class OptimizerConfig:
    name: str = "adamw"  # adam, adamw, radam
    lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.8, 0.99])
    eps: float = 1e-8
    weight_decay: float = 0.0
    grad_clip: float | None = None
    scheduler: str = "none"  # none, step, exponential, cosine
    step_size: int = 200000  # step scheduler
    gamma: float = 0.5  # step and exponential schedulers (exponential: per step)
    min_lr: float = 0.0  # cosine


@dataclass
class OptimConfig:
    generator: OptimizerConfig = field(default_factory=OptimizerConfig)
    discriminator: OptimizerConfig = field(default_factory=OptimizerConfig)


@dataclass
class TrainConfig:
    max_steps: int = 1000
    batch_size: int = 8
    segment_frames: int = 32
    discriminator_start: int = 0
    generator_start: int = 0  # steps before it update the discriminators only (a critic warm-up; G fixed)
    seed: int = 1234
    log_every: int = 10
    eval_every: int = 200
    save_every: int = 200
    keep_last: int = 3
    max_nonfinite: int = 5
    eval_utterances: int = 8
    audio_log_utterances: int = 2
    threads: int | None = None
    init_from: str | None = None  # run/checkpoint folder whose generator weights start training (fine-tuning)
    valid_mos: bool = True  # log Distill-MOS of the generated validation clips (valid/distill_mos)
    freeze: list[str] = field(default_factory=list)  # generator parameter-name prefixes kept fixed (e.g. a warm trunk)


@dataclass
class DataConfig:
    root: str = ""
    extensions: list[str] = field(default_factory=lambda: [".wav", ".flac", ".ogg"])
    valid_count: int = 8
    test_count: int = 8
    split_seed: int = 0
    cache_dir: str | None = None
    min_seconds: float = 0.3
    input_root: str = ""  # paired data: input mels from these files (same relative names), targets from root


@dataclass
class RunConfig:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    generator: ModelSpec = field(default_factory=ModelSpec)
    discriminators: list[ModelSpec] = field(default_factory=list)
    losses: list[LossSpec] = field(default_factory=default_losses)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def loss(self, name: str) -> LossSpec | None:
        """The ``losses`` entry called ``name``, or None when the config has none."""
        return next((spec for spec in self.losses if spec.name == name), None)


# --------------------------------------------------------------------------------------------- loading


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _convert(value: Any, tp: Any, key: str, source: str) -> Any:
    """Check ``value`` against the annotation ``tp``, building dataclasses; errors name ``key``."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key, source)
            except ConfigError as err:
                errors.append(err)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {key} must be a mapping, got {type(value).__name__}")
        return _build(tp, value, key, source)
    if tp is Any:
        return value
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: {key} must be a list, got {type(value).__name__} {value!r}")
        return [_convert(v, item_tp, _item_key(key, i, v), source) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {key} must be a mapping, got {type(value).__name__}")
        return dict(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: {key} must be a number, got {value!r}")
        try:
            return float(value)
        except OverflowError:  # an integer beyond float range
            raise ConfigError(f"{source}: {key} is too large (beyond float range)") from None
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {key} must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {key} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{source}: {key} has unsupported type {_type_name(tp)}")


def _item_key(key: str, index: int, item: Any) -> str:
    """How errors name list item ``index``: ``losses.mel`` in a :data:`NAMED_LISTS` list, else ``key[index]``."""
    name = item.get("name") if isinstance(item, dict) else None
    return f"{key}.{name}" if key in NAMED_LISTS and isinstance(name, str) and name else f"{key}[{index}]"


def _build(cls: type, data: dict[str, Any], prefix: str, source: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            raise ConfigError(f"{source}: unknown key '{dotted}' (known: {', '.join(names)})")
        kwargs[key] = _convert(value, hints[key], dotted, source)
    return cls(**kwargs)


def _list_index(part: str, node: list) -> int | None:
    """``part`` as an index into ``node``; None unless it is a short in-range decimal number (not '²')."""
    if not (part.isascii() and part.isdigit() and len(part) < 10) or int(part) >= len(node):
        return None
    return int(part)


NAMED_LISTS = ("discriminators", "losses")  # lists of {name, ...} entries; --set may address an entry by name


def _named_entry(items: list, name: str, create: bool) -> dict | None:
    """The entry of a named list called ``name``; appended as ``{name: name}`` when missing and ``create``."""
    for item in items:
        if isinstance(item, dict) and item.get("name") == name:
            return item
    if not create:
        return None
    items.append({"name": name})
    return items[-1]


def _set_named(items: list, name: str, value: Any, dotted: str, source: str) -> None:
    """``--set losses.mel={weight: 45}`` replaces (or adds) the entry ``mel``; ``--set losses.mel=null`` drops it."""
    entry = _named_entry(items, name, create=False)
    if value is None:
        if entry is not None:
            items.remove(entry)
    elif not isinstance(value, dict):
        raise ConfigError(f"{source}: {dotted} must be a mapping, got {type(value).__name__}")
    else:
        replacement = {"name": name, **{k: v for k, v in value.items() if k != "name"}}
        if entry is None:
            items.append(replacement)
        else:
            items[items.index(entry)] = replacement


def _set_dotted(data: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    """Set ``a.b.c`` in ``data``; a number indexes a list, a name picks the entry of a :data:`NAMED_LISTS` list."""
    parts = dotted.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            index = _list_index(part, node)
            if index is not None:
                node = node[index]
            elif i == 1 and parts[0] in NAMED_LISTS and not part.isdigit():
                node = _named_entry(node, part, create=True)
            else:
                raise ConfigError(f"{source}: bad list index '{'.'.join(parts[: i + 1])}' in override")
        else:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        if not isinstance(node, (dict, list)):
            raise ConfigError(f"{source}: cannot set '{dotted}': '{part}' is not a section")
    last = parts[-1]
    if isinstance(node, list):
        index = _list_index(last, node)
        if index is not None:
            node[index] = value
        elif len(parts) == 2 and parts[0] in NAMED_LISTS and not last.isdigit():
            _set_named(node, last, value, dotted, source)
        else:
            raise ConfigError(f"{source}: bad list index '{dotted}' in override")
    else:
        node[last] = value


def parse_overrides(overrides: list[str] | None) -> list[tuple[str, Any]]:
    """``["train.max_steps=20", "optim.generator.betas=[0.8,0.9]"]`` -> [(key, parsed value), ...]."""
    parsed = []
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set: expected KEY=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            value = _load_yaml(raw) if raw.strip() else ""
        except (yaml.YAMLError, ValueError, RecursionError):  # ValueError: an integer of over 4300 digits
            value = raw
        parsed.append((key.strip(), value))
    return parsed


def config_from_dict(
    data: dict[str, Any], source: str = "config", overrides: list[str] | None = None
) -> RunConfig:
    """Validate a plain dict (as read from YAML), apply ``overrides``, resolve the mel preset."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level must be a mapping of sections, got {type(data).__name__}")
    data = _deepcopy(data)
    if data.get("losses") is None:
        data["losses"] = [dataclasses.asdict(spec) for spec in default_losses()]
    for key, value in parse_overrides(overrides):
        if isinstance(data.get("losses"), list):
            key = legacy.OVERRIDE_KEYS.get(key, key)  # an old-form key on a list-form config
        _set_dotted(data, key, value, f"{source} (--set {key})")
    if isinstance(data.get("losses"), dict):
        data["losses"] = legacy.losses_from_mapping(data["losses"], source)
    if isinstance(data.get("train"), dict):
        legacy.drop_removed_train_keys(data["train"], source)
    cfg = _build(RunConfig, data, "", source)
    from vocoder.audio.mel_presets import resolve_features

    given = data.get("features") or {}
    try:
        cfg.features = resolve_features(given if isinstance(given, dict) else {})
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    return cfg


def _deepcopy(data: Any) -> Any:
    return _load_yaml(yaml.safe_dump(data))


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Read a recipe/run YAML file into a :class:`RunConfig`."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = _load_yaml(path.read_text())
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{path}: not valid YAML{line}") from None
    except (UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"{path}: cannot read config ({type(err).__name__})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML (nested too deeply)") from None
    except ValueError as err:  # raised by the YAML constructors, e.g. an integer of over 4300 digits
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0][:80]})") from None
    cfg = config_from_dict(data, str(path), overrides)
    _resolve_data_root(cfg, path.parent)
    return cfg


def _relative_to(base: Path, value: str) -> str:
    """``value`` taken relative to ``base`` unless it is absolute, or only exists relative to the cwd."""
    if not value or Path(value).is_absolute():
        return value
    candidate = (base / value).resolve()
    return str(candidate) if candidate.exists() or not Path(value).exists() else value


def _resolve_data_root(cfg: RunConfig, base: Path) -> None:
    """Relative ``data.root`` and ``train.init_from`` are taken relative to the config file's folder
    (recipes are portable; a path that exists only relative to the working folder is kept as given)."""
    cfg.data.root = _relative_to(base, cfg.data.root)
    cfg.data.input_root = _relative_to(base, cfg.data.input_root)
    if cfg.train.init_from:
        cfg.train.init_from = _relative_to(base, cfg.train.init_from)


def save_config(cfg: RunConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (what a run used; loads back with :func:`load_config`)."""
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
