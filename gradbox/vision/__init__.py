"""``gb.vision``: torchvision's layout under gradbox: ``datasets``, ``transforms``, ``models``, ``utils``."""

from gradbox.vision import datasets, models, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]
