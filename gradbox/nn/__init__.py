"""``gb.nn``: modules, layers and losses with PyTorch's names, arguments and defaults."""

from gradbox.nn import functional, init, utils
from gradbox.nn.modules import *  # noqa: F403
from gradbox.nn.parameter import Buffer, Parameter
