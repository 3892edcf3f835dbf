"""A small thread pool for splitting large copies and element-wise passes across cores.

NumPy releases the GIL inside large ufunc loops and copies, so running the halves of a big
array operation in two threads uses both cores where one NumPy call uses one. Work below
``MIN_BYTES`` runs inline (the thread hand-off costs ~20-50 us).

Off by default (one chunk): on the 2-core VM of benchmarks/profile_step.py, with other
processes keeping the load average at 5-6, two chunks were no faster than one (MNIST-CNN convolution
and pooling forward + backward: 370 vs 369 ms with 2 OpenBLAS threads, 263 vs 239 ms with 1),
because OpenBLAS's own worker threads and the other processes already occupy the second core.
``GRADBOX_THREADS=2`` (or ``set_threads(2)``) turns it on; tests/test_speed_paths.py checks that
the split gives bit-identical results.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

MIN_BYTES = 1 << 20


def _threads_from_env() -> int:
    v = os.environ.get("GRADBOX_THREADS")
    return max(1, int(v)) if v else 1


threads = _threads_from_env()
_pool: ThreadPoolExecutor | None = None


def set_threads(n: int) -> int:
    """Set the number of worker chunks (1 = serial); returns the previous value."""
    global threads
    old, threads = threads, max(1, int(n))
    return old


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=max(threads, 2), thread_name_prefix="gradbox")
    return _pool


def bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` near-equal [lo, hi) ranges covering range(n), empty ones dropped."""
    step, extra = divmod(n, parts)
    out, lo = [], 0
    for i in range(parts):
        hi = lo + step + (i < extra)
        if hi > lo:
            out.append((lo, hi))
        lo = hi
    return out


def chunked(fn: Callable[[int, int], None], n: int, nbytes: int) -> None:
    """Call ``fn(lo, hi)`` over a split of range(n): in the pool's threads when the work is large
    (``nbytes`` touched in all) and there is more than one thread, else once inline. ``fn`` must
    write disjoint outputs for disjoint ranges."""
    parts = min(threads, n)
    if parts <= 1 or nbytes < MIN_BYTES:
        fn(0, n)
        return
    spans = bounds(n, parts)
    futs = [_executor().submit(fn, lo, hi) for lo, hi in spans[1:]]
    fn(*spans[0])
    for f in futs:
        f.result()
