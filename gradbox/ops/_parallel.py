"""Intra-op parallelism: large ops split over blocks of samples (or rows), one thread per block.

NumPy releases the GIL inside large ufunc loops, copies and BLAS calls, so running the halves
of a big operation in two threads uses both cores where one NumPy call uses one. A convolution
runs as one pipeline per block of samples (im2col, product, output layout), and a large matrix
product as one product per block of rows or columns (``_kernels.gemm``), each single-threaded,
instead of a sequence of whole-batch passes where only the products are threaded by BLAS.

With more than one thread, gradbox therefore holds NumPy's BLAS at one thread, process-wide
(through threadpoolctl), from the first op it splits on: OpenBLAS's worker threads keep
spinning on the other core for a while after every threaded product, so a threaded product
next to a split pass makes the two fight over the cores (np.maximum on a 9 MB array: 0.90 ms
whole, 1.04 ms halved right after a threaded product, 0.50 ms halved otherwise), and switching
BLAS back and forth per op kept them spinning. Measured on the 2-core VM, ms per training step in alternating fresh
processes, BLAS threaded and gradbox serial -> BLAS held at one thread and gradbox split in two:
CIFAR CNN 75.6-85.2 -> 68.9-74.1, MNIST CNN 69.7-77.0 -> 59.4-69.4 (three runs each); ResNet-18
1108 -> 970 and LeNet-5 (64) 7.9 -> 7.5 (one run each), with a third less CPU time. Until
then (a program whose ops are all too small to split, e.g. an MLP) BLAS keeps its threads and
threads every product itself: holding it from import and threading only the mid-size products
made the MLP's step 2.5-6% slower (1.98 vs 1.87 ms alternating in one process, slower in 13
of 16 rounds; 10 of 12 and 9 of 16 in two more such runs). Halving the columns of a product as
strided views of one im2col matrix gained nothing (OpenBLAS with a long leading dimension); each
block builds its own contiguous columns.

``gb.set_num_threads(n)`` sets the number of blocks (default: the CPUs, or ``GRADBOX_THREADS``);
``GRADBOX_THREADS=1`` in the environment makes gradbox run serially and leave BLAS alone. Work
below ``MIN_BYTES`` runs inline (a thread hand-off costs ~20-50 us), and a split inside a block
(an op called from a block) runs inline too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

MIN_BYTES = 1 << 20


def _threads_from_env() -> int:
    v = os.environ.get("GRADBOX_THREADS", "").strip()
    if not v:
        return max(1, os.cpu_count() or 1)
    if not v.isdigit() or int(v) < 1:
        raise ValueError(f"GRADBOX_THREADS must be a positive integer (the threads gradbox splits large ops over), got {v!r}")
    return int(v)


threads = _threads_from_env()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_local = threading.local()  # .busy: this thread is running a block
_blas_libs: list | None = None
_split_seen = False


def set_threads(n: int) -> int:
    """Set the number of blocks a large op is split into (1 = serial); returns the previous value."""
    global threads
    old, threads = threads, max(1, int(n))
    hold_blas(threads if threads > 1 and not _split_seen else 1)
    return old


def _executor() -> ThreadPoolExecutor:
    global _pool, _pool_size
    if _pool is None or _pool_size < threads - 1:
        _pool_size = max(threads - 1, 1)
        _pool = ThreadPoolExecutor(max_workers=_pool_size, thread_name_prefix="gradbox")
    return _pool


def blas_libraries() -> list:
    """threadpoolctl's controllers of the OpenBLAS libraries loaded in this process (none
    without threadpoolctl)."""
    global _blas_libs
    if _blas_libs is None:
        try:
            from threadpoolctl import ThreadpoolController  # deferred: after NumPy has loaded its BLAS
        except ImportError:  # the split still works; BLAS may then oversubscribe the cores
            _blas_libs = []
        else:
            _blas_libs = list(ThreadpoolController().select(internal_api="openblas").lib_controllers)
    return _blas_libs


def hold_blas(n: int = 1) -> None:
    """Set the OpenBLAS thread count (gradbox's splits run single-threaded products)."""
    for lib in blas_libraries():
        lib.set_num_threads(n)


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


def split_seen() -> bool:
    """True once an op has run split in this process (a function of the program, not of timing);
    from then on BLAS is held at one thread."""
    return _split_seen


def busy() -> bool:
    """True inside a block (a nested split would run inline)."""
    return getattr(_local, "busy", False)


def spans(n: int, nbytes: int) -> list[tuple[int, int]]:
    """The blocks ``chunked`` would split range(n) into for work touching ``nbytes``."""
    if threads <= 1 or n <= 1 or nbytes < MIN_BYTES or busy():
        return [(0, n)] if n > 0 else []
    return bounds(n, min(threads, n))


def _block(fn: Callable[[int, int], None], lo: int, hi: int) -> None:
    _local.busy = True
    try:
        fn(lo, hi)
    finally:
        _local.busy = False


def run(fn: Callable[[int, int], None], blocks: list[tuple[int, int]]) -> None:
    """Call ``fn(lo, hi)`` for each block, in parallel when there are several. ``fn`` must write
    disjoint outputs for disjoint blocks."""
    if len(blocks) <= 1:
        for lo, hi in blocks:
            fn(lo, hi)
        return
    global _split_seen
    if not _split_seen:
        hold_blas(1)  # before any block runs its single-threaded product
        _split_seen = True
    futs = [_executor().submit(_block, fn, lo, hi) for lo, hi in blocks[1:]]
    error = None
    try:
        _block(fn, *blocks[0])
    except BaseException as e:  # every block finishes before the caller sees an error
        error = e
    late = join(futs)
    error = error or late
    if error is not None:
        raise error


def join(futures: list) -> BaseException | None:
    """Wait for the other threads' blocks; the first error one raised, if any. (Its own
    function so that benchmarks/profile_step.py can time the wait.)"""
    error = None
    for f in futures:
        e = f.exception()  # waits for the block
        error = error or e
    return error


def chunked(fn: Callable[[int, int], None], n: int, nbytes: int) -> None:
    """Call ``fn(lo, hi)`` over a split of range(n) (see ``spans``): in parallel when the work
    is large (``nbytes`` touched in all) and there is more than one thread, else once inline."""
    run(fn, spans(n, nbytes))


def elementwise(fn: Callable, out, *arrays) -> None:
    """``fn(*blocks, out=out_block)`` over blocks of the first axis of arrays shaped like ``out``
    (0-d arrays are passed whole), split across the threads when large (an element-wise pass:
    np.maximum on a 9 MB array, 0.87 ms whole, 0.50 ms halved)."""
    if out.ndim == 0 or any(a.ndim and a.shape != out.shape for a in arrays):
        fn(*arrays, out=out)
        return

    def block(lo: int, hi: int) -> None:
        fn(*(a[lo:hi] if a.ndim else a for a in arrays), out=out[lo:hi])

    chunked(block, out.shape[0], out.nbytes * (1 + len(arrays)))


def _after_fork_in_child() -> None:
    """A forked child (e.g. a DataLoader worker) has none of the parent's pool threads: start afresh."""
    global _pool, _pool_size, _local
    _pool, _pool_size, _local = None, 0, threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
