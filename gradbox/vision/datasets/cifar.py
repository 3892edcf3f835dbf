"""CIFAR-10 (Krizhevsky 2009) from its *binary* version, never the pickled one.

``root/cifar-10-batches-bin/`` holds ``data_batch_1.bin`` .. ``data_batch_5.bin`` (training,
10,000 images each) and ``test_batch.bin``: each record is 1 label byte then 3072 pixel bytes,
the 1024 red values of the 32x32 image row by row, then the green, then the blue.
``batches.meta.txt`` names the classes, one per line. The archive
``cifar-10-binary.tar.gz`` (MD5-checked) is extracted when it is in ``root`` or downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gradbox.vision.datasets._files import download, extract_members, file_digest, not_found
from gradbox.vision.datasets.base import VisionDataset

RECORD = 1 + 3 * 32 * 32


def read_cifar_binary(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8, labels (N,) int64) from one binary batch file."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD:
        raise ValueError(
            f"{path}: {raw.size} bytes is not a whole number of CIFAR-10 records ({RECORD} bytes each: 1 label + 3072 pixels); truncated or not the binary version"
        )
    rec = raw.reshape(-1, RECORD)
    labels = rec[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ValueError(f"{path}: labels must lie in 0..9, found {labels.max()} (not a CIFAR-10 binary batch)")
    images = np.ascontiguousarray(rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels


class CIFAR10(VisionDataset):
    """``CIFAR10(root, train=True, transform=None, target_transform=None, download=False)``.

    ``data`` is a (N, 32, 32, 3) uint8 array and ``targets`` a list of ints, as in torchvision;
    ``dataset[i]`` is ``(PIL image 'RGB' 32x32, int)`` before the transforms.
    """

    base_folder = "cifar-10-batches-bin"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    filename = "cifar-10-binary.tar.gz"
    tgz_md5 = "c32a1d4ab5d03f1284b67883e8d87530"
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]
    meta_file = "batches.meta.txt"
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(
        self,
        root: str | os.PathLike,
        train: bool = True,
        transform=None,
        target_transform=None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        self._ensure_files(download)
        folder = Path(self.root) / self.base_folder
        parts = [read_cifar_binary(folder / name) for name in (self.train_list if train else self.test_list)]
        self.data = np.concatenate([p[0] for p in parts])
        self.targets = np.concatenate([p[1] for p in parts]).tolist()
        meta = folder / self.meta_file
        if meta.is_file():
            names = [line.strip() for line in meta.read_text().splitlines() if line.strip()]
            if len(names) == 10:
                self.classes = names
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def _check_exists(self) -> bool:
        folder = Path(self.root) / self.base_folder
        return all((folder / n).is_file() for n in self.train_list + self.test_list)

    def download(self) -> None:
        """Fetch the binary archive (MD5-checked) unless it is in ``root``, and extract its batches."""
        if self._check_exists():
            return
        archive = Path(self.root) / self.filename
        if not archive.is_file():
            download([self.url], archive, self.tgz_md5)
        self._extract(archive)

    def _extract(self, archive: Path) -> None:
        if file_digest(archive) != self.tgz_md5:
            raise OSError(f"{archive}: MD5 {file_digest(archive)} differs from the official archive's {self.tgz_md5}")
        folder = Path(self.root) / self.base_folder
        names = self.train_list + self.test_list + [self.meta_file]
        extract_members(archive, {f"{self.base_folder}/{n}": folder / n for n in names})

    def _ensure_files(self, download: bool) -> None:
        if self._check_exists():
            return
        archive = Path(self.root) / self.filename
        reason = "download=False"
        try:
            if archive.is_file():
                self._extract(archive)
                return
            if download:
                self.download()
                return
        except OSError as e:
            reason = f"{'extracting' if archive.is_file() else 'downloading'} failed: {e}"
        files = [f"{self.base_folder}/{n}" for n in self.train_list + self.test_list] + [
            f"(or the archive {self.filename} itself, MD5 {self.tgz_md5})"
        ]
        raise not_found("CIFAR10", Path(self.root), files, reason, self.url)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        from PIL import Image  # deferred: Pillow loads when images are first used

        return self._apply(Image.fromarray(self.data[index]), int(self.targets[index]))

    def get_batch(self, indices: np.ndarray):
        """The collated batch if the transform runs on batches, else ``NotImplemented``."""
        targets = self.targets  # a list, as torchvision's: read only the batch's entries
        return self._array_batch(self.data[indices], "RGB", np.asarray([targets[i] for i in indices.tolist()]))

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"
