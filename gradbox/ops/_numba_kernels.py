"""The numba kernels behind ``_compiled`` (imported only through ``_compiled.kernels()``)."""

from __future__ import annotations

from numba import njit


@njit(nogil=True, cache=True)
def max_pool_2x2(x, best, arg):  # pragma: no cover - compiled; checked against the NumPy path
    """best[n, c, i, j] = max of the 2x2 window at (2i, 2j) of x (N, C, H, W) and arg = its
    offset 0-3 (row-major): the first maximum on ties; NaN wins and the last NaN takes the
    index, as in PyTorch and gradbox's NumPy path."""
    n_, c_, oh, ow = best.shape
    for n in range(n_):
        for c in range(c_):
            for i in range(oh):
                r0 = x[n, c, 2 * i]
                r1 = x[n, c, 2 * i + 1]
                b = best[n, c, i]
                a = arg[n, c, i]
                for j in range(ow):
                    m = r0[2 * j]
                    k = 0
                    v = r0[2 * j + 1]
                    if v > m or v != v:
                        m = v
                        k = 1
                    v = r1[2 * j]
                    if v > m or v != v:
                        m = v
                        k = 2
                    v = r1[2 * j + 1]
                    if v > m or v != v:
                        m = v
                        k = 3
                    b[j] = m
                    a[j] = k


@njit(nogil=True, cache=True)
def max_unpool_2x2(g, arg, z):  # pragma: no cover - compiled; checked against the NumPy path
    """z[n, c, 2i + p, 2j + q] = g[n, c, i, j] where arg = 2p + q, else 0, over the windows
    (rows and columns of z past them are left as they are)."""
    n_, c_, oh, ow = g.shape
    for n in range(n_):
        for c in range(c_):
            for i in range(oh):
                z0 = z[n, c, 2 * i]
                z1 = z[n, c, 2 * i + 1]
                gg = g[n, c, i]
                a = arg[n, c, i]
                for j in range(ow):
                    k = a[j]
                    v = gg[j]
                    z0[2 * j] = v if k == 0 else 0
                    z0[2 * j + 1] = v if k == 1 else 0
                    z1[2 * j] = v if k == 2 else 0
                    z1[2 * j + 1] = v if k == 3 else 0
