"""Small real datasets and a synthetic one: MNIST-1D, scikit-learn's 8x8 digits, FakeData."""

from __future__ import annotations

import gzip
import importlib.metadata
import os
from pathlib import Path

import numpy as np

from gradbox.vision.datasets.base import ArrayDataset


class MNIST1D(ArrayDataset):
    """MNIST-1D (Greydanus 2020): 40-sample 1-D signals of the ten digits' templates, shifted,
    scaled, sheared and noised; 4,000 train / 1,000 test, generated offline by the ``mnist1d``
    package with its default arguments (seed 42) and cached. Inputs are (1, 40)."""

    def __init__(
        self,
        root: str | os.PathLike = "data",
        train: bool = True,
        download: bool = True,
        transform=None,
        target_transform=None,
    ) -> None:
        cache = Path(root) / "MNIST1D" / "mnist1d.npz"
        if not cache.exists():
            try:
                # optional: mnist1d (the dev extra) generates the data once; the cache is used after
                from mnist1d.data import get_dataset_args, make_dataset
            except ImportError:
                raise RuntimeError(
                    "MNIST1D needs the mnist1d package to generate the data: pip install mnist1d"
                ) from None
            d = make_dataset(get_dataset_args())
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name("mnist1d.tmp.npz")
            np.savez(tmp, x=d["x"], y=d["y"], x_test=d["x_test"], y_test=d["y_test"])
            os.replace(tmp, cache)
        with np.load(cache) as z:
            x, y = (z["x"], z["y"]) if train else (z["x_test"], z["y_test"])
        super().__init__(x.astype(np.float32)[:, None, :], y.astype(np.int64), transform, target_transform)


class Digits(ArrayDataset):
    """scikit-learn's 8x8 handwritten digits (1,797 images, pixel values 0-16 scaled to [0, 1]),
    read from the file scikit-learn ships; a fixed 80/20 split (seeded permutation)."""

    def __init__(
        self,
        root: str | os.PathLike = "data",
        train: bool = True,
        download: bool = True,
        transform=None,
        target_transform=None,
        test_fraction: float = 0.2,
    ) -> None:
        try:
            dist = importlib.metadata.distribution("scikit-learn")
        except importlib.metadata.PackageNotFoundError:
            raise RuntimeError("Digits reads the copy shipped with scikit-learn: pip install scikit-learn") from None
        path = Path(dist.locate_file("sklearn/datasets/data/digits.csv.gz"))
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",")
        x = (table[:, :64] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
        y = table[:, 64].astype(np.int64)
        order = np.random.default_rng(0).permutation(len(y))
        n_test = int(round(len(y) * test_fraction))
        keep = order[n_test:] if train else order[:n_test]
        super().__init__(x[keep], y[keep], transform, target_transform)


class FakeData(ArrayDataset):
    """Seeded random images and labels (for tests and dry runs): the same ``seed`` gives the same data."""

    def __init__(
        self,
        size: int = 1000,
        image_size=(1, 28, 28),
        num_classes: int = 10,
        transform=None,
        target_transform=None,
        seed: int = 0,
        train: bool = True,
        root=None,
        download: bool = False,
    ) -> None:
        rng = np.random.default_rng(seed + (0 if train else 1))
        x = rng.random((size, *image_size), dtype=np.float32)
        y = rng.integers(0, num_classes, size).astype(np.int64)
        super().__init__(x, y, transform, target_transform)
