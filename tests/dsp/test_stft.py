"""Parity of the conv-basis STFT / ISTFT with torch.stft / torch.istft, an irfft overlap-add reference,
perfect reconstruction, gradients, and ONNX export with dynamic batch and frame axes.

Tolerance: 1e-5 max abs everywhere. Float64 modules (``.double()``) are compared in absolute terms. The
float32 STFT of an amplitude-1 signal has bins up to ~n_fft / 4 (~250 for n_fft = 1024), where float32
rounding alone is ~1e-5, so float32 spectra are compared after dividing by the reference's peak magnitude
(i.e. as if the signal were scaled to give unit-peak spectra). Waveforms (amplitude ~1) are compared in
absolute terms in float32 too.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from vocoder.dsp.stft import ISTFT, STFT, make_window
from vocoder.errors import ConfigError, InputError

TOL = 1e-5
# (n_fft, hop, win_length); the last one has odd n_fft (no Nyquist bin) and an odd-sized zero-padded window.
CONFIGS = [(16, 4, 16), (480, 240, 480), (1024, 256, 1024), (1024, 160, 640), (15, 5, 12)]
IDS = [f"{n}-{h}-{w}" for n, h, w in CONFIGS]


def _signal(batch: int, length: int, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, length, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)


def _spectrum(batch: int, n_bins: int, frames: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(batch, n_bins, frames, generator=gen, dtype=torch.float64)
    imag = torch.randn(batch, n_bins, frames, generator=gen, dtype=torch.float64)
    return real, imag


def _torch_stft(x: torch.Tensor, n_fft: int, hop: int, win: int, padding: str) -> torch.Tensor:
    window = torch.hann_window(win, periodic=True, dtype=x.dtype)
    if padding == "center":
        return torch.stft(x, n_fft, hop, win, window, center=True, pad_mode="reflect", return_complex=True)
    left = (n_fft - hop) // 2
    padded = F.pad(x.unsqueeze(1), (left, n_fft - hop - left), mode="reflect").squeeze(1)
    return torch.stft(padded, n_fft, hop, win, window, center=False, return_complex=True)


def _ola_reference(real: torch.Tensor, imag: torch.Tensor, n_fft: int, hop: int, win: int) -> torch.Tensor:
    """'same' ISTFT written independently: irfft per frame, window, overlap-add loop, envelope, trim."""
    window = make_window(n_fft, win).to(real.dtype)
    frames = torch.fft.irfft(torch.complex(real, imag), n=n_fft, dim=1) * window[:, None]  # (B, n_fft, T)
    batch, _, n_frames = frames.shape
    out = torch.zeros(batch, (n_frames - 1) * hop + n_fft, dtype=real.dtype)
    env = torch.zeros((n_frames - 1) * hop + n_fft, dtype=real.dtype)
    for t in range(n_frames):
        out[:, t * hop : t * hop + n_fft] += frames[:, :, t]
        env[t * hop : t * hop + n_fft] += window**2
    left = (n_fft - hop) // 2
    return (out / env)[:, left : left + n_frames * hop]


@pytest.mark.parametrize("padding", ["same", "center"])
@pytest.mark.parametrize(("n_fft", "hop", "win"), CONFIGS, ids=IDS)
def test_stft_matches_torch_stft(n_fft: int, hop: int, win: int, padding: str) -> None:
    length = 23 * hop
    stft = STFT(n_fft, hop, win, padding=padding)
    # torch.stft(center=True) pads n_fft // 2 per side: 1 + L // hop frames for even n_fft, one fewer here for odd
    expected_frames = 23 if padding == "same" else 1 + (length + 2 * (n_fft // 2) - n_fft) // hop

    x64 = _signal(2, length, torch.float64)
    ref64 = _torch_stft(x64, n_fft, hop, win, padding)
    real, imag = stft.double()(x64.unsqueeze(1))  # (B, 1, L) input form
    assert real.shape == imag.shape == (2, n_fft // 2 + 1, expected_frames) == ref64.shape
    assert (real - ref64.real).abs().max().item() <= TOL
    assert (imag - ref64.imag).abs().max().item() <= TOL

    x32 = x64.float()
    ref32 = _torch_stft(x32, n_fft, hop, win, padding)
    real, imag = stft.float()(x32)  # (B, L) input form
    scale = ref32.abs().max().item()
    assert (real - ref32.real).abs().max().item() / scale <= TOL
    assert (imag - ref32.imag).abs().max().item() / scale <= TOL


def test_stft_finds_a_sinusoid_in_its_bin() -> None:
    n_fft, hop = 64, 16
    n = torch.arange(40 * hop, dtype=torch.float32)
    x = torch.cos(2 * torch.pi * 5 * n / n_fft)[None]
    real, imag = STFT(n_fft, hop)(x)
    mag = (real**2 + imag**2).sqrt()
    assert (mag.argmax(dim=1) == 5).all()
    # periodic Hann sums to n_fft / 2; a unit cosine puts half of that in its bin
    assert mag[0, 5, 10].item() == pytest.approx(n_fft / 4, abs=1e-4)


@pytest.mark.parametrize(("n_fft", "hop", "win"), CONFIGS, ids=IDS)
def test_istft_center_matches_torch_istft(n_fft: int, hop: int, win: int) -> None:
    istft = ISTFT(n_fft, hop, win, padding="center").double()
    window = torch.hann_window(win, periodic=True, dtype=torch.float64)
    real, imag = _spectrum(2, n_fft // 2 + 1, 12)
    y = istft(real, imag)
    ref = torch.istft(torch.complex(real, imag), n_fft, hop, win, window, center=True, length=11 * hop)
    assert y.shape == ref.shape == (2, 11 * hop)
    assert (y - ref).abs().max().item() <= TOL


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("padding", ["same", "center"])
@pytest.mark.parametrize(("n_fft", "hop", "win"), CONFIGS, ids=IDS)
def test_istft_of_stft_reconstructs_the_signal(
    n_fft: int, hop: int, win: int, padding: str, dtype: torch.dtype
) -> None:
    length = 19 * hop
    x = _signal(2, length, dtype, seed=3)
    real, imag = STFT(n_fft, hop, win, padding=padding).to(dtype)(x)
    y = ISTFT(n_fft, hop, win, padding=padding).to(dtype)(real, imag)
    frames = real.shape[-1]
    assert y.shape == (2, frames * hop if padding == "same" else (frames - 1) * hop)
    if n_fft % 2 == 0:
        assert y.shape == x.shape
    # whole length, edges included
    assert (y - x[:, : y.shape[-1]]).abs().max().item() <= TOL


@pytest.mark.parametrize(("n_fft", "hop", "win"), CONFIGS, ids=IDS)
def test_istft_same_matches_overlap_add_reference(n_fft: int, hop: int, win: int) -> None:
    real, imag = _spectrum(2, n_fft // 2 + 1, 9, seed=4)
    y = ISTFT(n_fft, hop, win, padding="same").double()(real, imag)
    ref = _ola_reference(real, imag, n_fft, hop, win)
    assert y.shape == ref.shape == (2, 9 * hop)
    assert (y - ref).abs().max().item() <= TOL
    # float32 module on the same spectra (unit-variance bins give waveform values of order 1)
    y32 = ISTFT(n_fft, hop, win, padding="same")(real.float(), imag.float())
    assert (y32.double() - ref).abs().max().item() <= TOL


def test_istft_ignores_imaginary_dc_and_nyquist() -> None:
    istft = ISTFT(16, 4, padding="same")
    real, imag = _spectrum(1, 9, 6, seed=5)
    real, imag = real.float(), imag.float()
    bumped = imag.clone()
    bumped[:, 0] += 3.0
    bumped[:, -1] -= 2.0
    assert torch.equal(istft(real, imag), istft(real, bumped))


def test_istft_gradients_match_torch_istft() -> None:
    n_fft, hop = 16, 4
    istft = ISTFT(n_fft, hop, padding="center").double()
    real, imag = _spectrum(2, n_fft // 2 + 1, 7, seed=6)
    weight = torch.randn(2, 6 * hop, dtype=torch.float64, generator=torch.Generator().manual_seed(7))

    real_a, imag_a = real.clone().requires_grad_(), imag.clone().requires_grad_()
    (istft(real_a, imag_a) * weight).sum().backward()

    real_b, imag_b = real.clone().requires_grad_(), imag.clone().requires_grad_()
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    ref = torch.istft(torch.complex(real_b, imag_b), n_fft, hop, window=window, center=True, length=6 * hop)
    (ref * weight).sum().backward()

    assert real_a.grad is not None and imag_a.grad is not None
    assert real_a.grad.abs().max().item() > 0.01
    assert (real_a.grad - real_b.grad).abs().max().item() <= TOL
    # torch.istft's gradient also ignores imag DC / Nyquist, so the whole tensor must agree
    assert (imag_a.grad - imag_b.grad).abs().max().item() <= TOL


def test_gradients_flow_through_stft_and_istft_same() -> None:
    x = _signal(1, 8 * 60, torch.float64, seed=8).requires_grad_()
    stft, istft = STFT(480, 60, padding="same").double(), ISTFT(480, 60, padding="same").double()
    assert torch.autograd.gradcheck(lambda s: istft(*stft(s)), (x,), eps=1e-6, atol=1e-6, fast_mode=True)


def test_bases_are_buffers_outside_the_state_dict() -> None:
    stft, istft = STFT(64, 16), ISTFT(64, 16)
    assert stft.state_dict() == {} and istft.state_dict() == {}
    assert stft.basis.shape == (2 * 33, 1, 64) and istft.basis.shape == (2 * 33, 1, 64)
    assert list(stft.parameters()) == [] and list(istft.parameters()) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_fft": 16, "hop": 0},
        {"n_fft": 16, "hop": 32},
        {"n_fft": 16, "hop": 4, "win_length": 20},
        {"n_fft": 16, "hop": 4, "window": "kaiser"},
        {"n_fft": 16, "hop": 4, "padding": "valid"},
    ],
)
def test_bad_settings_raise_config_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        STFT(**kwargs)
    with pytest.raises(ConfigError):
        ISTFT(**kwargs)


def test_bad_inputs_raise_input_error() -> None:
    with pytest.raises(ConfigError):
        STFT(16, 4, pad_mode="circular-ish")
    with pytest.raises(InputError):
        STFT(16, 4)(torch.zeros(2, 3, 64))
    with pytest.raises(InputError):
        STFT(1024, 256)(torch.zeros(1, 300))  # reflect padding of 384 needs > 384 samples
    with pytest.raises(InputError):
        ISTFT(16, 4)(torch.zeros(1, 9, 5), torch.zeros(1, 8, 5))


def _export(module: torch.nn.Module, args: tuple, path, inputs: list[str], outputs: list[str], axes: dict):
    torch.onnx.export(
        module, args, str(path), dynamo=False, opset_version=17,
        input_names=inputs, output_names=outputs, dynamic_axes=axes,
    )
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("padding", ["same", "center"])
@pytest.mark.parametrize(("n_fft", "hop", "win"), [(16, 4, 16), (1024, 160, 640)], ids=["16-4-16", "1024-160-640"])
def test_onnx_export_matches_torch_at_two_lengths(tmp_path, n_fft: int, hop: int, win: int, padding: str) -> None:
    stft = STFT(n_fft, hop, win, padding=padding).eval()
    istft = ISTFT(n_fft, hop, win, padding=padding).eval()
    x = _signal(2, 20 * hop, torch.float32)
    real, imag = stft(x)
    spec_axes = {0: "batch", 2: "frames"}
    stft_sess = _export(
        stft, (x,), tmp_path / "stft.onnx", ["x"], ["real", "imag"],
        {"x": {0: "batch", 1: "samples"}, "real": spec_axes, "imag": spec_axes},
    )
    istft_sess = _export(
        istft, (real, imag), tmp_path / "istft.onnx", ["real", "imag"], ["y"],
        {"real": spec_axes, "imag": spec_axes, "y": {0: "batch", 1: "samples"}},
    )
    # lengths differ from the export-time 20 frames / batch 2, so a frozen T or B would fail here
    for batch, frames in [(1, 7), (3, 33)]:
        x = _signal(batch, frames * hop, torch.float32, seed=frames)
        with torch.no_grad():
            real, imag = stft(x)
            y = istft(real, imag)
        real_o, imag_o = stft_sess.run(None, {"x": x.numpy()})
        (y_o,) = istft_sess.run(None, {"real": real.numpy(), "imag": imag.numpy()})
        assert real_o.shape == tuple(real.shape) and y_o.shape == tuple(y.shape)
        scale = max(np.abs(real.numpy()).max(), np.abs(imag.numpy()).max())  # spectra: peak-relative
        assert np.abs(real_o - real.numpy()).max() / scale <= TOL
        assert np.abs(imag_o - imag.numpy()).max() / scale <= TOL
        assert np.abs(y_o - y.numpy()).max() <= TOL  # waveform: absolute
        assert np.abs(y_o - x.numpy()[:, : y_o.shape[1]]).max() <= TOL  # and the ONNX pair reconstructs x
