"""Write ``tests/fixtures/pwg_reference_tiny.npz``: a tiny reference Parallel WaveGAN and its output.

The fixture lets ``tests/models/test_pwg.py`` check our generator and checkpoint converter against the
original implementation (kan-bayashi/ParallelWaveGAN 0.6.1) without installing it. This script runs in a
scratch venv OUTSIDE the repo that holds the reference package, never in the project venv::

    python3 -m venv /work/scratch/pwgref
    /work/scratch/pwgref/bin/pip install torch==2.13.0          # the CPU wheel; pinned, install it first
    /work/scratch/pwgref/bin/pip install numpy scipy setuptools pip pyyaml h5py
    /work/scratch/pwgref/bin/pip install --no-build-isolation --no-deps parallel-wavegan==0.6.1
    # scipy >= 1.13 moved kaiser to scipy.signal.windows; 0.6.1 imports it from scipy.signal (issue #430)
    sed -i 's/^from scipy.signal import kaiser$/from scipy.signal.windows import kaiser/' \\
        /work/scratch/pwgref/lib/python3.11/site-packages/parallel_wavegan/layers/pqmf.py
    /work/scratch/pwgref/bin/python tools/make_pwg_fixture.py

What it stores (all float32 unless noted):

- ``config``: JSON text (a 0-d unicode array) of a parallel-wavegan ``config.yml`` subset: the feature
  keys and ``generator_params`` of the tiny model (6 layers, 3 stacks, 8/16/8 channels, 20 mels,
  ``upsample_scales`` [4, 4] so hop 16);
- ``ref/<key>``: the reference generator's ``state_dict`` with the legacy weight-norm tensors
  ``weight_g``/``weight_v`` (as real checkpoints have them), every tensor drawn at random with a fixed
  seed; ``weight_g`` is NOT the norm of ``weight_v``, so a swapped or dropped gain shows up;
- ``mel`` ``(1, n_mels, T)``, ``noise`` ``(1, 1, T * hop)``;
- ``output`` ``(1, 1, T * hop)``: the reference's ``inference(c=mel, x=noise)`` (it replication-pads the
  mel by ``aux_context_window`` frames, then runs ``forward``), eval mode, no grad.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from parallel_wavegan.models import ParallelWaveGANGenerator

SEED = 1234
FRAMES = 24
CONFIG = {
    "sampling_rate": 16000,
    "fft_size": 64,
    "hop_size": 16,
    "win_length": None,
    "window": "hann",
    "num_mels": 20,
    "fmin": 0,
    "fmax": 8000,
    "format": "npy",
    "generator_type": "ParallelWaveGANGenerator",
    "generator_params": {
        "in_channels": 1,
        "out_channels": 1,
        "kernel_size": 3,
        "layers": 6,
        "stacks": 3,
        "residual_channels": 8,
        "gate_channels": 16,
        "skip_channels": 8,
        "aux_channels": 20,
        "aux_context_window": 2,
        "dropout": 0.0,
        "bias": True,
        "use_weight_norm": True,
        "use_causal_conv": False,
        "upsample_net": "ConvInUpsampleNetwork",
        "upsample_params": {"upsample_scales": [4, 4]},
    },
}


def randomised_state_dict(model: torch.nn.Module, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Every entry of ``model.state_dict()`` replaced by seeded random values of the same shape."""
    out = {}
    for key, value in model.state_dict().items():
        if key.endswith("weight_g"):
            new = 0.5 + torch.rand(value.shape, generator=gen)  # gains in [0.5, 1.5), unlike ||v||
        elif key.endswith("weight_v"):
            new = 0.5 * torch.randn(value.shape, generator=gen)
        else:
            new = 0.1 * torch.randn(value.shape, generator=gen)
        out[key] = new.to(value.dtype)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pwg_reference_tiny.npz"
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()

    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    # deep copy: the reference mutates its upsample_params argument in place
    params = json.loads(json.dumps(CONFIG["generator_params"]))
    model = ParallelWaveGANGenerator(**params)
    model.load_state_dict(randomised_state_dict(model, gen))
    model.eval()

    hop = CONFIG["hop_size"]
    n_mels = CONFIG["num_mels"]
    mel = torch.randn(1, n_mels, FRAMES, generator=gen)
    noise = torch.randn(1, 1, FRAMES * hop, generator=gen)
    with torch.no_grad():
        # inference takes one utterance as (T, C) mel and (T * hop, 1) noise and returns (T * hop, 1)
        wav = model.inference(c=mel[0].T.contiguous(), x=noise[0].T.contiguous())
    output = wav.T.unsqueeze(0)
    assert output.shape == (1, 1, FRAMES * hop), output.shape

    arrays = {f"ref/{k}": v.numpy().astype(np.float32) for k, v in model.state_dict().items()}
    arrays.update(
        config=np.array(json.dumps(CONFIG)),
        mel=mel.numpy(),
        noise=noise.numpy(),
        output=output.numpy(),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, {len(arrays)} arrays)")


if __name__ == "__main__":
    main()
