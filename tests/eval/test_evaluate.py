"""Copy-synthesis evaluation end to end: a tiny untrained checkpoint on short demo files (with the MOS
predictors and the recordings row), the CLI, the F0-factor protocol with a stand-in F0 model, and the data
sources (folder, manifest)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from vocoder.cli import main
from vocoder.config import config_from_dict
from vocoder.data.manifest import Manifest, Utterance, build_manifest
from vocoder.errors import ConfigError, InputError
from vocoder.eval.evaluate import evaluate, format_markdown, parse_factors, utterance_paths
from vocoder.eval.metrics import METRIC_NAMES
from vocoder.eval.mos import MOS_NAMES
from vocoder.models.artifact import write_model
from vocoder.models.factory import build_generator

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "recipes" / "demo" / "wavs"
SHORT_FILES = ("digits_h-5.flac", "spy-sip.flac")  # 0.71 s and 0.68 s
TINY_ISTFTNET = {
    "upsample_rates": [5, 4],
    "upsample_kernel_sizes": [15, 8],
    "upsample_initial_channel": 16,
    "resblock_kernel_sizes": [3],
    "resblock_dilation_sizes": [[1, 3]],
    "istft_n_fft": 32,
    "istft_hop": 8,
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """An untrained 13k-parameter iSTFTNet on demo-16k features."""
    cfg = config_from_dict(
        {
            "features": {"preset": "demo-16k", "f0_min": 100.0, "f0_max": 500.0},
            "generator": {"name": "istftnet", "params": TINY_ISTFTNET},
        }
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny") / "checkpoint"
    write_model(folder, build_generator(cfg), cfg)
    return folder


@pytest.fixture(scope="module")
def short_audio(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("audio")
    for name in SHORT_FILES:
        shutil.copy(DEMO / name, folder / name)
    return folder


def test_evaluate_end_to_end(checkpoint, short_audio, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(short_audio, data)
    (data / "broken.wav").write_bytes(b"RIFF not really a wav")
    out = tmp_path / "reports" / "report.json"
    report = evaluate(str(checkpoint), data, out=out)

    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(report))
    for key in ("model", "data", "split", "generator", "sample_rate", "hop", "features", "seed",
                "griffin_lim_iters", "mos", "metrics", "better", "systems", "f0_factors", "skipped"):
        assert key in saved, key
    assert saved["generator"] == "istftnet" and saved["sample_rate"] == 16000 and saved["hop"] == 160
    assert saved["split"] is None and saved["f0_factors"] is None and saved["mos"] is True
    assert set(saved["metrics"]) == set(METRIC_NAMES) | set(MOS_NAMES)
    assert saved["better"] == {
        "mrstft": "lower", "log_mel_l1": "lower", "mcd_db": "lower", "f0_rmse_cents": "lower", "vuv_error": "lower",
        "pesq_wb": "higher", **dict.fromkeys(MOS_NAMES, "higher"),
    }
    assert len(saved["skipped"]) == 1 and "broken.wav" in saved["skipped"][0]

    assert set(saved["systems"]) == {"model", "griffin_lim", "recordings"}
    for system in saved["systems"].values():
        rows = system["utterances"]
        assert [r["path"] for r in rows] == list(SHORT_FILES)
        for row in rows:
            assert set(row) == {"path", "seconds", "pesq_wb_error", "mos_error", *METRIC_NAMES, *MOS_NAMES}
            assert row["seconds"] == pytest.approx(0.7, abs=0.04)
            assert all(row[name] is not None for name in METRIC_NAMES)
        for name in METRIC_NAMES:
            assert system["count"][name] == 2
            assert system["mean"][name] == pytest.approx(np.mean([r[name] for r in rows]))
    model, baseline = saved["systems"]["model"]["mean"], saved["systems"]["griffin_lim"]["mean"]
    # an untrained generator is far from the reference; Griffin-Lim measured 0.70 MR-STFT, PESQ-WB 3.1
    assert baseline["mrstft"] < 1.0 < model["mrstft"]
    assert baseline["pesq_wb"] > 2.5 > model["pesq_wb"]
    # the recordings row: the references against themselves (the intrusive ceiling) and their own MOS
    ceiling = saved["systems"]["recordings"]
    assert ceiling["label"] == "recordings"
    assert ceiling["mean"]["mrstft"] == pytest.approx(0.0, abs=1e-9) and ceiling["mean"]["mcd_db"] == pytest.approx(0.0)
    assert ceiling["mean"]["pesq_wb"] > 4.5 and ceiling["mean"]["vuv_error"] == 0.0
    for name in MOS_NAMES:
        assert ceiling["count"][name] == 2 and 1.0 <= ceiling["mean"][name] <= 5.0
    # measured Distill-MOS 3.64 (recordings), 3.38 (Griffin-Lim), 1.33 (untrained); DNSMOS P.808 2.87, 2.43, 2.16
    assert ceiling["mean"]["distill_mos"] > model["distill_mos"] + 1.0
    assert ceiling["mean"]["dnsmos_p808"] > model["dnsmos_p808"]

    table = format_markdown(report).splitlines()
    assert table[0] == (
        "| system | MR-STFT ↓ | log-mel L1 ↓ | MCD [dB] ↓ | F0 RMSE [cent] ↓ | V/UV error [%] ↓ | PESQ-WB ↑ "
        "| Distill-MOS ↑ | DNSMOS P.808 ↑ | SIG ↑ | BAK ↑ | OVRL ↑ |"
    )
    assert sum(line.startswith("| istftnet |") for line in table) == 1
    assert sum(line.startswith("| Griffin-Lim (32 it.) |") for line in table) == 1
    assert sum(line.startswith("| recordings | 0.000 | 0.000 | 0.00 | 0.0 | 0.00 | 4.6") for line in table) == 1
    assert "2 utterances" in format_markdown(report) and "1 skipped" in format_markdown(report)


def test_cli_evaluate(checkpoint, short_audio, tmp_path, capsys):
    data = tmp_path / "one"
    data.mkdir()
    shutil.copy(short_audio / SHORT_FILES[1], data)
    out = tmp_path / "report.json"
    assert main(["evaluate", str(checkpoint), "--data", str(data), "--out", str(out), "--no-mos"]) == 0
    stdout = capsys.readouterr().out
    assert "| istftnet |" in stdout and "| Griffin-Lim (32 it.) |" in stdout and "| recordings |" in stdout
    assert stdout.startswith("| system | MR-STFT ↓ |") and "| PESQ-WB ↑ |\n" in stdout and "MOS" not in stdout
    saved = json.loads(out.read_text())
    assert saved["systems"]["model"]["count"]["mrstft"] == 1 and saved["mos"] is False
    assert set(saved["metrics"]) == set(saved["better"]) == set(METRIC_NAMES)
    assert "distill_mos" not in saved["systems"]["model"]["utterances"][0]

    assert main(["evaluate", str(checkpoint), "--data", str(data), "--f0-factors", "0.5,2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --f0-factors: istftnet takes no F0 input, so its F0 cannot be scaled"]


class HarmonicVocoder:
    """Stand-in F0 model: a 1/h harmonic voice exactly at the F0 it is given (silent where unvoiced)."""

    sample_rate, hop, n_mels, needs_f0 = 16000, 160, 80, True
    generator_name, source = "harmonic", "stand-in"

    def __init__(self, features) -> None:
        self.features = features

    def synthesize(self, mel: np.ndarray, f0: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
        assert mel.shape[1] == len(f0)
        return harmonic(np.asarray(f0, dtype=np.float64))


def harmonic(f0: np.ndarray, sr: int = 16000, hop: int = 160) -> np.ndarray:
    inst = np.repeat(f0, hop)
    phase = 2 * np.pi * np.cumsum(inst) / sr
    return (0.1 * sum(np.sin(h * phase) / h * (h * inst < 7000) for h in range(1, 30))).astype(np.float32)


def test_f0_factors_compare_the_output_with_the_scaled_f0(tmp_path):
    features = config_from_dict({"features": {"preset": "demo-16k", "f0_min": 100.0, "f0_max": 500.0}}).features
    data = tmp_path / "voice"
    data.mkdir()
    # 220..280 Hz: doubled it leaves the features' F0 range, so the output's search range must scale too
    contour = 250.0 + 30.0 * np.sin(2 * np.pi * np.arange(80) / 50)
    sf.write(data / "voice.wav", harmonic(contour), 16000)
    report = evaluate(HarmonicVocoder(features), data, f0_factors=[0.5, 1.0, 2.0], mos=False)

    rows = {row["factor"]: row for row in report["f0_factors"]}
    assert set(rows) == {0.5, 1.0, 2.0}
    for row in rows.values():
        assert set(row["mean"]) == {"f0_rmse_cents", "vuv_error"}
        # measured 27 (0.5: one onset frame 240 cents off), 2.5 (1), 0.4 (2); a wrong target would be 1200
        assert row["mean"]["f0_rmse_cents"] < 30.0
        assert row["mean"]["vuv_error"] < 0.05
        assert row["utterances"][0]["path"] == "voice.wav"
    table = format_markdown(report)
    assert "| F0 factor | F0 RMSE [cent] ↓ | V/UV error [%] ↓ |" in table
    assert "\n| 0.5 | " in table and "\n| 2 | " in table


def test_data_sources(tmp_path, monkeypatch):
    demo = utterance_paths(DEMO)[0]
    assert len(demo) == 137 and all(path.is_file() for path, _ in demo)

    manifest = build_manifest(DEMO)
    manifest.save(tmp_path / "demo.json")
    items, split = utterance_paths(tmp_path / "demo.json")
    assert split == "test" and [name for _, name in items] == [u.path for u in manifest.test]
    assert len(items) == 8 and all(path.is_file() for path, _ in items)

    # a relative root is found beside the manifest when it is not under the working folder
    (tmp_path / "wavs").mkdir()
    shutil.copy(DEMO / SHORT_FILES[0], tmp_path / "wavs" / "a.flac")
    Manifest("wavs", test=[Utterance("a.flac", 0.71, 16000)]).save(tmp_path / "rel.json")
    monkeypatch.chdir(ROOT)
    assert utterance_paths(tmp_path / "rel.json")[0] == [(tmp_path / "wavs" / "a.flac", "a.flac")]


def test_bad_arguments_are_one_line_errors(tmp_path):
    assert parse_factors("0.5, 1,2") == [0.5, 1.0, 2.0] and parse_factors(None) is None
    with pytest.raises(ConfigError, match="'x' is not a number"):
        parse_factors("0.5,x")
    with pytest.raises(ConfigError, match="positive"):
        parse_factors("0")
    with pytest.raises(ConfigError, match="no such folder or manifest"):
        utterance_paths(tmp_path / "missing")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not a manifest JSON"):
        utterance_paths(tmp_path / "bad.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no audio files"):
        utterance_paths(tmp_path / "empty")
    (tmp_path / "silent").mkdir()
    sf.write(tmp_path / "silent" / "s.wav", np.zeros(8000, np.float32), 16000)
    features = config_from_dict({"features": {"preset": "demo-16k"}}).features
    with pytest.raises(InputError, match="no utterance could be evaluated"):
        evaluate(HarmonicVocoder(features), tmp_path / "silent", mos=False)


class NaNVocoder(HarmonicVocoder):
    """A diverged F0 model: NaN everywhere."""

    def synthesize(self, mel: np.ndarray, f0: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
        return np.full(mel.shape[1] * self.hop, np.nan, np.float32)


def test_a_diverged_model_skips_files_with_the_reason(short_audio):
    features = config_from_dict({"features": {"preset": "demo-16k"}}).features
    messages: list[str] = []
    with pytest.raises(InputError, match=r"no utterance could be evaluated \(2 skipped\)"):
        evaluate(NaNVocoder(features), short_audio, log=messages.append, mos=False)
    assert messages == [
        f"[{i}/2] {name}: skipped (generated: waveform contains NaN or Inf)" for i, name in enumerate(SHORT_FILES, 1)
    ]


def test_unwritable_out_is_one_error_line_before_any_work(checkpoint, short_audio, tmp_path, capsys, monkeypatch):
    import vocoder.eval.evaluate as evaluate_module

    def no_synthesis(*args, **kwargs):
        raise AssertionError("the metrics must not be computed when --out cannot be written")

    monkeypatch.setattr(evaluate_module, "_load_model", no_synthesis)
    (tmp_path / "file.txt").write_text("a file, not a folder")
    cases = {
        tmp_path / "file.txt" / "report.json": "file.txt is not a folder",
        tmp_path / "file.txt" / "sub" / "report.json": "file.txt is not a folder",
        tmp_path: "is a folder",
    }
    for out, reason in cases.items():
        assert main(["evaluate", str(checkpoint), "--data", str(short_audio), "--out", str(out)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {out}: cannot write (") and reason in err[0], err
    # a writable path is probed without leaving a file behind when the evaluation then fails
    monkeypatch.undo()
    probe = tmp_path / "new" / "report.json"
    assert main(["evaluate", str(checkpoint), "--data", str(tmp_path / "missing"), "--out", str(probe)]) == 1
    assert not probe.exists()
