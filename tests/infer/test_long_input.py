"""Long inputs: ``synthesize`` chunks mels longer than ``chunk_frames`` into windows of bounded length and
gives the whole-input result (within the streaming tolerance) on both backends."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from tiny_models import GENERATORS, HOP, make_checkpoint, mel_and_f0

import vocoder
from vocoder.infer.base import StreamContext
from vocoder.infer.chunking import INEXACT_OVERLAP, plan_blocks

FRAMES = 3000


def recording(model):
    """A shallow copy of ``model`` whose ``run_checked`` records the frame count of every window it computes."""
    m = copy.copy(model)
    m.windows = []
    real_run = model.run_checked

    def run_checked(mel, f0, noise, phase):
        m.windows.append(mel.shape[-1])
        return real_run(mel, f0, noise, phase)

    m.run_checked = run_checked
    return m


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("name", GENERATORS)
def test_chunked_equals_whole_input(models, name, backend):
    m = recording(models[name, backend])
    mel, f0 = mel_and_f0(FRAMES, seed=4)
    m.chunk_frames = None
    whole = m.synthesize(mel, f0, seed=9)
    assert m.windows == [FRAMES]
    ctx = m.context
    for chunk, blocks in ((None, 2), (700, 5)):  # None: the default threshold (2000)
        m.windows = []
        m.chunk_frames = chunk or type(m).chunk_frames
        out = m.synthesize(mel, f0, seed=9)
        assert out.shape == whole.shape == (FRAMES * HOP,)
        assert len(m.windows) == blocks and max(m.windows) <= m.chunk_frames + ctx.left + ctx.right
        assert np.abs(out - whole).max() <= 1e-5 * max(1.0, float(np.abs(whole).max()))  # float32, scale-relative
        assert np.abs(whole).max() > 1e-2  # the comparison is not between near-silent signals


def test_batched_long_input_is_chunked_per_window(models):
    m = recording(models["wavehax", "onnx"])
    mel, f0 = mel_and_f0(2500, batch=2, seed=6)
    out = m.synthesize(mel, f0, seed=2)
    assert out.shape == (2, 2500 * HOP) and len(m.windows) == 2
    m.chunk_frames = None
    assert np.abs(out - m.synthesize(mel, f0, seed=2)).max() <= 1e-4


def test_cross_fade_of_overlapping_blocks_adds_up_to_one(models):
    """Treated as inexact, an exact model gets overlapping, cross-faded blocks; as both blocks equal the
    whole-input output on the overlap, the fade weights must sum to 1 for the result to match."""
    m = recording(models["pwg", "onnx"])
    m.context = StreamContext(m.context.left, m.context.right, exact=False, reason="test")
    mel, _ = mel_and_f0(FRAMES, seed=1)
    out = m.synthesize(mel)
    assert len(m.windows) == 2
    assert sum(m.windows) == FRAMES + INEXACT_OVERLAP + m.context.left + m.context.right
    m.chunk_frames = None
    assert np.abs(out - m.synthesize(mel)).max() <= 1e-4


def test_utterance_norm_wavehax_is_chunked_close_to_whole(tmp_path):
    m = recording(vocoder.load(make_checkpoint(tmp_path / "wh", "wavehax", framewise_norm=False), threads=1))
    assert not m.context.exact
    mel, f0 = mel_and_f0(FRAMES, seed=4)
    out = m.synthesize(mel, f0)
    assert len(m.windows) == 2 and max(m.windows) <= 2000 + m.context.left + m.context.right
    m.chunk_frames = None
    whole = m.synthesize(mel, f0)
    # not equal (each window has its own layer-norm statistics) but the same signal: here -24 dB error
    error_db = 10 * np.log10(np.mean((out - whole) ** 2) / np.mean(whole**2))
    assert -60 < error_db < -15


def test_unknown_context_synthesizes_whole_with_a_warning(models):
    m = recording(models["istftnet", "onnx"])
    m.context = StreamContext(0, 0, exact=False, reason="the file has no streaming context")
    mel, _ = mel_and_f0(FRAMES, seed=1)
    with pytest.warns(UserWarning, match="long input synthesized whole .*no streaming context"):
        out = m.synthesize(mel)
    assert m.windows == [FRAMES] and out.shape == (FRAMES * HOP,)


@pytest.mark.parametrize("frames, chunk, overlap", [(3000, 2000, 0), (3001, 700, 0), (60000, 2000, 32), (5, 4, 1)])
def test_block_plan_covers_the_input(frames, chunk, overlap):
    blocks = plan_blocks(frames, chunk, overlap)
    assert blocks[0][0] == 0 and blocks[-1][1] == frames
    assert all(e - s <= chunk for s, e in blocks)
    assert all(b[0] == a[1] - overlap for a, b in zip(blocks[:-1], blocks[1:]))
    sizes = [e - s for s, e in blocks]
    assert max(sizes) - min(sizes) <= len(blocks)  # nearly equal: no tiny last block
