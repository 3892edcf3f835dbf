"""``DataLoader``: batches of samples, shuffled reproducibly from gradbox's generator.

Each epoch with ``shuffle=True`` draws one seed from ``generator`` (or gradbox's default
generator) and permutes the indices with it, so ``gb.manual_seed`` fixes the order. Datasets
with ``get_batch(indices)`` are fetched a batch at a time (one fancy-indexing operation);
others sample by sample and are stacked by ``default_collate``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from gradbox.random import Generator, _gen
from gradbox.tensor import Tensor


def default_collate(batch: list):
    """Stack a list of samples: tensors/arrays along a new dim 0, numbers into a tensor,
    and tuples/lists/dicts field by field (tuples and lists give a list)."""
    first = batch[0]
    if isinstance(first, Tensor):
        return Tensor._wrap(np.stack([b._data for b in batch]))
    if isinstance(first, np.ndarray):
        return Tensor._wrap(np.stack(batch))
    if isinstance(first, bool | np.bool_):
        return Tensor._wrap(np.asarray(batch, dtype=np.bool_))
    if isinstance(first, int | np.integer):
        return Tensor._wrap(np.asarray(batch, dtype=np.int64))
    if isinstance(first, float | np.floating):
        return Tensor._wrap(np.asarray(batch, dtype=np.float64))
    if isinstance(first, str | bytes):
        return list(batch)
    if isinstance(first, Mapping):
        return {k: default_collate([b[k] for b in batch]) for k in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):
        return type(first)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(first, Sequence):  # tuples and lists of fields become a list, as in PyTorch
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(
        f"default_collate: batch must contain tensors, arrays, numbers, dicts or lists; found {type(first).__name__}"
    )


class SequentialSampler:
    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler:
    """A fresh permutation each epoch, from a seed drawn from ``generator``."""

    def __init__(
        self, data_source, replacement: bool = False, num_samples: int | None = None, generator: Generator | None = None
    ) -> None:
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num_samples = num_samples

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def permutation(self) -> np.ndarray:
        seed = int(_gen(self.generator).integers(0, 2**63 - 1))
        rng = np.random.default_rng(seed)
        n = len(self.data_source)
        if self.replacement:
            return rng.integers(0, n, self.num_samples)
        reps = -(-self.num_samples // n)
        return np.concatenate([rng.permutation(n) for _ in range(reps)])[: self.num_samples]

    def __iter__(self) -> Iterator[int]:
        return iter(self.permutation().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler:
    """Groups a sampler's indices into lists of ``batch_size`` (the last one shorter unless drop_last)."""

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        order = (
            self.sampler.permutation()
            if isinstance(self.sampler, RandomSampler)
            else np.fromiter(iter(self.sampler), dtype=np.int64)
        )
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        for s in range(0, stop, self.batch_size):
            yield order[s : s + self.batch_size]

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader`` (single process)."""

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler=None,
        batch_sampler=None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn=None,
        generator: Generator | None = None,
        *,
        prefetch_factor=None,
        persistent_workers: bool = False,
    ) -> None:
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError(
                "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
            )
        self.dataset, self.num_workers, self.generator = dataset, num_workers, generator
        self.batch_size, self.drop_last = batch_size, drop_last
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def index_batches(self) -> Iterator[np.ndarray]:
        """The index arrays of one epoch's batches, without fetching any data."""
        if self.batch_sampler is None:
            for i in self.sampler:
                yield np.asarray(i)
        else:
            for b in self.batch_sampler:
                yield np.asarray(b, dtype=np.int64)

    def fetch(self, indices: np.ndarray):
        """The collated batch for ``indices``."""
        if self.batch_sampler is None:  # batch_size=None: single samples, no collation
            sample = self.dataset[int(indices)]
            return self.collate_fn(sample) if self.collate_fn else sample
        if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(indices)
        samples = [self.dataset[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(samples)

    def __iter__(self):
        for idx in self.index_batches():
            yield self.fetch(idx)
