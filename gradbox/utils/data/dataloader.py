"""``DataLoader``: batches of samples, with ``torch.utils.data.DataLoader``'s keywords and meaning.

Shuffling draws one seed per epoch from ``generator`` (or gradbox's default generator, so
``gb.manual_seed`` fixes the order). Datasets with ``get_batch(indices)`` are fetched a batch at
a time (one fancy-indexing operation); others sample by sample, merged by ``collate_fn``.

``num_workers > 0`` really loads in worker processes (``multiprocessing``; the platform's
default start method unless ``multiprocessing_context`` says otherwise): each worker gets a copy
of the dataset, is seeded with ``base_seed + worker_id`` (gradbox's generator, ``random`` and
NumPy's legacy global generator), runs ``worker_init_fn``, and fetches whole batches; at most
``prefetch_factor * num_workers`` batches are in flight, yielded in order unless
``in_order=False``. ``base_seed`` changes every epoch: it is derived from the epoch's shuffle
seed when the sampler is one of gradbox's random samplers (so the batches, every epoch, are
those of ``num_workers=0``), else drawn from ``generator`` (or gradbox's default generator).
``persistent_workers`` keeps the processes between epochs; ``timeout`` bounds the wait for a
batch; a worker that dies or raises stops the iteration with an error naming it. As in PyTorch,
with a start method other than fork (``spawn``, ``forkserver``) the dataset, ``collate_fn`` and
``worker_init_fn`` must be picklable (no lambdas).

``pin_memory`` and ``pin_memory_device`` are accepted and do nothing: pinned memory speeds up
copies to a GPU, and gradbox runs on the CPU.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import queue
import time
import warnings
from collections.abc import Callable, Iterator

import numpy as np

from gradbox.random import Generator, _gen
from gradbox.utils.data._collate import default_collate, default_convert
from gradbox.utils.data._worker import ExceptionWrapper, _IterableEnd, make_fetcher, worker_loop
from gradbox.utils.data.dataset import IterableDataset
from gradbox.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler


class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader`` (see the module
    docstring for workers, seeding and the keywords that cannot apply on a CPU)."""

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | None = None,
        batch_sampler: Sampler | None = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context=None,
        generator: Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 to enable "
                "multiprocessing, otherwise set prefetch_factor to None."
            )
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (False, None):
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified sampler option, but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified batch_sampler option, but got batch_sampler={batch_sampler}"
                )
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        if multiprocessing_context is not None:
            if num_workers == 0:
                raise ValueError(
                    "multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
                    f"but got num_workers={num_workers}"
                )
            if isinstance(multiprocessing_context, str):
                methods = multiprocessing.get_all_start_methods()
                if multiprocessing_context not in methods:
                    raise ValueError(
                        f"multiprocessing_context option should specify a valid start method in {methods!r}, "
                        f"but got multiprocessing_context={multiprocessing_context!r}"
                    )
                multiprocessing_context = multiprocessing.get_context(multiprocessing_context)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        self.num_workers, self.prefetch_factor, self.timeout = num_workers, prefetch_factor, timeout
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.persistent_workers, self.in_order = persistent_workers, in_order
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device  # no effect on a CPU
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._pool: _WorkerPool | None = None
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if num_workers > cpus:
            warnings.warn(
                f"This DataLoader will create {num_workers} worker processes in total. The suggested maximum "
                f"on this system is {cpus}; too many workers may make loading slow or freeze.",
                UserWarning,
                stacklevel=2,
            )

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
            return n
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    # ---- the single-process path, also used by gb.train ---------------------------------
    def index_batches(self) -> Iterator:
        """One epoch's batch indices (int64 arrays for gradbox's samplers), drawing the shuffle
        but fetching nothing; for an IterableDataset, an endless stream of placeholders."""
        if self._iterable:
            item = [None] * self.batch_size if self.batch_size is not None else None
            return itertools.repeat(item)
        if self.batch_sampler is None:
            return iter(self.sampler)
        if isinstance(self.batch_sampler, BatchSampler):
            return self.batch_sampler.index_arrays()
        return iter(self.batch_sampler)

    def fetch(self, indices):
        """The collated batch (or the sample, without batching) for ``indices`` of a map-style
        dataset, fetched in this process."""
        if self._iterable:
            raise TypeError("DataLoader.fetch is for map-style datasets; iterate over the loader instead")
        return make_fetcher(False, self.dataset, self._auto_collation, self.collate_fn, self.drop_last).fetch(indices)

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        return _MultiProcessIter(self)

    def __del__(self) -> None:
        pool = self.__dict__.get("_pool")
        if pool is not None:
            pool.shutdown()


class _SingleProcessIter:
    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._indices = loader.index_batches()
        self._fetcher = make_fetcher(
            loader._iterable, loader.dataset, loader._auto_collation, loader.collate_fn, loader.drop_last
        )

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self):
        return self._fetcher.fetch(next(self._indices))


class _WorkerPool:
    """``num_workers`` processes, their index queues and the shared result queue."""

    def __init__(self, loader: DataLoader, base_seed: int) -> None:
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self.result_queue = ctx.Queue()
        self.index_queues, self.workers = [], []
        self.closed = False
        n = loader.num_workers
        for wid in range(n):
            q = ctx.Queue()
            q.cancel_join_thread()
            args = (
                loader._iterable,
                loader.dataset,
                q,
                self.result_queue,
                loader._auto_collation,
                loader.collate_fn,
                loader.drop_last,
                base_seed,
                loader.worker_init_fn,
                wid,
                n,
            )
            w = ctx.Process(target=worker_loop, args=args, daemon=True)
            w.start()
            self.index_queues.append(q)
            self.workers.append(w)
        self.epoch = 0

    def new_epoch(self) -> int:
        self.epoch += 1
        for q in self.index_queues:
            q.put(("reset", self.epoch))
        return self.epoch

    def shutdown(self, wait: float = 2.0) -> None:
        """Ask the workers to stop; those still busy after ``wait`` seconds are terminated."""
        if self.closed:
            return
        self.closed = True
        for q in self.index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + wait
        for w in self.workers:
            w.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.is_alive():
                w.terminate()
                w.join(timeout=1)
        for q in [*self.index_queues, self.result_queue]:
            q.cancel_join_thread()
            q.close()


class _MultiProcessIter:
    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        sampler = loader.sampler
        if isinstance(sampler, Sampler):
            sampler.epoch_seed = None
        self._indices = loader.index_batches()
        self._first = next(self._indices, _END)  # draws this epoch's shuffle, if any
        epoch_seed = getattr(sampler, "epoch_seed", None)
        if epoch_seed is not None:  # derived from the shuffle's seed: the batches stay those of num_workers=0
            base_seed = int(np.random.default_rng(np.random.SeedSequence(epoch_seed).spawn(1)[0]).integers(0, 2**62))
        else:
            base_seed = int(_gen(loader.generator).integers(0, 2**62))
        pool = loader._pool
        if loader.persistent_workers and pool is not None and not pool.closed:
            self._epoch = pool.new_epoch()
        else:
            pool = _WorkerPool(loader, base_seed)
            self._epoch = pool.epoch
            if loader.persistent_workers:
                loader._pool = pool
        self._pool = pool
        n = loader.num_workers
        self._active = [True] * n
        self._cycle = itertools.cycle(range(n))
        self._tasks: dict[int, int] = {}  # task -> worker, for tasks sent and not yet yielded
        self._buffer: dict[int, object] = {}
        self._sent = self._next = 0
        self._exhausted = False
        for _ in range(max(1, loader.prefetch_factor * n)):
            self._send()

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def _send(self) -> None:
        if self._exhausted:
            return
        for _ in range(len(self._active)):
            wid = next(self._cycle)
            if self._active[wid]:
                break
        else:
            return
        if self._first is not _END:
            index, self._first = self._first, _END
        else:
            index = next(self._indices, _END)
        if index is _END:
            self._exhausted = True
            return
        self._pool.index_queues[wid].put((self._epoch, self._sent, index))
        self._tasks[self._sent] = wid
        self._sent += 1

    def _receive(self):
        timeout = self._loader.timeout
        start = time.monotonic()
        while True:
            try:
                return self._pool.result_queue.get(timeout=0.5)
            except queue.Empty:
                dead = [str(w.pid) for w in self._pool.workers if not w.is_alive()]
                if dead:
                    self._pool.shutdown(wait=0.0)
                    raise RuntimeError(f"DataLoader worker (pid(s) {', '.join(dead)}) exited unexpectedly") from None
                if timeout > 0 and time.monotonic() - start >= timeout:
                    self._pool.shutdown(wait=0.0)
                    raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None

    def _deliver(self, task: int, data):
        del self._tasks[task]
        self._send()
        if isinstance(data, ExceptionWrapper):
            self._stop()
            data.reraise()
        return data

    def __next__(self):
        in_order = self._loader.in_order
        while True:
            if in_order:
                while self._next < self._sent and self._next not in self._tasks:
                    self._next += 1  # a task whose worker's iterable had ended
                if self._next in self._buffer:
                    task = self._next
                    self._next += 1
                    return self._deliver(task, self._buffer.pop(task))
            if not self._tasks:
                self._stop()
                raise StopIteration
            epoch, task, data = self._receive()
            if epoch != self._epoch or task not in self._tasks:
                continue  # left over from an abandoned epoch of persistent workers
            if isinstance(data, _IterableEnd):
                self._active[data.worker_id] = False
                del self._tasks[task]
                self._send()  # keep the remaining workers busy
                continue
            if in_order and task != self._next:
                self._buffer[task] = data
                continue
            if in_order:
                self._next += 1
            return self._deliver(task, data)

    def _stop(self) -> None:
        if not self._loader.persistent_workers:
            self._pool.shutdown()

    def __del__(self) -> None:
        if "_pool" in self.__dict__:
            self._stop()


_END = object()
