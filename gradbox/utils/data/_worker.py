"""What a DataLoader worker process runs, and the fetchers shared with single-process loading.

A worker receives ``(epoch, task, index)`` messages on its own queue, fetches the batch (or
sample) for ``index`` exactly as the main process would, and puts ``(epoch, task, data)`` on
the shared result queue. Exceptions travel back as :class:`ExceptionWrapper` and are re-raised
in the main process naming the worker. ``None`` stops the worker; ``("reset", epoch)`` (from
persistent workers at a new epoch) restarts an iterable dataset's iterator.
"""

from __future__ import annotations

import random
import signal
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradbox.random import manual_seed
from gradbox.utils.data._collate import default_collate


@dataclass(frozen=True)
class WorkerInfo:
    """Inside a worker process: its ``id`` (0..num_workers-1), ``num_workers``, the ``seed``
    gradbox's default generator was seeded with, and its copy of the ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The :class:`WorkerInfo` of the current DataLoader worker; ``None`` in the main process."""
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback."""

    def __init__(self, where: str) -> None:
        exc_type, exc, _ = sys.exc_info()
        self.exc_type = exc_type
        self.where = where
        self.text = "".join(traceback.format_exception(exc))

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.text}"
        if self.exc_type is KeyError:  # KeyError would print the message with escaped newlines
            raise RuntimeError(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:  # noqa: BLE001 - an exception type that needs other arguments
            raise RuntimeError(msg) from None
        raise exc


class _IterableEnd:
    """A worker's iterable dataset is exhausted."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id


def _int_array(index) -> np.ndarray | None:
    if isinstance(index, np.ndarray):
        return index if index.dtype.kind in "iu" else None
    if all(isinstance(i, int | np.integer) and not isinstance(i, bool) for i in index):
        return np.asarray(index, dtype=np.int64)
    return None


class MapFetcher:
    """Fetch from a map-style dataset: ``dataset.get_batch`` when the collate function is the
    default one and the dataset can (see ``gb.utils.data.dataset``), else ``__getitems__`` or
    ``dataset[i]`` per index, then ``collate_fn``."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool) -> None:
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn

    def fetch(self, index):
        ds = self.dataset
        if not self.auto_collation:
            return self.collate_fn(ds[index.item() if isinstance(index, np.generic) else index])
        if self.collate_fn is default_collate:
            get_batch = getattr(ds, "get_batch", None)
            arr = _int_array(index) if get_batch is not None else None
            if arr is not None:
                out = get_batch(arr)
                if out is not NotImplemented:
                    return out
        items = index.tolist() if isinstance(index, np.ndarray) else index
        getitems = getattr(ds, "__getitems__", None)
        data = getitems(items) if callable(getitems) else [ds[i] for i in items]
        return self.collate_fn(data)


class IterableFetcher:
    """Fetch the next sample (or the next ``len(index)`` samples, collated) from an iterator;
    ``StopIteration`` when it is exhausted (or, with ``drop_last``, the batch would be short)."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool) -> None:
        self.iterator = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        data = []
        for _ in index:
            try:
                data.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def make_fetcher(iterable: bool, dataset, auto_collation: bool, collate_fn, drop_last: bool):
    return (IterableFetcher if iterable else MapFetcher)(dataset, auto_collation, collate_fn, drop_last)


def worker_loop(
    iterable: bool,
    dataset,
    index_queue,
    result_queue,
    auto_collation: bool,
    collate_fn,
    drop_last: bool,
    base_seed: int,
    init_fn,
    worker_id: int,
    num_workers: int,
) -> None:
    """The body of worker ``worker_id``: seed, run ``init_fn``, then serve fetch requests."""
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(seed % 2**32)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    failed = None
    fetcher = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
    except Exception:  # noqa: BLE001 - sent to the main process with the first result
        failed = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
    while True:
        msg = index_queue.get()
        if msg is None:
            break
        if msg[0] == "reset":
            if failed is None:
                try:
                    fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
                except Exception:  # noqa: BLE001
                    failed = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
            continue
        epoch, task, index = msg
        if failed is not None:
            data, failed = failed, None
        else:
            try:
                data = fetcher.fetch(index)
            except StopIteration:
                data = _IterableEnd(worker_id) if iterable else _stop_error(worker_id)
            except Exception:  # noqa: BLE001
                data = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
        result_queue.put((epoch, task, data))
    result_queue.cancel_join_thread()


def _stop_error(worker_id: int) -> ExceptionWrapper:
    try:
        raise RuntimeError("a map-style dataset raised StopIteration")
    except RuntimeError:
        return ExceptionWrapper(f"in DataLoader worker process {worker_id}")
