"""Old-style weight-norm tensors (``weight_g`` / ``weight_v``, as ``torch.nn.utils.weight_norm`` saved them)
onto our parametrized modules (``parametrizations.weight.original0`` / ``original1``), or folded.

Used by the converters of reference checkpoints (Parallel WaveGAN, HiFi-GAN).
"""

from __future__ import annotations

import torch

from vocoder.errors import ModelError


def fold(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """weight = g * v / ||v||, the norm over every dim but the first (weight norm with dim=0)."""
    norm = v.flatten(1).norm(dim=1).reshape((-1,) + (1,) * (v.dim() - 1))
    return v * (g / norm)


def module_tensors(
    module: str, tensors: dict[str, torch.Tensor], weight_norm: bool | None, what: str
) -> dict[str, torch.Tensor]:
    """One module's reference tensors (``bias`` and ``weight`` or ``weight_g`` + ``weight_v``) under our
    names ``{module}.bias`` and ``{module}.parametrizations.weight.original0/1`` (``weight_norm`` True) or
    ``{module}.weight`` (False); None keeps the form the tensors are in. A folded weight is split as
    ``g = ||w||, v = w``, which gives back exactly ``w``. ``what`` names the checkpoint in errors."""
    out: dict[str, torch.Tensor] = {}
    if "bias" in tensors:
        out[f"{module}.bias"] = tensors["bias"]
    has_gv = "weight_g" in tensors and "weight_v" in tensors
    if not has_gv and "weight" not in tensors:
        raise ModelError(f"{what}: {module!r} lacks a full weight ({sorted(tensors)})")
    want_norm = has_gv if weight_norm is None else weight_norm
    if want_norm:
        if has_gv:
            g, v = tensors["weight_g"], tensors["weight_v"]
        else:
            v = tensors["weight"]
            g = v.flatten(1).norm(dim=1).reshape((-1,) + (1,) * (v.dim() - 1))
        out[f"{module}.parametrizations.weight.original0"] = g
        out[f"{module}.parametrizations.weight.original1"] = v
    else:
        out[f"{module}.weight"] = fold(tensors["weight_g"], tensors["weight_v"]) if has_gv else tensors["weight"]
    return out
