"""Winograd's minimal filtering F(2x2, 3x3): a faster way to compute the same 3x3, stride-1
convolution (and its input gradient) when the channels are many.

Each 2x2 block of outputs depends on a 4x4 tile d of the padded input (tiles overlap by two).
With the constant matrices

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

the 2x2 outputs of channel o are

    y = A^T [ sum_c (G w[o, c] G^T) * (B^T d[c] B) ] A        (* element-wise on 4x4)

so, per tile position xi in the 4x4 grid, the sum over channels is one matrix product
M[xi] = U[xi] V[xi] with U[xi] (O x C) from the weights and V[xi] (C x tiles) from the input:
16 products of O C T multiply-adds instead of the direct method's 36 per 2x2 outputs (2.25x
fewer). The transforms are small constant matrices applied with BLAS: V = (B^T (x) B^T) D over the
tiles D gathered from the input (4x its size, where im2col's columns are 9x), Y = (A^T (x) A^T) M.
With the compiled kernels (ops/_compiled.py) they are instead the adds they stand for, in one
pass from x to V and from M to the output's layout (and from g to dL/dM for the weight
gradient): per 16 samples, one core, ms, input transform NumPy vs compiled 6.4 vs 2.9 (64
channels, 32x32), 3.3 vs 1.2 (128, 16x16), 1.8 vs 0.4 (512, 4x4); the whole forward 20.0 vs
12.8, 12.8 vs 9.7, 9.7 vs 8.7; the weight gradient 17.6 vs 14.9, 13.0 vs 10.9, 12.8 vs 11.8.
That makes 64 channels pay too (MIN_DEPTH_COMPILED; the im2col forward of that layer takes
~21 ms), and the NumPy transforms keep MIN_DEPTH.

The input gradient of such a convolution is the same kind of convolution of the upstream
gradient (padded by 2 - pad) with the flipped, channel-transposed kernel, and flipping a kernel
only permutes the rows of G w (G flip(v) = P G v, P swapping rows 0 and 3): its U is the
forward's U with the tile positions permuted and each matrix transposed, no new transform.

Rounding: float32 results differ from im2col's by ~5e-7 of the output's scale (measured on
ResNet-18's shapes against float64), like any other summation order. Used for float32 only,
where it pays (the convolution's contraction depth >= MIN_DEPTH: shallower products run too far
below the BLAS peak to win): per block of 16 samples, forward in ms, Winograd vs im2col, 14.4 vs
18.1 for 128 channels on 16x16, 10.7 vs 16.9 for 256 on 8x8, 10.4 vs 16.3 for 512 on 4x4; but
23.1 vs 21.5 for 64 on 32x32 and 19.1 vs 12.4 for the MNIST CNN's 32->64 on 26x26 (with the
compiled transforms 64 channels win; 32 tie or lose in the training steps: left to im2col).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from gradbox.ops import _compiled
from gradbox.ops._parallel import chunked

_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=float)
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=float)
GG = np.kron(_G, _G)  # (16, 9): U[xi] = sum_k GG[xi, k] w[:, :, k]
BB = np.kron(_BT, _BT)  # (16, 16): V = BB D
AA = np.kron(_AT, _AT)  # (4, 16): Y = AA M
FLIP = np.array([4 * p + q for p in (3, 1, 2, 0) for q in (3, 1, 2, 0)])  # U of the flipped kernel

MIN_DEPTH = 128  # channels summed over (the products' depth) from which it pays with the NumPy
# transforms; the input gradient of ResNet-18's 64-channel convolutions too at 64 alone (20.3 vs 22.6 ms)
# but not in the step (866 vs 853 ms)
MIN_DEPTH_COMPILED = 64  # with the compiled transforms (ResNet-18 step 761 -> 687 ms with 64 instead of 128)
DTYPES = (np.dtype(np.float32),)
BLOCK_BYTES = 2 * 2**20  # transformed tiles per product step, the L2 of a core: training steps alternating
# in one process, ms, 8 MiB -> 2 MiB: ResNet-18 591 -> 554 (faster in 7 of 8 rounds), CIFAR CNN 40.4 -> 39.3
# (10/12), MNIST CNN 43.6 -> 42.3 (10/12); ResNet-18 against 8 MiB: 1 MiB -3.3%, 4 MiB -3.0%, 2 MiB -6.3%;
# 4 MiB against 2 directly: 586 vs 564 ms
products = np.matmul  # the transform-domain matrix products, under one name (benchmarks/profile_step.py times them)


def eligible(kernel, geo, depth: int, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a convolution with this geometry runs as F(2x2, 3x3): 3x3 kernel, stride 1,
    dilation 1, one group, padding at most 2 on each side, depth >= MIN_DEPTH (the input
    channels, or the output channels for the input gradient; MIN_DEPTH_COMPILED when the
    compiled transforms are on), operands ``a`` and ``b`` of one DTYPES dtype."""
    return (
        a.dtype == b.dtype
        and tuple(kernel) == (3, 3)
        and tuple(geo.stride) == (1, 1)
        and tuple(geo.dilation) == (1, 1)
        and geo.groups == 1
        and all(0 <= p <= 2 for pair in geo.padding for p in pair)
        and depth >= (MIN_DEPTH if _compiled.kernels() is None else MIN_DEPTH_COMPILED)
        and a.dtype in DTYPES
    )


def transform_weight(w: np.ndarray) -> np.ndarray:
    """U = G w G^T for every (o, c): (16, O, C), tile position first, in planes a cache line apart
    (_planes: the product writes all 16 at once), split over the threads by output channels
    (the forward computes it before its blocks start). ResNet-18's 512 channels, ms: 3.1 one
    product, 2.4 into the padded planes, 1.2 split as well."""
    o, c = w.shape[:2]
    u = _planes(o, c, w.dtype)
    gg = GG.astype(w.dtype)

    def block(lo: int, hi: int) -> None:
        np.matmul(gg, w[lo:hi].reshape((hi - lo) * c, 9).T, out=u[:, lo:hi].reshape(16, -1))

    chunked(block, o, 3 * w.nbytes)
    return u


def flipped(u: np.ndarray) -> list[np.ndarray]:
    """U of the flipped kernel with input and output channels swapped (the input gradient's):
    16 (C, O) views of ``u`` (a gathered copy of ResNet-18's 512-channel U took ~3 ms)."""
    return [u[i].T for i in FLIP]


def correlate(x: np.ndarray, u: np.ndarray, front, out, dst: np.ndarray, bias=None) -> None:
    """dst (N, O, *out) = the 3x3 cross-correlation of x (N, C, H, W), padded with ``front``
    zeros before each spatial axis and as many as needed after it, with the kernel whose
    transform is ``u`` (16, O, C; or 16 (O, C) matrices), plus ``bias``. A few samples at a time
    (BLOCK_BYTES of tiles)."""
    n, c = x.shape[:2]
    ty, tx = (out[0] + 1) // 2, (out[1] + 1) // 2
    step = max(1, BLOCK_BYTES // (16 * c * ty * tx * x.itemsize))
    for a in range(0, n, step):
        z = min(n, a + step)
        _correlate(x[a:z], u, front, (ty, tx), out, dst[a:z], bias)


def _planes(rows: int, cols: int, dtype) -> np.ndarray:
    """An empty (16, rows, cols) array whose 16 planes start a cache line apart modulo 4 KiB: a
    transform reads or writes all 16 at once, and planes a multiple of 4 KiB long would put
    those streams in the same cache sets (the input transform of 16 samples of 64 channels on
    32x32: 10.4 ms in such planes, 1.4 ms padded)."""
    pad = 64 // np.dtype(dtype).itemsize
    return np.empty((16, rows * cols + pad), dtype=dtype)[:, : rows * cols].reshape(16, rows, cols)


def _correlate(x, u, front, tiles, out, dst, bias) -> None:
    n = x.shape[0]
    o = u[0].shape[0]
    ty, tx = tiles
    v = _tiles_of(x, front, tiles)
    m = _planes(o, v.shape[2], v.dtype)
    for i in range(16):  # M[xi] = U[xi] V[xi]: (O, n ty tx)
        products(u[i], v[i], out=m[i])
    kern = _compiled.kernels()
    if kern is not None and dst.flags.c_contiguous:  # A^T M A by its adds, into dst (ops/_compiled.py)
        b = np.zeros(o, dst.dtype) if bias is None else np.ascontiguousarray(bias, dtype=dst.dtype)
        kern.winograd_output(m, b, ty, tx, dst)
        return
    m = m.reshape(16, -1)
    y = (AA.astype(x.dtype) @ m).reshape(2, 2, o, n, ty, tx).transpose(3, 2, 4, 0, 5, 1)  # (n, O, ty, 2, tx, 2)
    b = None if bias is None else bias.reshape(1, o, 1, 1, 1, 1)
    direct = tuple(out) == (2 * ty, 2 * tx) and dst.flags.c_contiguous  # then a view of dst
    target = dst.reshape(n, o, ty, 2, tx, 2) if direct else np.empty((n, o, ty, 2, tx, 2), dtype=dst.dtype)
    if b is None:
        target[...] = y
    else:
        np.add(y, b, out=target)
    if not direct:
        dst[...] = target.reshape(n, o, 2 * ty, 2 * tx)[:, :, : out[0], : out[1]]


def weight_grad(x: np.ndarray, g: np.ndarray, front, out) -> np.ndarray:
    """dL/dw (O, C, 3, 3) of the correlation ``correlate`` computes, for input x (N, C, H, W) and
    upstream gradient g (N, O, *out), through the transform domain: per tile position xi,
    dL/dU[xi] = (A^T (x) A^T)^T g's 2x2 tiles (O x T) times V[xi]^T (T x C), summed over the
    tiles T of every sample; then dL/dw = GG^T dL/dU. A few samples at a time, as ``correlate``."""
    n, c = x.shape[:2]
    ty, tx = (out[0] + 1) // 2, (out[1] + 1) // 2
    step = max(1, BLOCK_BYTES // (16 * c * ty * tx * x.itemsize))
    total = None
    for a in range(0, n, step):
        z = min(n, a + step)
        part = _weight_grad(x[a:z], g[a:z], front, (ty, tx))
        total = part if total is None else total + part
    return _weight_from(total)


def _tiles_of(x, front, tiles) -> np.ndarray:
    """V = (B^T (x) B^T) D: the transformed 4x4 input tiles, (16, C, n ty tx)."""
    n, c, h, w = x.shape
    ty, tx = tiles
    top, left = front
    kern = _compiled.kernels()
    if kern is not None:  # B^T d B by its adds, straight from x (ops/_compiled.py)
        v = _planes(c, n * ty * tx, x.dtype)
        kern.winograd_tiles(np.ascontiguousarray(x), top, left, ty, tx, v)
        return v
    xp = np.zeros((c, n, 2 * ty + 2, 2 * tx + 2), dtype=x.dtype)  # the padding, and zeros past it
    rows, cols = min(h, 2 * ty + 2 - top), min(w, 2 * tx + 2 - left)
    xp[:, :, top : top + rows, left : left + cols] = x[:, :, :rows, :cols].swapaxes(0, 1)
    s = xp.strides
    tiles4 = as_strided(xp, (4, 4, c, n, ty, tx), (s[2], s[3], s[0], s[1], 2 * s[2], 2 * s[3]), writeable=False)
    d = np.ascontiguousarray(tiles4).reshape(16, -1)  # D[xi, (c, n, ty, tx)]
    v = _planes(c, n * ty * tx, x.dtype)
    np.matmul(BB.astype(x.dtype), d, out=v.reshape(16, -1))
    return v


def _weight_grad(x, g, front, tiles) -> np.ndarray:
    n, o = g.shape[:2]
    ty, tx = tiles
    v = _tiles_of(x, front, tiles)
    kern = _compiled.kernels()
    if kern is not None:  # A dY A^T by its adds (ops/_compiled.py)
        dm = _planes(o, n * ty * tx, g.dtype)
        kern.winograd_grad_tiles(np.ascontiguousarray(g), ty, tx, dm)
        return products(dm, v.transpose(0, 2, 1))
    gt = np.empty((2, 2, o, n, ty, tx), dtype=g.dtype)  # g's 2x2 output tiles (zeros past its edge: ``full``)
    ho, wo = g.shape[2:]
    full = np.zeros((o, n, 2 * ty, 2 * tx), dtype=g.dtype) if (ho, wo) != (2 * ty, 2 * tx) else None
    src = g.swapaxes(0, 1)
    if full is not None:
        full[:, :, :ho, :wo] = src
        src = full
    gt[...] = src.reshape(o, n, ty, 2, tx, 2).transpose(3, 5, 0, 1, 2, 4)
    dm = (AA.T.astype(g.dtype) @ gt.reshape(4, -1)).reshape(16, o, -1)  # dL/dM
    return products(dm, v.transpose(0, 2, 1))


def _weight_from(du: np.ndarray) -> np.ndarray:
    """dL/dw (O, C, 3, 3) from dL/dU (16, O, C): U = GG w, so dL/dw = GG^T dL/dU."""
    _, o, c = du.shape
    return (du.reshape(16, -1).T @ GG.astype(du.dtype)).reshape(o, c, 3, 3)  # (O C, 9) directly: no transpose copy
