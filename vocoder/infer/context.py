"""Streaming context of a generator: how many mel frames left and right of a chunk can change its output.

Computed from the layer sizes of each generator (conservatively: every layer's reach is rounded up and
one frame of margin is added on each side); ``tests/infer/test_streaming.py`` measures the true reach by
perturbing one input frame and checks that the computed context covers it. The result is stored in
every ONNX file, so the torch-free runtime can stream without knowing the architecture.

* Parallel WaveGAN: WaveNet half receptive field ``(rf - 1) / 2`` samples (3069 for the reference's 30
  layers) + the mel upsampler's smoothing convs (``sum_i s_i * hop / prod(s_1..s_i)`` samples) + its
  ``aux_context_window`` frames. Reference config: 15 frames each side at hop 300 (measured 14), 17 at
  hop 256 (measured 16).
* iSTFTNet: conv_pre (3 frames) + per stage the upsampling conv and the widest ResBlock stack, + conv_post,
  + half the iSTFT window. V1 at hop 256: C8C8I 15 frames each side (measured 13), C8C1I 22 (measured 20).
  HiFi-GAN (``istft_n_fft: 0``): the same without the iSTFT, conv_post at the sample rate.
* Wavehax: STFT reach + ``prior_kernel // 2`` + ``num_blocks * (kt // 2)`` + ISTFT reach, all in frames
  (everything after the prior runs at the frame rate). v1 and v2 (hop 240, n_fft 480): 30 frames each side
  (measured 29). With ``framewise_norm: false`` (the reference's default) the layer norms see the whole
  utterance, so no finite context is exact: the context is marked ``exact=False`` and streaming refuses
  the model.

"Measured": one mel frame (or an F0 step of ``sr / hop`` Hz, which keeps later phases) perturbed in a
float64 copy with unit-scale random weights; the farthest output sample that changes, in frames.
"""

from __future__ import annotations

import math
from typing import Any

from vocoder.errors import ModelError
from vocoder.infer.base import StreamContext

MARGIN_FRAMES = 1


def _frames(left_samples: float, right_samples: float, hop: int, extra: int = 0) -> StreamContext:
    return StreamContext(
        left=math.ceil(left_samples / hop) + extra + MARGIN_FRAMES,
        right=math.ceil(right_samples / hop) + extra + MARGIN_FRAMES,
    )


def _conv_reach(conv: Any) -> tuple[int, int]:
    """(left, right) reach of a stride-1 Conv1d in its own units: output j reads inputs j - p .. j - p + (k-1)d."""
    k, d, p = conv.kernel_size[0], conv.dilation[0], conv.padding[0]
    return p, (k - 1) * d - p


def _pwg_context(g: Any) -> StreamContext:
    half = (g.receptive_field - 1) // 2
    smoothing, rate = 0.0, 1
    for scale in g.upsample_scales:
        rate *= scale
        smoothing += scale * g.hop / rate
    return _frames(half + smoothing, half + smoothing, g.hop, extra=g.aux_context_window)


def _istftnet_context(g: Any) -> StreamContext:
    from torch import nn

    unit = g.hop  # samples per unit at the current stage
    left, right = (r * unit for r in _conv_reach(g.conv_pre))
    for up, mrf in zip(g.ups, g.mrfs):
        if isinstance(up, nn.ConvTranspose1d):
            k, r, p = up.kernel_size[0], up.stride[0], up.padding[0]
            unit //= r
            left += (k - 1 - p + 1) * unit
            right += (p + r) * unit
        else:
            l_u, r_u = _conv_reach(up)
            left, right = left + l_u * unit, right + r_u * unit
        blocks_l, blocks_r = 0, 0
        for block in mrf.blocks:
            convs = list(getattr(block, "convs1", [])) + list(getattr(block, "convs2", [])) + list(
                getattr(block, "convs", [])
            )
            reach = [_conv_reach(c) for c in convs]
            blocks_l = max(blocks_l, sum(r[0] for r in reach))
            blocks_r = max(blocks_r, sum(r[1] for r in reach))
        left, right = left + blocks_l * unit, right + blocks_r * unit
    l_u, r_u = _conv_reach(g.conv_post)
    if g.istft is None:  # HiFi-GAN: conv_post at the sample rate, no iSTFT
        return _frames(left + l_u * unit, right + r_u * unit, g.hop)
    # reflection pad (1, 0) then conv_post, at the iSTFT frame rate
    left, right = left + (l_u + 1) * unit, right + r_u * unit
    # a sample reads every iSTFT frame whose window covers it
    left, right = left + g.istft_n_fft / 2 + unit, right + g.istft_n_fft / 2 + unit
    return _frames(left, right, g.hop)


def _wavehax_context(g: Any) -> StreamContext:
    hop, n_fft = g.hop, g.n_fft
    pad_left = (n_fft - hop) // 2
    # a frame reads n_fft samples starting pad_left before its hop (analysis), and the same window is
    # spread back over those samples (synthesis): both reach over whole frames
    stft_left, stft_right = math.ceil(pad_left / hop), math.ceil((n_fft - hop - pad_left) / hop)
    prior_k = g.prior_proj.kernel_size[0]
    block_t = sum(block.dwconv.kernel_size[1] // 2 for block in g.blocks)
    side_left = 2 * stft_left + prior_k // 2 + block_t + MARGIN_FRAMES
    side_right = 2 * stft_right + prior_k // 2 + block_t + MARGIN_FRAMES
    if not g.input_norm.framewise:
        reason = (
            "wavehax with framewise_norm: false normalises over the whole utterance, so chunks cannot "
            "reproduce offline synthesis; train with generator.params.framewise_norm: true to stream"
        )
        return StreamContext(side_left, side_right, exact=False, reason=reason)
    return StreamContext(side_left, side_right)


def stream_context(generator: Any) -> StreamContext:
    """:class:`StreamContext` of a torch generator ("pwg", "istftnet", "wavehax")."""
    name = getattr(generator, "registry_name", type(generator).__name__)
    if name == "pwg":
        return _pwg_context(generator)
    if name == "istftnet":
        return _istftnet_context(generator)
    if name == "wavehax":
        return _wavehax_context(generator)
    raise ModelError(f"generator {name!r}: streaming context unknown (known: pwg, istftnet, wavehax)")
