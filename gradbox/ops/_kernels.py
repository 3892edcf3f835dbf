"""Array kernels shared by the ops: the 2-D matrix product, split over threads and with the
operand order OpenBLAS runs well.

With several threads (gradbox/ops/_parallel.py holds OpenBLAS at one thread), a product of at
least SPLIT_MACS multiply-adds runs as one single-threaded product per block of rows of ``a``
(of columns of ``b`` when ``a`` has few rows) in gradbox's threads; each output entry is still
one BLAS dot over the whole of K. A mid-size product (below BLAS_MACS) is instead handed to
OpenBLAS's own threads as long as no op has run split in this process (a model with nothing
else large, like an MLP): their hand-off is cheaper than a Python thread's (~50 us), but they
keep spinning after the product, which slows a split op that follows. Measured (ms per step,
2-core VM): the MLP (products of 8-26M multiply-adds) 2.4 split -> 1.8 with OpenBLAS's threads;
LeNet-5 (128) 13.6 ms with the rule, 18.7-20.1 ms when its 6M-multiply-add fully-connected
products were handed to OpenBLAS regardless of the splits around them. The rule depends on the
program, not on timing: OpenBLAS's threaded product can round differently from a single-threaded
one (4 of 22 shapes tried, e.g. 128 x 784 x 256), so a choice by timing would make results vary
between runs.

``gemm(a, b)`` is ``a @ b`` for 2-D float arrays, computed as ``(b.T @ a.T).T`` when the
reduction dim K is the longest and the output has fewer rows than columns (M < N). Same
products, same sums; only which operand OpenBLAS treats as the left one changes. Measured
(benchmarks/profile_step.py, 2-core VM, OpenBLAS 0.3.31, 2 threads, other processes busy):
the weight gradient of a 32->64 3x3 convolution (64 x 39936 @ 39936 x 288) took 704 ms in
the M < N order and 24 ms swapped; a 9216->128 linear layer at batch 64 171 ms vs 8 ms. With
one thread the swapped order is as fast or faster (33 -> 26 ms, 2.4 -> 2.0 ms), and with the
other order (M > N) swapping is what goes wrong (8 ms -> 800 ms), hence the rule.
"""

from __future__ import annotations

import numpy as np

from gradbox.ops import _parallel

SPLIT_MACS = 1 << 22  # ~4M multiply-adds (~0.1-0.2 ms on one core): below, one single-threaded product
BLAS_MACS = 1 << 26  # below ~64M, OpenBLAS threads a product better than a hand-off to gradbox's threads,
# but only in a process where no op has split (its threads spin after a product, slowing a split op)


def _ordered(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    m, k = a.shape
    n = b.shape[1]
    if m < n and k > n:
        return (b.T @ a.T).T
    return a @ b


def gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` (2-D), split over threads when large, with the operand order OpenBLAS runs
    well for long-K products. The result may be a transposed (Fortran-ordered) view."""
    m, k = a.shape
    n = b.shape[1]
    macs = m * n * k
    if _parallel.threads <= 1 or _parallel.busy() or macs < SPLIT_MACS or max(m, n) < 2:
        return _ordered(a, b)
    if macs < BLAS_MACS and not _parallel.split_seen():
        with _parallel.blas_threads(_parallel.threads):
            return _ordered(a, b)
    out = np.empty((m, n), dtype=np.result_type(a, b))
    if m >= 2 * _parallel.threads:
        blocks = _parallel.bounds(m, min(_parallel.threads, m))

        def rows(lo: int, hi: int) -> None:
            out[lo:hi] = _ordered(a[lo:hi], b)

        _parallel.run(rows, blocks)
    else:
        blocks = _parallel.bounds(n, min(_parallel.threads, n))

        def columns(lo: int, hi: int) -> None:
            out[:, lo:hi] = _ordered(a, b[:, lo:hi])

        _parallel.run(columns, blocks)
    return out
