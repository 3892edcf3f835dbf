"""Pooling on sliding-window views of the (padded) input, vectorised over all windows.

max_pool: y[p] = max_{k} x_pad[p*s + k*d]; dL/dx puts g[p] at the argmax of window p (the
first one on ties, as PyTorch) and sums where windows overlap (a scatter-add).
avg_pool: y[p] = (1/D_p) sum_k x_pad[p*s + k]; dL/dx spreads g[p]/D_p over window p.
adaptive pools cover the input with output-size windows, start floor(i L/out), end ceil((i+1) L/out).
"""


import math

import numpy as np

from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath
from gradbox.ops import _compiled
from gradbox.ops._parallel import chunked
from gradbox.ops.elementwise import mul
from gradbox.ops.index import getitem
from gradbox.ops.linalg import matmul
from gradbox.ops.reduce import max as _max
from gradbox.ops.reduce import mean
from gradbox.ops.shape import movedim, pad, squeeze, unsqueeze
from gradbox.ops.window import check_positive, ntuple, offset_slices, pad_spatial, pool_geometry, windows
from gradbox.tensor import Tensor

# the contiguous window stack of MaxPool is used while it is at most this many times the
# padded input (always for non-overlapping windows, 2.25x for 3x3 stride-2 pools)
STACK_FACTOR = 2.5


class MaxPool(Function):
    math = OpMath(
        "y[p] = max of x over window p",
        grads=("g[p] put at the argmax of window p, summed where windows overlap",),
        note="NaN wins the max (the last NaN of a window takes the gradient), and otherwise the first maximum takes it "
        "on ties, as in PyTorch.",
    )

    def forward(self, x, kernel, stride, dilation, pads, out):
        xp = pad_spatial(x, pads, -np.inf)
        k = math.prod(kernel)
        best = np.empty((*xp.shape[:2], *out), dtype=xp.dtype)
        arg = np.empty(best.shape, dtype=np.int8 if k < 128 else np.int32)
        compiled = _compiled_2x2(xp, kernel, stride, dilation, out)
        if compiled is not None:  # one compiled pass (ops/_compiled.py), same numbers
            window_max = lambda lo, hi: compiled.max_pool_2x2(xp[lo:hi], best[lo:hi], arg[lo:hi])
        else:
            window_max = lambda lo, hi: _max_windows(xp[lo:hi], kernel, stride, dilation, out, best[lo:hi], arg[lo:hi])
        chunked(window_max, xp.shape[0], xp.nbytes + best.nbytes)  # samples split over the threads (ops/_parallel.py)
        self.arg, self.geometry, self.xp_shape, self.pads = arg, (kernel, stride, dilation, out), xp.shape, pads
        return best

    def backward(self, g):
        gp = MaxPoolScatter.apply(g, arg=self.arg, geometry=self.geometry, xp_shape=self.xp_shape)
        crop = [v for lo, hi in reversed(self.pads) for v in (-lo, -hi)]
        return pad(gp, crop)



def _compiled_2x2(a: np.ndarray, kernel, stride, dilation, out):
    """The compiled kernels for a 2x2 stride-2 max-pool of the padded input ``a`` (float, C-contiguous,
    covering the windows), or None: then the NumPy passes."""
    if tuple(kernel) != (2, 2) or tuple(stride) != (2, 2) or tuple(dilation) != (1, 1):
        return None
    if a.dtype not in (np.float32, np.float64) or not a.flags.c_contiguous:
        return None
    if a.shape[2] < 2 * out[0] or a.shape[3] < 2 * out[1]:
        return None
    return _compiled.kernels()


def _max_windows(xp, kernel, stride, dilation, out, best, arg) -> None:
    """Max over each window of xp into ``best``, the offset index of its maximum into ``arg``."""
    k = math.prod(kernel)
    if k * math.prod(out) * xp.shape[0] * xp.shape[1] <= STACK_FACTOR * xp.size:
        # the windows copied once into a contiguous (K, N, C, *out) stack: the 2K - 2 max and
        # compare passes below then run on contiguous rows instead of stride-s views (~7x
        # faster each): forward 2.45/1.42/1.05 -> 1.75/0.92/0.69 ms for 2x2 pools of (64, C,
        # H, H) float32, C, H = 32, 32 / 64, 16 / 128, 8; 18 -> 12 ms for 3x3 stride 2 pad 1
        # on (64, 64, 32, 32). (The backward's strided writes stay: a copy of a gradient
        # stack into the windows of dL/dx measured 3x slower.)
        win = windows(xp, kernel, stride, dilation, out)
        d = len(kernel)
        stack = np.ascontiguousarray(np.moveaxis(win, tuple(range(-d, 0)), tuple(range(d))))
        views = list(stack.reshape(k, *win.shape[: 2 + d]))
    else:
        views = [xp[(slice(None), slice(None), *sl)] for _, sl in offset_slices(kernel, stride, dilation, out)]
    if k > 1:
        np.maximum(views[0], views[1], out=best)
    else:
        best[...] = views[0]
    for v in views[2:]:
        np.maximum(best, v, out=best)
    # index of the first offset holding the maximum: offsets visited last to first, each
    # setting arg = j where it holds the maximum (branch-free: arg -= (arg - j) * hit; a
    # masked copyto or np.where on a random mask is ~5x slower), so the first one wins; the
    # last offset needs no compare (some offset holds the maximum, or the NaN)
    arg[...] = k - 1
    hit = np.empty(best.shape, dtype=bool)
    tmp = np.empty(best.shape, dtype=arg.dtype)
    has_nan = best.dtype.kind == "f" and np.isnan(best).any()
    for j in range(len(views) - 2, -1, -1):
        np.equal(views[j], best, out=hit)
        np.subtract(arg, j, out=tmp)
        tmp *= hit
        arg -= tmp
    if has_nan:  # a window holding NaN: as in PyTorch its LAST NaN takes the index and the gradient
        for j, v in enumerate(views):
            np.isnan(v, out=hit)
            np.subtract(arg, j, out=tmp)
            tmp *= hit
            arg -= tmp


class MaxPoolScatter(Function):
    """A loop over the kernel offsets."""

    math = OpMath(
        "z = zeros(input shape) with z[argmax of window p] += g[p]",
        grads=("gz gathered at each window's argmax (MaxPoolGather)",),
        inputs=("g",),
    )

    def forward(self, g, arg, geometry, xp_shape):
        self.arg, self.geometry = arg, geometry
        kernel, stride, dilation, out = geometry
        z = np.empty(xp_shape, dtype=g.dtype)
        compiled = _compiled_2x2(z, kernel, stride, dilation, out)
        if compiled is not None and arg.flags.c_contiguous:
            g = np.ascontiguousarray(g)
            # the kernel writes every position of the windows (zero or g): only rows and columns past them need zeros
            z[:, :, 2 * out[0] :] = 0
            z[:, :, :, 2 * out[1] :] = 0
            chunked(lambda lo, hi: compiled.max_unpool_2x2(g[lo:hi], arg[lo:hi], z[lo:hi]), z.shape[0], z.nbytes + g.nbytes)
            return z
        z[...] = 0
        disjoint = tuple(stride) == tuple(kernel) and all(d == 1 for d in dilation)  # windows tile, no overlap

        def block(lo: int, hi: int) -> None:  # samples lo:hi (split over the threads)
            hit = np.empty((hi - lo, *arg.shape[1:]), dtype=bool)
            for j, (_, sl) in enumerate(offset_slices(*geometry)):
                np.equal(arg[lo:hi], j, out=hit)
                dst = z[(slice(lo, hi), slice(None), *sl)]
                if disjoint:  # each input position gets at most one window's gradient: write, no add
                    np.multiply(g[lo:hi], hit, out=dst)
                else:
                    dst += g[lo:hi] * hit

        chunked(block, z.shape[0], z.nbytes + g.nbytes)
        return z

    def backward(self, gz):
        return MaxPoolGather.apply(gz, arg=self.arg, geometry=self.geometry)


class MaxPoolGather(Function):
    math = OpMath("y[p] = x[argmax of window p] (the argmax fixed)", grads=("MaxPoolScatter of g",))

    def forward(self, x, arg, geometry):
        self.arg, self.geometry = arg, geometry
        y = np.zeros(arg.shape, dtype=x.dtype)
        for j, (_, sl) in enumerate(offset_slices(*geometry)):
            np.copyto(y, x[(slice(None), slice(None), *sl)], where=arg == j)
        return y

    def backward(self, g):
        return MaxPoolScatter.apply(g, arg=self.arg, geometry=self.geometry, xp_shape=self.input_shapes[0])


class WindowSum(Function):
    math = OpMath("y[p] = sum_k x[p*s + k*d] over window p", grads=("window_spread(g): each g[p] added over window p",))

    def forward(self, x, kernel, stride, dilation, out):
        self.args = (kernel, stride, dilation)
        d = len(kernel)
        return windows(x, kernel, stride, dilation, out).sum(axis=tuple(range(-d, 0)))

    def backward(self, g):
        return WindowSpread.apply(g, args=self.args, x_shape=self.input_shapes[0])


class WindowSpread(Function):
    math = OpMath(
        "z[q] = sum of g[p] over the windows p that contain q   (the adjoint of WindowSum)",
        grads=("window_sum(gz)",),
        inputs=("g",),
    )

    def forward(self, g, args, x_shape):
        self.args = args
        kernel, stride, dilation = args
        out = g.shape[2:]
        z = np.zeros(x_shape, dtype=g.dtype)
        for _, sl in offset_slices(kernel, stride, dilation, out):
            z[(slice(None), slice(None), *sl)] += g
        return z

    def backward(self, gz):
        kernel, stride, dilation = self.args
        return WindowSum.apply(gz, kernel=kernel, stride=stride, dilation=dilation, out=self.input_shapes[0][2:])


def batched(x: Tensor, d: int, who: str) -> tuple[Tensor, bool]:
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: expected a Tensor input, got {type(x).__name__}")
    if x._data.ndim == d + 1:
        return unsqueeze(x, 0), True
    if x._data.ndim != d + 2:
        raise RuntimeError(f"{who}: expected a {d + 1}-D or {d + 2}-D input, got shape {tuple(x._data.shape)}")
    if 0 in x._data.shape[1:]:
        raise RuntimeError(
            f"{who}: expected non-zero channel and spatial sizes (the batch may be empty), got shape {tuple(x._data.shape)}"
        )
    return x, False


def max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, d: int, who: str):
    x, unbatched = batched(x, d, who)
    kernel = ntuple(kernel_size, d, "kernel_size")
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) else ntuple(stride, d, "stride")
    padding, dilation = ntuple(padding, d, "padding"), ntuple(dilation, d, "dilation")
    check_positive(who, kernel_size=kernel, stride=stride, padding=padding, dilation=dilation)
    out, pads = pool_geometry(x._data.shape[2:], kernel, stride, padding, dilation, ceil_mode, who)
    y = MaxPool.apply(x, kernel=kernel, stride=stride, dilation=dilation, pads=pads, out=out)
    if return_indices:
        idx = _unpadded_index(x, kernel, stride, dilation, pads, out)
        return (squeeze(y, 0), squeeze(idx, 0)) if unbatched else (y, idx)
    return squeeze(y, 0) if unbatched else y


def _unpadded_index(x: Tensor, kernel, stride, dilation, pads, out) -> Tensor:
    """PyTorch's indices: each argmax position flattened over the unpadded spatial dims."""
    probe = MaxPool()  # the forward alone, on arrays: indices do not depend on grad mode
    probe.forward(x._data, kernel=kernel, stride=stride, dilation=dilation, pads=pads, out=out)
    ks = np.unravel_index(probe.arg.astype(np.int64), kernel)
    d = len(kernel)
    flat = 0
    for i in range(d):
        o = np.arange(out[i]).reshape([-1 if j == i else 1 for j in range(d)]) * stride[i]
        flat = flat * x._data.shape[2 + i] + (o + ks[i] * dilation[i] - pads[i][0])
    return Tensor._wrap(np.asarray(flat, dtype=np.int64))




def avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, d: int, who: str):
    x, unbatched = batched(x, d, who)
    kernel = ntuple(kernel_size, d, "kernel_size")
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) else ntuple(stride, d, "stride")
    padding = ntuple(padding, d, "padding")
    check_positive(who, kernel_size=kernel, stride=stride, padding=padding)
    ones = (1,) * d
    spatial = x._data.shape[2:]
    out, pads = pool_geometry(spatial, kernel, stride, padding, ones, ceil_mode, who)
    xp = pad(x, [v for lo, hi in reversed(pads) for v in (lo, hi)])
    s = WindowSum.apply(xp, kernel=kernel, stride=stride, dilation=ones, out=out)
    if divisor_override:
        div = np.asarray(float(divisor_override))
    else:
        # divisor per output position, separable over dims: the window's count of positions
        # inside the padded input (count_include_pad) or inside the input itself.
        div = np.ones((1,) * (2 + d))
        for i, (size, k, st, (lo, hi), o) in enumerate(zip(spatial, kernel, stride, pads, out)):
            inside = np.zeros(size + lo + hi)
            if count_include_pad:
                inside[: size + 2 * lo] = 1
            else:
                inside[lo : lo + size] = 1
            prefix = np.concatenate([[0.0], np.cumsum(inside)])
            starts = np.arange(o) * st
            counts = prefix[starts + k] - prefix[starts]  # window sums of the indicator
            div = div * counts.reshape([1, 1] + [-1 if j == i else 1 for j in range(d)])
    y = mul(s, Tensor._wrap((1.0 / div).astype(x._data.dtype)))
    return squeeze(y, 0) if unbatched else y




def _adaptive_bounds(size: int, out: int) -> list[tuple[int, int]]:
    return [(math.floor(i * size / out), math.ceil((i + 1) * size / out)) for i in range(out)]


def _adaptive_sizes(output_size, spatial) -> tuple[int, ...]:
    """Output sizes; ``None`` in a position keeps that input size (PyTorch's convention)."""
    sizes = (output_size,) * len(spatial) if isinstance(output_size, int) or output_size is None else tuple(output_size)
    if len(sizes) != len(spatial):
        raise ValueError(f"output_size must have {len(spatial)} entries, got {output_size!r}")
    return tuple(s if o is None else int(o) for s, o in zip(spatial, sizes))


def adaptive_avg_pool(x, output_size, d: int, who: str):
    x, unbatched = batched(x, d, who)
    spatial = x._data.shape[2:]
    outs = _adaptive_sizes(output_size, spatial)
    if all(o == 1 for o in outs):
        y = mean(x, tuple(range(2, 2 + d)), keepdim=True)
    else:
        # averaging is separable: y = P_1 x P_2^T with P_i[o, j] = 1/len(window o) on window o
        y = x
        for i, (size, o) in enumerate(zip(spatial, outs)):
            p = np.zeros((o, size), dtype=x._data.dtype)
            for r, (a, b) in enumerate(_adaptive_bounds(size, o)):
                p[r, a:b] = 1.0 / (b - a)
            y = movedim(matmul(movedim(y, 2 + i, -1), Tensor._wrap(np.ascontiguousarray(p.T))), -1, 2 + i)
    return squeeze(y, 0) if unbatched else y




def adaptive_max_pool(x, output_size, d: int, who: str, return_indices: bool):
    if return_indices:
        raise NotImplementedError(f"{who}: return_indices=True is not supported by gradbox")
    x, unbatched = batched(x, d, who)
    spatial = x._data.shape[2:]
    outs = _adaptive_sizes(output_size, spatial)
    y = x
    # the max over a box is the max over one dim of the max over the other: pool dim by dim,
    # gathering each window (padded by repeating its last index) and taking the max.
    for i, (size, o) in enumerate(zip(spatial, outs)):
        bounds = _adaptive_bounds(size, o)
        width = max(b - a for a, b in bounds)
        idx = np.array([[min(a + j, b - 1) for j in range(width)] for a, b in bounds])
        g = getitem(movedim(y, 2 + i, -1), (Ellipsis, Tensor._wrap(idx)))
        y = movedim(_max(g, -1).values, -1, 2 + i)
    return squeeze(y, 0) if unbatched else y
