from __future__ import annotations

import warnings

import librosa
import numpy as np
import pytest
import torch

from vocoder.errors import ConfigError, InputError
from vocoder.losses import MelL1Loss, MultiResolutionSTFTLoss, MultiScaleMelLoss
from vocoder.registry import lookup

PWG = dict(fft_sizes=(1024, 2048, 512), hop_sizes=(120, 240, 50), win_lengths=(600, 1200, 240))


def _speechlike(sr: int, n: int, batch: int = 2, seed: int = 0) -> np.ndarray:
    """Harmonic tone plus a little noise, (batch, n) float64."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    out = []
    for b in range(batch):
        f0 = 120.0 + 40.0 * b
        x = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t + k) for k in range(1, 8))
        out.append(x + 0.01 * rng.standard_normal(n))
    return np.stack(out)


# --- numpy reference for the PWG MR-STFT loss -----------------------------------------------------


def _np_mag(x: np.ndarray, n_fft: int, hop: int, win: int) -> np.ndarray:
    """(B, L) -> (B, frames, n_fft//2+1): reflect pad n_fft//2, periodic hann centred in n_fft, rfft."""
    pad = n_fft // 2
    xp = np.pad(x, ((0, 0), (pad, pad)), mode="reflect")
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    window = np.zeros(n_fft)
    left = (n_fft - win) // 2
    window[left : left + win] = w
    n_frames = 1 + (xp.shape[1] - n_fft) // hop
    idx = np.arange(n_frames)[:, None] * hop + np.arange(n_fft)[None, :]
    spec = np.fft.rfft(xp[:, idx] * window, axis=-1)
    return np.sqrt(np.maximum(spec.real**2 + spec.imag**2, 1e-7))


def _np_mrstft(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    sc, mag = [], []
    for n_fft, hop, win in zip(*PWG.values()):
        xm, ym = _np_mag(x, n_fft, hop, win), _np_mag(y, n_fft, hop, win)
        sc.append(np.linalg.norm(ym - xm) / np.linalg.norm(ym))
        mag.append(np.mean(np.abs(np.log(ym) - np.log(xm))))
    return float(np.mean(sc)), float(np.mean(mag))


def test_mrstft_is_zero_for_identical_signals():
    y = torch.from_numpy(_speechlike(16000, 4800)).float()[:, None]
    sc, mag = MultiResolutionSTFTLoss()(y, y.clone())
    assert sc.item() == 0.0 and mag.item() == 0.0


def test_mrstft_matches_numpy_reference():
    y = _speechlike(16000, 4800, seed=1)
    y_hat = y + 0.05 * np.random.default_rng(2).standard_normal(y.shape)
    ref_sc, ref_mag = _np_mrstft(y_hat, y)
    loss = MultiResolutionSTFTLoss(**PWG)
    sc, mag = loss(torch.from_numpy(y_hat).float()[:, None], torch.from_numpy(y).float()[:, None])
    assert ref_sc > 0.05 and ref_mag > 0.1  # the comparison is not between two near-zeros
    assert abs(sc.item() - ref_sc) <= 1e-5
    assert abs(mag.item() - ref_mag) <= 1e-5
    # (B, L) input and float64 agree closer still (the float32 window buffer limits it to ~1e-9)
    sc64, mag64 = loss(torch.from_numpy(y_hat), torch.from_numpy(y))
    assert abs(sc64.item() - ref_sc) <= 1e-8 and abs(mag64.item() - ref_mag) <= 1e-8


def test_mrstft_grows_monotonically_with_noise():
    y = torch.from_numpy(_speechlike(16000, 4800, seed=3)).float()
    noise = torch.from_numpy(np.random.default_rng(4).standard_normal(y.shape)).float()
    loss = MultiResolutionSTFTLoss()
    values = [loss(y + a * noise, y) for a in (0.0, 0.003, 0.01, 0.03, 0.1, 0.3)]
    sc = [v[0].item() for v in values]
    mag = [v[1].item() for v in values]
    assert sc[0] == 0.0 and mag[0] == 0.0
    assert all(b > a for a, b in zip(sc, sc[1:])), sc
    assert all(b > a for a, b in zip(mag, mag[1:])), mag


def test_mrstft_gradients_and_buffers():
    y = torch.from_numpy(_speechlike(16000, 3000, seed=5)).float()[:, None]
    y_hat = (y + 0.1 * torch.randn_like(y)).requires_grad_(True)
    loss = MultiResolutionSTFTLoss()
    sc, mag = loss(y_hat, y)
    (sc + mag).backward()
    assert torch.isfinite(y_hat.grad).all() and y_hat.grad.abs().sum() > 0
    assert loss.state_dict() == {}  # windows are non-persistent buffers
    assert [b.shape[0] for b in loss.buffers()] == [600, 1200, 240]
    # digital silence stays finite thanks to the 1e-7 clamp
    z = torch.zeros(1, 1, 3000)
    sc0, mag0 = loss(z, z)
    assert torch.isfinite(sc0) and mag0.item() == 0.0


def test_mrstft_config_and_input_errors():
    with pytest.raises(ConfigError, match="equally long"):
        MultiResolutionSTFTLoss(fft_sizes=(512,), hop_sizes=(50, 60), win_lengths=(240,))
    with pytest.raises(ConfigError, match="window"):
        MultiResolutionSTFTLoss(window="kaiser")
    with pytest.raises(ConfigError, match="win"):
        MultiResolutionSTFTLoss(fft_sizes=(256,), hop_sizes=(64,), win_lengths=(512,))
    assert MultiResolutionSTFTLoss(window="hann_window").window == "hann"
    loss = MultiResolutionSTFTLoss()
    with pytest.raises(InputError, match="too short"):
        loss(torch.zeros(1, 1, 500), torch.zeros(1, 1, 500))
    with pytest.raises(InputError, match="shape"):
        loss(torch.zeros(1, 1, 3000), torch.zeros(1, 1, 3001))


# --- HiFi-GAN mel L1 -------------------------------------------------------------------------------


def _librosa_log_mel(x: np.ndarray, sr: int, n_fft: int, hop: int, n_mels: int) -> np.ndarray:
    """HiFi-GAN loss mel: reflect pad (n_fft-hop)/2, center=False, magnitude, slaney, full band, ln."""
    pad = (n_fft - hop) // 2
    xp = np.pad(x, ((0, 0), (pad, n_fft - hop - pad)), mode="reflect")
    mel = librosa.feature.melspectrogram(
        y=xp, sr=sr, n_fft=n_fft, hop_length=hop, center=False, power=1.0, n_mels=n_mels, fmin=0.0, fmax=None
    )
    return np.log(np.maximum(mel, 1e-5))


def test_mel_l1_zero_for_identical_positive_otherwise_and_matches_librosa():
    sr = 22050
    y = _speechlike(sr, 256 * 20, seed=6)
    y_hat = y + 0.05 * np.random.default_rng(7).standard_normal(y.shape)
    loss = MelL1Loss(sr)
    assert loss.features.fmax is None and loss.features.hop == 256 and loss.features.n_mels == 80
    yt, yht = torch.from_numpy(y).float()[:, None], torch.from_numpy(y_hat).float()[:, None]
    assert loss(yt, yt.clone()).item() == 0.0
    value = loss(yht, yt).item()
    ref = np.mean(np.abs(_librosa_log_mel(y_hat, sr, 1024, 256, 80) - _librosa_log_mel(y, sr, 1024, 256, 80)))
    assert value > 0.1
    assert abs(value - ref) <= 1e-5


def test_mel_l1_gradients_flow():
    y = torch.from_numpy(_speechlike(16000, 160 * 16, seed=8)).float()
    y_hat = (y + 0.1 * torch.randn_like(y)).requires_grad_(True)
    loss = lookup("loss", "mel")(sample_rate=16000, hop=160)
    loss(y_hat, y).backward()
    assert torch.isfinite(y_hat.grad).all() and y_hat.grad.abs().sum() > 0


# --- DAC / BigVGAN-v2 multi-scale mel ----------------------------------------------------------------


def _dac_log_mels(x: torch.Tensor, sr: int) -> list[torch.Tensor]:
    """DAC-style per scale: torch.stft center=True (reflect), periodic hann, librosa slaney mel, log10."""
    out = []
    for w, m in zip((32, 64, 128, 256, 512, 1024, 2048), (5, 10, 20, 40, 80, 160, 320)):
        spec = torch.stft(x, w, w // 4, window=torch.hann_window(w, dtype=x.dtype), center=True, return_complex=True)
        fb = torch.from_numpy(librosa.filters.mel(sr=sr, n_fft=w, n_mels=m)).to(x.dtype)
        out.append(torch.log10(torch.clamp(fb @ spec.abs(), min=1e-5)))
    return out


@pytest.mark.parametrize("sr", [16000, 24000])
def test_multiscale_mel_finite_matches_dac_and_has_gradients(sr):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. librosa's "Empty filters detected"
        loss = MultiScaleMelLoss(sr)
    n = 4096
    y = torch.from_numpy(_speechlike(sr, n, seed=9)).float()[:, None]
    y_hat = (y + 0.05 * torch.randn_like(y)).requires_grad_(True)
    assert loss(y, y.clone()).item() == 0.0

    ours = loss.log_mels(y)
    for i, (mine, dac) in enumerate(zip(ours, _dac_log_mels(y[:, 0].double(), sr))):
        hop = loss.window_lengths[i] // 4
        assert mine.shape == (2, loss.n_mels[i], n // hop)
        assert torch.isfinite(mine).all()
        # same frames as DAC except DAC's extra last frame
        torch.testing.assert_close(mine.double(), dac[..., :-1], atol=1e-4, rtol=0)

    value = loss(y_hat, y)
    assert torch.isfinite(value) and value.item() > 0.1
    value.backward()
    assert torch.isfinite(y_hat.grad).all() and y_hat.grad.abs().sum() > 0


def test_multiscale_mel_smallest_scale_alone_is_finite_with_gradients():
    loss = MultiScaleMelLoss(16000, window_lengths=(32,), n_mels=(5,))
    y = torch.zeros(1, 1, 256)  # silence: every mel bin clamps
    y_hat = torch.randn(1, 1, 256, requires_grad=True)
    value = loss(y_hat, y)
    assert torch.isfinite(value) and value.item() > 0
    value.backward()
    assert torch.isfinite(y_hat.grad).all()


def test_multiscale_mel_sums_over_scales_and_pow_scales_logs():
    sr = 16000
    y = torch.from_numpy(_speechlike(sr, 4096, seed=10)).float()
    y_hat = y + 0.05 * torch.from_numpy(np.random.default_rng(11).standard_normal(y.shape)).float()
    full = MultiScaleMelLoss(sr, window_lengths=(64, 256), n_mels=(10, 40))
    parts = [MultiScaleMelLoss(sr, window_lengths=(w,), n_mels=(m,))(y_hat, y) for w, m in ((64, 10), (256, 40))]
    assert full(y_hat, y).item() == pytest.approx(sum(p.item() for p in parts), rel=1e-6)
    doubled = MultiScaleMelLoss(sr, window_lengths=(64, 256), n_mels=(10, 40), pow=2.0)
    assert doubled(y_hat, y).item() == pytest.approx(2 * full(y_hat, y).item(), rel=1e-6)


def test_multiscale_mel_config_errors():
    with pytest.raises(ConfigError, match="equally long"):
        MultiScaleMelLoss(16000, window_lengths=(32, 64), n_mels=(5,))
    loss = MultiScaleMelLoss(16000)
    with pytest.raises(InputError, match="too short"):
        loss(torch.zeros(1, 1, 512), torch.zeros(1, 1, 512))


def test_registry_names():
    assert lookup("loss", "mrstft") is MultiResolutionSTFTLoss
    assert lookup("loss", "mel") is MelL1Loss
    assert lookup("loss", "multiscale_mel") is MultiScaleMelLoss


def test_waveform_l1_is_the_mean_absolute_sample_difference():
    from vocoder.losses.waveform import WaveformL1Loss

    y = torch.linspace(-1, 1, 64).view(1, 1, 64)
    loss = WaveformL1Loss()
    assert float(loss(y, y)) == 0.0
    assert abs(float(loss(y + 0.25, y)) - 0.25) < 1e-7
    with pytest.raises(InputError):
        loss(y[..., :32], y)
