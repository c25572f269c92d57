"""Framing rules: how a signal of ``L`` samples is padded and cut into frames of ``n_fft`` samples every
``hop``, and what an overlap-add trims back. Shared by the torch STFT/ISTFT (:mod:`vocoder.dsp.stft`),
the mel front ends (:mod:`vocoder.audio.mel_numpy`, :mod:`vocoder.audio.mel`) and the metrics.

Paddings (``padding``):

* ``"same"``: ``(n_fft - hop) // 2`` samples on the left and the rest of ``n_fft - hop`` on the right,
  no centring: ``L = T * hop`` samples give exactly ``T`` frames (HiFi-GAN's mel, Vocos' "same" ISTFT).
* ``"center"``: ``n_fft // 2`` on both sides, as ``torch.stft(center=True)`` / librosa: ``1 + L // hop``
  frames for even ``n_fft`` (odd ``n_fft``: ``1 + (L - 1) // hop``, as torch).

Frame ``t`` starts at padded sample ``t * hop``. The mel keeps ``T = L // hop`` frames with either
padding (:func:`frames_for`; samples past ``T * hop`` are ignored, :func:`align_audio`).

Plain integers only (no numpy, no torch import), so torch-free code can use it.
"""

from __future__ import annotations

from typing import TypeVar

ArrayT = TypeVar("ArrayT")

PADDINGS = ("same", "center")


def frames_for(num_samples: int, hop: int) -> int:
    """Number of mel / F0 frames for ``num_samples`` samples: ``num_samples // hop``."""
    return int(num_samples) // int(hop)


def align_audio(wav: ArrayT, hop: int) -> ArrayT:
    """Trim the last axis of a numpy array or torch tensor to ``frames_for(L, hop) * hop`` samples."""
    n = wav.shape[-1] // hop * hop
    return wav[..., :n]


def frame_pads(n_fft: int, hop: int, padding: str) -> tuple[int, int]:
    """(left, right) samples the analysis framing adds around the signal ("same" or "center")."""
    if padding == "same":
        left = (n_fft - hop) // 2
        return left, n_fft - hop - left
    return n_fft // 2, n_fft // 2


def num_frames(num_samples: int, n_fft: int, hop: int, padding: str) -> int:
    """Frames a strided analysis of ``num_samples`` samples yields after :func:`frame_pads` padding
    (every frame that fits; the mel then keeps only the first :func:`frames_for`)."""
    left, right = frame_pads(n_fft, hop, padding)
    return (num_samples + left + right - n_fft) // hop + 1


def overlap_add_trims(n_fft: int, hop: int, padding: str) -> tuple[int, int]:
    """(left, right) samples cut from an overlap-add of ``T`` frames, ``(T - 1) * hop + n_fft`` samples long,
    so that it is ``T * hop`` ("same", the analysis pads) or ``(T - 1) * hop`` ("center",
    ``torch.istft(center=True)``: ``n_fft // 2`` left and the rest of ``n_fft`` right) samples long."""
    if padding == "same":
        return frame_pads(n_fft, hop, padding)
    return n_fft // 2, n_fft - n_fft // 2
