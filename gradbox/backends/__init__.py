"""``gb.backends``: PyTorch's backend switches, answered for a CPU-only NumPy framework."""

from gradbox.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
