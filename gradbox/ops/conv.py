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
"""

from __future__ import annotations

import numpy as np

from gradbox import _dtype
from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath
from gradbox.ops._kernels import gemm
from gradbox.ops._parallel import chunked
from gradbox.ops.reduce import sum as _sum
from gradbox.ops.shape import squeeze, unsqueeze
from gradbox.ops.window import Geometry, check_positive, ntuple, offset_slices, out_size, pad_spatial, windows
from gradbox.tensor import Tensor


def is_wide(kernel, geo: Geometry) -> bool:
    """Stride-1 2-D convolutions use the *wide* layout (see ``im2col``)."""
    return len(kernel) == 2 and geo.stride == (1, 1)


def im2col(x: np.ndarray, kernel, geo: Geometry, out) -> np.ndarray:
    """(C * prod(kernel), N * prod(out)) matrix of the windows of the padded input.

    Rows run over (channel, kernel offset), columns over (sample, output position), so the
    convolution is one matrix product W (O, C K) @ cols.

    Wide layout (stride-1 2-D): output rows are taken over the full padded width Wp instead of
    Wo, so the window of kernel offset (i, j) is the padded image, flattened per channel, shifted
    by i*dh*Wp + j*dw: one contiguous block copy per offset instead of a strided gather. The
    extra Wp - Wo columns per row are computed and discarded.
    """
    d = len(kernel)
    xp = pad_spatial(x, geo.padding)
    if is_wide(kernel, geo):
        n, c, hp, wp = xp.shape
        run = out[0] * wp
        flat = np.empty((c, n, hp * wp + (kernel[1] - 1) * geo.dilation[1]), dtype=x.dtype)
        cols = np.empty((c, kernel[0], kernel[1], n, run), dtype=x.dtype)

        def fill(lo: int, hi: int) -> None:  # samples lo:hi (disjoint per thread)
            flat[:, lo:hi, : hp * wp] = xp[lo:hi].transpose(1, 0, 2, 3).reshape(c, hi - lo, hp * wp)
            flat[:, lo:hi, hp * wp :] = 0  # the tail only feeds discarded columns
            for i in range(kernel[0]):
                for j in range(kernel[1]):
                    shift = i * geo.dilation[0] * wp + j * geo.dilation[1]
                    cols[:, i, j, lo:hi] = flat[:, lo:hi, shift : shift + run]

        chunked(fill, n, cols.nbytes)
        return cols.reshape(c * kernel[0] * kernel[1], n * run)
    win = windows(xp, kernel, geo.stride, geo.dilation, out)
    perm = (1, *range(2 + d, 2 + 2 * d), 0, *range(2, 2 + d))  # (C, *K, N, *out)
    return win.transpose(perm).reshape(x.shape[1] * int(np.prod(kernel)), -1)


def col2im(cols: np.ndarray, x_shape, kernel, geo: Geometry, out) -> np.ndarray:
    """Adjoint of im2col: add each column entry back onto the input position it came from.

    A loop over the kernel offsets (e.g. 9 for 3x3), each step one vectorised add (a
    contiguous shifted block in the wide layout) into a (C, N, ...) buffer, transposed to
    (N, C, ...) once at the end.
    """
    n, c = x_shape[:2]
    padded = [s + lo + hi for s, (lo, hi) in zip(x_shape[2:], geo.padding)]
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x_shape[2:], geo.padding))
    if is_wide(kernel, geo):
        cols = cols.reshape(c, kernel[0], kernel[1], n, -1)
        return _fold_wide(lambda lo, hi: cols[:, :, :, lo:hi], x_shape, kernel, geo, out, cols.dtype, n)
    cols = cols.reshape(c, *kernel, n, *out)
    xt = np.zeros((c, n, *padded), dtype=cols.dtype)
    for k, sl in offset_slices(kernel, geo.stride, geo.dilation, out):
        xt[(slice(None), slice(None), *sl)] += cols[(slice(None), *k)]
    return np.ascontiguousarray(xt[(slice(None), slice(None), *crop)].swapaxes(0, 1))


def _fold_wide(block, x_shape, kernel, geo: Geometry, out, dtype, step: int) -> np.ndarray:
    """col2im in the wide layout, ``step`` samples at a time: ``block(lo, hi)`` gives the
    columns of samples lo:hi as a (C, kh, kw, hi - lo, Ho * Wp) array."""
    n, c = x_shape[:2]
    hp, wp = (s + lo + hi for s, (lo, hi) in zip(x_shape[2:], geo.padding))
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x_shape[2:], geo.padding))
    run = out[0] * wp
    flat = np.zeros((c, n, hp * wp + (kernel[1] - 1) * geo.dilation[1]), dtype=dtype)
    xt = flat[:, :, : hp * wp].reshape(c, n, hp, wp)[(slice(None), slice(None), *crop)]
    res = np.empty((n, c, *xt.shape[2:]), dtype=flat.dtype)

    def add(lo: int, hi: int) -> None:  # samples lo:hi (disjoint per thread)
        for a in range(lo, hi, step):
            b = min(hi, a + step)
            cols = block(a, b)
            for i in range(kernel[0]):
                for j in range(kernel[1]):
                    shift = i * geo.dilation[0] * wp + j * geo.dilation[1]
                    flat[:, a:b, shift : shift + run] += cols[:, i, j]
        res[lo:hi] = xt[:, lo:hi].swapaxes(0, 1)

    chunked(add, n, c * kernel[0] * kernel[1] * n * run * np.dtype(dtype).itemsize)  # the columns' bytes
    return res


def _out_shape(x_shape, w_shape, geo: Geometry) -> tuple[int, ...]:
    return tuple(
        out_size(s, k, st, lo, hi, dl)
        for s, k, st, (lo, hi), dl in zip(x_shape[2:], w_shape[2:], geo.stride, geo.padding, geo.dilation)
    )


def _grouped(w: np.ndarray, g: int) -> np.ndarray:
    """Weight (O, C/g, *K) as (g, O/g, C/g * K)."""
    return w.reshape(g, w.shape[0] // g, -1)


def _sample_step(x: np.ndarray, w_shape, geo: Geometry, out) -> int | None:
    """Samples per FOLD_BYTES of im2col columns for a wide, ungrouped convolution whose whole
    column matrix would exceed COLS_CACHE_BYTES (so is not kept for the weight gradient);
    None when the matrix is built whole."""
    if geo.groups != 1 or not is_wide(w_shape[2:], geo):
        return None
    per = int(np.prod(w_shape[1:])) * out[0] * (x.shape[3] + sum(geo.padding[1])) * x.itemsize
    return max(1, FOLD_BYTES // per) if per * x.shape[0] > COLS_CACHE_BYTES else None


def conv_forward(x: np.ndarray, w: np.ndarray, geo: Geometry, out=None, cols=None, bias=None, res=None) -> np.ndarray:
    """``out`` limits the output positions: as the adjoint of a transposed convolution whose
    output_padding is >= stride, fewer windows than fit are wanted. ``res``: where to write."""
    n, o, g = x.shape[0], w.shape[0], geo.groups
    out = _out_shape(x.shape, w.shape, geo) if out is None else tuple(out)
    step = _sample_step(x, w.shape, geo, out) if cols is None else None
    if step is not None and step < n:
        # im2col and product a block of samples at a time, the columns still in cache for the
        # product: MNIST CNN's 32->64 3x3 conv at batch 64 (46 MB of columns), im2col + product +
        # layout 17.3 -> 12.5 ms (8 MiB blocks; 16 MiB: 14.9 ms); bit-identical
        res = np.empty((n, o, *out), dtype=x.dtype) if res is None else res
        for a in range(0, n, step):
            b = min(n, a + step)
            conv_forward(x[a:b], w, geo, out, cols=im2col(x[a:b], w.shape[2:], geo, out), bias=bias, res=res[a:b])
        return res
    if cols is None:
        cols = im2col(x, w.shape[2:], geo, out)  # (C K, N L)
    if g == 1:
        y = w.reshape(o, -1) @ cols
    else:
        y = np.matmul(_grouped(w, g), cols.reshape(g, -1, cols.shape[1])).reshape(o, -1)
    if is_wide(w.shape[2:], geo):
        wp = x.shape[3] + sum(geo.padding[1])
        ym = y.reshape(o, n, out[0], wp)[..., : out[1]]
    else:
        ym = y.reshape(o, n, *out)
    res = np.empty((n, o, *out), dtype=y.dtype) if res is None else res
    b = None if bias is None else bias.reshape(-1, *(1,) * len(out))

    def copy(lo: int, hi: int) -> None:  # the (N, O, ...) layout, the bias added in the same pass
        if b is None:
            res[lo:hi] = ym[:, lo:hi].swapaxes(0, 1)
        else:
            np.add(ym[:, lo:hi].swapaxes(0, 1), b, out=res[lo:hi])

    chunked(copy, n, res.nbytes)
    return res


def _g_matrix(g: np.ndarray, wide_width: int | None = None) -> np.ndarray:
    """Upstream gradient (N, O, *out) as the (O, N L) matrix; in the wide layout each output
    row is padded with zeros to the padded input width."""
    if wide_width is None:
        return np.ascontiguousarray(g.swapaxes(0, 1)).reshape(g.shape[1], -1)
    n, o, ho, wo = g.shape
    gm = np.empty((o, n, ho, wide_width), dtype=g.dtype)

    def fill(lo: int, hi: int) -> None:  # samples lo:hi (disjoint per thread)
        gm[:, lo:hi, :, :wo] = g[lo:hi].swapaxes(0, 1)
        gm[:, lo:hi, :, wo:] = 0

    chunked(fill, n, gm.nbytes)
    return gm.reshape(o, -1)


def _wide_width(x_shape, kernel, geo: Geometry) -> int | None:
    return x_shape[3] + sum(geo.padding[1]) if is_wide(kernel, geo) else None


def conv_input_forward(g: np.ndarray, w: np.ndarray, geo: Geometry, x_shape) -> np.ndarray:
    o, grp = w.shape[0], geo.groups
    gm = _g_matrix(g, _wide_width(x_shape, w.shape[2:], geo))
    if grp == 1 and is_wide(w.shape[2:], geo):
        # the product made and folded FOLD_BYTES of columns at a time, so they are added back
        # while still in cache: MNIST CNN's 32->64 3x3 conv at batch 64 (46 MB of columns),
        # product + col2im 20.3 -> 18.4 ms; bit-identical (each column's sums are unchanged)
        wt, run = w.reshape(o, -1).T, g.shape[2] * _wide_width(x_shape, w.shape[2:], geo)
        step = max(1, FOLD_BYTES // (wt.shape[0] * run * gm.itemsize))
        shape = (x_shape[1], *w.shape[2:])

        def block(lo: int, hi: int) -> np.ndarray:
            return (wt @ gm[:, lo * run : hi * run]).reshape(*shape, hi - lo, run)

        return _fold_wide(block, x_shape, w.shape[2:], geo, g.shape[2:], np.result_type(wt, gm), step)
    if grp == 1:
        cols = w.reshape(o, -1).T @ gm
    else:
        cols = np.matmul(_grouped(w, grp).transpose(0, 2, 1), gm.reshape(grp, o // grp, -1)).reshape(-1, gm.shape[1])
    return col2im(cols, x_shape, w.shape[2:], geo, g.shape[2:])


def conv_weight_forward(x: np.ndarray, g: np.ndarray, geo: Geometry, w_shape, cols=None) -> np.ndarray:
    o, grp = w_shape[0], geo.groups
    gm = _g_matrix(g, _wide_width(x.shape, w_shape[2:], geo))
    step = _sample_step(x, w_shape, geo, g.shape[2:]) if cols is None else None
    if step is not None and step < x.shape[0]:
        # columns rebuilt a block of samples at a time and multiplied while in cache, the
        # blocks' products summed (float rounding differs from the one product, ~5e-7 relative
        # in float32): MNIST CNN's 32->64 3x3 conv at batch 64, 15.9 -> 14.3 ms
        run, gw = gm.shape[1] // x.shape[0], 0
        for a in range(0, x.shape[0], step):
            b = min(x.shape[0], a + step)
            gw = gw + gemm(gm[:, a * run : b * run], im2col(x[a:b], w_shape[2:], geo, g.shape[2:]).T)
        return np.ascontiguousarray(gw).reshape(w_shape)
    if cols is None:
        cols = im2col(x, w_shape[2:], geo, g.shape[2:])
    if grp == 1:
        gw = np.ascontiguousarray(gemm(gm, cols.T))
    else:
        gw = np.matmul(gm.reshape(grp, o // grp, -1), cols.reshape(grp, -1, cols.shape[1]).transpose(0, 2, 1))
    return gw.reshape(w_shape)


FOLD_BYTES = 8 * 2**20  # im2col columns per block of samples in the wide layout's blocked products (cache-sized)
COLS_CACHE_BYTES = 16 * 2**20  # keep a forward's im2col matrix for the weight gradient up to this size
# (48 MiB made the MNIST-CNN step ~4% faster but ResNet-18's peak memory 1.57x PyTorch's, over the 1.5x budget)


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
        out = _out_shape(x.shape, w.shape, geo) if out is None else tuple(out)
        self.cols = None
        if _sample_step(x, w.shape, geo, out) is not None:  # too big to keep: built block by block
            return conv_forward(x, w, geo, out, bias=b)
        cols = im2col(x, w.shape[2:], geo, out)
        self.cols = cols if cols.nbytes <= COLS_CACHE_BYTES else None
        return conv_forward(x, w, geo, out, cols=cols, bias=b)

    def backward(self, g):
        x, w = self.inputs[:2]
        gx = ConvInput.apply(g, w, geo=self.geo, x_shape=x._data.shape) if x.requires_grad else None
        gw = ConvWeight.apply(x, g, geo=self.geo, w_shape=w._data.shape, cols=self.cols) if w.requires_grad else None
        if len(self.inputs) == 2:
            return gx, gw
        gb = _sum(g, (0, *range(2, g._data.ndim))) if self.inputs[2].requires_grad else None
        return gx, gw, gb


class ConvInput(Function):
    math = OpMath(
        "z = conv_input(g, w) = A_w^T g   (the adjoint of x -> conv(x, w): a transposed convolution)",
        grads=("conv(gz, w)", "conv_weight(gz, g)"),
        inputs=("g", "w"),
        note="Here gz = dL/dz is the upstream gradient.",
    )

    save_inputs = True

    def forward(self, g, w, geo, x_shape):
        self.geo, self.x_shape = geo, x_shape
        return conv_input_forward(g, w, geo, x_shape)

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
