"""The HTML report of ``vocoder evaluate --html DIR``: a tiny untrained checkpoint on two short demo files
in a data folder whose names need escaping. The page's links resolve to the files it wrote, the wavs are
the evaluated signals, the tables are the report's numbers; a slow test opens the page in headless
Chromium over http (DOM, the wavs it links to, no console errors, a non-blank screenshot)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.request
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import numpy as np
import pytest
import soundfile as sf
import torch

from vocoder.audio.io import read_audio
from vocoder.audio.mel_numpy import align_audio
from vocoder.cli import main
from vocoder.config import config_from_dict
from vocoder.eval.evaluate import format_markdown
from vocoder.models.artifact import write_model
from vocoder.models.factory import build_generator

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "recipes" / "demo" / "wavs"
# the data folder and one file name hold HTML specials: the page must show them as text
DATA_NAME = "voices <a&b>"
FILES = {"digits_h-5.flac": "digits_h-5.flac", "spy-sip.flac": "sub & co/spy <sip>.flac"}  # demo -> data
TINY_ISTFTNET = {
    "upsample_rates": [5, 4],
    "upsample_kernel_sizes": [15, 8],
    "upsample_initial_channel": 16,
    "resblock_kernel_sizes": [3],
    "resblock_dilation_sizes": [[1, 3]],
    "istft_n_fft": 32,
    "istft_hop": 8,
}
SAMPLE_RATE, HOP = 16000, 160
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0",
)


class PageParser(HTMLParser):
    """Tags with their attributes, the title, the text, and the cell texts of each table row."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.title = ""
        self.text: list[str] = []
        self.tables: list[list[list[str]]] = []  # table -> rows -> cells
        self._in_title = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag == "title":
            self._in_title = True
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.title += data
        if self._cell is not None:
            self._cell.append(data)

    def srcs(self, tag: str) -> list[str]:
        return [attrs["src"] for name, attrs in self.tags if name == tag]


def parse(text: str) -> PageParser:
    parser = PageParser()
    parser.feed(text)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> dict[str, Path]:
    """``vocoder evaluate CKPT --data 'voices <a&b>' --no-mos --out report.json --html site``."""
    root = tmp_path_factory.mktemp("html")
    cfg = config_from_dict(
        {
            "features": {"preset": "demo-16k", "f0_min": 100.0, "f0_max": 500.0},
            "generator": {"name": "istftnet", "params": TINY_ISTFTNET},
        }
    )
    torch.manual_seed(0)
    checkpoint = root / "checkpoint"
    write_model(checkpoint, build_generator(cfg), cfg)
    data = root / DATA_NAME
    for source, target in FILES.items():
        (data / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEMO / source, data / target)
    (data / "broken <1>.wav").write_bytes(b"RIFF not really a wav")
    site, out = root / "site", root / "report.json"
    args = ["evaluate", str(checkpoint), "--data", str(data), "--no-mos", "--out", str(out), "--html", str(site)]
    assert main(args) == 0
    return {"checkpoint": checkpoint, "data": data, "site": site, "report": out}


def test_html_report_page(evaluated):
    site, data = evaluated["site"], evaluated["data"]
    report = json.loads(evaluated["report"].read_text())
    text = (site / "index.html").read_text(encoding="utf-8")
    page = parse(text)

    # self-contained: no scripts, no external resources, every link relative and resolving below DIR
    tags = {name for name, _ in page.tags}
    assert "script" not in tags and "http://" not in text and "https://" not in text
    audio, images = page.srcs("audio"), page.srcs("img")
    assert len(audio) == 3 * len(FILES) and len(images) == len(FILES)
    for src in audio + images:
        parsed = urlparse(src)
        assert not parsed.scheme and not parsed.netloc and not src.startswith("/"), src
        assert (site / unquote(parsed.path)).is_file(), src
        assert (site / unquote(parsed.path)).resolve().is_relative_to(site.resolve())
    assert all(src.startswith("audio/") and src.endswith(".wav") for src in audio)
    assert all(src.startswith("images/") and src.endswith(".png") for src in images)
    for src in images:
        assert (site / unquote(src)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the wavs: 16-bit at the model's rate, as long as the hop-aligned recording; the recording's wav is it
    for index, target in enumerate(FILES.values()):
        reference = align_audio(read_audio(data / target, SAMPLE_RATE), HOP)
        players = audio[3 * index : 3 * index + 3]
        assert [p.rsplit("_", 1)[-1] for p in players[:2]] == ["recording.wav", "model.wav"]
        assert players[2].endswith("_griffin_lim.wav")
        for src in players:
            info = sf.info(str(site / unquote(src)))
            assert (info.samplerate, info.frames, info.channels, info.subtype) == (
                SAMPLE_RATE, len(reference), 1, "PCM_16"
            ), src
        recorded, _ = sf.read(str(site / unquote(players[0])), dtype="float32")
        np.testing.assert_allclose(recorded, np.clip(reference, -1, 1), atol=1.0 / 32768 + 1e-6)

    # the metric table: the Markdown table's rows, cell for cell, headers with their better-direction marks
    markdown = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in format_markdown(report).splitlines()[:5]
        if not line.startswith("|---")
    ]
    means = page.tables[0]
    assert means == markdown
    assert [row[0] for row in means[1:]] == ["istftnet", "Griffin-Lim (32 it.)", "recordings"]
    assert means[0][1:] == ["MR-STFT ↓", "log-mel L1 ↓", "MCD [dB] ↓", "F0 RMSE [cent] ↓", "V/UV error [%] ↓",
                            "PESQ-WB ↑"]

    # per utterance: a table of its own values (the same formatting)
    utterance_tables = [t for t in page.tables if t and t[0][0] == "system"][1:]
    assert len(utterance_tables) == len(FILES)
    for table, name in zip(utterance_tables, FILES.values()):
        assert [row[0] for row in table[1:]] == ["istftnet", "Griffin-Lim (32 it.)", "recordings"]
        row = next(r for r in report["systems"]["model"]["utterances"] if r["path"] == name)
        assert table[1][1] == f"{row['mrstft']:.3f}" and table[1][6] == f"{row['pesq_wb']:.3f}"

    # the model's summary: generator, its params, features, checkpoint path
    summary = {row[0]: row[1] for table in page.tables for row in table if len(row) == 2}
    assert summary["generator"] == "istftnet"
    assert json.loads(summary["generator params"]) == TINY_ISTFTNET
    assert summary["parameters"].replace(",", "").isdigit()
    assert summary["features"].startswith("demo-16k: 16000 Hz, hop 160, 80 mels")
    assert summary["checkpoint"] == str(evaluated["checkpoint"])

    # the title names model and data; every special character is escaped
    assert page.title == f"vocoder evaluate: istftnet ({evaluated['checkpoint']}) on {data}"
    assert "<a&b>" not in text and "<sip>" not in text and "<1>" not in text
    assert "&lt;a&amp;b&gt;" in text and "sub &amp; co/spy &lt;sip&gt;.flac" in text
    body = "".join(page.text)
    assert "sub & co/spy <sip>.flac" in body and "broken <1>.wav" in body  # the skipped file, listed
    assert tags <= {"html", "head", "meta", "link", "title", "style", "body", "h1", "h2", "h3", "p", "table",
                    "tr", "th", "td", "details", "summary", "ul", "li", "b", "code", "section", "div",
                    "figure", "figcaption", "audio", "img"}


def test_html_folder_unwritable_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    # the model does not exist either: the --html check comes first, before anything is loaded
    args = ["evaluate", str(tmp_path / "no-model"), "--data", str(tmp_path), "--no-mos", "--html", str(blocker)]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {blocker / 'index.html'}: cannot write ({blocker} is not a folder)"]


# ------------------------------------------------------------------------------------------- browser


class _LoggingHandler(SimpleHTTPRequestHandler):
    def log_request(self, code="-", size="-"):
        self.server.requests.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def _chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is not on PATH: install it (apt-get install chromium; .ci/run does)")
    args = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url]
    result = subprocess.run(args, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def _console_lines(stderr: str, origin: str) -> list[str]:
    """Console messages of pages from ``origin`` (the page has no script: any message is an error)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line if origin in line]


@pytest.mark.slow
def test_html_report_in_chromium(evaluated, tmp_path):
    site = evaluated["site"]
    # a control page with a script error, to show the console check sees errors
    control = site.parent / "control"
    control.mkdir(exist_ok=True)
    (control / "index.html").write_text("<!DOCTYPE html><p>x</p><script>notDefined();</script>")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_LoggingHandler, directory=str(site.parent)))
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        origin = f"http://127.0.0.1:{server.server_address[1]}"
        url = f"{origin}/{site.name}/index.html"

        result = _chromium(f"{origin}/control/index.html", tmp_path / "profile0", "--dump-dom")
        assert any("notDefined" in line for line in _console_lines(result.stderr, origin)), result.stderr[-2000:]
        server.requests.clear()  # the control page's own requests (its favicon) are not the report's

        result = _chromium(url, tmp_path / "profile1", "--dump-dom")
        assert _console_lines(result.stderr, origin) == []
        dom = parse(result.stdout)
        assert dom.title.startswith("vocoder evaluate: istftnet (") and DATA_NAME in dom.title
        audio, images = dom.srcs("audio"), dom.srcs("img")
        assert len(audio) == 3 * len(FILES) and len(images) == len(FILES)
        assert all("controls" in attrs for name, attrs in dom.tags if name == "audio")
        for src in audio:
            with urllib.request.urlopen(urljoin(url, src), timeout=30) as response:
                assert response.status == 200
                head = response.read(12)
            assert head[:4] == b"RIFF" and head[8:12] == b"WAVE", src
        # what the browser itself asked for: the page and its images, all served
        asked = dict(server.requests)
        assert asked[f"/{site.name}/index.html"] == 200
        for src in images:
            assert asked.get(urlparse(urljoin(url, src)).path) == 200, (src, server.requests)
        assert all(code < 400 for _, code in server.requests), server.requests

        shot = tmp_path / "page.png"
        result = _chromium(url, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1200,1600")
        assert _console_lines(result.stderr, origin) == []
    finally:
        server.shutdown()
        server.server_close()
    from PIL import Image

    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape == (1600, 1200, 3)
    _, counts = np.unique(pixels.reshape(-1, 3), axis=0, return_counts=True)
    assert 1.0 - counts.max() / counts.sum() > 0.01  # more than 1 % differ from the background
    # the spectrograms are on screen: many distinct colours, not only text on white
    assert len(counts) > 500
