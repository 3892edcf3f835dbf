"""The numba kernels behind ``_compiled`` (imported only through ``_compiled.kernels()``)."""

from __future__ import annotations

import numpy as np
from numba import njit, uint64


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



# Winograd F(2x2, 3x3) transforms (ops/winograd.py), each tile's adds written out. A transform
# writes (or reads) 16 planes at once, one per tile position: ops/winograd.py allocates them a
# cache line apart (_planes), or the 16 streams fall in the same cache sets.


@njit(nogil=True, cache=True)
def _input_row(ev, od, v, tx):  # pragma: no cover - compiled
    """v[4r + s, b] = (B^T d B)[r, s] for the tiles b of one tile row: d's column 2b + j is
    ev[:, b] (j = 0), od[:, b], ev[:, b + 1], od[:, b + 1] (the padded rows' even and odd columns)."""
    for b in range(tx):
        # B^T d (row i of d: d[i]): d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3], per tile column
        a0 = ev[0, b] - ev[2, b]
        a1 = od[0, b] - od[2, b]
        a2 = ev[0, b + 1] - ev[2, b + 1]
        a3 = od[0, b + 1] - od[2, b + 1]
        b0 = ev[1, b] + ev[2, b]
        b1 = od[1, b] + od[2, b]
        b2 = ev[1, b + 1] + ev[2, b + 1]
        b3 = od[1, b + 1] + od[2, b + 1]
        c0 = ev[2, b] - ev[1, b]
        c1 = od[2, b] - od[1, b]
        c2 = ev[2, b + 1] - ev[1, b + 1]
        c3 = od[2, b + 1] - od[1, b + 1]
        d0 = ev[1, b] - ev[3, b]
        d1 = od[1, b] - od[3, b]
        d2 = ev[1, b + 1] - ev[3, b + 1]
        d3 = od[1, b + 1] - od[3, b + 1]
        # (B^T d) B: the same combination of its columns
        v[0, b], v[1, b], v[2, b], v[3, b] = a0 - a2, a1 + a2, a2 - a1, a1 - a3
        v[4, b], v[5, b], v[6, b], v[7, b] = b0 - b2, b1 + b2, b2 - b1, b1 - b3
        v[8, b], v[9, b], v[10, b], v[11, b] = c0 - c2, c1 + c2, c2 - c1, c1 - c3
        v[12, b], v[13, b], v[14, b], v[15, b] = d0 - d2, d1 + d2, d2 - d1, d1 - d3


@njit(nogil=True, cache=True)
def winograd_tiles(x, top, left, ty, tx, v):  # pragma: no cover - compiled; checked against the NumPy path
    """v[4r + s, c, (n ty + a) tx + b] = (B^T d B)[r, s] for the 4x4 tile d at (2a, 2b) of x
    (N, C, H, W) padded with ``top`` and ``left`` zeros (and zeros past its end). Each channel
    of a sample is first split into its padded plane's even and odd columns, so the tiles'
    loads are contiguous."""
    n_, c_, h, w = x.shape
    wh = tx + 1
    hp = 2 * ty + 2
    ev = np.zeros((hp, wh), dtype=x.dtype)
    od = np.zeros((hp, wh), dtype=x.dtype)
    e0, e1 = (left + 1) // 2, min(wh, (w - 1 + left) // 2 + 1)  # the even columns 2k inside x
    o0, o1 = left // 2, min(wh, (w - 2 + left) // 2 + 1)  # the odd columns 2k + 1 inside x
    se, so = 2 * e0 - left, 2 * o0 + 1 - left  # x's columns for the first of each
    for n in range(n_):
        for c in range(c_):
            for r in range(top, min(hp, top + h)):
                row = x[n, c, r - top]
                er = ev[r]
                orow = od[r]
                for k in range(e1 - e0):
                    er[e0 + k] = row[se + 2 * k]
                for k in range(o1 - o0):
                    orow[o0 + k] = row[so + 2 * k]
            for a in range(ty):
                base = (n * ty + a) * tx
                _input_row(ev[2 * a : 2 * a + 4], od[2 * a : 2 * a + 4], v[:, c, base : base + tx], tx)


@njit(nogil=True, cache=True)
def _output_row(m, ev, od, bias, tx):  # pragma: no cover - compiled
    """(A^T M A)[p, q] + bias for the tiles b of one tile row: ev[p, b] (q = 0), od[p, b] (q = 1)."""
    for b in range(tx):
        # M A: per row r of M, m[r, 0] + m[r, 1] + m[r, 2] and m[r, 1] - m[r, 2] - m[r, 3]
        a0 = m[0, b] + m[1, b] + m[2, b]
        b0 = m[1, b] - m[2, b] - m[3, b]
        a1 = m[4, b] + m[5, b] + m[6, b]
        b1 = m[5, b] - m[6, b] - m[7, b]
        a2 = m[8, b] + m[9, b] + m[10, b]
        b2 = m[9, b] - m[10, b] - m[11, b]
        a3 = m[12, b] + m[13, b] + m[14, b]
        b3 = m[13, b] - m[14, b] - m[15, b]
        ev[0, b] = a0 + a1 + a2 + bias
        od[0, b] = b0 + b1 + b2 + bias
        ev[1, b] = a1 - a2 - a3 + bias
        od[1, b] = b1 - b2 - b3 + bias


@njit(nogil=True, cache=True)
def winograd_output(m, bias, ty, tx, dst):  # pragma: no cover - compiled; checked against the NumPy path
    """dst[n, o, 2a + p, 2b + q] = (A^T M A)[p, q] + bias[o] for the tile (a, b) of sample n,
    M[4r + s] = m[4r + s, o, (n ty + a) tx + b]; only the positions inside dst (N, O, H, W)."""
    n_, o_, h, w = dst.shape
    ev = np.empty((2, tx), dtype=dst.dtype)
    od = np.empty((2, tx), dtype=dst.dtype)
    for n in range(n_):
        for o in range(o_):
            for a in range(ty):
                base = (n * ty + a) * tx
                _output_row(m[:, o, base : base + tx], ev, od, bias[o], tx)
                for i in range(min(2, h - 2 * a)):
                    row = dst[n, o, 2 * a + i]
                    e = ev[i]
                    d = od[i]
                    for b in range(w // 2):
                        row[2 * b] = e[b]
                        row[2 * b + 1] = d[b]
                    if w % 2:
                        row[w - 1] = e[w // 2]


@njit(nogil=True, cache=True)
def _grad_row(ev, od, dm, tx):  # pragma: no cover - compiled
    """dm[4r + s, b] = (A dY A^T)[r, s] for the tiles b of one tile row of g: dY[p, q] is
    ev[p, b] (q = 0) or od[p, b] (q = 1). With A^T's columns (1, 0), (1, 1), (1, -1), (0, -1)."""
    for b in range(tx):
        h00 = ev[0, b]
        h01 = od[0, b]
        h10 = ev[0, b] + ev[1, b]
        h11 = od[0, b] + od[1, b]
        h20 = ev[0, b] - ev[1, b]
        h21 = od[0, b] - od[1, b]
        h30 = -ev[1, b]
        h31 = -od[1, b]
        dm[0, b], dm[1, b], dm[2, b], dm[3, b] = h00, h00 + h01, h00 - h01, -h01
        dm[4, b], dm[5, b], dm[6, b], dm[7, b] = h10, h10 + h11, h10 - h11, -h11
        dm[8, b], dm[9, b], dm[10, b], dm[11, b] = h20, h20 + h21, h20 - h21, -h21
        dm[12, b], dm[13, b], dm[14, b], dm[15, b] = h30, h30 + h31, h30 - h31, -h31


@njit(nogil=True, cache=True)
def winograd_grad_tiles(g, ty, tx, dm):  # pragma: no cover - compiled; checked against the NumPy path
    """dm[4r + s, o, (n ty + a) tx + b] = (A dY A^T)[r, s] for the 2x2 tile dY at (2a, 2b) of g
    (N, O, H, W), zeros past its edge: the adjoint of winograd_output."""
    n_, o_, h, w = g.shape
    ev = np.zeros((2 * ty, tx), dtype=g.dtype)
    od = np.zeros((2 * ty, tx), dtype=g.dtype)
    for n in range(n_):
        for o in range(o_):
            for r in range(h):
                row = g[n, o, r]
                er = ev[r]
                orow = od[r]
                for k in range((w + 1) // 2):
                    er[k] = row[2 * k]
                for k in range(w // 2):
                    orow[k] = row[2 * k + 1]
            for a in range(ty):
                base = (n * ty + a) * tx
                _grad_row(ev[2 * a : 2 * a + 2], od[2 * a : 2 * a + 2], dm[:, o, base : base + tx], tx)


# im2col and its adjoint for 2-D convolutions (ops/conv.py). Indices are unsigned (uint64):
# numba wraps a negative signed index around, a check per element that keeps LLVM from
# vectorising the inner copy (the same loops with signed indices were 2x slower than NumPy's
# strided copy; unsigned, 1.3-1.7x faster, and the fold 3-5x).


@njit(nogil=True, cache=True)
def _inside(off, sw, ow, w):  # pragma: no cover - compiled
    """The output columns [lo, hi) whose input column ox sw + off falls inside [0, w)."""
    lo = 0
    while lo < ow and lo * sw + off < 0:
        lo += 1
    hi = ow
    while hi > lo and (hi - 1) * sw + off >= w:
        hi -= 1
    return lo, hi


@njit(nogil=True, cache=True)
def im2col_2d(x, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, cols):  # pragma: no cover - compiled; checked against the NumPy path
    """cols[(c, i, j), (n, y, ox)] = x[n, c, y sh + i dh - ph, ox sw + j dw - pw], zero outside x
    (N, C, H, W); cols is (C kh kw, N oh ow), both C-contiguous."""
    n_, c_, h, w = x.shape
    xf = x.ravel()
    cf = cols.ravel()
    length = n_ * oh * ow
    usw = uint64(sw)
    for c in range(c_):
        for i in range(kh):
            for j in range(kw):
                off = j * dw - pw
                lo, hi = _inside(off, sw, ow, w)
                for n in range(n_):
                    for y in range(oh):
                        iy = y * sh + i * dh - ph
                        d = uint64((((c * kh + i) * kw + j) * length) + (n * oh + y) * ow)
                        if iy < 0 or iy >= h:
                            for t in range(ow):
                                cf[d + uint64(t)] = 0
                            continue
                        for t in range(lo):
                            cf[d + uint64(t)] = 0
                        s = uint64(((n * c_ + c) * h + iy) * w + lo * sw + off)
                        d2 = d + uint64(lo)
                        for t in range(hi - lo):
                            cf[d2 + uint64(t)] = xf[s + uint64(t) * usw]
                        for t in range(hi, ow):
                            cf[d + uint64(t)] = 0


@njit(nogil=True, cache=True)
def col2im_2d(cols, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, dst):  # pragma: no cover - compiled; checked against the NumPy path
    """The adjoint of im2col_2d: dst (N, C, H, W) = every column entry added back onto the input
    position it was taken from (kernel offsets in order, as the NumPy fold adds them)."""
    n_, c_, h, w = dst.shape
    cf = cols.ravel()
    df = dst.ravel()
    length = n_ * oh * ow
    usw = uint64(sw)
    for n in range(n_):
        for c in range(c_):
            plane = uint64((n * c_ + c) * h * w)
            for t in range(h * w):
                df[plane + uint64(t)] = 0
            for i in range(kh):
                for j in range(kw):
                    off = j * dw - pw
                    lo, hi = _inside(off, sw, ow, w)
                    for y in range(oh):
                        iy = y * sh + i * dh - ph
                        if iy < 0 or iy >= h:
                            continue
                        s = uint64((((c * kh + i) * kw + j) * length) + (n * oh + y) * ow + lo)
                        d = plane + uint64(iy * w + lo * sw + off)
                        for t in range(hi - lo):
                            df[d + uint64(t) * usw] += cf[s + uint64(t)]
