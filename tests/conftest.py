"""Shared test settings: one torch thread (tests use small tensors, where more threads only add
overhead on this 2-core machine, and the suite runs beside other work)."""

from __future__ import annotations

import torch

torch.set_num_threads(1)
