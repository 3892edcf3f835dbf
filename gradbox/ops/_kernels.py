"""Array kernels shared by the ops: matrix-product operand order.

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


def gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` (2-D), with the operand order OpenBLAS threads well for long-K products.
    The result may be a transposed (Fortran-ordered) view."""
    m, k = a.shape
    n = b.shape[1]
    if m < n and k > n:
        return (b.T @ a.T).T
    return a @ b
