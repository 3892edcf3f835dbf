"""Small real datasets and a synthetic one: MNIST-1D and scikit-learn's 8x8 digits (gradbox's,
items are tensors), and torchvision's FakeData (items are PIL images)."""

from __future__ import annotations

import gzip
import importlib.metadata
import os
from pathlib import Path

import numpy as np

from gradbox.vision.datasets._files import atomic_write
from gradbox.vision.datasets.base import ArrayDataset, VisionDataset


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
            atomic_write(cache, lambda f: np.savez(f, x=d["x"], y=d["y"], x_test=d["x_test"], y_test=d["y_test"]))
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


class FakeData(VisionDataset):
    """``FakeData(size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
    target_transform=None, random_offset=0)``: random uint8 images (PIL, mode 'L' for one
    channel, 'RGB' for three) and labels; item i depends only on i + random_offset (its own
    seeded generator), never on the global random state."""

    def __init__(
        self,
        size: int = 1000,
        image_size: tuple[int, int, int] = (3, 224, 224),
        num_classes: int = 10,
        transform=None,
        target_transform=None,
        random_offset: int = 0,
    ) -> None:
        super().__init__(None, transform=transform, target_transform=target_transform)
        if image_size[0] not in (1, 2, 3, 4):
            raise ValueError(f"FakeData: image_size must be (C, H, W) with 1-4 channels, got {image_size}")
        self.size, self.num_classes = size, num_classes
        self.image_size, self.random_offset = tuple(image_size), random_offset

    def _sample(self, index: int) -> tuple[np.ndarray, int]:
        rng = np.random.default_rng(index + self.random_offset)
        c, h, w = self.image_size
        img = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
        return (img[:, :, 0] if c == 1 else img), int(rng.integers(0, self.num_classes))

    @property
    def _mode(self) -> str:
        return {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[self.image_size[0]]

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int):
        from PIL import Image  # deferred: Pillow loads when images are first used

        if not -self.size <= index < self.size:
            raise IndexError(f"{type(self).__name__} index out of range")
        img, target = self._sample(index % self.size)
        return self._apply(Image.fromarray(img, mode=self._mode), target)

    def get_batch(self, indices: np.ndarray):
        """The collated batch if the transform runs on batches, else ``NotImplemented``."""
        samples = [self._sample(int(i)) for i in indices]
        images = np.stack([s[0] for s in samples]) if samples else np.zeros((0, *self.image_size[1:]), np.uint8)
        return self._array_batch(images, self._mode, np.asarray([s[1] for s in samples], dtype=np.int64))
