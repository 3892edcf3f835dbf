"""``gb.vision.datasets``: torchvision's MNIST, FashionMNIST, KMNIST, CIFAR10 (binary version),
FakeData, ImageFolder/DatasetFolder, plus gradbox's MNIST-1D and 8x8 digits; ``get_dataset``
builds the training command's datasets by name."""

from __future__ import annotations

from gradbox.vision.datasets.base import VisionDataset
from gradbox.vision.datasets.cifar import CIFAR10
from gradbox.vision.datasets.folder import IMG_EXTENSIONS, DatasetFolder, ImageFolder, default_loader, pil_loader
from gradbox.vision.datasets.idx import IDXError, read_idx, write_idx
from gradbox.vision.datasets.mnist import KMNIST, MNIST, FashionMNIST
from gradbox.vision.datasets.small import MNIST1D, Digits, FakeData
from gradbox.vision.transforms import Compose, ToTensor


def _tensor_items(transform):
    return ToTensor() if transform is None else Compose([ToTensor(), transform])


def _image_dataset(cls):
    def build(root="data", train: bool = True, transform=None, target_transform=None, download: bool = True):
        return cls(
            root, train=train, transform=_tensor_items(transform), target_transform=target_transform, download=download
        )

    build.__doc__ = f"{cls.__name__} with tensor items: ToTensor() then ``transform``."
    return build


def _fakedata(size: int = 512, train: bool = True, transform=None, target_transform=None, **_ignored):
    """FakeData of 1x28x28 images with tensor items; the test split uses other seeds."""
    return FakeData(size, (1, 28, 28), 10, _tensor_items(transform), target_transform, 0 if train else 10**6)


# The training command's datasets, by name. Each builder yields tensors (images through
# ToTensor first), so a transform given to it works on tensors and, when it can, on batches.
DATASETS = {
    "mnist": _image_dataset(MNIST),
    "fashionmnist": _image_dataset(FashionMNIST),
    "kmnist": _image_dataset(KMNIST),
    "cifar10": _image_dataset(CIFAR10),
    "mnist1d": MNIST1D,
    "digits": Digits,
    "fakedata": _fakedata,
}

# per dataset: input shape, number of classes, normalisation (mean, std)
INFO = {
    "mnist": ((1, 28, 28), 10, ((0.1307,), (0.3081,))),
    "fashionmnist": ((1, 28, 28), 10, ((0.2860,), (0.3530,))),
    "kmnist": ((1, 28, 28), 10, ((0.1918,), (0.3483,))),
    "cifar10": ((3, 32, 32), 10, ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))),
    "mnist1d": ((1, 40), 10, None),
    "digits": ((1, 8, 8), 10, ((0.3,), (0.38,))),
    "fakedata": ((1, 28, 28), 10, None),
}


def get_dataset(name: str, **kwargs):
    """Build a dataset of the training command by name (items are tensors); an unknown name
    lists the valid ones."""
    key = name.lower()
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(sorted(DATASETS))}")
    return DATASETS[key](**kwargs)


__all__ = [
    "CIFAR10",
    "DATASETS",
    "IMG_EXTENSIONS",
    "INFO",
    "KMNIST",
    "MNIST",
    "MNIST1D",
    "DatasetFolder",
    "Digits",
    "FakeData",
    "FashionMNIST",
    "IDXError",
    "ImageFolder",
    "VisionDataset",
    "default_loader",
    "get_dataset",
    "pil_loader",
    "read_idx",
    "write_idx",
]
