"""Adding a generator is one file and its registration: a generator defined and registered only in this test
trains a step, loads for inference on torch and onnxruntime (equal seeds, equal waveforms), streams exactly
and exports to ONNX with the parity check, without any other module knowing about it. The contract's
defaults hold for a generator that defines nothing beyond ``forward``."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

import vocoder
from vocoder import registry
from vocoder.config import config_from_dict
from vocoder.errors import InputError, ModelError
from vocoder.infer.base import StreamContext
from vocoder.infer.onnx_export import export_onnx, read_metadata
from vocoder.infer.torch_backend import TorchVocoder
from vocoder.models.generators.base import Generator, context_frames, conv_reach
from vocoder.train.trainer import Trainer

NAME = "contract-tiny"
SR, HOP, N_MELS = 16000, 160, 80  # the demo-16k preset


class TinyNoiseGenerator(Generator):
    """mel ``(B, n_mels, T)`` + noise ``(B, 1, T * hop)`` -> ``(B, 1, T * hop)``: a k3 conv over frames,
    stretched to samples, plus a 1x1 conv of the noise, then a k5 conv at the sample rate and tanh."""

    needs_noise = True
    min_frames = 2

    def __init__(self, sample_rate: int, hop: int, n_mels: int, channels: int = 8) -> None:
        super().__init__(sample_rate, hop, n_mels)
        self.mel_conv = nn.Conv1d(n_mels, channels, 3, padding=1)
        self.noise_conv = nn.Conv1d(1, channels, 1)
        self.out_conv = nn.Conv1d(channels, 1, 5, padding=2)

    def forward(self, mel, f0=None, noise=None, phase=None):
        if noise is None:
            noise = torch.randn(mel.shape[0], 1, mel.shape[2] * self.hop)
        frames = self.mel_conv(mel)
        x = frames.unsqueeze(-1).expand(-1, -1, -1, self.hop).flatten(-2) + self.noise_conv(noise)
        return torch.tanh(self.out_conv(torch.relu(x)))

    def stream_context(self) -> StreamContext:
        (mel_l, mel_r), (out_l, out_r) = conv_reach(self.mel_conv), conv_reach(self.out_conv)
        return context_frames(mel_l * self.hop + out_l, mel_r * self.hop + out_r, self.hop)


class BareGenerator(Generator):
    """Only a forward: every other part of the contract is the default."""

    def __init__(self, sample_rate: int, hop: int, n_mels: int) -> None:
        super().__init__(sample_rate, hop, n_mels)
        self.conv = nn.Conv1d(n_mels, hop, 1)

    def forward(self, mel, f0=None, noise=None, phase=None):
        return torch.tanh(self.conv(mel)).transpose(1, 2).reshape(mel.shape[0], 1, -1)


@pytest.fixture
def registered():
    """TinyNoiseGenerator registered as NAME for the test, and taken out again after it."""
    registry.register_generator(NAME)(TinyNoiseGenerator)
    yield NAME
    del registry.GENERATORS[NAME]


def recipe(tmp_path) -> dict:
    """A one-step recipe for NAME on six synthetic clips (a harmonic tone in noise, 0.8 s each)."""
    rng = np.random.default_rng(0)
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    t = np.arange(int(0.8 * SR)) / SR
    for i in range(6):
        tone = sum(np.sin(2 * np.pi * (120 + 20 * i) * h * t) / h for h in range(1, 6))
        sf.write(wavs / f"c{i}.wav", (0.2 * tone + 0.01 * rng.standard_normal(t.size)).astype(np.float32), SR)
    return {
        "features": {"preset": "demo-16k"},
        "generator": {"name": NAME, "params": {"channels": 8}},
        "losses": {"mel": {"weight": 45.0, "params": {"n_fft": 512, "hop": 160, "n_mels": 64}}},
        "optim": {"generator": {"lr": 1e-3}},
        "train": {"max_steps": 1, "batch_size": 2, "segment_frames": 16, "log_every": 1, "eval_every": 1,
                  "save_every": 1, "eval_utterances": 1, "audio_log_utterances": 1, "seed": 3, "valid_mos": False},
        "data": {"root": str(wavs), "valid_count": 1, "test_count": 1, "cache_dir": str(tmp_path / "cache")},
    }


def split(x: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    edges = np.cumsum([0, *sizes])
    return [x[..., a:b] for a, b in zip(edges[:-1], edges[1:])]


def test_a_registered_generator_trains_loads_streams_and_exports(registered, tmp_path):
    trainer = Trainer(config_from_dict(recipe(tmp_path)), tmp_path / "run", progress=False)
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    trainer.fit()
    assert trainer.step == 1
    assert any(not torch.equal(before[k], v) for k, v in trainer.generator.state_dict().items())  # it learned

    torch_model = vocoder.load(tmp_path / "run", threads=1)
    assert torch_model.generator_name == NAME and torch_model.input_names == ["mel", "noise"]
    assert torch_model.context == StreamContext(3, 3)  # (1 frame + 2 samples) -> 2 frames, + 1 of margin
    report = export_onnx(tmp_path / "run", tmp_path / "tiny.onnx", check=True)
    assert report.inputs == ["mel", "noise"] and report.max_diff is not None and report.max_diff <= 1e-4
    meta = read_metadata(report.path)
    assert meta["vocoder.min_frames"] == 2 and meta["vocoder.stream_context"]["left"] == 3
    onnx_model = vocoder.load(report.path, threads=1)

    mel = (np.random.default_rng(1).standard_normal((N_MELS, 50)) - 6.0).astype(np.float32)
    wav = torch_model.synthesize(mel, seed=4)
    assert wav.shape == (50 * HOP,) and float(np.abs(wav).max()) > 1e-3
    assert np.abs(onnx_model.synthesize(mel, seed=4) - wav).max() <= 1e-4  # equal seeds, equal waveforms
    assert np.abs(torch_model.synthesize(mel, seed=5) - wav).max() > 1e-3  # the seed drives the noise
    for model in (torch_model, onnx_model):
        parts = list(vocoder.stream(model, split(mel, [7, 1, 20, 3, 19]), seed=4))
        assert np.abs(np.concatenate(parts) - wav).max() <= 1e-4
        with pytest.raises(InputError, match="at least 2"):
            model.synthesize(mel[:, :1])


def test_the_contract_defaults(tmp_path):
    g = BareGenerator(SR, HOP, N_MELS)
    assert (g.min_frames, g.needs_f0, g.needs_noise, g.takes_phase) == (1, False, False, False)
    assert g.input_names == ["mel"] and g.export_module() is g
    assert g.random_inputs(0, 2, 0, 5) == {} and g.training_inputs(torch.Generator(), 2, 5) == {}
    assert set(g.example_inputs(2, 5)) == {"mel"}
    context = g.stream_context()
    assert not context.exact and (context.left, context.right) == (0, 0)
    cfg = config_from_dict({"features": {"preset": "demo-16k"}, "generator": {"name": "bare"}})
    model = TorchVocoder.from_generator(g, cfg)
    mel = (np.random.default_rng(2).standard_normal((N_MELS, 30)) - 6.0).astype(np.float32)
    assert model.synthesize(mel).shape == (30 * HOP,)  # loads and synthesizes whole
    with pytest.raises(ModelError, match="does not define its streaming context") as err:
        list(vocoder.stream(model, [mel]))
    assert len(str(err.value).splitlines()) == 1


def test_random_inputs_follow_the_flags():
    g = TinyNoiseGenerator(SR, HOP, N_MELS)
    drawn = g.random_inputs(9, 2, 3, 4)
    assert list(drawn) == ["noise"] and drawn["noise"].shape == (2, 1, 4 * HOP)
    # a slice of the seeded stream: frames 3..6 of the utterance, as both runtimes draw them
    whole = g.random_inputs(9, 2, 0, 7)["noise"]
    assert torch.equal(drawn["noise"], whole[..., 3 * HOP :])
    a = g.training_inputs(torch.Generator().manual_seed(1), 2, 4)["noise"]
    assert torch.equal(a, torch.randn(2, 1, 4 * HOP, generator=torch.Generator().manual_seed(1)))


def test_name_lists_come_from_the_registry(registered, capsys, monkeypatch):
    from vocoder.cli import main
    from vocoder.eval import bench

    assert registry.names("generator") == ["pwg", "istftnet", "wavehax", NAME]  # registration order
    assert list(bench.named_configs()) == ["pwg", "istftnet", "wavehax", "demo-pwg", "demo-istftnet", "demo-wavehax"]
    reference = {"recipe": "nowhere/tiny.yaml", "preset": "demo-16k", "params": {"channels": 4}}
    monkeypatch.setattr(TinyNoiseGenerator, "reference_config", reference)
    fallback = {"features": {"preset": "demo-16k"}, "generator": {"name": NAME, "params": {"channels": 4}}}
    assert bench.named_configs()[NAME] == ("nowhere/tiny.yaml", fallback)
    cfg, source = bench.resolve_config(NAME)  # no such recipe: the built-in fallback
    assert source == "built-in" and cfg.generator.params == {"channels": 4} and cfg.features.hop == HOP
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert f"wavehax, {NAME}, demo-pwg" in " ".join(capsys.readouterr().out.split())
