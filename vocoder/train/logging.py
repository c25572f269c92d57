"""TensorBoard logging of a run: scalars, audio and real-vs-generated mel images (rank 0 only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class RunLogger:
    """Writes TensorBoard event files under ``out/logs``; a disabled logger (other ranks) does nothing."""

    def __init__(self, out: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(Path(out) / "logs"))

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.writer is None:
            return
        for key, value in values.items():
            self.writer.add_scalar(key, float(value), step)

    def audio(self, tag: str, wav: torch.Tensor | np.ndarray, sample_rate: int, step: int) -> None:
        """``wav`` of any shape with L samples in its last axis; clipped to [-1, 1]."""
        if self.writer is None:
            return
        data = torch.as_tensor(wav).detach().float().reshape(-1).clamp(-1, 1)
        self.writer.add_audio(tag, data, step, sample_rate=sample_rate)

    def mel_image(self, tag: str, real: torch.Tensor, fake: torch.Tensor, step: int) -> None:
        """Real and generated log-mels ``(n_mels, T)`` one above the other, on one colour scale."""
        if self.writer is None:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        real_np, fake_np = real.detach().cpu().numpy(), fake.detach().cpu().numpy()
        lo, hi = float(real_np.min()), float(real_np.max())
        fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
        for ax, data, title in zip(axes, (real_np, fake_np), ("real", "generated")):
            ax.imshow(data, origin="lower", aspect="auto", vmin=lo, vmax=hi, interpolation="none")
            ax.set_title(title)
            ax.set_ylabel("mel bin")
        axes[-1].set_xlabel("frame")
        fig.tight_layout()
        self.writer.add_figure(tag, fig, step)
        plt.close(fig)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
