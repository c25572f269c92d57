"""Run under torchrun by test_ddp.py: train a tiny recipe, then every rank saves its own weights."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

from vocoder.config import config_from_dict
from vocoder.train.trainer import Trainer


def main() -> None:
    recipe, out = Path(sys.argv[1]), Path(sys.argv[2])
    torch.set_num_threads(1)
    trainer = Trainer(config_from_dict(yaml.safe_load(recipe.read_text())), out, progress=False)
    trainer.fit()
    rank = int(os.environ["RANK"])
    state = {k: v.contiguous() for k, v in trainer.generator.state_dict().items()}
    state.update({f"d.{k}": v.contiguous() for k, v in trainer.discriminator.state_dict().items()})
    save_file(state, str(out / f"rank{rank}.safetensors"))
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
