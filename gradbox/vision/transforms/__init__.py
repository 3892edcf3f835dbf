"""``gb.vision.transforms``: torchvision's transforms on PIL images and tensor images
(..., C, H, W), with ``functional`` and ``v2`` as in torchvision.

``batch`` holds gradbox's batch-native random transforms (per-image parameters for a whole
(B, C, H, W) batch), which the training command uses; ``mnist_augment`` is re-exported here.
"""

from gradbox.vision.transforms import batch, functional, v2
from gradbox.vision.transforms.batch import mnist_augment
from gradbox.vision.transforms.functional import InterpolationMode
from gradbox.vision.transforms.transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    ConvertImageDtype,
    Grayscale,
    Lambda,
    Normalize,
    Pad,
    PILToTensor,
    RandomAffine,
    RandomApply,
    RandomCrop,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomVerticalFlip,
    Resize,
    ToPILImage,
    ToTensor,
    Transform,
)

__all__ = [
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "ConvertImageDtype",
    "Grayscale",
    "InterpolationMode",
    "Lambda",
    "Normalize",
    "PILToTensor",
    "Pad",
    "RandomAffine",
    "RandomApply",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomVerticalFlip",
    "Resize",
    "ToPILImage",
    "ToTensor",
    "Transform",
    "batch",
    "functional",
    "mnist_augment",
    "v2",
]
