"""``vocoder info``: a short text description of a recipe, run, checkpoint or audio folder."""

from __future__ import annotations

from pathlib import Path

from vocoder.config import RunConfig, load_config
from vocoder.data.manifest import build_manifest
from vocoder.errors import ConfigError


def describe_features(cfg: RunConfig) -> str:
    f = cfg.features
    return (
        f"features: {f.preset or 'custom'}: {f.sample_rate} Hz, n_fft {f.n_fft}, hop {f.hop}, win {f.win}, "
        f"{f.n_mels} mels {f.fmin:g}-{f.fmax if f.fmax is not None else 'sr/2'} Hz, {f.log}, "
        f"padding {f.padding}"
    )


def describe_data(root: str | Path, cfg: RunConfig | None = None) -> str:
    kw = {}
    if cfg is not None:
        d = cfg.data
        kw = dict(valid_count=d.valid_count, test_count=d.test_count, split_seed=d.split_seed,
                  min_seconds=d.min_seconds, extensions=d.extensions)
    manifest = build_manifest(root, **kw)
    lines = [f"data: {root}: {manifest.summary()}"]
    if manifest.skipped:
        lines.append(f"  skipped {len(manifest.skipped)}: " + "; ".join(manifest.skipped[:3]))
    return "\n".join(lines)


def describe(path: str | Path, overrides: list[str] | None = None) -> str:
    path = Path(path)
    if path.is_dir() and not (path / "config.yaml").is_file():
        return describe_data(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file or folder")
    cfg = load_config(path, overrides)
    lines = [describe_features(cfg)]
    if cfg.generator.name:
        lines.append(describe_generator(cfg))
    if cfg.data.root:
        try:
            lines.append(describe_data(cfg.data.root, cfg))
        except ConfigError as err:  # the recipe is still worth describing before its data stage has run
            lines.append(f"data: {err} (see the recipe's README for its data stage)")
    return "\n".join(lines)


def describe_generator(cfg: RunConfig) -> str:
    from vocoder.models.factory import build_generator, generator_cost

    gen = build_generator(cfg)
    params, gmac = generator_cost(gen)
    return f"generator: {cfg.generator.name}: {params:,} parameters, {gmac:.2f} GMAC per second of audio"
