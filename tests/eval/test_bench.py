"""``vocoder bench`` end to end on tiny generators: every JSON field present and sane (no timing asserts)."""

from __future__ import annotations

import json
import math

import pytest

from vocoder.cli import main
from vocoder.errors import ConfigError
from vocoder.eval import bench

FIELDS = (
    "generator", "backend", "threads", "seconds", "rtf", "params", "gmac_per_s", "gflops_achieved", "matmul_gflops",
    "conv_gflops", "floor_rtf", "peak_rss_mb", "base_rss_mb", "stream_chunk_ms", "stream_chunk_frames", "source",
)
TINY_PWG = """
features: {preset: demo-16k}
generator:
  name: pwg
  params: {layers: 2, stacks: 1, residual_channels: 4, gate_channels: 8, skip_channels: 4, upsample_scales: [4, 4, 10]}
"""
# the utterance-wide layer norm (framewise_norm false) cannot stream: stream_chunk_ms must be null
TINY_WAVEHAX = """
features: {preset: demo-16k}
generator:
  name: wavehax
  params: {channels: 4, mult: 1, num_blocks: 1, framewise_norm: false}
"""


def test_bench_cli_writes_every_field(tmp_path, capsys):
    (tmp_path / "pwg.yaml").write_text(TINY_PWG)
    (tmp_path / "wavehax.yaml").write_text(TINY_WAVEHAX)
    out = tmp_path / "bench.json"
    gens = f"{tmp_path / 'pwg.yaml'},{tmp_path / 'wavehax.yaml'}"
    code = main(["bench", "--generators", gens, "--threads", "1", "--seconds", "0.25", "--repeats", "1",
                 "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["machine"]["threads"] == [1] and report["machine"]["cores"] >= 1
    rows = report["rows"]
    assert [(r["generator"].rsplit("/", 1)[-1], r["backend"]) for r in rows] == [
        ("pwg.yaml", "torch"), ("pwg.yaml", "onnx"), ("wavehax.yaml", "torch"), ("wavehax.yaml", "onnx"),
    ]
    for r in rows:
        assert set(FIELDS) <= set(r)
        assert r["threads"] == 1 and r["seconds"] == pytest.approx(0.25)
        for key in ("rtf", "gmac_per_s", "matmul_gflops", "conv_gflops", "peak_rss_mb", "base_rss_mb"):
            assert math.isfinite(r[key]) and r[key] > 0, key
        assert r["peak_rss_mb"] >= r["base_rss_mb"]
        assert r["gflops_achieved"] == pytest.approx(2 * r["gmac_per_s"] / r["rtf"])
        assert r["floor_rtf"] == pytest.approx(2 * r["gmac_per_s"] / max(r["matmul_gflops"], r["conv_gflops"]))
    pwg_torch, pwg_onnx, hax_torch, hax_onnx = rows
    assert pwg_torch["params"] == pwg_onnx["params"] == _tiny_pwg_params()
    assert pwg_torch["stream_chunk_ms"] > 0 and pwg_onnx["stream_chunk_ms"] > 0
    assert hax_torch["stream_chunk_ms"] is None and hax_onnx["stream_chunk_ms"] is None
    # the onnx worker never imports torch, so it starts far smaller than the torch worker
    assert pwg_onnx["base_rss_mb"] < pwg_torch["base_rss_mb"]
    table = capsys.readouterr().out
    assert table.startswith("Machine: ") and table.count("| pwg.yaml |") == 0  # label is the path as given
    assert sum(line.startswith(f"| {tmp_path}") for line in table.splitlines()) == 4


def _tiny_pwg_params() -> int:
    """Folded parameter count of TINY_PWG (80 mels, aux window 2, scales 4/4/10), by layer."""
    upsampler = 80 * 80 * 5 + sum(2 * s + 1 for s in (4, 4, 10))  # conv_in + 3 smoothers, no biases
    block = (4 * 8 * 3 + 8) + 80 * 8 + (4 * 4 + 4) + (4 * 4 + 4)  # dilated, aux (no bias), skip, residual
    return (1 * 4 + 4) + upsampler + 2 * block + (4 * 4 + 4) + (4 * 1 + 1)


def test_bench_rejects_bad_arguments(capsys):
    assert main(["bench", "--generators", "nope", "--backends", "torch"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: bench: unknown generator 'nope' (named: pwg, istftnet, wavehax, demo-pwg, demo-istftnet, "
        "demo-wavehax; or a recipe YAML path, or a model folder)"
    )
    with pytest.raises(ConfigError, match="unknown backend 'tflite'"):
        bench.parse_list("torch,tflite", "backends", bench.BACKENDS)
    with pytest.raises(ConfigError, match="positive integers, got '0'"):
        bench.parse_threads("1,0")


def test_named_configs_resolve():
    cfg, source = bench.resolve_config("pwg")
    assert (cfg.features.sample_rate, cfg.features.hop, cfg.generator.name) == (22050, 256, "pwg")
    cfg, _ = bench.resolve_config("istftnet")
    assert (cfg.features.sample_rate, cfg.features.hop, cfg.generator.params["variant"]) == (22050, 256, "v1-c8c8i")
    cfg, _ = bench.resolve_config("wavehax")
    assert (cfg.features.sample_rate, cfg.features.hop, cfg.features.n_mels) == (24000, 240, 100)
    cfg, source = bench.resolve_config("demo-istftnet")
    assert source.endswith("recipes/demo/istftnet.yaml") and cfg.features.hop == 160


def test_a_model_folder_is_benched_with_its_own_weights(tmp_path):
    """A model folder (e.g. a converted HiFi-GAN checkpoint) resolves to its config and keeps its weights."""
    import torch

    from vocoder.models.artifact import write_model
    from vocoder.models.factory import build_generator

    (tmp_path / "pwg.yaml").write_text(TINY_PWG)
    cfg, _ = bench.resolve_config(str(tmp_path / "pwg.yaml"))
    torch.manual_seed(123)
    write_model(tmp_path / "model", build_generator(cfg), cfg)
    resolved, source = bench.resolve_config(str(tmp_path / "model"))
    assert source == str(tmp_path / "model") and resolved.generator.name == "pwg"
    report = bench.run_bench([str(tmp_path / "model")], backends=["torch"], threads=[1], seconds=0.25, repeats=1)
    assert [r.source for r in report.rows] == [str(tmp_path / "model")]
    assert report.rows[0].params == _tiny_pwg_params()
    with pytest.raises(ConfigError, match="no checkpoint found"):
        bench.resolve_config(str(tmp_path))
