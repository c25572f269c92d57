"""tools/build_heldout_sets.py: the selection rule, the two folders it writes from the Debian packages, and
that ``vocoder evaluate --data FOLDER`` takes each folder whole."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import soundfile as sf

from vocoder.eval.evaluate import utterance_paths

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("build_heldout_sets", ROOT / "tools" / "build_heldout_sets.py")
heldout = importlib.util.module_from_spec(spec)
spec.loader.exec_module(heldout)

IT_CHOSEN = [
    "tt-allbusy", "vm-record-prepend", "vm-review", "vm-instructions", "vm-opts", "confbridge-lock-extended",
    "vm-rec-unv", "vm-intro", "vm-newuser", "queue-periodic-announce", "vm-rec-temp", "dir-usingkeypad",
    "agent-alreadyon",
]
ALSA_CHOSEN = ["Front_Center", "Front_Left", "Front_Right", "Rear_Center", "Rear_Left", "Rear_Right", "Side_Left",
               "Side_Right"]
installed = pytest.mark.skipif(
    not (heldout.ITALIAN.is_dir() and heldout.ALSA.is_dir()),
    reason="needs apt-get install asterisk-core-sounds-it-g722 alsa-utils",
)


def test_italian_rule_top_level_speech_2_to_10_s_longest_first(tmp_path):
    seconds = {"long": 12.0, "a": 5.0, "b": 5.0, "c": 9.0, "short": 1.5, "beep": 6.0, "tt-monkeys": 8.0}
    for name, s in seconds.items():
        (tmp_path / f"{name}.g722").write_bytes(b"\0" * int(s * 8000))
    (tmp_path / "digits").mkdir()
    (tmp_path / "digits" / "1.g722").write_bytes(b"\0" * 40000)
    assert [p.stem for p in heldout.choose_italian(tmp_path, count=3)] == ["c", "a", "b"]


@installed
def test_builds_both_folders_and_evaluate_takes_them_whole(tmp_path, capsys):
    assert heldout.main(["--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for folder, names in (("it-male", IT_CHOSEN), ("alsa", ALSA_CHOSEN)):
        files = sorted((tmp_path / folder).glob("*.wav"))
        assert sorted(p.stem for p in files) == sorted(names)
        for path in files:
            info = sf.info(path)
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            assert f"{folder}/{path.name}" in printed
        attribution = (tmp_path / folder / "ATTRIBUTION.md").read_text()
        assert all(f"`{name}.wav`" in attribution for name in names)
        items, split = utterance_paths(tmp_path / folder)
        assert split is None and sorted(Path(name).stem for _, name in items) == sorted(names)
    assert "CC-BY-3.0" in (tmp_path / "it-male" / "ATTRIBUTION.md").read_text()
    assert "GPL-2" in (tmp_path / "alsa" / "ATTRIBUTION.md").read_text()
    # a second run over its own output is fine; a stranger in the folder is refused
    assert heldout.main(["--out", str(tmp_path)]) == 0
    (tmp_path / "alsa" / "extra.wav").write_bytes(b"")
    assert heldout.main(["--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip().endswith("use an empty folder")


def test_a_missing_package_names_the_apt_get_line(tmp_path, capsys):
    assert heldout.main(["--out", str(tmp_path), "--italian", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: missing Debian packages; install them with 'apt-get install -y asterisk-core-sounds-it-g722'"
    ]
