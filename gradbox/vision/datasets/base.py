"""``ArrayDataset``: samples from in-memory arrays, fetched one at a time or a batch at once."""

from __future__ import annotations

import numpy as np

from gradbox.tensor import Tensor
from gradbox.utils.data import Dataset


class ArrayDataset(Dataset):
    """Inputs and int64 labels held as arrays; ``get_batch`` indexes both once per batch and
    applies ``transform`` to the whole batch. Subclasses may convert stored inputs in ``_inputs``."""

    def __init__(self, inputs: np.ndarray, targets: np.ndarray, transform=None, target_transform=None) -> None:
        self.data, self.targets = inputs, targets
        self.transform, self.target_transform = transform, target_transform

    def _inputs(self, index) -> np.ndarray:
        return self.data[index]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        x = Tensor._wrap(self._inputs(i))
        y = int(self.targets[i])
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def get_batch(self, indices: np.ndarray):
        x = Tensor._wrap(self._inputs(indices))
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            return x, [self.target_transform(int(t)) for t in self.targets[indices]]
        return x, Tensor._wrap(self.targets[indices])
