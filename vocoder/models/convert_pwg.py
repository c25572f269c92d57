"""Import kan-bayashi/ParallelWaveGAN (0.6.x) generators: state-dict key mapping and config translation.

The reference saves ``checkpoint-*.pkl`` (a dict whose ``["model"]["generator"]`` is the generator's
state dict, with legacy weight norm ``weight_g``/``weight_v``) next to a flat ``config.yml``.
:func:`convert_state_dict` renames those tensors onto :class:`~vocoder.models.generators.pwg.ParallelWaveGAN`
(``parametrizations.weight.original0``/``original1``) and :func:`config_from_reference` turns the
``config.yml`` into our ``{"features": ..., "generator": ...}`` config. ``tools/convert_pwg_checkpoint.py``
is the command-line wrapper.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from vocoder.errors import ConfigError, ModelError
from vocoder.models.generators.pwg import check_upsample_scales
from vocoder.models.legacy_weight_norm import module_tensors

# reference module path -> ours; "{n}" is the residual block index
_BLOCK_PARTS = {"conv": "dilated", "conv1x1_aux": "aux", "conv1x1_skip": "skip", "conv1x1_out": "residual"}
_FIXED_MODULES = {
    "first_conv": "input_conv",
    "upsample_net.conv_in": "upsampler.conv_in",
    "last_conv_layers.1": "output_conv1",
    "last_conv_layers.3": "output_conv2",
}
_WHERE = "Parallel WaveGAN config"
# feature-normalisation buffers that ``register_stats`` adds; they belong in the feature config
STATS_KEYS = ("mean", "scale")

# reference generator_params defaults (ParallelWaveGANGenerator.__init__ in 0.6.1)
_REF_DEFAULTS: dict[str, Any] = {
    "in_channels": 1,
    "out_channels": 1,
    "kernel_size": 3,
    "layers": 30,
    "stacks": 3,
    "residual_channels": 64,
    "gate_channels": 128,
    "skip_channels": 64,
    "aux_channels": 80,
    "aux_context_window": 2,
    "dropout": 0.0,
    "bias": True,
    "use_weight_norm": True,
    "use_causal_conv": False,
    "upsample_conditional_features": True,
    "upsample_net": "ConvInUpsampleNetwork",
    "upsample_params": {"upsample_scales": [4, 4, 4, 4]},
}
# upsample_params entries we can represent, with the only value each may take (None: any value)
_UPSAMPLE_ALLOWED: dict[str, Any] = {
    "upsample_scales": None,
    "nonlinear_activation": None,
    "nonlinear_activation_params": None,
    "interpolate_mode": "nearest",
    "freq_axis_kernel_size": 1,
}


def _split_suffix(key: str) -> tuple[str, str]:
    module, _, name = key.rpartition(".")
    return module, name


def _map_module(module: str, smoother_index: dict[int, int]) -> str | None:
    if module in _FIXED_MODULES:
        return _FIXED_MODULES[module]
    m = re.fullmatch(r"conv_layers\.(\d+)\.(\w+)", module)
    if m and m.group(2) in _BLOCK_PARTS:
        return f"blocks.{m.group(1)}.{_BLOCK_PARTS[m.group(2)]}"
    m = re.fullmatch(r"upsample_net\.upsample\.up_layers\.(\d+)", module)
    if m:
        return f"upsampler.smoothers.{smoother_index[int(m.group(1))]}"
    return None


def convert_state_dict(ref_state_dict: dict[str, torch.Tensor], weight_norm: bool | None = None) -> dict:
    """Reference ``ParallelWaveGANGenerator`` state dict -> ours.

    ``weight_norm``: True gives ``parametrizations.weight.original0/1`` (for a model built with
    ``use_weight_norm=True``), False gives folded plain ``weight`` (``use_weight_norm=False``), None keeps
    the form the reference tensors are in. Accepts both legacy ``weight_g``/``weight_v`` and folded
    ``weight`` entries. The ``mean``/``scale`` stats buffers are skipped (they go to the feature config).
    Unknown keys raise :class:`ModelError`.
    """
    # Stretch layers have no tensors, so the Conv2d smoothers sit at every other (odd) index of
    # up_layers; rank the indices that do carry tensors instead of assuming that spacing.
    found = (re.match(r"upsample_net\.upsample\.up_layers\.(\d+)\.", k) for k in ref_state_dict)
    up_indices = sorted({int(m.group(1)) for m in found if m})
    smoother_index = {j: i for i, j in enumerate(up_indices)}

    # group by module so a weight can be folded or split as a whole
    modules: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in ref_state_dict.items():
        if key in STATS_KEYS:
            continue
        module, name = _split_suffix(key)
        ours = _map_module(module, smoother_index)
        if ours is None or name not in ("weight", "weight_g", "weight_v", "bias"):
            raise ModelError(f"Parallel WaveGAN checkpoint: unexpected generator tensor {key!r}")
        modules.setdefault(ours, {})[name] = value.detach().clone().float()

    out: dict[str, torch.Tensor] = {}
    for ours, tensors in modules.items():
        out.update(module_tensors(ours, tensors, weight_norm, "Parallel WaveGAN checkpoint"))
    return out


def stats_from_state_dict(ref_state_dict: dict[str, torch.Tensor]) -> tuple[list[float], list[float]] | None:
    """The ``(mean, scale)`` feature stats if the reference generator had them registered, else None."""
    if all(k in ref_state_dict for k in STATS_KEYS):
        mean, scale = (ref_state_dict[k].reshape(-1).double().tolist() for k in STATS_KEYS)
        return mean, scale
    return None


def config_from_reference(ref_cfg: dict) -> dict:
    """parallel-wavegan ``config.yml`` (a flat dict) -> ``{"features": {...}, "generator": {...}}``.

    PWG features are librosa ``center=True`` STFT magnitudes (reflect padding), a Slaney mel filterbank,
    clamped at 1e-10, log10; ``fmin``/``fmax`` None mean 0 / Nyquist. Only the non-causal
    ``ParallelWaveGANGenerator`` with the ``ConvInUpsampleNetwork`` (no activations) maps onto ours;
    anything else raises :class:`ConfigError` naming the key.
    """

    def need(key: str) -> Any:
        if key not in ref_cfg:
            raise ConfigError(f"{_WHERE}: missing key {key!r}")
        return ref_cfg[key]

    gen_type = ref_cfg.get("generator_type", "ParallelWaveGANGenerator")
    if gen_type != "ParallelWaveGANGenerator":
        raise ConfigError(f"{_WHERE}: generator_type {gen_type!r} is not supported")
    window = ref_cfg.get("window", "hann")
    if window != "hann":
        raise ConfigError(f"{_WHERE}: window {window!r} is not supported (only 'hann')")

    sample_rate = int(need("sampling_rate"))
    hop = int(need("hop_size"))
    n_mels = int(need("num_mels"))
    fmin = ref_cfg.get("fmin")
    fmax = ref_cfg.get("fmax")
    win_length = ref_cfg.get("win_length")
    features = {
        "sample_rate": sample_rate,
        "n_fft": int(need("fft_size")),
        "hop": hop,
        "win_length": None if win_length is None else int(win_length),
        "n_mels": n_mels,
        "fmin": 0.0 if fmin is None else float(fmin),
        "fmax": None if fmax is None else float(fmax),
        "log": "log10",
        "clamp": 1e-10,
        "padding": "center",
        "pad_mode": "reflect",
        "mel_scale": "slaney",
        "mel_norm": "slaney",
        "power": 1.0,
    }

    gp = {**_REF_DEFAULTS, **(ref_cfg.get("generator_params") or {})}
    for key, want in (
        ("in_channels", 1),
        ("out_channels", 1),
        ("use_causal_conv", False),
        ("upsample_conditional_features", True),
        ("upsample_net", "ConvInUpsampleNetwork"),
        ("aux_channels", n_mels),
    ):
        if gp[key] != want:
            raise ConfigError(f"{_WHERE}: generator_params.{key} = {gp[key]!r} unsupported (need {want!r})")
    unknown = sorted(set(gp) - set(_REF_DEFAULTS))
    if unknown:
        raise ConfigError(f"{_WHERE}: unknown generator_params key {unknown[0]!r}")

    up = dict(gp["upsample_params"] or {})
    for key, value in up.items():
        if key not in _UPSAMPLE_ALLOWED:
            # in-memory leftovers of the reference's shared mutable default; they must agree with gp
            if key in ("aux_channels", "aux_context_window", "use_causal_conv") and value == gp[key]:
                continue
            raise ConfigError(f"{_WHERE}: generator_params.upsample_params.{key} is not supported")
        want = _UPSAMPLE_ALLOWED[key]
        if key == "nonlinear_activation" and value is not None:
            raise ConfigError(f"{_WHERE}: generator_params.upsample_params.nonlinear_activation unsupported")
        if want is not None and value != want:
            raise ConfigError(
                f"{_WHERE}: generator_params.upsample_params.{key} = {value!r} unsupported (need {want!r})"
            )
    if "upsample_scales" not in up:
        raise ConfigError(f"{_WHERE}: generator_params.upsample_params.upsample_scales is missing")
    scales = check_upsample_scales(up["upsample_scales"], hop)

    params = {
        "layers": int(gp["layers"]),
        "stacks": int(gp["stacks"]),
        "residual_channels": int(gp["residual_channels"]),
        "gate_channels": int(gp["gate_channels"]),
        "skip_channels": int(gp["skip_channels"]),
        "kernel_size": int(gp["kernel_size"]),
        "aux_context_window": int(gp["aux_context_window"]),
        "upsample_scales": scales,
        "dropout": float(gp["dropout"]),
        "bias": bool(gp["bias"]),
        "use_weight_norm": bool(gp["use_weight_norm"]),
    }
    return {"features": features, "generator": {"name": "pwg", "params": params}}
