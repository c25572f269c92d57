"""The bundled demo corpus and the deterministic train/valid/test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vocoder.audio.io import read_audio
from vocoder.data.manifest import Manifest, build_manifest
from vocoder.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "recipes" / "demo" / "wavs"


def test_demo_corpus_is_bundled():
    files = sorted(DEMO.glob("*.flac"))
    assert len(files) == 137
    infos = [sf.info(f) for f in files]
    assert {i.samplerate for i in infos} == {16000}
    assert {i.channels for i in infos} == {1}
    total = sum(i.frames for i in infos) / 16000
    assert total == pytest.approx(299.9, abs=0.1)
    assert sum(f.stat().st_size for f in files) < 6_000_000
    assert (DEMO.parent / "ATTRIBUTION.md").read_text().count("CC-BY-SA-3.0") >= 1


def test_demo_corpus_is_speech():
    # real speech: loud enough, not clipped flat, energy mostly below 4 kHz but present above 2 kHz
    wav = read_audio(DEMO / "demo-congrats.flac") if (DEMO / "demo-congrats.flac").exists() else \
        read_audio(sorted(DEMO.glob("*.flac"))[0])
    spec = np.abs(np.fft.rfft(wav)) ** 2
    freqs = np.fft.rfftfreq(len(wav), 1 / 16000)
    low = spec[freqs < 4000].sum() / spec.sum()
    assert 0.6 < low < 0.999
    assert 0.05 < np.max(np.abs(wav)) <= 1.0


def test_split_is_deterministic_and_disjoint(tmp_path):
    m1 = build_manifest(DEMO, valid_count=8, test_count=8)
    m2 = build_manifest(DEMO, valid_count=8, test_count=8)
    assert m1 == m2
    assert (len(m1.train), len(m1.valid), len(m1.test)) == (121, 8, 8)
    names = [set(u.path for u in m1.split(s)) for s in ("train", "valid", "test")]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])
    assert m1.seconds() == pytest.approx(299.9, abs=0.1)
    other = build_manifest(DEMO, valid_count=8, test_count=8, split_seed=1)
    assert {u.path for u in other.valid} != names[1]
    m1.save(tmp_path / "m.json")
    assert Manifest.load(tmp_path / "m.json") == m1


def test_bad_folders(tmp_path):
    with pytest.raises(ConfigError, match="data folder not found"):
        build_manifest(tmp_path / "nope")
    with pytest.raises(ConfigError, match="no audio files"):
        build_manifest(tmp_path)
    for i in range(3):
        sf.write(tmp_path / f"{i}.wav", np.full(8000, 0.1, dtype=np.float32), 16000)
    (tmp_path / "broken.wav").write_text("not audio")
    with pytest.raises(ConfigError, match="3 usable audio files is too few"):
        build_manifest(tmp_path, valid_count=2, test_count=1)
    m = build_manifest(tmp_path, valid_count=1, test_count=1)
    assert len(m.train) == 1 and len(m.skipped) == 1 and "broken.wav" in m.skipped[0]


def _problem_folder(folder: Path) -> Path:
    """One good clip and the three kinds of file training skips: silent, too short, corrupt."""
    folder.mkdir(parents=True, exist_ok=True)
    good = next(p for p in sorted(DEMO.glob("*.flac")) if sf.info(p).duration < 2.0)
    (folder / "good.flac").write_bytes(good.read_bytes())
    sf.write(folder / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(1600) / 16000)
    sf.write(folder / "short.wav", tone.astype(np.float32), 16000)  # 0.1 s
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 4)
    return folder


PROBLEMS = {
    "silent.wav": "audio is silent (peak below -80 dBFS)",
    "short.wav": "too short (0.10 s; data.min_seconds is 0.3 s)",
    "corrupt.wav": "cannot read audio",
}


def test_info_lists_the_files_training_would_skip(tmp_path, capsys):
    from vocoder.cli import main

    folder = _problem_folder(tmp_path / "wavs")
    sf.write(folder / "other_rate.wav", 0.3 * np.sin(np.arange(48000) / 7.0).astype(np.float32), 48000)
    assert main(["info", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    # 2 usable files cannot fill the default 8 valid + 8 test: a line, not a traceback
    assert lines[0].startswith(f"data: {folder}: 2 usable file(s), ") and "too few to train with 8 valid + 8 test" \
        in lines[0]
    assert "16000 Hz: 1 file, 48000 Hz: 1 file (training resamples every file to its recipe's rate)" in lines[1]
    assert lines[2] == "  skipped 3 file(s), as training skips them (one warning each):"
    listed = {Path(line.strip().split(": ", 1)[0]).name: line.strip().split(": ", 1)[1] for line in lines[3:]}
    assert set(listed) == set(PROBLEMS)
    for name, reason in PROBLEMS.items():
        assert listed[name].startswith(reason), (name, listed[name])


def test_info_marks_rates_a_recipe_resamples(tmp_path):
    from vocoder.config import load_config
    from vocoder.summary import describe_data

    folder = _problem_folder(tmp_path / "wavs")
    cfg = load_config(ROOT / "recipes" / "ljspeech" / "pwg.yaml", [f"data.root={folder}"])  # 22.05 kHz
    assert "  sample rates: 16000 Hz: 1 file (resampled to 22050 Hz)" in describe_data(folder, cfg).splitlines()


def test_training_skips_bad_files_with_one_warning_each(tmp_path, capsys):
    from vocoder.config import FeatureConfig
    from vocoder.data.dataset import SegmentSampler

    folder = _problem_folder(tmp_path / "wavs")
    manifest = build_manifest(folder, valid_count=0, test_count=0, min_seconds=0.3)  # as the trainer calls it
    warnings = capsys.readouterr().err.splitlines()
    assert [u.path for u in manifest.train] == ["good.flac"]
    assert len(warnings) == 3 and all(w.startswith("warning: ") and w.endswith("; skipped") for w in warnings)
    for name, reason in PROBLEMS.items():
        assert any(f"{folder / name}: {reason}" in w for w in warnings), name
    assert sorted(Path(s.split(": ")[0]).name for s in manifest.skipped) == sorted(PROBLEMS)
    sampler = SegmentSampler(manifest.train, folder, FeatureConfig(), segment_frames=8)  # reads them as training
    assert len(sampler) == 1 and capsys.readouterr().err == ""
    assert build_manifest(folder, valid_count=0, test_count=0, warn=None).skipped  # warn=None: quiet
    assert capsys.readouterr().err == ""


def test_sampler_skips_a_file_that_went_bad_after_the_manifest(tmp_path, capsys):
    from vocoder.config import FeatureConfig
    from vocoder.data.dataset import SegmentSampler
    from vocoder.data.manifest import Utterance

    folder = _problem_folder(tmp_path / "wavs")
    utts = [Utterance("good.flac", 1.0, 16000), Utterance("silent.wav", 1.0, 16000)]
    sampler = SegmentSampler(utts, folder, FeatureConfig(), segment_frames=8)
    assert sampler.names == ["good.flac"]
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {folder / 'silent.wav'}: audio is silent (peak below -80 dBFS); skipped"
    ]
    with pytest.raises(ConfigError, match="none of the 1 file"):
        SegmentSampler(utts[1:], folder, FeatureConfig(), segment_frames=8)


def test_f0_progress_only_on_a_cache_miss(tmp_path, capsys):
    from vocoder.config import FeatureConfig
    from vocoder.data.dataset import SegmentSampler
    from vocoder.data.manifest import Utterance

    folder = _problem_folder(tmp_path / "wavs")
    features = FeatureConfig(f0_min=100.0, f0_max=500.0)
    make = lambda: SegmentSampler(  # noqa: E731
        [Utterance("good.flac", 1.0, 16000)], folder, features, 8, needs_f0=True, cache_dir=tmp_path / "cache"
    )
    first = make()
    assert "F0 (harvest)" in capsys.readouterr().err
    second = make()
    assert capsys.readouterr().err == ""  # all cached: silent
    assert np.array_equal(first.f0s[0], second.f0s[0]) and (first.f0s[0] > 0).any()
