"""``VisionDataset`` (torchvision's base class) and the whole-batch path of array-backed datasets."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from gradbox.tensor import Tensor
from gradbox.utils.data import Dataset, default_collate
from gradbox.vision.transforms._batch import ImageBatch, apply_to_batch


class StandardTransform:
    """``transform`` on the input and ``target_transform`` on the target."""

    def __init__(self, transform: Callable | None = None, target_transform: Callable | None = None) -> None:
        self.transform, self.target_transform = transform, target_transform

    def __call__(self, sample, target):
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    @staticmethod
    def _format(transform, head: str) -> list[str]:
        lines = repr(transform).splitlines()
        return [f"{head}{lines[0]}"] + [" " * len(head) + line for line in lines[1:]]

    def __repr__(self) -> str:
        body = [type(self).__name__]
        if self.transform is not None:
            body += self._format(self.transform, "Transform: ")
        if self.target_transform is not None:
            body += self._format(self.target_transform, "Target transform: ")
        return "\n".join(body)


class VisionDataset(Dataset):
    """Base class of the vision datasets: ``root``, ``transform``, ``target_transform`` (or a
    joint ``transforms``) and torchvision's ``repr``."""

    _repr_indent = 4

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        transforms: Callable | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        if isinstance(root, str):
            root = os.path.expanduser(root)
        self.root = root
        separate = transform is not None or target_transform is not None
        if transforms is not None and separate:
            raise ValueError("Only transforms or transform/target_transform can be passed as argument")
        self.transform, self.target_transform = transform, target_transform
        self.transforms = StandardTransform(transform, target_transform) if separate else transforms

    def _apply(self, img, target):
        return self.transforms(img, target) if self.transforms is not None else (img, target)

    def _array_batch(self, images: np.ndarray, mode: str, targets: np.ndarray):
        """The collated batch from stacked raw images, if ``transform`` can run on a batch
        (``_batch``) and no joint ``transforms`` was given; else ``NotImplemented``."""
        if self.transform is None or not isinstance(self.transforms, StandardTransform):
            return NotImplemented  # raw PIL images do not collate; let the per-sample path say so
        x = apply_to_batch(self.transform, ImageBatch(images, mode))
        if x is NotImplemented:
            return NotImplemented
        if self.target_transform is None:
            return x, Tensor._wrap(np.asarray(targets, dtype=np.int64))
        return x, default_collate([self.target_transform(int(t)) for t in targets])

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        body = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += self.extra_repr().splitlines()
        if self.transforms is not None:
            body += repr(self.transforms).splitlines()
        return "\n".join([f"Dataset {type(self).__name__}"] + [" " * self._repr_indent + line for line in body])


class ArrayDataset(Dataset):
    """Inputs (already tensors, not images) and int64 labels held as arrays; ``get_batch``
    applies ``transform`` to the whole batch when it can run on batches (``_batch``)."""

    def __init__(self, inputs: np.ndarray, targets: np.ndarray, transform=None, target_transform=None) -> None:
        self.data, self.targets = inputs, targets
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        x = Tensor._wrap(self.data[i])
        y = int(self.targets[i])
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def get_batch(self, indices: np.ndarray):
        x = Tensor._wrap(self.data[indices])
        if self.transform is not None:
            x = apply_to_batch(self.transform, x)
            if x is NotImplemented:
                return NotImplemented
        if self.target_transform is not None:
            return x, default_collate([self.target_transform(int(t)) for t in self.targets[indices]])
        return x, Tensor._wrap(self.targets[indices])
