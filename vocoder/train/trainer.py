"""The GAN training loop: alternating D/G updates, schedules, clipping, validation, checkpoints, DDP.

One step = one discriminator update (once ``train.discriminator_start`` is reached) then one generator
update (once ``train.generator_start`` is reached: before it the generator only runs forward, without a
graph, and the discriminators learn to judge the fixed generator -- a critic warm-up before GAN
fine-tuning, or, with ``generator_start >= max_steps``, a discriminator trained for a finished generator).
Batches and the generator's noise are drawn from RNGs seeded by ``(seed, step, rank)``, so
``--resume`` continues with exactly the batches and noise an uninterrupted run would have used.
Under ``torchrun`` every rank trains on its own shard of the training files (``files[rank::world]``)
with DistributedDataParallel (gloo on CPU, nccl on GPU); only rank 0 logs and writes checkpoints.

A step whose loss or gradient norm is not finite is skipped: no update, its batch is consumed (the step
counter still advances, so a bad batch is not drawn again and resume stays exact), it is counted in
``train/nonfinite_steps``, and ``train.max_nonfinite`` of them in a row stop training with a
:class:`TrainingError` after saving a checkpoint. Warnings are single ``warning: ...`` lines on stderr.

Run folder: a folder that holds a run already is refused unless ``resume`` (continue it) or ``force``
(delete its run files first; only a folder that holds nothing but a run), see
:func:`~vocoder.train.run_folder.check_run_folder`. Everything is validated, built and (``resume``) loaded
before anything is written, so a run that does not start leaves the folder as it was; then the run's
``config.yaml`` and ``manifest.json`` are written.

Ctrl-C (SIGINT) finishes the current step, writes a checkpoint of it (the atomic checkpoint writer),
prints the last saved step and the command that resumes the run, and raises :class:`TrainingInterrupted`
(a ``KeyboardInterrupt``; the CLI exits with 130). A second Ctrl-C stops at once; a checkpoint is then
still written when the interrupt did not land inside a step's update.
"""

from __future__ import annotations

import math
import os
import shlex
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from vocoder.audio.mel import MelSpectrogram
from vocoder.config import OptimizerConfig, RunConfig, save_config
from vocoder.data.dataset import Batch, SegmentSampler, default_cache_dir
from vocoder.data.manifest import build_manifest
from vocoder.errors import ConfigError, VocoderError
from vocoder.losses.objective import Objective
from vocoder.models.factory import build_discriminator, build_generator
from vocoder.output_paths import os_reason
from vocoder.train import checkpoint as ckpt
from vocoder.train import run_folder
from vocoder.train.logging import RunLogger


class TrainingError(VocoderError):
    """Training cannot go on (e.g. too many non-finite losses in a row)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C; the checkpoint and the resume command were printed already."""


VALID_NOISE_STEP = 10**9  # validation noise seeds live far from training steps
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "radam": torch.optim.RAdam}


def build_optimizer(params, oc: OptimizerConfig, where: str) -> torch.optim.Optimizer:
    if oc.name not in OPTIMIZERS:
        raise ConfigError(f"{where}.name: unknown optimizer {oc.name!r} (known: {', '.join(OPTIMIZERS)})")
    if len(oc.betas) != 2:
        raise ConfigError(f"{where}.betas: need two values, got {oc.betas}")
    return OPTIMIZERS[oc.name](params, lr=oc.lr, betas=tuple(oc.betas), eps=oc.eps, weight_decay=oc.weight_decay)


def build_scheduler(opt: torch.optim.Optimizer, oc: OptimizerConfig, max_steps: int, where: str):
    """Per-step LR schedule: none, step (StepLR), exponential (gamma per step), cosine (to min_lr)."""
    sched = oc.scheduler
    if sched == "none":
        return None
    if sched == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=oc.step_size, gamma=oc.gamma)
    if sched == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(opt, gamma=oc.gamma)
    if sched == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, max_steps), eta_min=oc.min_lr)
    raise ConfigError(f"{where}.scheduler: unknown schedule {sched!r} (none, step, exponential, cosine)")


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return info


@dataclass
class StepStats:
    values: dict[str, float] = field(default_factory=dict)
    count: int = 0

    def add(self, values: dict[str, float]) -> None:
        for k, v in values.items():
            self.values[k] = self.values.get(k, 0.0) + float(v)
        self.count += 1

    def mean(self) -> dict[str, float]:
        return {k: v / max(1, self.count) for k, v in self.values.items()}


class Trainer:
    """Trains ``cfg``'s generator (and discriminators) into the run folder ``out``."""

    def __init__(
        self, cfg: RunConfig, out: str | Path, resume: bool = False, progress: bool = True, force: bool = False
    ) -> None:
        self.cfg, self.out, self.progress = cfg, Path(out), progress
        self.dist = init_distributed()
        run_folder.check_run_folder(self.out, resume, force)  # a folder training must not use: refused first
        if self.dist.world > 1:
            dist.barrier()  # every rank has looked before rank 0 writes
        tc = cfg.train
        if tc.threads:
            torch.set_num_threads(tc.threads)
        self.device = torch.device(f"cuda:{self.dist.local_rank}" if torch.cuda.is_available() else "cpu")
        torch.manual_seed(tc.seed)
        if not cfg.generator.name:
            raise ConfigError("config: generator.name is empty")
        if not cfg.data.root:
            raise ConfigError("config: data.root is empty (the folder of training audio)")
        if tc.generator_start < 0 or tc.discriminator_start < 0:
            raise ConfigError("config: train.generator_start and train.discriminator_start must be >= 0")
        if tc.generator_start > 0 and not cfg.discriminators:
            raise ConfigError(
                f"config: train.generator_start {tc.generator_start} holds the generator fixed for a critic "
                "warm-up, but the recipe has no discriminators"
            )
        if tc.generator_start > 0 and tc.discriminator_start > 0:
            raise ConfigError(
                f"config: train.generator_start {tc.generator_start} and train.discriminator_start "
                f"{tc.discriminator_start}: the steps before both would train nothing (set one of them to 0)"
            )

        self.generator = build_generator(cfg).to(self.device)
        self.discriminator = build_discriminator(cfg)
        if self.discriminator is not None:
            self.discriminator.to(self.device)
        f = cfg.features
        self.mel = MelSpectrogram(f).to(self.device)
        self.objective = Objective(cfg.losses, f.sample_rate, self.discriminator is not None).to(self.device)

        og, od = cfg.optim.generator, cfg.optim.discriminator
        self.opt_g = build_optimizer(self._trainable(tc.freeze), og, "optim.generator")
        self.sched_g = build_scheduler(self.opt_g, og, tc.max_steps, "optim.generator")
        self.opt_d = self.sched_d = None
        if self.discriminator is not None:
            self.opt_d = build_optimizer(self.discriminator.parameters(), od, "optim.discriminator")
            self.sched_d = build_scheduler(self.opt_d, od, tc.max_steps, "optim.discriminator")

        manifest = build_manifest(
            cfg.data.root, cfg.data.valid_count, cfg.data.test_count, cfg.data.split_seed,
            cfg.data.min_seconds, cfg.data.extensions,
        )
        cache = Path(cfg.data.cache_dir) if cfg.data.cache_dir else default_cache_dir()
        shard = manifest.train[self.dist.rank :: self.dist.world]
        needs_f0 = self.generator.needs_f0
        paired = cfg.data.input_root or None
        self.train_data = SegmentSampler(
            shard, manifest.root, f, tc.segment_frames, needs_f0, cache, tc.seed, input_root=paired
        )
        valid = manifest.valid[: tc.eval_utterances]
        self.valid_data = (
            SegmentSampler(valid, manifest.root, f, tc.segment_frames, needs_f0, cache, tc.seed, input_root=paired)
            if valid
            else None
        )
        self.manifest = manifest

        self.step = 0
        self._logged_real = False
        self.best = math.inf
        self.nonfinite_total = 0
        self.nonfinite_run = 0
        self._mos_warned = False  # the missing-predictor warning is said once per run
        self.ckpt_root = self.out / "checkpoints"
        self.saved_step: int | None = None  # step of the newest checkpoint this run wrote or resumed from
        resumed = None
        # loading reads only: a checkpoint that does not fit the config is refused before anything is written
        if resume:
            resumed = self._resume()
        elif tc.init_from:
            self._init_generator(tc.init_from)
        restored = self._write_run_files(clear=force and not resume) if self.dist.main else False
        if self.dist.world > 1:
            dist.barrier()  # the other ranks resume from the cleaned folder
        if resumed is not None and (restored or self.dist.world > 1):
            resumed = self._resume(warn=False)  # the cleaned folder (a put-back checkpoint may be newer)
        if resumed is not None and self.dist.main:
            print(f"resumed from {resumed} at step {self.step}", flush=True)

        self.g_ddp: nn.Module = self.generator
        self.d_ddp: nn.Module | None = self.discriminator
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.dist.local_rank] if self.device.type == "cuda" else None
            unused = self.generator.has_unused_parameters
            self.g_ddp = DDP(self.generator, device_ids=ids, find_unused_parameters=unused)
            if self.discriminator is not None:
                self.d_ddp = DDP(self.discriminator, device_ids=ids)
        try:
            self.logger = RunLogger(self.out, enabled=self.dist.main)
        except OSError as err:
            raise ConfigError(f"{self.out / 'logs'}: cannot write the TensorBoard logs ({os_reason(err)})") from None

    def _write_run_files(self, clear: bool) -> bool:
        """Rank 0, once everything is built and loaded: delete the old run (``clear``, i.e. ``--force``),
        repair what a kill left in ``checkpoints/``, write ``config.yaml`` and ``manifest.json``. True when
        the repair put a moved-aside checkpoint back."""
        try:
            if clear:
                run_folder.clear_run(self.out)
            self.out.mkdir(parents=True, exist_ok=True)
            repaired = ckpt.clean_incomplete(self.ckpt_root)  # what a kill during a checkpoint write left behind
            save_config(self.cfg, self.out / "config.yaml")
            self.manifest.save(self.out / "manifest.json")
        except OSError as err:
            raise ConfigError(f"{self.out}: cannot write the run folder ({os_reason(err)})") from None
        return any(name.endswith(ckpt.OLD_SUFFIX) for name in repaired)

    # ----------------------------------------------------------------------------------- building
    def _trainable(self, freeze: list[str]) -> list[nn.Parameter]:
        """Generator parameters to optimise: all but those named by a ``train.freeze`` prefix, which stop
        taking gradients (a warm-started trunk can stay fixed while a new head learns)."""
        names = [n for n, _ in self.generator.named_parameters()]
        for prefix in freeze:
            if not any(n.startswith(prefix) for n in names):
                raise ConfigError(f"config: train.freeze: no generator parameter starts with {prefix!r}")
        trainable = []
        for name, p in self.generator.named_parameters():
            if any(name.startswith(prefix) for prefix in freeze):
                p.requires_grad_(False)
            else:
                trainable.append(p)
        if not trainable:
            raise ConfigError("config: train.freeze leaves no generator parameter to train")
        return trainable

    # ----------------------------------------------------------------------------------- RNG inputs
    def noise_inputs(self, step: int, batch: int, frames: int, rank: int = 0) -> dict[str, torch.Tensor]:
        """Generator noise/phase for ``step`` (:meth:`Generator.training_inputs`), from an RNG seeded by
        (seed, step, rank)."""
        seed = int(np.random.SeedSequence([self.cfg.train.seed, step, rank, 1]).generate_state(1)[0])
        inputs = self.generator.training_inputs(torch.Generator().manual_seed(seed), batch, frames)
        return {k: v.to(self.device) for k, v in inputs.items()}

    def generate(self, model: nn.Module, mel: torch.Tensor, f0: torch.Tensor | None, step: int, rank: int = 0):
        noise = self.noise_inputs(step, mel.shape[0], mel.shape[-1], rank)
        return model(mel, f0=f0, **noise) if self.generator.needs_f0 else model(mel, **noise)

    def d_active(self, step: int) -> bool:
        return self.discriminator is not None and step >= self.cfg.train.discriminator_start

    def g_active(self, step: int) -> bool:
        return step >= self.cfg.train.generator_start

    # ----------------------------------------------------------------------------------- one step
    def train_step(self, batch: Batch, step: int) -> dict[str, float] | None:
        """One D update and one G update (D only before ``train.generator_start``); returns the logged
        values, or None if the step was skipped."""
        y = batch.wav.to(self.device)
        f0 = batch.f0.to(self.device) if batch.f0 is not None else None
        with torch.no_grad():
            mel = self.mel(y if batch.source is None else batch.source.to(self.device))
        train_g = self.g_active(step)
        with torch.set_grad_enabled(train_g):
            y_hat = self.generate(self.g_ddp if train_g else self.generator, mel, f0, step, self.dist.rank)
        logs: dict[str, float] = {}

        use_d = self.d_active(step)
        if use_d:
            self.opt_d.zero_grad(set_to_none=True)
            d_loss, d_logs = self.objective.discriminator_loss(self.d_ddp, y, y_hat)
            od = self.cfg.optim.discriminator
            d_norm = self._update(d_loss, self.discriminator, self.opt_d, od, "discriminator")
            if d_norm is None:
                return None
            logs.update({**d_logs, "grad_norm/d": d_norm})
        if train_g:  # before generator_start (a critic warm-up) G and its schedule stay where they are
            self.opt_g.zero_grad(set_to_none=True)
            g_loss, g_logs = self.objective.generator_loss(y_hat, y, self.discriminator if use_d else None)
            logs.update(g_logs)
            g_norm = self._update(g_loss, self.generator, self.opt_g, self.cfg.optim.generator, "generator")
            if g_norm is None:
                return None
            logs.update({"loss/g_total": g_loss.item(), "grad_norm/g": g_norm})
        for sched in (self.sched_g if train_g else None, self.sched_d if use_d else None):
            if sched is not None:
                sched.step()
        self.nonfinite_run = 0
        if train_g:
            logs["lr/g"] = self.opt_g.param_groups[0]["lr"]
        if self.opt_d is not None:
            logs["lr/d"] = self.opt_d.param_groups[0]["lr"]
        return logs

    def _update(
        self, loss: torch.Tensor, model: nn.Module, opt: torch.optim.Optimizer, oc: OptimizerConfig, what: str
    ) -> float | None:
        """Backward, clip to ``oc.grad_clip`` and step; the gradient norm, or None when the loss or the
        gradient is non-finite (the step is then skipped for both models, see :meth:`_skip`)."""
        if not self._all_finite(loss):
            return self._skip(f"{what} loss")
        loss.backward()
        norm = self._clip(model, oc.grad_clip)
        if not math.isfinite(norm):
            return self._skip(f"{what} gradient")
        opt.step()
        return norm

    def _clip(self, model: nn.Module, max_norm: float | None) -> float:
        params = [p for p in model.parameters() if p.grad is not None]
        if not params:
            return 0.0
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm if max_norm else float("inf"))
        return float(norm)

    def _all_finite(self, loss: torch.Tensor) -> bool:
        """True when ``loss`` is finite on every rank: under DDP a rank that skipped the backward alone
        would leave the others waiting in the gradient all-reduce. (Gradient norms are computed after the
        all-reduce, so they agree already.)"""
        ok = torch.isfinite(loss.detach()).all().to(torch.int32).reshape(1)
        if self.dist.world > 1:
            dist.all_reduce(ok, op=dist.ReduceOp.MIN)
        return bool(ok.item())

    def _skip(self, what: str) -> None:
        self.opt_g.zero_grad(set_to_none=True)
        if self.opt_d is not None:
            self.opt_d.zero_grad(set_to_none=True)
        self.nonfinite_total += 1
        self.nonfinite_run += 1
        self._warn(f"step {self.step}: non-finite {what}, step skipped")
        return None

    def _warn(self, message: str) -> None:
        """One ``warning: ...`` line on stderr (rank 0 only), written above the progress bar."""
        if self.dist.main:
            from tqdm import tqdm

            tqdm.write(f"warning: {message}", file=sys.stderr)

    # ----------------------------------------------------------------------------------- validation
    @torch.no_grad()
    def validate(self, log_media: bool = True) -> dict[str, float]:
        if self.valid_data is None:
            return {}
        self.generator.eval()
        stats = StepStats()
        sr = self.cfg.features.sample_rate
        generated: list[np.ndarray] = []
        for i in range(len(self.valid_data)):
            b = self.valid_data.utterance(i)
            y = b.wav.to(self.device)
            f0 = b.f0.to(self.device) if b.f0 is not None else None
            mel = self.mel(y if b.source is None else b.source.to(self.device))
            y_hat = self.generate(self.generator, mel, f0, step=VALID_NOISE_STEP + i)
            mel_hat = self.mel(y_hat)
            values = {"valid/mel_l1": float((mel_hat - mel).abs().mean())}
            stats.add({**values, **self.objective.validation_metrics(y_hat, y)})
            generated.append(y_hat.detach().cpu().numpy().reshape(-1))
            if log_media and i < self.cfg.train.audio_log_utterances:
                self.logger.audio(f"generated/{i}", y_hat, sr, self.step)
                if not self._logged_real:
                    self.logger.audio(f"real/{i}", y, sr, self.step)
                self.logger.mel_image(f"mel/{i}", mel[0], mel_hat[0], self.step)
        self._logged_real = self._logged_real or log_media
        self.generator.train()
        metrics = stats.mean()
        if self.cfg.train.valid_mos:
            mos = self._distill_mos(generated, sr)
            if mos is not None:
                metrics["valid/distill_mos"] = mos
        return metrics

    def _distill_mos(self, wavs: list[np.ndarray], sample_rate: int) -> float | None:
        """Mean Distill-MOS of the generated validation clips (clips it cannot score are left out); None,
        with one warning for the whole run, when the predictor is not installed."""
        from vocoder.eval.mos import distill_mos

        try:
            scores = [s for s in distill_mos(wavs, sample_rate) if math.isfinite(s)]
        except VocoderError as err:
            if not self._mos_warned:
                self._warn(f"validation Distill-MOS skipped: {err}")
                self._mos_warned = True
            return None
        return float(np.mean(scores)) if scores else None

    # ----------------------------------------------------------------------------------- state
    def state(self) -> dict:
        st = {
            "step": self.step,
            "best": self.best,
            "nonfinite_total": self.nonfinite_total,
            "opt_g": self.opt_g.state_dict(),
            "rng_torch": torch.get_rng_state(),
        }
        if self.sched_g is not None:
            st["sched_g"] = self.sched_g.state_dict()
        if self.discriminator is not None:
            st["discriminator"] = self.discriminator.state_dict()
            st["opt_d"] = self.opt_d.state_dict()
            if self.sched_d is not None:
                st["sched_d"] = self.sched_d.state_dict()
        return st

    def _init_generator(self, source: str) -> None:
        """Start from another model's weights (fine-tuning, warm start); optimisers and step start fresh."""
        from vocoder.train.warm_start import warm_start

        report = warm_start(source, self.generator, self.discriminator)
        if self.dist.main:
            for line in report.lines():
                print(line, flush=True)

    def _resume(self, warn: bool = True) -> Path:
        """Load the newest usable checkpoint (reads only); returns its folder. A checkpoint whose models
        do not fit the config (a ``--set`` changing a shape) is one :class:`ConfigError` line."""
        found = ckpt.latest_resumable(self.ckpt_root, warn=self._warn if warn else None)
        if found is None:
            raise ConfigError(f"{self.ckpt_root}: --resume given but no usable checkpoint found")
        folder, st, weights = found
        ckpt.load_into(self.generator, weights, "generator", folder)
        if self.discriminator is not None and "discriminator" in st:
            ckpt.load_into(self.discriminator, st["discriminator"], "discriminator", folder)
        try:
            self.opt_g.load_state_dict(st["opt_g"])
            if self.sched_g is not None and "sched_g" in st:
                self.sched_g.load_state_dict(st["sched_g"])
            if self.discriminator is not None and "discriminator" in st:
                self.opt_d.load_state_dict(st["opt_d"])
                if self.sched_d is not None and "sched_d" in st:
                    self.sched_d.load_state_dict(st["sched_d"])
        except (ValueError, KeyError, RuntimeError) as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
            raise ConfigError(f"{folder}: the checkpoint's optimizer state does not fit the config ({first})") from None
        self.step = int(st["step"])
        self.saved_step = self.step
        self.best = float(st.get("best", math.inf))
        self.nonfinite_total = int(st.get("nonfinite_total", 0))
        torch.set_rng_state(st["rng_torch"])
        return folder

    def save(self, metrics: dict[str, float] | None = None) -> Path | None:
        """Write a checkpoint of the current step (rank 0); returns its folder (None on other ranks, or when
        the weights are no longer finite: such a checkpoint would become the one ``--resume`` picks)."""
        folder = None
        if not self.weights_finite():
            self._warn(f"step {self.step}: weights are not finite, checkpoint not written")
        elif self.dist.main:
            try:
                folder = ckpt.save_checkpoint(
                    self.ckpt_root, self.step, self.generator, self.cfg, self.state(), self.cfg.train.keep_last
                )
                score = (metrics or {}).get("valid/mel_l1")
                if score is not None and score < self.best:
                    self.best = score
                    ckpt.save_best(self.ckpt_root, folder)
            except OSError as err:
                raise TrainingError(
                    f"{self.ckpt_root}: cannot write the checkpoint of step {self.step} ({os_reason(err)}); "
                    f"{self._last_saved_text()}"
                ) from None
        if folder is not None or not self.dist.main:
            self.saved_step = self.step
        if self.dist.world > 1:
            dist.barrier()
        return folder

    def weights_finite(self) -> bool:
        """True when every generator and discriminator parameter is finite (a checkpoint worth saving)."""
        models = [m for m in (self.generator, self.discriminator) if m is not None]
        return all(bool(torch.isfinite(p).all()) for m in models for p in m.parameters())

    def stop_nonfinite(self) -> None:
        """Too many non-finite steps in a row: save the weights if they are still finite, then raise."""
        self.logger.scalars({"train/nonfinite_steps": self.nonfinite_total}, self.step)
        where = self.save()
        if where is None:
            found = ckpt.list_checkpoints(self.ckpt_root)
            where = found[-1] if found else None
        kept = f"last good checkpoint: {where}" if where is not None else "no checkpoint was saved"
        first = self.step - self.nonfinite_run
        raise TrainingError(
            f"{self.nonfinite_run} non-finite losses in a row (steps {first}-{self.step - 1}); stopped ({kept}); "
            "lower the learning rate or check the data"
        )

    # ----------------------------------------------------------------------------------- console
    def _say(self, line: str, err: bool = False) -> None:
        """One console line (rank 0), written above the progress bar."""
        if self.dist.main:
            from tqdm import tqdm

            tqdm.write(line, file=sys.stderr if err else sys.stdout)

    def _last_saved_text(self) -> str:
        found = ckpt.list_checkpoints(self.ckpt_root)
        return f"last saved: step {int(found[-1].name[5:])} ({found[-1]})" if found else "no checkpoint saved yet"

    # ----------------------------------------------------------------------------------- Ctrl-C
    def _catch_sigint(self):
        """Make Ctrl-C a request to stop after the current step (a second one stops at once); returns the
        handler to put back (None when signals cannot be caught here: not the main thread)."""
        self._stop_requested = False
        if threading.current_thread() is not threading.main_thread():
            return None

        def request_stop(signum, frame):
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True  # no printing here: the interrupted code may be writing to the console

        previous = signal.signal(signal.SIGINT, request_stop)
        return previous if previous is not None else signal.SIG_DFL

    def _stop_now(self) -> bool:
        """True when Ctrl-C asked to stop (under DDP: on any rank, so all stop after the same step)."""
        stop = self._stop_requested
        if self.dist.world > 1:
            flag = torch.tensor([int(stop)], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            stop = bool(flag.item())
        return stop

    def _interrupted(self, consistent: bool) -> None:
        """After Ctrl-C: write a checkpoint of the current step (unless the interrupt landed inside a step's
        update, or it is saved already), print the last saved step and the resume command, raise."""
        if consistent and self.step > 0 and self.saved_step != self.step and (self.dist.world == 1 or self._synced):
            self.save()
        if self.step > 0 and self.saved_step == self.step:
            note = f"checkpoint of step {self.step} written; "
        elif not consistent:
            note = "the next step's update was half done, not saved; "
        else:
            note = ""
        run = shlex.quote(str(self.out))
        if ckpt.list_checkpoints(self.ckpt_root):
            self._say(f"interrupted at step {self.step}: {note}{self._last_saved_text()}", err=True)
            self._say(f"resume with: vocoder train {run} --out {run} --resume", err=True)
        else:
            self._say(f"interrupted at step {self.step}: no checkpoint saved; start over with --force", err=True)
        raise TrainingInterrupted(f"interrupted at step {self.step}")

    # ----------------------------------------------------------------------------------- loop
    def fit(self) -> dict[str, float]:
        tc = self.cfg.train
        from tqdm import tqdm

        if self.dist.main:
            logs_dir = shlex.quote(str(self.out / "logs"))
            self._say(f"run folder: {self.out}")
            self._say(f"TensorBoard logs: {self.out / 'logs'} (view: tensorboard --logdir {logs_dir})")
        bar = tqdm(
            total=tc.max_steps, initial=self.step, disable=not (self.progress and self.dist.main),
            dynamic_ncols=True, desc="train",
        )
        stats, wait, t_last = StepStats(), 0.0, time.perf_counter()
        last_metrics: dict[str, float] = {}
        self.generator.train()
        if self.discriminator is not None:
            self.discriminator.train()
        interrupted, in_step = False, False
        self._synced = True  # False when a rank may have stopped at another step (a raw KeyboardInterrupt)
        previous = self._catch_sigint()
        try:
            while self.step < tc.max_steps:
                if self._stop_now():
                    interrupted = True
                    break
                t0 = time.perf_counter()
                batch = self.train_data.batch(tc.batch_size, self.step, self.dist.rank)
                wait += time.perf_counter() - t0
                in_step = True  # from here until the step counter moves, the models are half updated
                logs = self.train_step(batch, self.step)
                self.step += 1  # a skipped step consumes its batch too
                in_step = False
                bar.update(1)
                if logs is None:
                    if self.nonfinite_run >= tc.max_nonfinite:
                        self.stop_nonfinite()
                else:
                    stats.add(logs)
                if self.step % tc.log_every == 0 or self.step == tc.max_steps:
                    now = time.perf_counter()
                    values = stats.mean()
                    values["speed/steps_per_s"] = stats.count / max(now - t_last, 1e-9)
                    values["speed/data_wait_fraction"] = wait / max(now - t_last, 1e-9)
                    values["train/nonfinite_steps"] = self.nonfinite_total
                    self.logger.scalars(values, self.step)
                    bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in values.items() if k.startswith("loss/g")})
                    stats, wait, t_last = StepStats(), 0.0, now
                metrics = None
                if self.step % tc.eval_every == 0 or self.step == tc.max_steps:
                    metrics = self.validate() if self.dist.main else {}
                    self.logger.scalars(metrics, self.step)
                    last_metrics = metrics
                    if metrics:
                        shown = ", ".join(f"{k.split('/')[-1]} {v:.4f}" for k, v in sorted(metrics.items()))
                        self._say(f"step {self.step}: validation {shown}")
                if self.step % tc.save_every == 0 or self.step == tc.max_steps:
                    self.save(metrics)
                    t_last = time.perf_counter()
        except KeyboardInterrupt:  # a second Ctrl-C, or one that reached no handler of ours
            interrupted, self._synced = True, False
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            bar.close()
            self.logger.close()
        if interrupted:
            self._interrupted(consistent=not in_step)
        return last_metrics




def train(
    cfg: RunConfig, out: str | Path, resume: bool = False, progress: bool = True, force: bool = False
) -> dict[str, float]:
    """Train ``cfg`` into ``out``; returns the last validation metrics (see :class:`Trainer` for ``resume``
    and ``force``)."""
    trainer = Trainer(cfg, out, resume=resume, progress=progress, force=force)
    if trainer.step >= cfg.train.max_steps and trainer.dist.main:
        print(f"already at step {trainer.step} >= train.max_steps {cfg.train.max_steps}; nothing to do")
    metrics = trainer.fit()
    if trainer.dist.world > 1 and dist.is_initialized():
        dist.destroy_process_group()
    return metrics

