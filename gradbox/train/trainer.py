"""A small training loop: progress bar, evaluation each epoch, metrics.jsonl, curves.png and an
atomic checkpoint after every epoch (and on Ctrl-C) from which ``resume`` continues exactly.

Exact resumption: batches are shuffled by the trainer's own generator, whose state at the start
of the epoch is saved; gradbox's default generator (dropout, augmentation) is saved at the
moment of the checkpoint. A resumed run replays the epoch's permutation, skips the batches
already done, and continues with the same random stream, so it reaches the same weights as an
unbroken run.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import gradbox as gb
from gradbox.autograd.grad_mode import no_grad
from gradbox.random import Generator
from gradbox.serialization import CheckpointError, load, save
from gradbox.train.plots import plot_curves
from gradbox.utils.data import DataLoader, RandomSampler


class TrainingDivergedError(RuntimeError):
    """The loss or the weights became infinite or NaN; the last finite checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped training between batches; ``saved`` says whether the checkpoint
    (at ``path``, matching the weights and the batch counter) was written."""

    def __init__(self, signame: str, saved: bool, path: Path | None) -> None:
        super().__init__(signame)
        self.signame, self.saved, self.path = signame, saved, path


def _finite_or_none(v):
    """JSON has no NaN or infinity: a non-finite number is written as null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class Callback:
    """Hooks called by :class:`Trainer`; override what you need."""

    def on_batch_end(self, trainer: Trainer, batch: int, loss: float) -> None: ...

    def on_epoch_end(self, trainer: Trainer, metrics: dict) -> None: ...


def _accuracy_count(out, y) -> int:
    return int((out._data.argmax(1) == y._data).sum())



CHECKPOINT_NAME = "checkpoint.safetensors"  # a safetensors file: tensors + the run's structure as JSON metadata
LEGACY_CHECKPOINT_NAME = "checkpoint.npz"  # what runs wrote before; still read, never written


def existing_checkpoint(out_dir: Path) -> Path | None:
    """The checkpoint a run directory holds: checkpoint.safetensors, else an older run's
    checkpoint.npz, else None."""
    for name in (CHECKPOINT_NAME, LEGACY_CHECKPOINT_NAME):
        if (out_dir / name).exists():
            return out_dir / name
    return None


class Trainer:
    """Train ``model`` with ``optimizer`` on ``loss_fn(model(x), y)``; see :func:`fit`."""

    def __init__(
        self,
        model: gb.nn.Module,
        optimizer: gb.optim.Optimizer,
        loss_fn: Callable,
        train_loader: DataLoader,
        val_loader: DataLoader | None = None,
        scheduler=None,
        scheduler_interval: str = "epoch",
        out_dir: str | os.PathLike | None = None,
        config: dict | None = None,
        callbacks: Sequence[Callback] = (),
        progress: bool = True,
    ) -> None:
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.train_loader, self.val_loader = train_loader, val_loader
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.config = dict(config or {})
        self.callbacks, self.progress = list(callbacks), progress
        self.history: list[dict] = []
        self.steps: list[dict] = []  # running training loss/accuracy within epochs, for the plot
        self._window = [0.0, 0, 0]
        self._interrupted = False
        self._signals = 0
        self._signame = "SIGINT"
        self.epoch = 0  # completed epochs
        self.batch = 0  # batches done in the current epoch
        self._partial = {"loss_sum": 0.0, "correct": 0, "count": 0, "seconds": 0.0}
        sampler = train_loader.sampler
        if isinstance(sampler, RandomSampler) and sampler.generator is None:
            seed = int(gb.random.default_generator.rng.integers(0, 2**62))
            sampler.generator = Generator().manual_seed(seed)
        self.shuffle_gen: Generator | None = sampler.generator if isinstance(sampler, RandomSampler) else None
        self._epoch_shuffle_state = self.shuffle_gen.get_state() if self.shuffle_gen else None

    # ---- files ----------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path | None:
        """Where this run saves: ``out_dir/checkpoint.safetensors``."""
        return None if self.out_dir is None else self.out_dir / CHECKPOINT_NAME

    def state(self) -> dict[str, Any]:
        return {
            "format": "gradbox-checkpoint/1",
            "config": self.config,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": self.epoch,
            "batch": self.batch,
            "partial": dict(self._partial),
            "shuffle_state": self._epoch_shuffle_state,
            "rng_state": gb.get_rng_state(),
            "history": self.history,
            "steps": self.steps,
            "window": list(self._window),
        }

    def save_checkpoint(self, path: str | os.PathLike | None = None) -> Path:
        path = Path(path) if path is not None else self.checkpoint_path
        if path is None:
            raise ValueError("save_checkpoint: no path given and the trainer has no out_dir")
        save(self.state(), path)
        return path

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        ck = load(path)
        fields = ("config", "model", "optimizer", "scheduler", "epoch", "batch", "partial", "shuffle_state")
        fields += ("rng_state", "history", "steps", "window")
        if not isinstance(ck, dict) or ck.get("format") != "gradbox-checkpoint/1":
            found = f"format {ck.get('format')!r}" if isinstance(ck, dict) else f"a {type(ck).__name__}"
            raise CheckpointError(
                f"{path}: not a gradbox training checkpoint: expected a dict of format 'gradbox-checkpoint/1', "
                f"found {found} (a state_dict loads with model.load_state_dict(gb.load(path)))"
            )
        missing = [k for k in fields if k not in ck]
        if missing:
            raise CheckpointError(f"{path}: a training checkpoint without {', '.join(missing)}")
        try:
            self.model.load_state_dict(ck["model"])
        except RuntimeError as e:
            raise RuntimeError(
                f"{path}: the checkpoint is for another architecture ({ck['config'].get('model', '?')}):\n{e}"
            ) from None
        self.optimizer.load_state_dict(ck["optimizer"])
        if self.scheduler is not None and ck["scheduler"] is not None:
            self.scheduler.load_state_dict(ck["scheduler"])
        self.epoch, self.batch = int(ck["epoch"]), int(ck["batch"])
        self._partial = dict(ck["partial"])
        self.history = [dict(h) for h in ck["history"]]
        self.steps = [dict(h) for h in ck["steps"]]
        self._window = list(ck["window"])
        self._epoch_shuffle_state = ck["shuffle_state"]
        if self.shuffle_gen is not None and ck["shuffle_state"] is not None:
            self.shuffle_gen.set_state(ck["shuffle_state"])
        gb.set_rng_state(ck["rng_state"])

    def _write_metrics(self) -> None:
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.out_dir / f".metrics.jsonl.{os.getpid()}.tmp"
        lines = (json.dumps({k: _finite_or_none(v) for k, v in h.items()}, allow_nan=False) for h in self.history)
        tmp.write_text("".join(line + "\n" for line in lines))
        os.replace(tmp, self.out_dir / "metrics.jsonl")
        plot_curves(self.history, self.out_dir / "curves.png", self.steps, self.config.get("val_name", "validation"))

    # ---- loops ----------------------------------------------------------------------------
    def evaluate(self, loader: DataLoader) -> tuple[float, float]:
        """Mean loss and accuracy of the model (eval mode, no graph) over ``loader``."""
        self.model.eval()
        loss_sum, correct, count = 0.0, 0, 0
        with no_grad():
            for x, y in loader:
                out = self.model(x)
                loss_sum += float(self.loss_fn(out, y).item()) * len(y)
                correct += _accuracy_count(out, y)
                count += len(y)
        return loss_sum / max(count, 1), correct / max(count, 1)

    def _train_epoch(self, epochs: int) -> dict:
        loader = self.train_loader
        self.model.train()
        p = self._partial
        bar = None
        if self.progress:
            bar = tqdm(
                total=len(loader),
                initial=self.batch,
                desc=f"epoch {self.epoch + 1}/{epochs}",
                unit="batch",
                dynamic_ncols=True,
                leave=True,
            )
        t0 = time.perf_counter() - p["seconds"]
        skip = self.batch
        for i, idx in enumerate(loader.index_batches()):
            if i < skip:
                continue
            x, y = loader.fetch(idx)
            out = self.model(x)
            loss = self.loss_fn(out, y)
            lv = float(loss.item())
            if not math.isfinite(lv):  # checked before the update, so the weights stay as they were
                raise TrainingDivergedError(
                    f"training diverged: the loss became {lv} at epoch {self.epoch + 1}, batch {i + 1} "
                    "(try a lower learning rate)"
                )
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()
            n = len(y)
            p["loss_sum"] += lv * n
            correct = _accuracy_count(out, y)
            p["correct"] += correct
            p["count"] += n
            w = self._window
            w[0], w[1], w[2] = w[0] + lv * n, w[1] + correct, w[2] + n
            self.batch = i + 1
            every = max(1, len(loader) // 50)
            if self.batch % every == 0 or self.batch == len(loader):
                self.steps.append(
                    {"epoch": self.epoch + self.batch / len(loader), "loss": w[0] / w[2], "acc": w[1] / w[2]}
                )
                self._window = [0.0, 0, 0]
            p["seconds"] = time.perf_counter() - t0
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    loss=f"{p['loss_sum'] / p['count']:.4f}",
                    acc=f"{100 * p['correct'] / p['count']:.2f}%",
                    img_s=f"{p['count'] / max(p['seconds'], 1e-9):.0f}",
                )
            for cb in self.callbacks:
                cb.on_batch_end(self, i, lv)
            if self._interrupted:
                raise KeyboardInterrupt
        if bar is not None:
            bar.close()
        return {
            "train_loss": p["loss_sum"] / max(p["count"], 1),
            "train_acc": p["correct"] / max(p["count"], 1),
            "seconds": p["seconds"],
        }

    def _on_signal(self, signum, frame) -> None:
        """Ctrl-C or SIGTERM: finish the current batch (weights and batch counter stay in step),
        save the checkpoint, stop. Repeats while that happens change nothing, except that a
        third one gives up at once (the checkpoint is then reported as not saved)."""
        self._interrupted = True
        self._signals += 1
        self._signame = signal.Signals(signum).name
        if self._signals >= 3:
            raise KeyboardInterrupt

    def fit(self, epochs: int) -> list[dict]:
        """Train until ``epochs`` epochs are complete (counting those of a resumed run).

        Raises :class:`TrainingInterrupted` on Ctrl-C/SIGTERM (after checkpointing between
        batches) and :class:`TrainingDivergedError` when the loss or the weights stop being finite."""
        self._interrupted, self._signals = False, 0
        main = threading.current_thread() is threading.main_thread()
        previous = {}
        if main:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._on_signal)
        try:
            return self._fit(epochs)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _weights_finite(self) -> bool:
        return all(np.isfinite(p._data).all() for p in self.model.parameters())

    def _save_on_interrupt(self) -> None:
        saved = False
        if self.checkpoint_path is not None:
            try:
                self.save_checkpoint()
                saved = True
            except KeyboardInterrupt:  # a third signal during the save: the previous file stays
                saved = False
        raise TrainingInterrupted(self._signame, saved, self.checkpoint_path)

    def _fit(self, epochs: int) -> list[dict]:
        while self.epoch < epochs:
            if self.batch == 0 and self.shuffle_gen is not None:
                self._epoch_shuffle_state = self.shuffle_gen.get_state()
            try:
                m = self._train_epoch(epochs)
            except KeyboardInterrupt:
                if self._signals >= 3:  # given up mid-batch: the weights may be ahead of the counter
                    raise TrainingInterrupted(self._signame, False, self.checkpoint_path) from None
                self._save_on_interrupt()
            lr = self.optimizer.param_groups[0]["lr"]
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                self.scheduler.step()
            metrics = {"epoch": self.epoch + 1, **m, "lr": lr}
            if not self._weights_finite():  # the last update overflowed: keep the last finite checkpoint
                raise TrainingDivergedError(
                    f"training diverged: the weights became infinite or NaN during epoch {self.epoch + 1} "
                    "(try a lower learning rate)"
                )
            if self.val_loader is not None:
                metrics["val_loss"], metrics["val_acc"] = self.evaluate(self.val_loader)
            self.history.append(metrics)
            self.epoch += 1
            self.batch = 0
            self._partial = {"loss_sum": 0.0, "correct": 0, "count": 0, "seconds": 0.0}
            if self.shuffle_gen is not None:
                self._epoch_shuffle_state = self.shuffle_gen.get_state()
            if self.checkpoint_path is not None:
                self.save_checkpoint()
            self._write_metrics()
            for cb in self.callbacks:
                cb.on_epoch_end(self, metrics)
        return self.history


def fit(
    model: gb.nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    optimizer: gb.optim.Optimizer,
    loss_fn: Callable,
    epochs: int,
    scheduler=None,
    callbacks: Sequence[Callback] = (),
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    scheduler_interval: str = "epoch",
    config: dict | None = None,
    progress: bool = True,
) -> list[dict]:
    """Train for ``epochs`` epochs; returns the per-epoch metrics (epoch, train_loss, train_acc,
    val_loss, val_acc, seconds, lr). With ``out_dir``: metrics.jsonl, curves.png and
    checkpoint.safetensors there; ``resume=True`` continues from that checkpoint (or from the
    checkpoint.npz of a run written before gradbox 0.2's safetensors checkpoints)."""
    trainer = Trainer(
        model,
        optimizer,
        loss_fn,
        train_loader,
        val_loader,
        scheduler,
        scheduler_interval,
        out_dir,
        config,
        callbacks,
        progress,
    )
    if resume:
        found = None if out_dir is None else existing_checkpoint(Path(out_dir))
        if found is None:
            raise FileNotFoundError(f"resume: no checkpoint at {trainer.checkpoint_path}")
        trainer.load_checkpoint(found)
    return trainer.fit(epochs)
