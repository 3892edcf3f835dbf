"""The numba kernels behind ``_compiled`` (imported only through ``_compiled.kernels()``)."""

from __future__ import annotations

import numpy as np
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


# Batch norm per channel of r (N, C, L), channels lo:hi (the block of a split, ops/_parallel.py).
# Sums and per-channel coefficients in float64, with reassociation allowed so LLVM vectorises
# the sums (no other fast-math: NaN and inf propagate); element results rounded once on store.
_SUMS = {"reassoc"}


@njit(nogil=True, cache=True, fastmath=_SUMS, error_model="numpy")
def batch_norm_forward(r, weight, bias, eps, lo, hi, xc, y, mean, var, invstd):  # pragma: no cover - compiled
    """xc = r - mean, y = xc * (invstd * weight) + bias per channel; the mean and the biased
    variance by two passes (the centred sum of squares, as the NumPy path)."""
    n_, _, l_ = r.shape
    m = n_ * l_
    for c in range(lo, hi):
        s = 0.0
        for n in range(n_):
            row = r[n, c]
            for i in range(l_):
                s += row[i]
        mean[c] = s / m
        mu = mean[c]  # rounded to the dtype, as the NumPy path subtracts it
        ss = 0.0
        for n in range(n_):
            row = r[n, c]
            out = xc[n, c]
            for i in range(l_):
                out[i] = row[i] - mu
                d = out[i]
                ss += d * d
        var[c] = ss / m
        invstd[c] = 1.0 / np.sqrt(var[c] + eps)
        scale = invstd[c] * weight[c]
        shift = bias[c]
        for n in range(n_):
            src = xc[n, c]
            out = y[n, c]
            for i in range(l_):
                out[i] = src[i] * scale + shift


@njit(nogil=True, cache=True, fastmath=_SUMS, error_model="numpy")
def batch_norm_backward(g, xc, invstd, weight, lo, hi, gx, sum_g, sum_gx):  # pragma: no cover - compiled
    """Per channel: sum_g = sum g, sum_gx = sum g x^ = invstd sum g xc, and
    gx = k1 (g - xc sum_gx invstd / M - sum_g / M) with k1 = invstd * weight."""
    n_, _, l_ = g.shape
    m = n_ * l_
    coef = np.empty(3, g.dtype)
    for c in range(lo, hi):
        sg = 0.0
        sgx = 0.0
        for n in range(n_):
            gr = g[n, c]
            xr = xc[n, c]
            for i in range(l_):
                sg += gr[i]
                sgx += gr[i] * xr[i]
        inv = 1.0 * invstd[c]
        sum_g[c] = sg
        sum_gx[c] = sgx * inv
        coef[0] = inv * weight[c]  # the coefficients rounded to g's dtype: no float64 per element
        coef[1] = sgx * inv * inv / m
        coef[2] = sg / m
        k1, a, b = coef[0], coef[1], coef[2]
        for n in range(n_):
            gr = g[n, c]
            xr = xc[n, c]
            out = gx[n, c]
            for i in range(l_):
                out[i] = k1 * (gr[i] - a * xr[i] - b)

