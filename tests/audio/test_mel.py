"""Log-mel: presets, config resolution, torch module and numpy function against a librosa reference."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import librosa
import numpy as np
import pytest
import torch

from vocoder.audio.mel import (
    PRESETS,
    MelSpectrogram,
    align_audio,
    find_preset,
    frames_for,
    log_mel_numpy,
    mel_filterbank,
    resolve_features,
)
from vocoder.config import FeatureConfig
from vocoder.errors import ConfigError, InputError

EXPECTED_PRESETS = {
    "hifigan-22k": dict(
        sample_rate=22050, n_fft=1024, hop=256, win_length=1024, n_mels=80, fmin=0.0, fmax=8000.0, log="ln",
        clamp=1e-5, padding="same", pad_mode="reflect", mel_scale="slaney", mel_norm="slaney", power=1.0,
    ),
    "pwg-24k": dict(
        sample_rate=24000, n_fft=2048, hop=300, win_length=1200, n_mels=80, fmin=80.0, fmax=7600.0,
        log="log10", clamp=1e-10, padding="center", pad_mode="reflect", mel_scale="slaney", mel_norm="slaney",
        power=1.0,
    ),
    "pwg-22k": dict(
        sample_rate=22050, n_fft=1024, hop=256, win_length=1024, n_mels=80, fmin=80.0, fmax=7600.0,
        log="log10", clamp=1e-10, padding="center", pad_mode="reflect", mel_scale="slaney", mel_norm="slaney",
        power=1.0,
    ),
    "vocos-24k": dict(
        sample_rate=24000, n_fft=1024, hop=256, win_length=1024, n_mels=100, fmin=0.0, fmax=None, log="ln",
        clamp=1e-7, padding="center", pad_mode="reflect", mel_scale="htk", mel_norm=None, power=1.0,
    ),
    "wavehax-24k": dict(
        sample_rate=24000, n_fft=1024, hop=240, win_length=1024, n_mels=100, fmin=0.0, fmax=8000.0, log="ln",
        clamp=1e-5, padding="same", pad_mode="reflect", mel_scale="slaney", mel_norm="slaney", power=1.0,
    ),
    "demo-16k": dict(
        sample_rate=16000, n_fft=1024, hop=160, win_length=640, n_mels=80, fmin=0.0, fmax=8000.0, log="ln",
        clamp=1e-5, padding="same", pad_mode="reflect", mel_scale="slaney", mel_norm="slaney", power=1.0,
    ),
}


def reference_log_mel(wav: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """librosa.stft + librosa.filters.mel in float64, framed by the contract (T = L // hop)."""
    frames = len(wav) // cfg.hop
    x = wav[: frames * cfg.hop].astype(np.float64)
    mode = "reflect" if cfg.pad_mode == "reflect" else "constant"
    if cfg.padding == "same":
        extra = cfg.n_fft - cfg.hop
        x = np.pad(x, (extra // 2, extra - extra // 2), mode=mode)
    spec = librosa.stft(
        x, n_fft=cfg.n_fft, hop_length=cfg.hop, win_length=cfg.win, window="hann",
        center=cfg.padding == "center", pad_mode=mode, dtype=np.complex128,
    )
    assert spec.shape[1] >= frames
    basis = librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax,
        htk=cfg.mel_scale == "htk", norm=cfg.mel_norm, dtype=np.float64,
    )
    mel = np.maximum(basis @ np.abs(spec[:, :frames]) ** cfg.power, cfg.clamp)
    out = np.log(mel) if cfg.log == "ln" else np.log10(mel)
    if cfg.mean is not None:
        out = (out - np.asarray(cfg.mean)[:, None]) / np.asarray(cfg.std)[:, None]
    return out


def make_signals(sr: int) -> dict[str, np.ndarray]:
    """~0.5 s (plus a partial hop): sine + noise; the same decaying to 1e-11 (clamp matters); a silent gap."""
    rng = np.random.default_rng(sr)
    n = sr // 2 + 77
    t = np.arange(n) / sr
    mix = 0.1 * np.sin(2 * np.pi * 220.0 * t) + 0.1 * rng.standard_normal(n)
    gap = mix.copy()
    gap[n // 3 : 2 * n // 3] = 0.0
    return {"mix": mix, "decay": mix * np.logspace(0, -11, n), "gap": gap}



def log_floor(cfg: FeatureConfig) -> float:
    return float(np.log(cfg.clamp) if cfg.log == "ln" else np.log10(cfg.clamp))


def preset_cfg(name: str) -> FeatureConfig:
    return resolve_features({"preset": name})


# --- presets and resolution ------------------------------------------------------------------------


def test_presets_pinned_field_by_field():
    assert set(PRESETS) == set(EXPECTED_PRESETS)
    for name, expected in EXPECTED_PRESETS.items():
        assert PRESETS[name] == expected, name
        cfg = preset_cfg(name)
        for key, value in expected.items():
            assert getattr(cfg, key) == value, (name, key)
        assert cfg.preset == name
        assert find_preset(cfg) == name


def test_resolve_dict_overrides_preset_keys_only():
    cfg = resolve_features({"preset": "hifigan-22k", "n_mels": 100, "fmax": None})
    assert (cfg.n_mels, cfg.fmax) == (100, None)
    assert (cfg.sample_rate, cfg.hop, cfg.padding, cfg.clamp) == (22050, 256, "same", 1e-5)
    assert find_preset(cfg) is None
    # no preset: the dataclass defaults, with the given keys on top
    plain = resolve_features({"hop": 200})
    assert plain == FeatureConfig(hop=200)


def test_resolve_featureconfig_uses_non_default_fields():
    cfg = resolve_features(FeatureConfig(preset="pwg-22k", n_mels=64))
    assert (cfg.n_mels, cfg.sample_rate, cfg.fmin, cfg.log) == (64, 22050, 80.0, "log10")
    # ints given for float fields come back as floats
    assert isinstance(resolve_features({"fmin": 0, "clamp": 1}).fmin, float)


def test_resolved_config_is_final_even_when_an_override_equals_a_default():
    # n_mels 80 is the dataclass default; a second resolution (MelSpectrogram does one) must keep it
    cfg = resolve_features({"preset": "vocos-24k", "n_mels": 80})
    assert cfg.n_mels == 80
    assert resolve_features(cfg).n_mels == 80
    assert MelSpectrogram(cfg).n_mels == 80
    assert resolve_features(dataclasses.asdict(cfg)) == cfg  # a saved config loads back the same


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ConfigError) as err:
        resolve_features({"preset": "nope-48k"})
    text = str(err.value)
    assert "features.preset" in text and "nope-48k" in text
    assert all(name in text for name in PRESETS) and "\n" not in text


@pytest.mark.parametrize(
    "given, key",
    [
        ({"log": "log2"}, "features.log"),
        ({"padding": "valid"}, "features.padding"),
        ({"pad_mode": "edge"}, "features.pad_mode"),
        ({"mel_scale": "bark"}, "features.mel_scale"),
        ({"mel_norm": "l2"}, "features.mel_norm"),
        ({"power": 3}, "features.power"),
        ({"fmax": 9000.0}, "features.fmax"),
        ({"fmin": 8000.0}, "features.fmin"),
        ({"fmin": -1.0}, "features.fmin"),
        ({"hop": 1024}, "features.hop"),
        ({"hop": 0}, "features.hop"),
        ({"win_length": 2048}, "features.win_length"),
        ({"n_mels": 0}, "features.n_mels"),
        ({"n_fft": "1024"}, "features.n_fft"),
        ({"sample_rate": 16000.5}, "features.sample_rate"),
        ({"clamp": 0.0}, "features.clamp"),
        ({"clamp": "1e-5"}, "features.clamp"),
        ({"mean": [0.0] * 80}, "features.mean"),
        ({"mean": [0.0] * 79, "std": [1.0] * 79}, "features.mean"),
        ({"mean": [0.0] * 80, "std": [1.0] * 79 + [0.0]}, "features.std"),
        ({"f0_method": "crepe"}, "features.f0_method"),
        ({"f0_min": 700.0, "f0_max": 60.0}, "features.f0_min"),
        ({"f0_max": 9000.0}, "features.f0_max"),
        ({"nfft": 512}, "nfft"),
    ],
)
def test_bad_values_raise_one_line_naming_the_key(given, key):
    with pytest.raises(ConfigError) as err:
        resolve_features(given)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_module_validates_its_config():
    with pytest.raises(ConfigError, match="features.hop"):
        MelSpectrogram(FeatureConfig(n_fft=256, hop=256))


# --- numbers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [{"preset": name} for name in EXPECTED_PRESETS]
    + [
        {"n_fft": 513},  # odd: bin centres are k * sr / n_fft, not a linspace to Nyquist
        {"mel_scale": "htk", "mel_norm": "slaney", "fmin": 40.0},
        {"sample_rate": 8000, "n_fft": 64, "hop": 16, "n_mels": 8, "fmin": 30.0, "fmax": None},
    ],
)
def test_filterbank_equals_librosa(given):
    cfg = resolve_features(given)
    ours = mel_filterbank(cfg)
    ref = librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax,
        htk=cfg.mel_scale == "htk", norm=cfg.mel_norm, dtype=np.float64,
    )
    assert ours.shape == (cfg.n_mels, cfg.n_fft // 2 + 1)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", list(EXPECTED_PRESETS))
def test_module_and_numpy_match_librosa_reference(name):
    cfg = preset_cfg(name)
    module = MelSpectrogram(cfg)
    floor = log_floor(cfg)
    for label, wav in make_signals(cfg.sample_rate).items():
        wav32 = wav.astype(np.float32)
        ref = reference_log_mel(wav32, cfg)
        frames = len(wav) // cfg.hop
        assert ref.shape == (cfg.n_mels, frames)
        if label != "mix":  # these signals exist to exercise the clamp: both sides of it must occur
            clamped = np.mean(ref <= floor + 1e-12)
            assert 0.1 < clamped < 0.9, (label, clamped)
        out32 = module(torch.from_numpy(wav32)[None]).numpy()[0]
        out64 = module(torch.from_numpy(wav32.astype(np.float64))[None]).numpy()[0]
        out_np = log_mel_numpy(wav32, cfg)
        assert out32.dtype == np.float32 and out_np.dtype == np.float32
        assert out32.shape == out_np.shape == ref.shape
        assert np.abs(out32 - ref).max() <= 1e-5, label
        assert np.abs(out64 - ref).max() <= 1e-9, label
        assert np.abs(out_np - ref).max() <= 2e-6, label  # float32 rounding of values up to |-25|
        assert np.abs(out_np - out32).max() <= 1e-5, label


def test_float64_is_exact_on_a_high_dynamic_range_signal():
    # A strong sine over faint noise: in float32 the quiet bins carry FFT rounding noise (~1e-7 of the
    # peak); in float64 the module must still equal the reference.
    cfg = preset_cfg("vocos-24k")
    rng = np.random.default_rng(1)
    t = np.arange(12000) / 24000
    wav = 0.5 * np.sin(2 * np.pi * 180.0 * t) + 1e-5 * rng.standard_normal(t.size)
    out = MelSpectrogram(cfg)(torch.from_numpy(wav)[None]).numpy()[0]
    assert np.abs(out - reference_log_mel(wav, cfg)).max() <= 1e-9


@pytest.mark.parametrize(
    "overrides",
    [
        {"power": 2.0},
        {"pad_mode": "constant"},
        {"padding": "center", "n_fft": 513, "win_length": 400},
        {"mean": list(np.linspace(-5, 0, 80)), "std": list(np.linspace(1, 3, 80))},
    ],
)
def test_other_options_match_reference(overrides):
    cfg = resolve_features({"preset": "demo-16k", **overrides})
    wav = make_signals(16000)["gap"]
    out = MelSpectrogram(cfg)(torch.from_numpy(wav)[None]).numpy()[0]
    ref = reference_log_mel(wav, cfg)
    assert np.abs(out - ref).max() <= 1e-9
    assert np.abs(log_mel_numpy(wav, cfg) - ref).max() <= 2e-6


# --- framing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo-16k", "pwg-22k"])  # one "same", one "center"
def test_frame_count_and_trailing_samples(name):
    cfg = preset_cfg(name)
    module = MelSpectrogram(cfg)
    rng = np.random.default_rng(0)
    for frames in (4, 9, 30):
        wav = rng.standard_normal(frames * cfg.hop + cfg.hop - 1).astype(np.float32)
        assert frames_for(len(wav), cfg.hop) == frames
        aligned = align_audio(wav, cfg.hop)
        assert len(aligned) == frames * cfg.hop
        full = module(torch.from_numpy(wav)[None])
        exact = module(torch.from_numpy(aligned)[None])
        assert full.shape == (1, cfg.n_mels, frames)
        assert torch.equal(full, exact)  # the partial last hop is ignored
        assert log_mel_numpy(aligned, cfg).shape == (cfg.n_mels, frames)
    assert align_audio(torch.zeros(2, 1, 5 * cfg.hop + 3), cfg.hop).shape == (2, 1, 5 * cfg.hop)


def test_batch_and_channel_layouts_agree():
    cfg = preset_cfg("demo-16k")
    module = MelSpectrogram(cfg)
    wav = torch.from_numpy(np.stack([make_signals(16000)["mix"], make_signals(16000)["gap"]]).astype(np.float32))
    batched = module(wav)
    assert batched.shape == (2, 80, 50)
    assert torch.equal(module(wav[:, None]), batched)
    assert torch.allclose(module(wav[1:]), batched[1:], atol=1e-6)


def test_bad_inputs_raise_input_error():
    cfg = preset_cfg("demo-16k")
    module = MelSpectrogram(cfg)
    with pytest.raises(InputError, match="B, 1, L"):
        module(torch.zeros(1, 2, 4000))
    with pytest.raises(InputError, match="shorter than one hop"):
        module(torch.zeros(1, 100))
    with pytest.raises(InputError, match="reflect padding"):
        module(torch.zeros(1, 320))  # 2 frames, but "same" reflects 432 samples
    with pytest.raises(InputError, match="float"):
        module(torch.zeros(1, 4000, dtype=torch.int16))
    with pytest.raises(InputError, match="mono"):
        log_mel_numpy(np.zeros((2, 4000), np.float32), cfg)
    with pytest.raises(InputError, match="NaN"):
        log_mel_numpy(np.full(4000, np.nan, np.float32), cfg)


# --- gradients and imports -----------------------------------------------------------------------------


def test_gradients_flow_and_stay_finite_through_exact_silence():
    cfg = preset_cfg("hifigan-22k")
    wav = torch.from_numpy(make_signals(22050)["gap"].astype(np.float32))[None].requires_grad_(True)
    MelSpectrogram(cfg)(wav).mean().backward()
    grad = wav.grad[0]
    assert torch.isfinite(grad).all()
    assert grad.abs().max() > 0
    zeros = torch.zeros(1, 8 * 256, requires_grad=True)
    MelSpectrogram(cfg)(zeros).sum().backward()
    assert torch.isfinite(zeros.grad).all()


def test_gradient_matches_finite_differences():
    cfg = FeatureConfig(sample_rate=8000, n_fft=64, hop=16, n_mels=8, fmax=4000.0, clamp=1e-8)
    module = MelSpectrogram(cfg)
    wav = torch.from_numpy(np.random.default_rng(3).standard_normal((1, 160))).requires_grad_(True)
    assert torch.autograd.gradcheck(module, (wav,), eps=1e-6, atol=1e-5)


def test_numpy_path_imports_neither_torch_nor_librosa():
    code = (
        "import sys, numpy as np\n"
        "from vocoder.audio.mel_numpy import log_mel_numpy\n"
        "from vocoder.audio.mel_presets import resolve_features\n"
        "out = log_mel_numpy(np.random.default_rng(0).standard_normal(16000).astype('float32'),\n"
        "                    resolve_features({'preset': 'demo-16k'}))\n"
        "assert out.shape == (80, 100), out.shape\n"
        "print(sorted(m for m in ('torch', 'librosa') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
