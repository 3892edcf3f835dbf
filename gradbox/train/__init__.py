"""``gb.train``: the training loop (beyond PyTorch: what a course otherwise writes by hand)."""

from gradbox.train.plots import plot_curves
from gradbox.train.trainer import Callback, Trainer, fit

__all__ = ["Callback", "Trainer", "fit", "plot_curves"]
