"""``gb.train``: the training loop (beyond PyTorch: what a course otherwise writes by hand)."""

from gradbox.train.plots import plot_curves
from gradbox.train.runlock import RunDirectoryBusyError, RunLock
from gradbox.train.trainer import (
    CHECKPOINT_NAME,
    Callback,
    Trainer,
    TrainingDivergedError,
    TrainingInterrupted,
    existing_checkpoint,
    fit,
)

__all__ = [
    "CHECKPOINT_NAME",
    "Callback",
    "RunDirectoryBusyError",
    "RunLock",
    "Trainer",
    "TrainingDivergedError",
    "TrainingInterrupted",
    "existing_checkpoint",
    "fit",
    "plot_curves",
]
