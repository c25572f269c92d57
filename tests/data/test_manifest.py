"""The bundled demo corpus and the deterministic train/valid/test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vocoder.audio.io import read_audio
from vocoder.data.manifest import Manifest, build_manifest
from vocoder.errors import ConfigError

DEMO = Path(__file__).resolve().parents[2] / "recipes" / "demo" / "wavs"


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
