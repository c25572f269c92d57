"""PCPH prior and sine source: spectra, power, unvoiced frames, phase accuracy, chunking, ONNX parity."""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from vocoder.dsp.excitation import PCPHPrior, SineSource, sample_phase
from vocoder.errors import ConfigError, InputError

PF = 0.1  # default power_factor


def _rate(sr: int) -> tuple[int, int]:
    """(sample_rate, hop) pairs used throughout: 10 ms hops."""
    return sr, sr // 100


def _ref_phase(f0: np.ndarray, hop: int, sr: int, phase: np.ndarray) -> np.ndarray:
    """Float64 phase in cycles of every sample: start phase plus the exclusive running sum of f0 / sr."""
    up = np.repeat(np.maximum(f0.astype(np.float64), 0.0), hop, axis=1) / sr
    return phase.astype(np.float64) + np.cumsum(up, axis=1) - up


def _ref_pcph(f0: np.ndarray, cycles: np.ndarray, hop: int, sr: int, num_harmonics: int) -> np.ndarray:
    """The explicit float64 sum over k = 1..K of the masked, equal-amplitude harmonics, ``(B, T * hop)``."""
    f = np.repeat(f0.astype(np.float64), hop, axis=1)
    voiced = f > 0
    amp = np.where(voiced, PF * np.sqrt(2.0 / ((sr / 2) / np.where(voiced, f, 1.0))), 0.0)
    total = np.zeros_like(cycles)
    for k in range(1, num_harmonics + 1):
        total += np.where(voiced & (k * f < sr / 2), np.sin(2 * np.pi * k * cycles), 0.0)
    return amp * total


def _wrap(x: np.ndarray) -> np.ndarray:
    return x - np.round(x)


def _contour(batch: int, frames: int, seed: int) -> torch.Tensor:
    """A smooth random F0 contour (40..500 Hz) with an unvoiced stretch."""
    g = torch.Generator().manual_seed(seed)
    f0 = 220 * torch.exp2(torch.cumsum(torch.randn(batch, frames, generator=g) * 0.08, dim=1))
    f0 = f0.clamp(40, 500)
    f0[:, frames // 3 : frames // 3 + 5] = 0
    return f0


@pytest.mark.parametrize("sr", [16000, 24000])
@pytest.mark.parametrize("f0_hz", [150.0, 311.0])
def test_pcph_spectrum_has_equal_peaks_at_harmonics_below_nyquist_only(sr: int, f0_hz: float) -> None:
    sr, hop = _rate(sr)
    prior = PCPHPrior(sr, hop)
    frames = sr // hop  # 1 s: FFT bins are 1 Hz, so every harmonic of an integer F0 sits on a bin
    f0 = torch.full((1, frames), f0_hz)
    y = prior(f0, torch.zeros(1, 1, frames * hop), torch.tensor([[0.37]]))[0, 0].double().numpy()
    mag = np.abs(np.fft.rfft(y))
    n_h = (sr / 2) / f0_hz
    count = math.ceil(n_h) - 1
    assert count * f0_hz < sr / 2 <= (count + 1) * f0_hz
    expected = PF * math.sqrt(2 / n_h) * len(y) / 2
    harmonic_bins = (np.arange(1, count + 1) * f0_hz).astype(int)
    np.testing.assert_allclose(mag[harmonic_bins], expected, rtol=1e-3)
    others = np.delete(mag, harmonic_bins)
    # An aliased harmonic above Nyquist would land between harmonics with the same height as the others.
    assert others.max() < 1e-3 * expected
    assert np.count_nonzero(mag > expected / 2) == count


def test_pcph_harmonic_count_is_capped_by_config_below_f0_floor() -> None:
    sr, hop = _rate(16000)
    prior = PCPHPrior(sr, hop, f0_floor=100.0)
    assert prior.num_harmonics == 80
    frames = sr // hop
    y = prior(torch.full((1, frames), 50.0), torch.zeros(1, 1, frames * hop), torch.zeros(1, 1))[0, 0]
    mag = np.abs(np.fft.rfft(y.double().numpy()))
    expected = PF * math.sqrt(2 / 160) * len(y) / 2  # amplitude still from N_h = 8000 / 50
    np.testing.assert_allclose(mag[np.arange(1, 81) * 50], expected, rtol=1e-3)
    assert np.count_nonzero(mag > expected / 2) == 80


def test_pcph_total_power_is_nearly_constant_across_f0() -> None:
    torch.manual_seed(0)
    target = PF**2 + 0.01**2
    ratios = []
    for sr in (16000, 24000):
        sr, hop = _rate(sr)
        prior = PCPHPrior(sr, hop)
        frames = sr // hop
        for f0_hz in np.linspace(100.0, 400.0, 13):
            y = prior(torch.full((1, frames), float(f0_hz)))
            ratios.append(float(y.square().mean()) / target)
    ratios = np.array(ratios)
    # Harmonic power is PF^2 * M / N_h with M = ceil(N_h) - 1 >= N_h - 1 and N_h >= 20 for F0 <= 400 Hz
    # at 16 kHz, so it lies in [0.95, 1] PF^2; the margin covers the noise and its cross term.
    assert ratios.min() > 0.93
    assert ratios.max() < 1.02
    assert (ratios.max() - ratios.min()) / ratios.mean() < 0.07


def test_pcph_closed_form_equals_the_explicit_harmonic_sum() -> None:
    for sr in (16000, 24000):
        sr, hop = _rate(sr)
        prior = PCPHPrior(sr, hop)
        f0 = _contour(2, 40, seed=sr)
        phase = torch.tensor([[0.0], [0.8]])
        y = prior(f0, torch.zeros(2, 1, 40 * hop), phase)[:, 0].double().numpy()
        cycles = sample_phase(f0, hop, sr, phase).flatten(1).double().numpy()
        ref = _ref_pcph(f0.numpy(), cycles, hop, sr, prior.num_harmonics)
        assert np.abs(y - ref).max() < 1e-5


def test_sample_phase_matches_float64_running_sum() -> None:
    sr, hop = _rate(24000)
    f0 = _contour(2, 50, seed=1)
    phase = torch.tensor([[0.25], [0.9]])
    got = sample_phase(f0, hop, sr, phase).flatten(1).double().numpy()
    ref = _ref_phase(f0.numpy(), hop, sr, phase.numpy())
    assert got.shape == (2, 50 * hop)
    assert np.abs(_wrap(got - ref)).max() < 1e-6
    assert np.abs(got).max() <= 0.5


@pytest.mark.parametrize("cls", [PCPHPrior, SineSource])
def test_unvoiced_frames_carry_only_noise(cls: type) -> None:
    sr, hop = _rate(16000)
    source = cls(sr, hop)
    f0 = torch.full((2, 300), 180.0)
    f0[:, 100:250] = 0.0
    noise = torch.randn(2, 1, 300 * hop, generator=torch.Generator().manual_seed(3))
    y = source(f0, noise, torch.rand(2, 1))
    unvoiced = slice(100 * hop, 250 * hop)
    torch.testing.assert_close(y[..., unvoiced], source.noise_amplitude * noise[..., unvoiced], rtol=0, atol=0)
    voiced = (y - source.noise_amplitude * noise)[..., : 100 * hop]
    harmonic_power = PF**2 * 44 / (8000 / 180) if cls is PCPHPrior else source.amplitude**2 / 2
    assert float(voiced.square().mean()) == pytest.approx(harmonic_power, rel=0.02)
    drawn = source(torch.zeros(2, 300))
    assert torch.isfinite(drawn).all()
    assert float(drawn.square().mean()) == pytest.approx(source.noise_amplitude**2, rel=0.05)


@pytest.mark.parametrize("cls", [PCPHPrior, SineSource])
def test_output_is_deterministic_given_noise_and_phase(cls: type) -> None:
    sr, hop = _rate(16000)
    source = cls(sr, hop)
    f0 = _contour(2, 20, seed=4)
    noise, phase = torch.randn(2, 1, 20 * hop), torch.rand(2, 1)
    a, b = source(f0, noise, phase), source(f0.unsqueeze(1), noise.clone(), phase.clone())
    assert a.shape == (2, 1, 20 * hop) and a.dtype == torch.float32
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(source(f0, noise, phase + 0.25), a)
    assert not torch.equal(source(f0), source(f0))


@pytest.mark.parametrize("cls", [PCPHPrior, SineSource])
def test_chunked_synthesis_with_end_phase_equals_whole(cls: type) -> None:
    sr, hop = _rate(24000)
    source = cls(sr, hop)
    f0 = _contour(2, 61, seed=5)
    noise, phase = torch.randn(2, 1, 61 * hop), torch.tensor([[0.1], [0.6]])
    whole = source(f0, noise, phase)
    parts, p = [], phase
    for a, b in [(0, 17), (17, 18), (18, 61)]:
        parts.append(source(f0[:, a:b], noise[..., a * hop : b * hop], p))
        p = source.end_phase(f0[:, a:b], p)
    assert (torch.cat(parts, dim=-1) - whole).abs().max() <= 1e-5
    expected = _wrap(_ref_phase(f0.numpy(), hop, sr, phase.numpy())[:, -1:] + f0.numpy()[:, -1:] / sr)
    assert np.abs(_wrap(p.numpy() - expected)).max() < 1e-9


@pytest.mark.parametrize("f0_hz", [200.0, 213.7])
def test_no_phase_drift_over_ten_minutes(f0_hz: float) -> None:
    sr, hop = _rate(16000)
    frames = 600 * sr // hop
    f0 = torch.full((1, frames), f0_hz)
    start = torch.tensor([[0.3]])
    exact_f0 = float(np.float32(f0_hz))
    n = np.arange(frames * hop - sr, frames * hop, dtype=np.float64)
    ref = 0.3 + n * (exact_f0 / sr)  # float64 analytic phase of the last second
    got = sample_phase(f0, hop, sr, start).flatten()[-sr:].double().numpy()
    assert np.abs(_wrap(got - ref)).max() < 1e-3

    prior = PCPHPrior(sr, hop, noise_amplitude=0.0)
    y = prior(f0, torch.zeros(1, 1, frames * hop), start)[0, 0, -sr:].double().numpy()
    expected = _ref_pcph(np.full((1, 100), exact_f0), ref[None], hop, sr, prior.num_harmonics)[0]
    assert np.abs(y - expected).max() < 1e-4


def test_sine_source_is_one_sine_at_f0_and_silent_above_nyquist() -> None:
    sr, hop = _rate(16000)
    source = SineSource(sr, hop)
    frames = sr // hop
    y = source(torch.full((1, frames), 311.0), torch.zeros(1, 1, frames * hop), torch.zeros(1, 1))[0, 0]
    mag = np.abs(np.fft.rfft(y.double().numpy()))
    assert int(np.argmax(mag)) == 311
    assert mag[311] == pytest.approx(0.1 * len(y) / 2, rel=1e-4)
    assert np.delete(mag, 311).max() < 1e-3 * mag[311]
    high = source(torch.full((1, 4), 8000.0), torch.zeros(1, 1, 4 * hop), torch.zeros(1, 1))
    assert high.abs().max() == 0


@pytest.mark.parametrize("cls", [PCPHPrior, SineSource])
def test_onnx_export_matches_torch_at_two_lengths(cls: type, tmp_path) -> None:
    sr, hop = _rate(24000)
    source = cls(sr, hop)
    path = tmp_path / "excitation.onnx"
    example = (torch.full((1, 8), 150.0), torch.randn(1, 1, 8 * hop), torch.rand(1, 1))
    torch.onnx.export(
        source, example, str(path), dynamo=False, opset_version=17,
        input_names=["f0", "noise", "phase"], output_names=["excitation"],
        dynamic_axes={"f0": {0: "batch", 1: "frames"}, "noise": {0: "batch", 2: "samples"},
                      "phase": {0: "batch"}, "excitation": {0: "batch", 2: "samples"}},
    )
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert not {op for op in ops if op.startswith("Random")}
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, frames in [(2, 23), (3, 400)]:
        f0 = _contour(batch, frames, seed=frames)
        noise, phase = torch.randn(batch, 1, frames * hop), torch.rand(batch, 1)
        (got,) = session.run(None, {"f0": f0.numpy(), "noise": noise.numpy(), "phase": phase.numpy()})
        want = source(f0, noise, phase).numpy()
        assert got.shape == (batch, 1, frames * hop)
        assert np.abs(got - want).max() <= 1e-5


def test_bad_inputs_and_configs_raise_one_line_errors() -> None:
    prior = PCPHPrior(16000, 160)
    with pytest.raises(InputError, match="f0"):
        prior(torch.zeros(2, 3, 10))
    with pytest.raises(InputError, match="noise"):
        prior(torch.zeros(2, 10), noise=torch.zeros(2, 1, 100))
    with pytest.raises(InputError, match="phase"):
        prior(torch.zeros(2, 10), phase=torch.zeros(2))
    with pytest.raises(ConfigError, match="f0_floor"):
        PCPHPrior(16000, 160, f0_floor=0.0)
    with pytest.raises(ConfigError, match="no harmonic"):
        PCPHPrior(16000, 160, f0_floor=100.0, max_freq=50.0)
