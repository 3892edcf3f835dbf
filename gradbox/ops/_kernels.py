"""Array kernels shared by the ops: the 2-D matrix product, split over threads and with the
operand order OpenBLAS runs well.

With several threads (gradbox/ops/_parallel.py holds OpenBLAS at one thread from the first op
it splits on), a product of at least SPLIT_MACS multiply-adds runs as one single-threaded
product per block of rows of ``a`` (of columns of ``b`` when ``a`` has few rows) in gradbox's
threads; each output entry is still one BLAS dot over the whole of K. A mid-size product (below
BLAS_MACS) is instead left to OpenBLAS's own threads as long as no op has run split in this
process (a model with nothing else large, like an MLP; BLAS then still has its threads, for
every product): their hand-off is cheaper than a Python thread's (~50 us), but they keep
spinning after the product, which slows a split op that follows. Measured (ms per step,
2-core VM): the MLP (products of 8-26M multiply-adds) 2.4 split -> 1.8 with OpenBLAS's threads;
LeNet-5 (128) 13.6 ms with the rule, 18.7-20.1 ms when its 6M-multiply-add fully-connected
products were handed to OpenBLAS regardless of the splits around them. The rule depends on the
program, not on timing: OpenBLAS's threaded product can round differently from a single-threaded
one (4 of 22 shapes tried, e.g. 128 x 784 x 256), so a choice by timing would make results vary
between runs.

``product(a, b)`` (one thread; ``gemm`` is it split over threads) is ``a @ b`` for 2-D float arrays, computed as ``(b.T @ a.T).T`` when the
reduction dim K is the longest and the output has fewer rows than columns (M < N). Same
products, same sums; only which operand OpenBLAS treats as the left one changes. Measured
(benchmarks/profile_step.py, 2-core VM, OpenBLAS 0.3.31, 2 threads, other processes busy):
the weight gradient of a 32->64 3x3 convolution (64 x 39936 @ 39936 x 288) took 704 ms in
the M < N order and 24 ms swapped; a 9216->128 linear layer at batch 64 171 ms vs 8 ms. With
one thread the swapped order is as fast or faster (33 -> 26 ms, 2.4 -> 2.0 ms), and with the
other order (M > N) swapping is what goes wrong (8 ms -> 800 ms), hence the rule.

A float32 product with two small sides and one long one (the first convolutions: 6 x 25 x 25088,
32 x 9 x 21632) runs as pieces of at most SMALL_MACS multiply-adds along the long side: OpenBLAS
has a kernel for small products (M N K <= 100^3 on this machine's SkylakeX build) that is 1.2-4x
faster per multiply-add than its general path on such shapes. Measured (ms, one thread): 6 x 25 @
25 x 25088 0.245 -> 0.128 in pieces of columns; 6 x 25088 @ 25088 x 25 (a weight gradient) 0.581
-> 0.133 in pieces of K (each a partial sum added to the total); 32 x 27 @ 27 x 32768 1.10 -> 0.66;
but 64 x 288 @ 288 x 4096 2.0 -> 3.3 (sides too large), hence the side limits; LeNet-5's second
convolution (16 x 150 x 3200) gained alone (0.235 -> 0.198) but not in the training step, so it
stays whole. float64 gains less and sometimes loses (32 x 9 x 21632 0.38 -> 0.40): only float32 is
cut. LeNet-5 (64) step, 3 alternating runs: 11.2/11.7/10.6 -> 10.5/10.4/9.7 ms (its conv1 weight
gradient 2.0 -> 1.4 ms, forward 1.4 -> 1.25 ms).
"""

from __future__ import annotations

import numpy as np

from gradbox.ops import _parallel

SPLIT_MACS = 1 << 22  # ~4M multiply-adds (~0.1-0.2 ms on one core): below, one single-threaded product
BLAS_MACS = 1 << 26  # below ~64M, OpenBLAS threads a product better than a hand-off to gradbox's threads,
# but only in a process where no op has split (its threads spin after a product, slowing a split op)
SMALL_MACS = 10**6  # pieces of a product with two small sides (OpenBLAS's small-matrix kernel) ...
SMALL_SIDES = 1000  # ... when the two short sides multiply to at most this: M K for a long N ...
SMALL_DEPTH_SIDES = 1000  # ... M N for a long K (16 x 3200 x 150: 0.26 swapped, 0.51 in pieces)


def product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` on this thread, in the operand order and pieces OpenBLAS runs fastest (see above).
    The result may be a transposed (Fortran-ordered) view."""
    m, k = a.shape
    n = b.shape[1]
    if a.dtype == np.float32 and b.dtype == np.float32 and m * n * k > SMALL_MACS:
        if m * k <= SMALL_SIDES and n > k:
            return _pieces_of_columns(a, b, max(1, SMALL_MACS // (m * k)))
        if m * n <= SMALL_DEPTH_SIDES and k > max(m, n):
            return _pieces_of_depth(a, b, max(1, SMALL_MACS // (m * n)))
    if m < n and k > n:
        return (b.T @ a.T).T
    return a @ b


def _pieces_of_columns(a: np.ndarray, b: np.ndarray, width: int) -> np.ndarray:
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    for lo in range(0, b.shape[1], width):
        np.matmul(a, b[:, lo : lo + width], out=out[:, lo : lo + width])
    return out


def _pieces_of_depth(a: np.ndarray, b: np.ndarray, depth: int) -> np.ndarray:
    out = a[:, :depth] @ b[:depth]
    for lo in range(depth, a.shape[1], depth):
        out += a[:, lo : lo + depth] @ b[lo : lo + depth]
    return out


def gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` (2-D), split over threads when large, with the operand order OpenBLAS runs
    well for long-K products. The result may be a transposed (Fortran-ordered) view."""
    m, k = a.shape
    n = b.shape[1]
    macs = m * n * k
    if _parallel.threads <= 1 or _parallel.busy() or macs < SPLIT_MACS or max(m, n) < 2:
        return product(a, b)
    if macs < BLAS_MACS and not _parallel.split_seen():  # BLAS still has its threads (_parallel)
        return product(a, b)
    out = np.empty((m, n), dtype=np.result_type(a, b))
    if m >= 2 * _parallel.threads:
        blocks = _parallel.bounds(m, min(_parallel.threads, m))

        def rows(lo: int, hi: int) -> None:
            out[lo:hi] = product(a[lo:hi], b)

        _parallel.run(rows, blocks)
    else:
        blocks = _parallel.bounds(n, min(_parallel.threads, n))

        def columns(lo: int, hi: int) -> None:
            out[:, lo:hi] = product(a, b[:, lo:hi])

        _parallel.run(columns, blocks)
    return out


BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def channel_sum(a: np.ndarray) -> np.ndarray:
    """(C,) sums of an (N, C, L) array over N and L (a convolution's bias gradient, batch norm's
    statistics): one BLAS matrix-vector product with a ones vector, (N C, L) @ 1, then a sum
    over the N samples. NumPy's own sum over axes (0, 2) is 2-3x slower on (64, 6..64,
    100..784) float32 arrays with one BLAS thread (450 vs 143 us on (64, 64, 576)), the 3-D
    product (N, C, L) @ 1 up to 2x."""
    n, c, length = a.shape
    if a.dtype not in BLAS_DTYPES or not a.flags.c_contiguous:
        return a.sum(axis=(0, 2))
    return (a.reshape(n * c, length) @ np.ones(length, dtype=a.dtype)).reshape(n, c).sum(axis=0)
