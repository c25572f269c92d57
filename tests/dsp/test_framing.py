"""Framing rules: pads, frame counts and overlap-add trims against torch.stft / torch.istft and the
conv STFT/ISTFT modules, and the mel's ``L // hop`` frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vocoder.dsp.framing import align_audio, frame_pads, frames_for, num_frames, overlap_add_trims
from vocoder.dsp.stft import ISTFT, STFT

# (n_fft, hop): even and odd n_fft, hop dividing n_fft - hop or not
SIZES = [(1024, 256), (1024, 160), (480, 240), (15, 5), (16, 3)]


def test_pads_of_known_layouts():
    assert frame_pads(1024, 256, "same") == (384, 384)  # HiFi-GAN's (n_fft - hop) / 2
    assert frame_pads(1024, 160, "same") == (432, 432)
    assert frame_pads(16, 3, "same") == (6, 7)  # the odd sample goes to the right
    assert frame_pads(1024, 256, "center") == (512, 512)
    assert frame_pads(15, 5, "center") == (7, 7)
    assert overlap_add_trims(16, 3, "same") == (6, 7)
    assert overlap_add_trims(15, 5, "center") == (7, 8)


@pytest.mark.parametrize("n_fft, hop", SIZES)
def test_center_frames_are_torch_stft_frames(n_fft, hop):
    window = torch.hann_window(n_fft)
    for length in (n_fft, n_fft + 1, 3 * n_fft + hop - 1, 5000):
        frames = torch.stft(torch.zeros(length), n_fft, hop, window=window, center=True, return_complex=True)
        assert num_frames(length, n_fft, hop, "center") == frames.shape[-1]
        assert STFT(n_fft, hop, padding="center").num_frames(length) == frames.shape[-1]


@pytest.mark.parametrize("n_fft, hop", SIZES)
def test_same_gives_one_frame_per_hop_and_the_istft_gives_the_samples_back(n_fft, hop):
    for frames in (2, 7, 40):
        assert num_frames(frames * hop, n_fft, hop, "same") == frames
        real = torch.zeros(1, n_fft // 2 + 1, frames)
        if frames * hop > max(frame_pads(n_fft, hop, "same")):  # reflect padding needs more than it adds
            assert STFT(n_fft, hop, padding="same")(torch.zeros(1, frames * hop))[0].shape[-1] == frames
        assert ISTFT(n_fft, hop, padding="same")(real, real).shape[-1] == frames * hop
        assert ISTFT(n_fft, hop, padding="center")(real, real).shape[-1] == (frames - 1) * hop
        # the trims take an overlap-add of (T - 1) * hop + n_fft samples to those lengths
        left, right = overlap_add_trims(n_fft, hop, "center")
        assert (frames - 1) * hop + n_fft - left - right == (frames - 1) * hop


def test_mel_frames_ignore_a_partial_last_hop():
    assert [frames_for(n, 160) for n in (0, 159, 160, 16159, 16160)] == [0, 0, 1, 100, 101]
    assert align_audio(np.zeros((2, 16159)), 160).shape == (2, 16000)
    assert align_audio(torch.zeros(1, 1, 330), 160).shape == (1, 1, 320)
