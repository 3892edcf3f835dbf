"""Adaptive max pooling that returns PyTorch's indices (1-D to 3-D), and max unpooling.

Adaptive max pooling picks, in each window [floor(i n / o), ceil((i + 1) n / o)) of every
spatial dim, the largest element: y = x[argmax], so dL/dx is g placed at the argmax positions
(added up where windows overlap). Max unpooling is its adjoint in the values: y[idx] = x, so
dL/dx = g[idx].
"""

from __future__ import annotations

import math

import numpy as np

from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._util import as_tensor
from gradbox.ops.index import Index
from gradbox.ops.scatter import scatter
from gradbox.ops.shape import reshape, squeeze, unsqueeze
from gradbox.tensor import Tensor


def _bounds(size: int, out: int) -> np.ndarray:
    """(out, width) indices of each adaptive window, padded by repeating its last index."""
    spans = [(math.floor(i * size / out), math.ceil((i + 1) * size / out)) for i in range(out)]
    width = max((b - a for a, b in spans), default=1)
    return np.asarray([[min(a + k, b - 1) for k in range(width)] for a, b in spans], dtype=np.int64).reshape(out, width)


@op(
    OpMath(
        "y = max of x over each adaptive window (window i of a dim of size n into o: [floor(i n/o), ceil((i+1) n/o)))",
        grads=("g placed at each window's argmax (added up where windows overlap)",),
        note="The indices are flat positions in each (N, C) plane, PyTorch's; ties pick the first maximum.",
    )
)
def adaptive_max_pool(input: Tensor, output_size, d: int, who: str, return_indices: bool = False):
    x = as_tensor(input, who)
    if x._data.ndim == d + 1:
        res = adaptive_max_pool(unsqueeze(x, 0), output_size, d, who, return_indices)
        return (squeeze(res[0], 0), squeeze(res[1], 0)) if return_indices else squeeze(res, 0)
    if x._data.ndim != d + 2:
        raise RuntimeError(f"{who}: expected a {d + 1}-D or {d + 2}-D input, got shape {tuple(x._data.shape)}")
    spatial = x._data.shape[2:]
    outs = (output_size,) * d if isinstance(output_size, int) or output_size is None else tuple(output_size)
    if len(outs) != d:
        raise ValueError(f"{who}: output_size must have {d} entries, got {output_size!r}")
    outs = tuple(s if o is None else int(o) for s, o in zip(spatial, outs))
    if any(s == 0 for s in spatial) or any(o <= 0 for o in outs):
        raise RuntimeError(
            f"{who}: expected non-empty spatial dims and a positive output size, got input {tuple(x._data.shape)} and {outs}"
        )
    wins = [_bounds(s, o) for s, o in zip(spatial, outs)]
    # index grids of shape (o_1, ..., o_d, w_1, ..., w_d) per spatial dim
    grids = []
    for i, w in enumerate(wins):
        shape = [1] * (2 * d)
        shape[i], shape[d + i] = w.shape
        grids.append(np.broadcast_to(w.reshape(shape), tuple(o for o in outs) + tuple(w.shape[1] for w in wins)))
    n, c = x._data.shape[:2]
    vals = x._data[(slice(None), slice(None), *grids)]  # (N, C, o..., w...)
    flat_w = vals.reshape(n, c, *outs, -1)
    arg = np.argmax(np.where(np.isnan(flat_w), np.inf, flat_w), axis=-1)  # NaN wins, as PyTorch
    win_pos = np.unravel_index(arg, tuple(w.shape[1] for w in wins))
    pos = []
    for i, w in enumerate(wins):
        o_idx = np.arange(outs[i]).reshape([1, 1] + [-1 if j == i else 1 for j in range(d)])
        pos.append(w[o_idx, win_pos[i]])
    pos = [np.broadcast_to(p, (n, c, *outs)) for p in pos]
    nn_, cc = np.ogrid[:n, :c]
    nn_ = nn_.reshape((n, 1) + (1,) * d)
    cc = cc.reshape((1, c) + (1,) * d)
    y = Index.apply(x, idx=(nn_, cc, *pos), advanced=True)
    if not return_indices:
        return y
    flat = np.zeros((n, c, *outs), dtype=np.int64)
    for i, p in enumerate(pos):
        flat = flat * spatial[i] + p
    return y, Tensor._wrap(flat)


@op(
    OpMath(
        "y = zeros of the unpooled size with y[n, c, indices] = x (indices flat in each plane)",
        grads=("g gathered at indices",),
        note="The default output size is (in - 1) stride - 2 padding + kernel per dim. Computed as scatter.",
    )
)
def max_unpool(input: Tensor, indices: Tensor, kernel_size, stride, padding, output_size, d: int, who: str) -> Tensor:
    x = as_tensor(input, who)
    if x._data.ndim == d + 1:
        return squeeze(
            max_unpool(unsqueeze(x, 0), unsqueeze(indices, 0), kernel_size, stride, padding, output_size, d, who), 0
        )
    if x._data.ndim != d + 2:
        raise RuntimeError(f"{who}: expected a {d + 1}-D or {d + 2}-D input, got shape {tuple(x._data.shape)}")
    if tuple(indices.shape) != tuple(x.shape):
        raise RuntimeError(f"{who}: expected indices of the input's shape {tuple(x.shape)}, got {tuple(indices.shape)}")

    def tup(v):
        return (v,) * d if isinstance(v, int) else tuple(v)

    k = tup(kernel_size)
    s = k if stride is None else tup(stride)
    p = tup(padding)
    spatial = x._data.shape[2:]
    default = tuple((i - 1) * st - 2 * pd + kk for i, st, pd, kk in zip(spatial, s, p, k))
    if output_size is None:
        outs = default
    else:
        outs = tuple(output_size)[-d:]
        for o, df, st in zip(outs, default, s):
            if not df - st < o < df + st:
                raise ValueError(
                    f"{who}: invalid output_size {tuple(output_size)} (expected each between {default} +- stride)"
                )
    n, c = x._data.shape[:2]
    plane = int(np.prod(outs, dtype=np.int64))
    idx = indices._data.reshape(n, c, -1)
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        raise RuntimeError(f"{who}: found an invalid max index {int(idx.max())} (output volumes are of size {plane})")
    zeros = Tensor._wrap(np.zeros((n, c, plane), dtype=x._data.dtype))
    y = scatter(zeros, 2, Tensor._wrap(idx), reshape(x, (n, c, -1)))
    return reshape(y, (n, c, *outs))
