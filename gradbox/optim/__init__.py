"""``gb.optim``: optimizers with PyTorch's update rules (stated in each docstring) and schedulers.

Each rule is also a function over lists of NumPy arrays, as in ``torch.optim``: ``sgd.sgd``,
``adam.adam`` / ``adam.adamw`` / ``adam.nadam``, ``adaptive.rmsprop`` / ``adaptive.adagrad`` /
``adaptive.adadelta``.
"""

from gradbox.optim import lr_scheduler
from gradbox.optim.adam import Adam, AdamW, NAdam
from gradbox.optim.adaptive import Adadelta, Adagrad, RMSprop
from gradbox.optim.optimizer import Optimizer
from gradbox.optim.sgd import SGD

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "NAdam", "Optimizer", "RMSprop", "lr_scheduler"]
