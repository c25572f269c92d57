"""Streaming: chunked synthesis equals offline synthesis on both backends; the context covers the
measured reach of every generator; seeded noise and prior phase continue across chunks."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from tiny_models import GENERATORS, HOP, make_checkpoint, mel_and_f0

import vocoder
from vocoder.dsp.excitation import PCPHPrior
from vocoder.errors import InputError, ModelError
from vocoder.infer.base import StreamContext
from vocoder.infer.noise import NOISE_BLOCK, noise_segment, phase_advance, start_phase
from vocoder.infer.streaming import StreamingSynthesizer, chunk_latencies, stream
from vocoder.models.artifact import load_generator

FRAMES = 90
SPLITS = {"ones": [1] * FRAMES, "sevens": [7] * 12 + [6], "mixed": [3, 20, 1, 40, 26]}


def split(x: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    edges = np.cumsum([0, *sizes])
    assert edges[-1] == x.shape[-1]
    return [x[..., a:b] for a, b in zip(edges[:-1], edges[1:])]


def streamed(m, mel, f0, sizes, seed=5) -> tuple[np.ndarray, int]:
    parts = list(stream(m, split(mel, sizes), split(f0, sizes) if m.needs_f0 else None, seed=seed))
    return np.concatenate(parts, axis=-1), len(parts)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("name", GENERATORS)
def test_stream_equals_offline(models, name, backend):
    m = models[name, backend]
    mel, f0 = mel_and_f0(FRAMES, seed=2)
    ref = m.synthesize(mel, f0, seed=5)
    for sizes in SPLITS.values():
        out, count = streamed(m, mel, f0, sizes)
        assert count == len(sizes) + 1
        assert out.shape == ref.shape == (FRAMES * HOP,)
        # everywhere, edges included: windows start at frame 0 and end at the last frame like offline
        assert np.abs(out - ref).max() <= 1e-4


def test_batched_stream_equals_batched_offline(models):
    m = models["wavehax", "onnx"]
    mel, f0 = mel_and_f0(FRAMES, batch=2, seed=3)
    out, _ = streamed(m, mel, f0, SPLITS["mixed"], seed=1)
    assert out.shape == (2, FRAMES * HOP)
    assert np.abs(out - m.synthesize(mel, f0, seed=1)).max() <= 1e-4


@pytest.mark.parametrize("name", GENERATORS)
def test_too_little_context_breaks_equality(models, name):
    m = copy.copy(models[name, "onnx"])
    m.context = StreamContext(1, 1)
    mel, f0 = mel_and_f0(FRAMES, seed=2)
    out, _ = streamed(m, mel, f0, SPLITS["sevens"])
    assert np.abs(out - m.synthesize(mel, f0, seed=5)).max() > 1e-3


def measured_reach(generator: torch.nn.Module, frames: int = 40) -> tuple[int, int]:
    """(left, right) frames over which one input frame changes the output, in float64 with unit-scale
    weights (small trained-style weights let float rounding swallow far, tiny effects)."""
    g = copy.deepcopy(generator).double()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in g.parameters():
            p.uniform_(-0.5, 0.5)
    x = {k: v.double() for k, v in g.example_inputs(1, frames).items()}
    if "f0" in x:
        x["f0"][:] = 150.0
    t0, left, right = frames // 2, 0, 0
    with torch.no_grad():
        ref = g(**x)[0, 0]
        for key in ("mel", "f0"):
            if key in x:
                y = {k: v.clone() for k, v in x.items()}
                # an F0 step of sr / hop Hz adds whole cycles per frame: later phases stay the same
                y[key][..., t0] += 1.0 if key == "mel" else g.sample_rate / g.hop
                changed = torch.nonzero(g(**y)[0, 0] != ref)[:, 0]
                left = max(left, t0 - int(changed[0]) // g.hop)
                right = max(right, int(changed[-1]) // g.hop - t0)
    return left, right


@pytest.mark.parametrize("name", GENERATORS)
def test_context_covers_measured_reach(checkpoints, name):
    generator, _ = load_generator(checkpoints[name])
    context = generator.stream_context()
    left, right = measured_reach(generator)
    # covers it, and is not wildly larger (each layer's reach is rounded up, plus one frame of margin)
    assert 0 < left <= context.left <= left + 3
    assert 0 < right <= context.right <= right + 3


def test_reference_sized_contexts():
    from vocoder.models.generators.istftnet import ISTFTNetGenerator
    from vocoder.models.generators.pwg import ParallelWaveGAN
    from vocoder.models.generators.wavehax import WavehaxGenerator

    # measured with measured_reach: PWG 14/16, iSTFTNet 13 (C8C8I) / 20 (C8C1I), Wavehax 29 frames
    assert ParallelWaveGAN(24000, 300, 80).stream_context() == StreamContext(15, 15)
    assert ParallelWaveGAN(22050, 256, 80).stream_context() == StreamContext(17, 17)
    assert ISTFTNetGenerator(22050, 256, 80, variant="v1-c8c8i").stream_context() == StreamContext(15, 15)
    assert ISTFTNetGenerator(22050, 256, 80, variant="v1-c8c1i").stream_context() == StreamContext(22, 22)
    assert WavehaxGenerator(24000, 240, 100, framewise_norm=True).stream_context() == StreamContext(30, 30)
    assert not WavehaxGenerator(24000, 240, 100).stream_context().exact


def test_utterance_norm_wavehax_is_refused_and_would_differ(tmp_path):
    m = vocoder.load(make_checkpoint(tmp_path / "wh", "wavehax", framewise_norm=False), threads=1)
    mel, f0 = mel_and_f0(FRAMES, seed=2)
    with pytest.raises(ModelError, match="framewise_norm: true") as err:
        stream(m, [mel], [f0])
    assert len(str(err.value).splitlines()) == 1
    # why: with the context forced on, the chunks' own statistics change the audio
    forced = copy.copy(m)
    forced.context = dataclasses.replace(m.context, exact=True)
    out, _ = streamed(forced, mel, f0, SPLITS["sevens"])
    assert np.abs(out - m.synthesize(mel, f0, seed=5)).max() > 1e-3


def test_noise_stream_slices_are_consistent():
    whole = noise_segment(3, 2, 0, 3 * NOISE_BLOCK)
    assert whole.dtype == np.float32 and abs(float(whole.std()) - 1.0) < 0.02
    for start, length in ((0, 10), (NOISE_BLOCK - 5, 10), (NOISE_BLOCK + 7, 2 * NOISE_BLOCK - 20), (50, 0)):
        assert np.array_equal(noise_segment(3, 2, start, length), whole[..., start : start + length])
    assert not np.array_equal(whole[0], whole[1])
    assert not np.array_equal(noise_segment(4, 1, 0, 100), whole[:1, :, :100])


def test_phase_advance_matches_the_prior():
    prior = PCPHPrior(8000, HOP)
    f0 = np.abs(np.random.default_rng(0).normal(200.0, 150.0, (2, 500))).astype(np.float32)
    f0[:, 100:120] = 0.0
    phase = start_phase(7, 2)
    assert phase.shape == (2, 1) and ((0 <= phase) & (phase < 1)).all()
    ref = prior.end_phase(torch.from_numpy(f0), torch.from_numpy(phase)).numpy()
    assert np.abs(phase_advance(f0, HOP, 8000, phase) - ref).max() <= 1e-12


def test_stream_input_errors(models):
    mel, f0 = mel_and_f0(20)
    with pytest.raises(InputError, match="needs F0 chunks"):
        stream(models["wavehax", "onnx"], [mel])
    with pytest.raises(InputError, match="fewer F0 chunks than mel chunks"):
        list(stream(models["wavehax", "onnx"], [mel[:, :10], mel[:, 10:]], [f0[:10]]))
    synth = StreamingSynthesizer(models["pwg", "onnx"])
    synth.push(mel[:, :5])
    with pytest.raises(InputError, match="does not continue"):
        synth.push(mel[None, :, 5:])
    with pytest.raises(InputError, match="has 7 mel bins"):
        synth.push(mel[:7])


def test_chunk_latencies_times_every_push(models):
    mel, f0 = mel_and_f0(25)
    times = chunk_latencies(models["wavehax", "onnx"], mel, f0, chunk_frames=10)
    assert len(times) == 4 and all(t >= 0.0 for t in times)
