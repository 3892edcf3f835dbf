"""``gb.vision``: torchvision's layout under gradbox: ``datasets``, ``transforms``, ``models``."""

from gradbox.vision import datasets, models, transforms

__all__ = ["datasets", "models", "transforms"]
