"""`make demo` (tools/run_demo.py): the quick run end to end, and the run folder is only ever cleared when
it holds nothing but an earlier demo's files.

The end-to-end test uses the default F0 cache (~/.cache/vocoder, as `make demo` does): a cold cache adds
the harvest F0 of the 129 train/valid clips once (about 25 s on 2 busy cores).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "run_demo.py"
SHIPPED = sorted(p.name for p in (ROOT / "checkpoints").iterdir() if (p / "model.safetensors").is_file())


def _demo_module():
    spec = importlib.util.spec_from_file_location("run_demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out), "--threads", "1"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    text = run.stdout

    index = out / "report" / "index.html"
    assert index.is_file()
    page = index.read_text()
    for name in [*SHIPPED, "finetuned"]:
        model_page = out / "report" / name / "index.html"
        assert model_page.is_file(), model_page
        assert f'href="{name}/index.html"' in page
        assert (out / "synth" / name / "torch").is_dir() and (out / "synth" / name / "onnx").is_dir()
        assert len(list((out / "synth" / name / "onnx").glob("*.wav"))) == 2
    assert (out / "finetune" / "model.onnx").is_file()

    # the end of the console: where the pages are, the best model's table, one line per model, the times
    results = text[text.index("=== results"):]
    assert str(index) in results
    assert "best model by PESQ-WB:" in results
    assert "| Griffin-Lim (32 it.) |" in results and "| recordings |" in results
    summary = results[results.index("per model"):]
    for name in [*SHIPPED, "finetuned"]:
        line = next(line for line in summary.splitlines() if line.strip().startswith(name + " "))
        assert "Distill-MOS n/a" in " ".join(line.split()) and "PESQ-WB " in line
    assert "2 GAN steps" in summary
    assert "demo finished in" in results and "load average" in results
    assert "=== fine-tune demo-wavehax with a discriminator, export:" in text
    assert "discriminator: fresh" in text  # the shipped demo checkpoints carry no discriminator weights


def test_run_folder_is_cleared_only_when_it_is_the_demos(tmp_path):
    demo = _demo_module()

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(demo.DemoError, match="nothing was deleted"):
        demo.prepare_out(foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"

    out = tmp_path / "demo"
    demo.prepare_out(out)  # new folder: created and marked
    assert (out / demo.MARKER).is_file()
    (out / "synth" / "m" / "torch").mkdir(parents=True)
    (out / "report").mkdir()
    (out / "heldout.json").write_text("{}")
    (out / "finetune" / "checkpoints").mkdir(parents=True)
    (out / "finetune" / "config.yaml").write_text("x: 1\n")
    (out / "finetune" / "model.onnx").write_bytes(b"onnx")
    demo.prepare_out(out)  # an earlier demo: cleared, the fine-tune run left for train --force
    assert sorted(p.name for p in out.iterdir()) == [demo.MARKER, "finetune"]
    assert sorted(p.name for p in (out / "finetune").iterdir()) == ["checkpoints", "config.yaml"]

    (out / "synth").mkdir()
    (out / "finetune" / "mine.wav").write_bytes(b"")  # not a run file: the whole folder is left alone
    with pytest.raises(demo.DemoError, match="finetune/mine.wav"):
        demo.prepare_out(out)
    (out / "finetune" / "mine.wav").unlink()
    (out / "extra").mkdir()  # a marked folder with something the demo does not write is refused too
    with pytest.raises(demo.DemoError, match="extra"):
        demo.prepare_out(out)
    assert (out / "synth").is_dir()
