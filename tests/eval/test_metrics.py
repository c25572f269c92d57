"""Objective metrics: zero for identical signals, growing with noise, known answers, parity with the
torch MR-STFT loss, the mel-cepstrum convention, and the Griffin-Lim baseline on demo speech."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.signal import lfilter

from vocoder.audio.io import read_audio
from vocoder.audio.mel_numpy import align_audio, log_mel_numpy, mel_filterbank
from vocoder.audio.mel_presets import resolve_features
from vocoder.errors import InputError
from vocoder.eval import metrics as M
from vocoder.losses.spectral import MultiResolutionSTFTLoss

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "recipes" / "demo" / "wavs"
FEATURES = resolve_features({"preset": "demo-16k", "f0_min": 100.0, "f0_max": 500.0})


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """0.71 s of demo speech at 16 kHz, trimmed to whole hops."""
    return align_audio(read_audio(DEMO / "digits_h-5.flac", 16000), FEATURES.hop)


def with_noise(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(x))
    noise *= np.sqrt(np.mean(x.astype(np.float64) ** 2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (x + noise).astype(np.float32)


def harmonic(f0: np.ndarray, sr: int = 16000, hop: int = 160) -> np.ndarray:
    """Sawtooth-like voice: 1/h harmonics below 7 kHz following a frame-wise F0 ``(T,)`` -> ``(T * hop,)``."""
    inst = np.repeat(f0, hop)
    phase = 2 * np.pi * np.cumsum(inst) / sr
    return 0.1 * sum(np.sin(h * phase) / h * (h * inst < 7000) for h in range(1, 40))


def test_identical_signals_score_perfectly(speech):
    scores = M.compute_metrics(speech, speech.copy(), FEATURES)
    for name in ("mrstft", "log_mel_l1", "mcd_db", "f0_rmse_cents", "vuv_error"):
        assert scores[name] == pytest.approx(0.0, abs=1e-12), name
    # 4.64 is the top of the P.862.2 mapping
    assert 4.5 < scores["pesq_wb"] <= 4.65
    assert scores["pesq_wb_error"] is None


def test_added_noise_raises_every_error_and_lowers_pesq(speech):
    mild = M.compute_metrics(speech, with_noise(speech, 20.0), FEATURES)
    loud = M.compute_metrics(speech, with_noise(speech, 10.0), FEATURES)
    assert mild["mrstft"] > 0.5 and mild["log_mel_l1"] > 0.5 and mild["mcd_db"] > 2.0
    assert mild["f0_rmse_cents"] > 10.0 and mild["vuv_error"] > 0.05
    assert mild["pesq_wb"] < 3.0
    for name in ("mrstft", "log_mel_l1", "mcd_db", "vuv_error"):
        assert loud[name] > mild[name], name
    assert loud["pesq_wb"] < mild["pesq_wb"] - 0.5


def test_known_f0_shift_is_100_cents():
    f0 = 170.0 + 30.0 * np.sin(2 * np.pi * np.arange(100) / 60)
    ref, shifted = harmonic(f0), harmonic(f0 * 2 ** (100 / 1200))
    ref_f0, gen_f0 = M.f0_of(ref, FEATURES), M.f0_of(shifted, FEATURES)
    assert (ref_f0 > 0).mean() > 0.95
    assert M.f0_rmse_cents(ref_f0, gen_f0) == pytest.approx(100.0, abs=10.0)
    assert M.vuv_error(ref_f0, gen_f0) < 0.03


def test_f0_metrics_on_handmade_contours():
    ref = np.array([0.0, 100.0, 100.0, 0.0, 220.0])
    gen = np.array([0.0, 200.0, 0.0, 100.0, 220.0])
    assert M.vuv_error(ref, gen) == pytest.approx(0.4)
    # frames 1 (an octave: 1200 cents) and 4 (0 cents) are voiced in both
    assert M.f0_rmse_cents(ref, gen) == pytest.approx(math.sqrt(1200.0**2 / 2))
    assert math.isnan(M.f0_rmse_cents(np.zeros(4), gen[:4]))


@pytest.mark.parametrize("length", [4096, 12345])
def test_mrstft_distance_equals_the_torch_loss(length):
    rng = np.random.default_rng(length)
    ref = (0.3 * rng.standard_normal(length)).astype(np.float32)
    gen = (ref + 0.1 * rng.standard_normal(length)).astype(np.float32)
    sc, mag = MultiResolutionSTFTLoss()(torch.from_numpy(gen)[None, None], torch.from_numpy(ref)[None, None])
    expected = float(sc + mag)
    assert expected > 0.1
    assert abs(M.mrstft_distance(ref, gen) - expected) <= 1e-5
    # the longer signal is trimmed to the shorter
    longer = np.concatenate([gen, np.ones(500, np.float32)])
    assert M.mrstft_distance(ref, longer) == pytest.approx(M.mrstft_distance(ref, gen), abs=1e-12)


def mu_law_8bit(x: np.ndarray) -> np.ndarray:
    """``x`` through 8-bit mu-law (mu 255) quantisation: a real codec's small, level-dependent distortion."""
    y = np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255)
    y = np.round(y * 127) / 127
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(255)) / 255).astype(np.float32)


def _demo_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """(reference, generated) on demo speech: a codec-distorted copy (distance 0.44) and another utterance
    (3.46), so both a good and a bad "generator" are covered."""
    calling = read_audio(DEMO / "calling.flac", 16000)
    other = read_audio(DEMO / "conf-muted.flac", 16000)
    n = min(len(calling), len(other))
    return [(calling, mu_law_8bit(calling)), (calling[:n], other[:n])]


def _loss_value(loss: MultiResolutionSTFTLoss, ref: np.ndarray, gen: np.ndarray, dtype: torch.dtype) -> float:
    sc, mag = loss(torch.from_numpy(gen).to(dtype)[None, None], torch.from_numpy(ref).to(dtype)[None, None])
    return float(sc + mag)


def test_mrstft_distance_is_the_torch_loss_by_definition_on_demo_speech():
    """Same resolutions, periodic Hann centred in n_fft, centred reflect framing, clamp 1e-7 on |X|^2, SC over
    the whole tensor (= per signal at batch 1): with the loss's windows made in float64 like the metric's,
    the two agree to float64 rounding (measured 2.5e-16 relative)."""
    loss = MultiResolutionSTFTLoss().double()
    for i, win in enumerate(loss.win_lengths):
        setattr(loss, f"window_{i}", torch.hann_window(win, dtype=torch.float64))
    distances = []
    for ref, gen in _demo_pairs():
        distances.append(M.mrstft_distance(ref, gen))
        assert distances[-1] == pytest.approx(_loss_value(loss, ref, gen, torch.float64), rel=1e-12, abs=0)
    assert 0.3 < distances[0] < 0.6 and 3.0 < distances[1] < 4.0


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-6), (torch.float32, 1e-5)])
def test_mrstft_distance_equals_the_torch_loss_on_demo_speech(dtype, rtol):
    """The loss as trained: its windows are torch.hann_window in float32 (relative error <= 2**-24 = 6e-8 per
    sample, cast to the input dtype). float64 input: that rounding alone, measured <= 8.4e-8 relative (the
    log-magnitude term of near-silent bins amplifies it), so 1e-6. float32 input: the STFT's own rounding,
    ~eps * log2(n_fft) = 7e-7 of a frame's peak, measured <= 3.8e-7 relative, so 1e-5."""
    loss = MultiResolutionSTFTLoss().to(dtype)
    for ref, gen in _demo_pairs():
        assert M.mrstft_distance(ref, gen) == pytest.approx(_loss_value(loss, ref, gen, dtype), rel=rtol, abs=0)


def test_mrstft_distance_rejects_too_short_signals():
    with pytest.raises(InputError, match="too short"):
        M.mrstft_distance(np.ones(800, np.float32), np.ones(800, np.float32))


def test_mel_cepstrum_is_the_cosine_series_on_the_warped_axis():
    alpha, n_fft = 0.42, 1024
    omega = np.linspace(0.0, np.pi, n_fft // 2 + 1)
    coefficients = np.array([-1.0, 0.8, -0.5, 0.3, 0.2, -0.1, 0.05])
    warped = M._warp(omega, alpha)
    log_amplitude = sum(c * np.cos(m * warped) for m, c in enumerate(coefficients))
    mc = M.mel_cepstrum(np.exp(2 * log_amplitude)[None], order=24, alpha=alpha)[0]
    np.testing.assert_allclose(mc[: len(coefficients)], coefficients, atol=1e-4)
    np.testing.assert_allclose(mc[len(coefficients) :], 0.0, atol=1e-4)
    # without warping it is the plain cepstrum of the log amplitude
    plain = sum(c * np.cos(m * omega) for m, c in enumerate(coefficients))
    mc0 = M.mel_cepstrum(np.exp(2 * plain)[None], order=10, alpha=0.0)[0]
    np.testing.assert_allclose(mc0[: len(coefficients)], coefficients, atol=1e-10)


def test_warping_alpha_table_and_fit():
    assert M.warping_alpha(16000) == 0.42 and M.warping_alpha(24000) == 0.466
    assert M.warping_alpha(16001) == pytest.approx(0.42, abs=0.011)
    assert M.warping_alpha(24001) == pytest.approx(0.466, abs=0.005)
    assert 0.466 < M.warping_alpha(32000) < 0.544


def test_mcd_ignores_gain_and_sees_spectral_tilt(speech):
    # a gain moves only c_0, which MCD leaves out
    assert M.mcd(speech, 0.5 * speech, FEATURES) < 1e-3
    tilted = lfilter([1.0, -0.9], [1.0], speech).astype(np.float32)
    assert M.mcd(speech, tilted, FEATURES) > 3.0


def test_log_mel_l1_is_in_natural_log_units_without_normalisation(speech):
    noisy = with_noise(speech, 20.0)
    base = M.log_mel_l1(speech, noisy, FEATURES)
    log10 = resolve_features(dataclasses.replace(FEATURES, log="log10"))
    stats = resolve_features(
        dataclasses.replace(FEATURES, mean=[-3.0] * FEATURES.n_mels, std=[2.0] * FEATURES.n_mels)
    )
    expected = np.mean(np.abs(log_mel_numpy(speech, FEATURES) - log_mel_numpy(noisy, FEATURES)))
    assert base == pytest.approx(expected, rel=1e-6)
    assert M.log_mel_l1(speech, noisy, log10) == pytest.approx(base, rel=1e-5)
    assert M.log_mel_l1(speech, noisy, stats) == pytest.approx(base, rel=1e-6)


def test_pesq_failures_give_a_reason(speech):
    score, reason = M.pesq_wb(speech[:1600], speech[:1600], 16000)
    assert score is None and "BufferTooShort" in reason
    score, reason = M.pesq_wb(speech, np.zeros_like(speech), 16000)
    assert score is None and "silent" in reason


def test_pesq_resamples_other_rates(speech):
    at_24k = M.resample(speech, 16000, 24000)
    score, reason = M.pesq_wb(at_24k, at_24k, 24000)
    assert reason is None and score > 4.5


def test_mel_to_magnitude_undoes_log10_power_and_normalisation_like_librosa():
    import librosa

    cfg = resolve_features(
        {"preset": "demo-16k", "log": "log10", "power": 2.0, "mean": [-2.0] * 80, "std": [1.5] * 80}
    )
    magnitude = np.abs(np.random.default_rng(0).standard_normal((cfg.n_fft // 2 + 1, 12))) + 0.1
    linear_mel = mel_filterbank(cfg) @ magnitude**2
    mel = (np.log10(linear_mel) + 2.0) / 1.5
    recovered = M.mel_to_magnitude(mel, cfg)
    expected = librosa.feature.inverse.mel_to_stft(
        linear_mel, sr=cfg.sample_rate, n_fft=cfg.n_fft, power=2.0, fmin=cfg.fmin, fmax=cfg.fmax, norm="slaney"
    )
    assert recovered.shape == magnitude.shape and (recovered >= 0).all()
    np.testing.assert_allclose(recovered, expected, rtol=1e-5, atol=1e-8)
    # most bands come back close (the solver stops early on a few narrow low bands)
    error = np.abs(np.log(mel_filterbank(cfg) @ recovered**2 / linear_mel))
    assert np.median(error) < 1e-3 and error.mean() < 0.02


@pytest.mark.parametrize("padding", ["same", "center"])
def test_griffin_lim_on_demo_speech(speech, padding):
    cfg = resolve_features(dataclasses.replace(FEATURES, padding=padding))
    mel = log_mel_numpy(speech, cfg)
    wav = M.griffin_lim(mel, cfg, n_iter=32, seed=0)
    assert wav.dtype == np.float32 and wav.shape == (mel.shape[1] * cfg.hop,)
    distance = M.mrstft_distance(speech, wav)
    # measured 0.71 ("same") and 0.68 ("center")
    assert 0.4 < distance < 1.0
    # measured 0.10; shifting the output by a quarter hop (40 samples) either way gives 0.18
    assert M.log_mel_l1(speech, wav, cfg) < 0.15
    np.testing.assert_array_equal(wav, M.griffin_lim(mel, cfg, n_iter=32, seed=0))


def test_griffin_lim_rejects_a_wrong_mel_shape():
    with pytest.raises(InputError, match=r"\(80, frames\)"):
        M.griffin_lim(np.zeros((40, 10), np.float32), FEATURES)
