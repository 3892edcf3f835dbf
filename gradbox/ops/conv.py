"""Convolution as one matrix product per layer, and its two adjoints.

For input x (N, C, *S), weight w (O, C/groups, *K), ``conv(x, w)`` is a cross-correlation:

    y[n, o, p] = sum_{c, k} w[o, c, k] * x_pad[n, c, p*stride + k*dilation]

Unfolding the windows of x into a matrix X_col (rows: output positions, columns: (c, k))
turns it into Y = X_col W^T. Its derivatives are the two other members of the same family:

* dL/dx = conv_input(g, w): the transposed convolution, X_col-gradient G W folded back
  onto the input positions (col2im, a sum over the kernel offsets);
* dL/dw = conv_weight(x, g) = G^T X_col: the correlation of the input with the upstream
  gradient.

Each of the three ops' backward is written in the other two, so every order of derivative
is available. A true (flipped-kernel) convolution is ``conv(x, flip(w, spatial dims))``.
float32 3x3 stride-1 convolutions with many channels compute the same three arrays with
Winograd's F(2x2, 3x3) instead of im2col (ops/winograd.py): fewer multiply-adds, same math.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from gradbox import _dtype
from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath
from gradbox.ops import _compiled, winograd
from gradbox.ops._kernels import BLAS_DTYPES, gemm, product
from gradbox.ops._parallel import run, spans
from gradbox.ops.reduce import sum as _sum
from gradbox.ops.shape import squeeze, unsqueeze
from gradbox.ops.window import Geometry, check_positive, ntuple, offset_slices, out_size, pad_spatial, windows
from gradbox.tensor import Tensor


def is_wide(kernel, geo: Geometry, width: int, depth: int) -> bool:
    """Whether the input gradient of a convolution (col2im) uses the *wide* layout: stride-1 2-D
    convolutions of an input ``width`` wide whose discarded columns add at most WIDE_WASTE to
    the product, or whose columns have at most WIDE_DEPTH rows (C * kernel size: the product is
    cheap next to the fold). In the wide layout output rows are taken over the full padded width
    Wp instead of Wo, so the columns of kernel offset (i, j) fold back as one contiguous shifted
    block of the padded image (flattened per channel) instead of a strided scatter; the extra
    Wp - Wo columns per row are computed and discarded. Measured per op (ms, 2-core VM, blocks
    of samples on both cores), wide vs plain: 64 channels on 32x32 pad 1 21.2 vs 25.7; MNIST
    CNN's 32->64 on 26x26 12.9 vs 13.9; LeNet's 6->16 5x5 on 14x14 1.46 vs 1.70; but 256 on
    8x8 pad 1 (25% waste) 18.6 vs 17.3 and 512 on 4x4 (50%) 21.1 vs 17.4. Never with the
    compiled fold (``_compiled_2d``), which folds plain columns faster still."""
    if len(kernel) != 2 or geo.stride != (1, 1) or _compiled_2d(kernel):
        return False
    wp = width + sum(geo.padding[1])
    wo = wp - geo.dilation[1] * (kernel[1] - 1)
    return wp <= (1 + WIDE_WASTE) * wo or depth <= WIDE_DEPTH


def im2col(x: np.ndarray, kernel, geo: Geometry, out) -> np.ndarray:
    """(C * prod(kernel), N * prod(out)) matrix of the windows of the padded input.

    Rows run over (channel, kernel offset), columns over (sample, output position), so the
    convolution is one matrix product W (O, C K) @ cols. One strided gather of the windows.
    (A *wide* layout, one contiguous shifted copy per kernel offset over the padded width, was
    faster as a whole-batch pass; run per block of samples the gather is as fast or faster and
    computes no discarded columns: forward/weight gradient in ms, wide vs gather, MNIST CNN's
    32->64 conv 12.7/13.0 vs 12.5/11.9, ResNet-18's 512-channel 4x4 conv 20.9/20.0 vs 14.8/13.6.)
    With the compiled kernels a 2-D float gather is one compiled pass with the padding inline
    (ms, 32 samples, one core, NumPy vs compiled: LeNet-5's first 0.28 vs 0.19, its second 0.42
    vs 0.29, the CIFAR CNN's 32->64 1.32 vs 0.83, ResNet-18's 64->128 stride 2 0.73 vs 0.43).
    """
    d = len(kernel)
    kern = _compiled_2d(kernel, x.dtype)
    if kern is not None:  # one compiled pass, padding included (ops/_compiled.py); the same numbers
        cols = np.empty((x.shape[1] * int(np.prod(kernel)), x.shape[0] * int(np.prod(out))), dtype=x.dtype)
        kern.im2col_2d(np.ascontiguousarray(x), *kernel, *geo.stride, *geo.dilation, geo.padding[0][0], geo.padding[1][0], *out, cols)
        return cols
    xp = pad_spatial(x, geo.padding)
    win = windows(xp, kernel, geo.stride, geo.dilation, out)
    perm = (1, *range(2 + d, 2 + 2 * d), 0, *range(2, 2 + d))  # (C, *K, N, *out)
    return win.transpose(perm).reshape(x.shape[1] * int(np.prod(kernel)), -1)


def col2im(cols: np.ndarray, x_shape, kernel, geo: Geometry, out, dst: np.ndarray | None = None) -> np.ndarray:
    """Adjoint of im2col: add each column entry back onto the input position it came from.

    A loop over the kernel offsets (e.g. 9 for 3x3), each step one vectorised add (a
    contiguous shifted block in the wide layout: see ``is_wide``) into a (C, N, ...) buffer,
    transposed to (N, C, ...) once at the end, into ``dst`` when given. With the compiled
    kernels a 2-D float fold is one compiled pass straight into (N, C, H, W), in the plain
    layout (ms, one core, NumPy's plain fold vs compiled: LeNet-5's 6->16, 32 samples, 0.88 vs
    0.17; ResNet-18's 64->128 stride 2, 8 samples, 1.85 vs 0.54).
    """
    n, c = x_shape[:2]
    kern = _compiled_2d(kernel, cols.dtype)
    if kern is not None:  # one compiled pass straight into (N, C, H, W) (ops/_compiled.py)
        res = np.empty(x_shape, dtype=cols.dtype) if dst is None or not dst.flags.c_contiguous else dst
        kern.col2im_2d(np.ascontiguousarray(cols), *kernel, *geo.stride, *geo.dilation, geo.padding[0][0], geo.padding[1][0], *out, res)
        if dst is not None and res is not dst:
            dst[...] = res
        return res
    padded = [s + lo + hi for s, (lo, hi) in zip(x_shape[2:], geo.padding)]
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x_shape[2:], geo.padding))
    if is_wide(kernel, geo, x_shape[-1], c * int(np.prod(kernel))):
        xt = _fold_wide(np.ascontiguousarray(cols), c, n, kernel, geo.dilation, out[0], padded)
    else:
        cols = cols.reshape(c, *kernel, n, *out)
        xt = np.zeros((c, n, *padded), dtype=cols.dtype)
        for k, sl in offset_slices(kernel, geo.stride, geo.dilation, out):
            xt[(slice(None), slice(None), *sl)] += cols[(slice(None), *k)]
    xt = xt[(slice(None), slice(None), *crop)].swapaxes(0, 1)
    if dst is None:
        return np.ascontiguousarray(xt)
    dst[...] = xt
    return dst


def _compiled_2d(kernel, dtype=None):
    """The compiled kernels for a 2-D im2col/col2im of ``dtype`` (float32/float64; any when
    None), or None: then the NumPy passes."""
    if len(kernel) != 2 or (dtype is not None and np.dtype(dtype) not in BLAS_DTYPES):
        return None
    return _compiled.kernels()


def _fold_wide(cols: np.ndarray, c: int, n: int, kernel, dilation, ho: int, padded) -> np.ndarray:
    """col2im of wide-layout columns (C kh kw, n ho Wp), C-contiguous, as two strided sums
    instead of one shifted add per kernel offset: offset (i, j) lands at (i dh Wp + j dw) in
    the flattened padded image of each (channel, sample), so

        part[c, i, n, m] = sum_j cols[c, i, j, n, m - j dw]      (m < ho Wp)
        x[c, n, u]       = sum_i part[c, i, n, u - i dh Wp]      (u < Hp Wp)

    each one NumPy reduction over an as_strided view. A read before the start of a row lands
    in the zeros at the end of the row before it: the last dw (kw - 1) entries of every output
    row of the wide columns (computed from zero-padded g) and the last dh (kh - 1) Wp entries of
    every ``part`` row (zeroed here) - and j = 0, i = 0 never read back, so no read leaves the
    array. One C loop each, so neither holds the GIL between kernel offsets; in cache-sized
    folds about twice as fast as the kh kw adds (one core, us: LeNet-5's 6->16 5x5, 24 samples,
    287 -> 134; the MNIST CNN's 32->64, 2 samples, 188 -> 102; 64 channels on 32x32, one
    sample, 310 -> 152)."""
    (kh, kw), (dh, dw), (hp, wp) = kernel, dilation, padded
    length, size, it = ho * wp, hp * wp, cols.itemsize
    sn = length * it
    rows = as_strided(cols, (c, kh, n, length, kw), (kh * kw * n * sn, kw * n * sn, sn, it, n * sn - dw * it), writeable=False)
    part = np.empty((c, kh, n, size), dtype=cols.dtype)
    part[..., length:] = 0
    np.sum(rows, axis=-1, out=part[..., :length])
    t = part.strides
    shifted = as_strided(part, (c, n, size, kh), (t[0], t[2], it, t[1] - dh * wp * it), writeable=False)
    return shifted.sum(axis=-1).reshape(c, n, hp, wp)


def _out_shape(x_shape, w_shape, geo: Geometry) -> tuple[int, ...]:
    return tuple(
        out_size(s, k, st, lo, hi, dl)
        for s, k, st, (lo, hi), dl in zip(x_shape[2:], w_shape[2:], geo.stride, geo.padding, geo.dilation)
    )


def _grouped(w: np.ndarray, g: int) -> np.ndarray:
    """Weight (O, C/g, *K) as (g, O/g, C/g * K)."""
    return w.reshape(g, w.shape[0] // g, -1)


def _cols_per_sample(x_shape, w_shape, geo: Geometry, out, width: int | None = None) -> int:
    """Bytes of one sample's im2col columns (itemsize 1); ``width``: the wide layout's row width."""
    positions = out[0] * width if width is not None else int(np.prod(out))
    return int(np.prod(w_shape[1:])) * geo.groups * positions


def _plan(x_shape, w_shape, geo: Geometry, out, itemsize: int) -> tuple[list[tuple[int, int]], int, bool]:
    """How a convolution over the batch runs: the blocks of samples run in parallel (_parallel),
    the samples per product inside a block, and whether the columns fit the cache kept from
    the forward for the weight gradient (COLS_CACHE_BYTES; then one product per block)."""
    n = x_shape[0]
    per = _cols_per_sample(x_shape, w_shape, geo, out) * itemsize
    blocks = spans(n, per * n)
    keep = per * n <= COLS_CACHE_BYTES
    step = n if keep else max(1, FOLD_BYTES // max(per, 1))
    return blocks, step, keep


def _steps(lo: int, hi: int, step: int):
    for a in range(lo, hi, step):
        yield a, min(hi, a + step)


def _product(w: np.ndarray, cols: np.ndarray, g: int) -> np.ndarray:
    """W (O, C/g, *K) times the columns: (O, positions)."""
    if g == 1:
        return product(w.reshape(w.shape[0], -1), cols)
    return np.matmul(_grouped(w, g), cols.reshape(g, -1, cols.shape[1])).reshape(w.shape[0], -1)


def conv_forward(x: np.ndarray, w: np.ndarray, geo: Geometry, out=None, bias=None, keep: list | None = None, u=None) -> np.ndarray:
    """``out`` limits the output positions: as the adjoint of a transposed convolution whose
    output_padding is >= stride, fewer windows than fit are wanted. ``keep``: a list to receive
    ((lo, hi), columns) per block when the columns fit COLS_CACHE_BYTES, for the weight gradient.
    ``u``: the weights' Winograd transform (ops/winograd.py), given by Conv for the 3x3
    stride-1 convolutions with many channels: then it is used instead of im2col.

    Each block of samples (see _parallel) runs its own pipeline: im2col, the product, the
    (N, O, ...) layout with the bias added in the same pass. A block whose columns exceed
    FOLD_BYTES makes them a few samples at a time, still in cache for the product (MNIST CNN's
    32->64 3x3 conv at batch 64, 46 MB of columns: 17.3 -> 12.5 ms); equal to one product to
    rounding (a narrower product may take another BLAS edge kernel)."""
    n, o = x.shape[0], w.shape[0]
    out = _out_shape(x.shape, w.shape, geo) if out is None else tuple(out)
    blocks, step, fits = _plan(x.shape, w.shape, geo, out, x.itemsize)
    res = np.empty((n, o, *out), dtype=np.result_type(x, w))
    if u is not None:
        front = tuple(lo for lo, _ in geo.padding)
        run(lambda lo, hi: winograd.correlate(x[lo:hi], u, front, out, res[lo:hi], bias), blocks)
        return res
    b = None if bias is None else bias.reshape(-1, *(1,) * len(out))
    kept = {}

    def block(lo: int, hi: int) -> None:
        for a, z in _steps(lo, hi, step):
            cols = im2col(x[a:z], w.shape[2:], geo, out)
            if fits and keep is not None:
                kept[(a, z)] = cols
            y = _product(w, cols, geo.groups)
            ym = y.reshape(o, z - a, *out)
            if b is None:
                res[a:z] = ym.swapaxes(0, 1)
            else:
                np.add(ym.swapaxes(0, 1), b, out=res[a:z])

    run(block, blocks)
    if keep is not None and fits:
        keep.extend(sorted(kept.items()))
    return res


def _g_matrix(g: np.ndarray, wide_width: int | None = None) -> np.ndarray:
    """Upstream gradient (N, O, *out) as the (O, N L) matrix; in the wide layout each output
    row is padded with zeros to the padded input width."""
    if wide_width is None:
        return np.ascontiguousarray(g.swapaxes(0, 1)).reshape(g.shape[1], -1)
    n, o, ho, wo = g.shape
    gm = np.empty((o, n, ho, wide_width), dtype=g.dtype)
    gm[..., :wo] = g.swapaxes(0, 1)
    gm[..., wo:] = 0
    return gm.reshape(o, -1)


def _wide_width(x_shape, kernel, geo: Geometry) -> int | None:
    """The padded row width when col2im uses the wide layout, else None."""
    wide = is_wide(kernel, geo, x_shape[-1], x_shape[1] * int(np.prod(kernel)))
    return x_shape[3] + sum(geo.padding[1]) if wide else None


def conv_input_forward(g: np.ndarray, w: np.ndarray, geo: Geometry, x_shape, u=None) -> np.ndarray:
    """W^T times the upstream gradient's matrix, folded back by col2im: per block of samples,
    a few samples at a time when their columns exceed FOLD_BYTES (added back while still in
    cache: MNIST CNN's 32->64 3x3 conv at batch 64, 20.3 -> 18.4 ms); equal to one product to
    rounding. A 3x3 stride-1 convolution with many output channels (ops/winograd.py) instead
    correlates g, padded by 2 - pad, with the flipped kernel (``u``: the forward's transform)."""
    o, grp = w.shape[0], geo.groups
    kernel, out = w.shape[2:], g.shape[2:]
    blocks, _, _ = _plan(x_shape, w.shape, geo, out, g.itemsize)
    if winograd.eligible(kernel, geo, o, g, w):
        uf = winograd.flipped(winograd.transform_weight(w) if u is None else u)
        front = tuple(2 - lo for lo, _ in geo.padding)
        res = np.empty(x_shape, dtype=g.dtype)
        run(lambda lo, hi: winograd.correlate(g[lo:hi], uf, front, x_shape[2:], res[lo:hi]), blocks)
        return res
    width = _wide_width(x_shape, kernel, geo)
    step = max(1, FOLD_BYTES // max(_cols_per_sample(x_shape, w.shape, geo, out, width) * g.itemsize, 1))
    res = np.empty(x_shape, dtype=np.result_type(g, w))
    wt = w.reshape(o, -1).T if grp == 1 else _grouped(w, grp).transpose(0, 2, 1)

    def block(lo: int, hi: int) -> None:
        for a, z in _steps(lo, hi, step):
            gm = _g_matrix(g[a:z], width)
            if grp == 1:
                cols = product(wt, gm)
            else:
                cols = np.matmul(wt, gm.reshape(grp, o // grp, -1)).reshape(-1, gm.shape[1])
            col2im(cols, (z - a, *x_shape[1:]), kernel, geo, out, dst=res[a:z])

    run(block, blocks)
    return res


def conv_weight_forward(x: np.ndarray, g: np.ndarray, geo: Geometry, w_shape, cols=None) -> np.ndarray:
    """The upstream gradient's matrix times the columns' transpose, summed over the blocks of
    samples (the blocks' products summed: rounding differs from one product, ~5e-7 relative in
    float32). ``cols``: the forward's kept ((lo, hi), columns) pairs. A 3x3 stride-1 convolution
    with many input channels sums the transform-domain products of ops/winograd.py instead."""
    o, grp = w_shape[0], geo.groups
    out = g.shape[2:]
    if winograd.eligible(w_shape[2:], geo, w_shape[1], x, g) and x.shape[0] > 0:
        front = tuple(lo for lo, _ in geo.padding)
        parts: dict[int, np.ndarray] = {}
        run(lambda lo, hi: parts.__setitem__(lo, winograd.weight_grad(x[lo:hi], g[lo:hi], front, out)), spans(x.shape[0], x.nbytes * 4))
        return sum(parts[k] for k in sorted(parts))
    if cols:
        pieces = [(a, z) for (a, z), _ in cols]
        kept = dict(cols)
        blocks = _regroup(pieces, spans(x.shape[0], sum(c.nbytes for _, c in cols)))
    else:
        blocks, step, _ = _plan(x.shape, w_shape, geo, out, x.itemsize)
        pieces = [p for lo, hi in blocks for p in _steps(lo, hi, step)]
        kept = {}
        blocks = _regroup(pieces, blocks)
    partial: dict[int, np.ndarray] = {}

    def block(lo: int, hi: int) -> None:
        acc = None
        for a, z in pieces[lo:hi]:
            c = kept[(a, z)] if (a, z) in kept else im2col(x[a:z], w_shape[2:], geo, out)
            gm = _g_matrix(g[a:z])
            if grp == 1:
                p = gemm(gm, c.T)
            else:
                p = np.matmul(gm.reshape(grp, o // grp, -1), c.reshape(grp, -1, c.shape[1]).transpose(0, 2, 1))
            acc = p if acc is None else acc + p
        partial[lo] = acc

    run(block, blocks)
    total = None
    for k in sorted(partial):
        total = partial[k] if total is None else total + partial[k]
    if total is None:  # an empty batch: no samples, a zero gradient
        return np.zeros(w_shape, dtype=np.result_type(x, g))
    return np.ascontiguousarray(total).reshape(w_shape)


def _regroup(pieces: list[tuple[int, int]], blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The sample blocks as ranges of indices into ``pieces`` (consecutive sample ranges)."""
    out, i = [], 0
    for _, hi in blocks:
        j = i
        while j < len(pieces) and pieces[j][1] <= hi:
            j += 1
        if j > i:
            out.append((i, j))
        i = j
    if i < len(pieces):
        out.append((i, len(pieces)))
    return out


WIDE_WASTE = 0.2  # col2im's wide layout while its discarded columns add at most this to the product ...
WIDE_DEPTH = 256  # ... or the columns have at most this many rows
FOLD_BYTES = 2 * 2**20  # im2col columns per product inside a block of samples (cache-sized): in training
# steps alternating in one process, 2 MiB against 8 MiB: MNIST CNN -4.0% (faster in 11/12 rounds), CIFAR CNN
# -7.0% (12/12), ResNet-18 -2.0% (7/8); 4 MiB lost to 2 (+8.8%, +1.0%), 1 MiB (one sample) to 8 (+6.0%)
COLS_CACHE_BYTES = 24 * 2**20  # keep a forward's im2col matrix for the weight gradient up to this size
# (48 MiB made the MNIST-CNN step ~4% faster but ResNet-18's peak memory 1.57x PyTorch's, over the 1.5x budget;
# 24 against 16 MiB keeps the CIFAR CNN's 32->64 columns: its step -4.3% and -2.1% (faster in 11/12, 8/12 rounds),
# ResNet-18 -0.4% (6/8) with its peak 532 -> 547 MiB, 1.17x PyTorch's)


class Conv(Function):
    """Small im2col matrices are kept from the forward pass for the weight gradient (speed);
    large ones are rebuilt (memory)."""

    math = OpMath(
        "y = x ⋆ w + b   (cross-correlation: y[n,o,p] = b[o] + sum_{c,k} w[o,c,k] x_pad[n,c,p*s + k*d])",
        grads=("conv_input(g, w)", "conv_weight(x, g)", "sum of g over the batch and positions"),
        inputs=("x", "w", "b"),
        note="conv_input is the transposed convolution (the adjoint in x), conv_weight the correlation of x with g (the adjoint in w).",
    )

    save_inputs = True

    def forward(self, x, w, b=None, *, geo, out=None):
        self.geo = geo
        kept: list = []
        wino = winograd.eligible(w.shape[2:], geo, w.shape[1], x, w)
        self.u = winograd.transform_weight(w) if wino else None  # also the input gradient's, flipped
        y = conv_forward(x, w, geo, out, bias=b, keep=kept, u=self.u)
        self.cols = kept or None  # too big to keep: rebuilt block by block for the weight gradient
        return y

    def backward(self, g):
        x, w = self.inputs[:2]
        # the bias gradient first, while g (just made by the op after this one) is still in cache: last,
        # it read g back from memory (MNIST CNN's (64, 64, 24, 24) in the step: 0.72-0.87 -> 0.50-0.57 ms)
        gb = _sum(g, (0, *range(2, g._data.ndim))) if len(self.inputs) == 3 and self.inputs[2].requires_grad else None
        gx = ConvInput.apply(g, w, geo=self.geo, x_shape=x._data.shape, u=self.u) if x.requires_grad else None
        gw = ConvWeight.apply(x, g, geo=self.geo, w_shape=w._data.shape, cols=self.cols) if w.requires_grad else None
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, gb)


class ConvInput(Function):
    math = OpMath(
        "z = conv_input(g, w) = A_w^T g   (the adjoint of x -> conv(x, w): a transposed convolution)",
        grads=("conv(gz, w)", "conv_weight(gz, g)"),
        inputs=("g", "w"),
        note="Here gz = dL/dz is the upstream gradient.",
    )

    save_inputs = True

    def forward(self, g, w, geo, x_shape, u=None):
        self.geo, self.x_shape = geo, x_shape
        return conv_input_forward(g, w, geo, x_shape, u)

    def backward(self, gz):
        g, w = self.inputs
        gg = Conv.apply(gz, w, geo=self.geo, out=g._data.shape[2:]) if g.requires_grad else None
        gw = ConvWeight.apply(gz, g, geo=self.geo, w_shape=w._data.shape) if w.requires_grad else None
        return gg, gw


class ConvWeight(Function):
    math = OpMath(
        "v = conv_weight(x, g) = B_x^T g   (the adjoint of w -> conv(x, w): the correlation of x with g)",
        grads=("conv_input(g, gv)", "conv(x, gv)"),
        inputs=("x", "g"),
        note="Here gv = dL/dv is the upstream gradient.",
    )

    save_inputs = True

    def forward(self, x, g, geo, w_shape, cols=None):
        self.geo, self.w_shape = geo, w_shape
        return conv_weight_forward(x, g, geo, w_shape, cols)

    def backward(self, gv):
        x, g = self.inputs
        gx = ConvInput.apply(g, gv, geo=self.geo, x_shape=x._data.shape) if x.requires_grad else None
        gg = Conv.apply(x, gv, geo=self.geo, out=g._data.shape[2:]) if g.requires_grad else None
        return gx, gg


# ---- the op functions behind nn.functional's convolutions ----------------------------------


def _conv_padding(padding, kernel, dilation, stride, op: str) -> tuple[tuple[int, int], ...]:
    d = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
            total = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in total)
        raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
    return tuple((p, p) for p in ntuple(padding, d, "padding"))


def _check_conv(x, w, op: str, d: int, groups: int) -> None:
    who = op
    if isinstance(x, Tensor) and x._data.ndim == d + 2 and 0 in x._data.shape[2:] and 0 not in x._data.shape[:2]:
        raise RuntimeError(
            f"{who}: only an empty batch or empty channels are supported, got input shape {tuple(x._data.shape)}"
        )
    if x._data.ndim != d + 2:
        raise RuntimeError(
            f"{who}: expected a {d + 2}-D input (batch, channels, {'length' if d == 1 else 'height, width'}), "
            f"got shape {tuple(x._data.shape)}"
        )
    c_in = w._data.shape[1] * groups
    if x._data.shape[1] != c_in:
        raise RuntimeError(
            f"{who}: expected input with {c_in} channels, got {x._data.shape[1]} (input shape {tuple(x._data.shape)})"
        )
    if x._data.dtype != w._data.dtype:
        raise RuntimeError(
            f"{who}: input dtype {_dtype.from_numpy_dtype(x._data.dtype)} does not match the weight dtype "
            f"{_dtype.from_numpy_dtype(w._data.dtype)}"
        )


def conv(x, weight, bias, stride, padding, dilation, groups, d: int, op: str):
    """The d-dimensional convolution behind ``conv1d``/``conv2d``: checks, geometry, then the Conv op.
    An unbatched input (C, *S) is treated as a batch of one, as in PyTorch."""
    if isinstance(x, Tensor) and x._data.ndim == d + 1:
        return squeeze(conv(unsqueeze(x, 0), weight, bias, stride, padding, dilation, groups, d, op), 0)
    _check_conv(x, weight, op, d, groups)
    kernel = weight._data.shape[2:]
    stride = ntuple(stride, d, "stride")
    dilation = ntuple(dilation, d, "dilation")
    check_positive(op, kernel_size=kernel, stride=stride, dilation=dilation)
    if not isinstance(padding, str):
        check_positive(op, padding=ntuple(padding, d, "padding"))
    pads = _conv_padding(padding, kernel, dilation, stride, op)
    geo = Geometry((stride, pads, dilation, groups))
    out = _out_shape(x._data.shape, weight._data.shape, geo)
    if any(o <= 0 for o in out):
        eff = tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation))
        raise RuntimeError(
            f"{op}: input spatial size {tuple(x._data.shape[2:])} (padded by {pads}) is smaller than the "
            f"effective kernel size {eff}; input shape {tuple(x._data.shape)}"
        )
    if bias is not None:
        if bias._data.dtype != weight._data.dtype or bias._data.shape != (weight._data.shape[0],):
            raise RuntimeError(
                f"{op}: bias must be a {weight.dtype} vector of {weight._data.shape[0]} values, got {bias.dtype} {tuple(bias._data.shape)}"
            )
        return Conv.apply(x, weight, bias, geo=geo)
    return Conv.apply(x, weight, geo=geo)




def conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, d: int, op: str):
    """The d-dimensional transposed convolution: the ConvInput op (adjoint of conv) plus the bias.
    An unbatched input (C, *S) is treated as a batch of one, as in PyTorch."""
    if isinstance(x, Tensor) and x._data.ndim == d + 1:
        y = conv_transpose(unsqueeze(x, 0), weight, bias, stride, padding, output_padding, groups, dilation, d, op)
        return squeeze(y, 0)
    who = op
    if x._data.ndim != d + 2:
        raise RuntimeError(f"{who}: expected a {d + 2}-D input, got shape {tuple(x._data.shape)}")
    if x._data.shape[1] != weight._data.shape[0]:
        raise RuntimeError(
            f"{who}: expected input with {weight._data.shape[0]} channels, got {x._data.shape[1]} (input shape {tuple(x._data.shape)})"
        )
    if x._data.dtype != weight._data.dtype:
        raise RuntimeError(
            f"{who}: input dtype {_dtype.from_numpy_dtype(x._data.dtype)} does not match the weight dtype {_dtype.from_numpy_dtype(weight._data.dtype)}"
        )
    kernel = weight._data.shape[2:]
    stride, dilation = ntuple(stride, d, "stride"), ntuple(dilation, d, "dilation")
    pad, opad = ntuple(padding, d, "padding"), ntuple(output_padding, d, "output_padding")
    check_positive(op, kernel_size=kernel, stride=stride, dilation=dilation, padding=pad, output_padding=opad)
    for op_, s, dl in zip(opad, stride, dilation):
        if op_ >= max(s, dl):
            raise RuntimeError(
                f"{who}: output_padding {opad} must be smaller than either stride {stride} or dilation {dilation}"
            )
    size = tuple(
        (i - 1) * s - 2 * p + dl * (k - 1) + op_ + 1
        for i, s, p, dl, k, op_ in zip(x._data.shape[2:], stride, pad, dilation, kernel, opad)
    )
    if any(s <= 0 for s in size):
        raise RuntimeError(f"{who}: computed output size {size} is too small for input shape {tuple(x._data.shape)}")
    geo = Geometry((stride, tuple((p, p) for p in pad), dilation, groups))
    x_shape = (x._data.shape[0], weight._data.shape[1] * groups, *size)
    y = ConvInput.apply(x, weight, geo=geo, x_shape=x_shape)
    if bias is not None:
        y = y + bias.reshape((1, -1) + (1,) * d)
    return y
