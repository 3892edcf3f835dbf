"""``gb.vision.datasets``: MNIST (IDX files), MNIST-1D, the 8x8 digits and FakeData; ``get_dataset`` by name."""

from __future__ import annotations

from gradbox.vision.datasets.idx import IDXError, read_idx, write_idx
from gradbox.vision.datasets.mnist import MNIST
from gradbox.vision.datasets.small import MNIST1D, Digits, FakeData

DATASETS = {"mnist": MNIST, "mnist1d": MNIST1D, "digits": Digits, "fakedata": FakeData}

# per dataset: input shape, number of classes, normalisation (mean, std)
INFO = {
    "mnist": ((1, 28, 28), 10, ((0.1307,), (0.3081,))),
    "mnist1d": ((1, 40), 10, None),
    "digits": ((1, 8, 8), 10, ((0.3,), (0.38,))),
    "fakedata": ((1, 28, 28), 10, None),
}


def get_dataset(name: str, **kwargs):
    """Build a dataset by name; an unknown name lists the valid ones."""
    key = name.lower()
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(sorted(DATASETS))}")
    return DATASETS[key](**kwargs)


__all__ = [
    "DATASETS",
    "INFO",
    "MNIST",
    "MNIST1D",
    "Digits",
    "FakeData",
    "IDXError",
    "get_dataset",
    "read_idx",
    "write_idx",
]
