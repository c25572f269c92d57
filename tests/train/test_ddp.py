"""torchrun with 2 CPU processes (gloo): DDP keeps both ranks' weights identical."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_torchrun_two_ranks_stay_identical(tmp_path, recipe_factory):
    recipe = recipe_factory("istftnet", ("mpd",), steps=3)
    recipe["train"].update(save_every=3, eval_every=3)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as sock:  # a free port for the rendezvous (port 0 is not shared between the ranks)
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", port,
           str(HERE / "ddp_worker.py"), str(path), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0, w1 = load_file(str(out / "rank0.safetensors")), load_file(str(out / "rank1.safetensors"))
    assert w0.keys() == w1.keys()
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    # the ranks really trained (weights moved) and only rank 0 wrote checkpoints and logs
    ckpt = load_file(str(out / "checkpoints" / "step-00000003" / "model.safetensors"))
    assert all(torch.equal(ckpt[k], w0[k]) for k in ckpt)
    assert len(list((out / "logs").glob("events.*"))) == 1
