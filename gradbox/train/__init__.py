"""``gb.train``: the training loop (beyond PyTorch: what a course otherwise writes by hand)."""

from gradbox.train.plots import plot_curves
from gradbox.train.runlock import RunDirectoryBusyError, RunLock
from gradbox.train.trainer import Callback, Trainer, TrainingDivergedError, TrainingInterrupted, fit

__all__ = [
    "Callback",
    "RunDirectoryBusyError",
    "RunLock",
    "Trainer",
    "TrainingDivergedError",
    "TrainingInterrupted",
    "fit",
    "plot_curves",
]
