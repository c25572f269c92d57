"""Audio I/O: read/resample/write round trips and one-line errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from vocoder.audio.io import read_audio, resample, write_audio
from vocoder.errors import AudioError


def tone(sr, seconds=0.5, freq=440.0, amp=0.5):
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("fmt, subtype, tol", [("WAV", "PCM_16", 1 / 32768), ("FLAC", "PCM_24", 1e-6),
                                               ("WAV", "FLOAT", 0.0)])
def test_read_round_trip(tmp_path, fmt, subtype, tol):
    x = tone(16000)
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, x, 16000, format=fmt, subtype=subtype)
    y = read_audio(path)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= tol + 1e-9


def test_ogg_reads(tmp_path):
    x = tone(16000, 1.0)
    path = tmp_path / "x.ogg"
    sf.write(path, x, 16000, format="OGG", subtype="VORBIS")
    y = read_audio(path)
    assert abs(len(y) - len(x)) < 1000
    # lossy, but the tone's energy survives
    assert abs(np.sqrt(np.mean(y**2)) - np.sqrt(np.mean(x**2))) < 0.05


def test_write_then_read(tmp_path):
    x = tone(22050, 0.3)
    write_audio(tmp_path / "sub" / "y.wav", x, 22050)
    y = read_audio(tmp_path / "sub" / "y.wav")
    assert sf.info(tmp_path / "sub" / "y.wav").samplerate == 22050
    assert np.max(np.abs(y - x)) <= 1 / 32768 + 1e-9
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["y.wav"]  # no temp file left behind


def test_write_clips(tmp_path):
    write_audio(tmp_path / "c.wav", np.array([2.0, -3.0, 0.25, np.nan], dtype=np.float32), 16000)
    y = read_audio(tmp_path / "c.wav", check_silence=False)
    assert np.allclose(y, [32767 / 32768, -1.0, 0.25, 0.0], atol=1e-4)


def test_resample_keeps_frequency_and_length(tmp_path):
    x = tone(24000, 1.0, freq=1000.0)
    path = tmp_path / "x.wav"
    sf.write(path, x, 24000, subtype="FLOAT")
    y = read_audio(path, 16000)
    assert len(y) == 16000
    spec = np.abs(np.fft.rfft(y))
    assert np.argmax(spec) == 1000  # 1 Hz bins for 1 s
    assert abs(np.sqrt(np.mean(y[1000:-1000] ** 2)) - 0.5 / np.sqrt(2)) < 1e-3
    assert resample(x, 24000, 24000) is x


def test_stereo_is_mixed_to_mono(tmp_path):
    x = tone(16000)
    sf.write(tmp_path / "s.wav", np.stack([x, 0 * x], axis=1), 16000, subtype="FLOAT")
    y = read_audio(tmp_path / "s.wav")
    assert y.shape == x.shape
    assert np.allclose(y, x / 2, atol=1e-6)


def test_bad_files_give_one_line_errors(tmp_path):
    cases = {}
    (tmp_path / "empty.wav").write_bytes(b"")
    cases["empty.wav"] = "empty file"
    (tmp_path / "text.wav").write_text("this is not audio\n")
    cases["text.wav"] = "cannot read audio"
    good = tmp_path / "good.wav"
    sf.write(good, tone(16000), 16000)
    (tmp_path / "trunc.wav").write_bytes(good.read_bytes()[:30])
    cases["trunc.wav"] = "cannot read audio"
    sf.write(tmp_path / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    cases["silent.wav"] = "silent"
    nan = tone(16000)
    nan[100] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 16000, subtype="FLOAT")
    cases["nan.wav"] = "NaN or Inf"
    sf.write(tmp_path / "zero.wav", np.zeros(0, dtype=np.float32), 16000)
    cases["zero.wav"] = "empty audio"
    cases["missing.wav"] = "no such file"
    for name, message in cases.items():
        with pytest.raises(AudioError) as err:
            read_audio(tmp_path / name)
        text = str(err.value)
        assert name in text and message in text and "\n" not in text, text


def test_find_audio_skips_hidden_files(tmp_path):
    """A temporary file an interrupted atomic write left behind (``.name.xyz.wav``) is not a corpus file."""
    from vocoder.audio.io import find_audio

    (tmp_path / "sub").mkdir()
    for name in ("a.wav", "sub/b.flac", ".a.tmp123.wav", "sub/.b.flac", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in find_audio(tmp_path)] == ["a.wav", "sub/b.flac"]
