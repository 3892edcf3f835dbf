"""Indexing: ``x[idx]`` with basic (slices, ints, None, ...) and advanced (int/bool arrays) indices.

y = x[idx];  dL/dx = zeros_like(x) with g scatter-added at idx. Repeated indices add up, so
the gradient of ``x[[0, 0]]`` at x_0 is g_0 + g_1.
"""

from __future__ import annotations

import numpy as np

from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._util import norm_dim
from gradbox.tensor import Tensor


def normalize_index(idx):
    """Tensors become arrays, lists become int arrays and bool masks become their nonzero()."""
    items = idx if isinstance(idx, tuple) else (idx,)
    out = []
    advanced = False
    for it in items:
        if isinstance(it, Tensor):
            it = it._data
        elif isinstance(it, list):
            it = np.asarray(it)
            if it.dtype.kind == "f" or (it.size == 0 and it.dtype.kind != "b"):
                it = it.astype(np.int64)
        if isinstance(it, np.ndarray):
            advanced = True
            if it.dtype == np.bool_:
                out.extend(np.nonzero(it))
                continue
            if it.dtype.kind not in "iu":
                raise IndexError(f"index: tensors used as indices must be long, int or bool, got {it.dtype}")
        elif isinstance(it, bool):
            advanced = True
            it = np.asarray(it)
        out.append(it)
    return tuple(out), advanced


def check_indices(index, size: int, op: str, dim: int) -> np.ndarray:
    """The integer index array, every entry in [0, size): PyTorch's gather, index_select and
    embedding take no negative indices (a Python-style -1 would silently read the last row)."""
    ind = index._data if isinstance(index, Tensor) else np.asarray(index)
    if ind.dtype.kind not in "iu":
        raise IndexError(f"{op}: expected an integer (int64) index tensor, got {ind.dtype}")
    if ind.size:
        lo, hi = ind.min(), ind.max()
        if lo < 0 or hi >= size:
            bad = int(lo if lo < 0 else hi)
            raise IndexError(f"{op}: index {bad} is out of bounds for dimension {dim} with size {size}")
    return ind


def _is_int(it) -> bool:
    return isinstance(it, int | np.integer) and not isinstance(it, bool | np.bool_)


class Index(Function):
    math = OpMath(
        "y = x[idx]",
        grads=("zeros(x.shape) with g scatter-added at idx",),
        note="Repeated (advanced) indices add up: the gradient of x[[0, 0]] at x_0 is g_0 + g_1.",
    )

    view = True  # NumPy returns a view where it can: the result shares memory with x

    def forward(self, x, idx, advanced):
        self.idx, self.advanced = idx, advanced
        return np.asarray(x[idx])

    def backward(self, g):
        return IndexAdd.apply(g, idx=self.idx, shape=self.input_shapes[0], advanced=self.advanced)


class IndexAdd(Function):
    """The backward of Index; uses np.add.at when indices may repeat (advanced indexing)."""

    math = OpMath(
        "y = zeros(shape) with v added at idx",
        grads=("g[idx]",),
        inputs=("v",),
        note="Repeated indices add up.",
    )

    def forward(self, g, idx, shape, advanced):
        self.idx, self.advanced = idx, advanced
        out = np.zeros(shape, dtype=g.dtype)
        if advanced:
            np.add.at(out, idx, g)
        else:
            out[idx] = g
        return out

    def backward(self, gg):
        return Index.apply(gg, idx=self.idx, advanced=self.advanced)


@op(
    Index,
    summary="x[idx] with basic (slices, ints, None, ...) and advanced (int or bool arrays, lists, tensors) indices.",
)
def getitem(x: Tensor, idx) -> Tensor:
    nidx, advanced = normalize_index(idx)
    if advanced and any(_is_int(it) for it in nidx):
        # PyTorch selects with the ints first, then applies the array indices to what is left
        # (so x[0, :, [0, 1]] is (3, 2) for x (2, 3, 4); NumPy's rule would give (2, 3))
        ints = tuple(it if _is_int(it) or it is Ellipsis else slice(None) for it in nidx if it is not None)
        rest = tuple(it for it in nidx if not _is_int(it))
        return getitem(getitem(x, ints), rest)
    try:
        return Index.apply(x, idx=nidx, advanced=advanced)
    except IndexError as e:
        raise IndexError(f"index: {e} (tensor shape {x._data.shape})") from None


@op(
    OpMath(
        "y = the entries of x at positions index along dim",
        grads=("zeros(x.shape) with g scatter-added at index along dim",),
        note="Repeated indices add up. Computed as getitem.",
    ),
    summary="Select entries of x along ``dim`` at the int positions in ``index``.",
)
def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    d = norm_dim(dim, x._data.ndim, "index_select")
    ind = check_indices(index, x._data.shape[d] if x._data.ndim else 1, "index_select", d)
    if ind.ndim > 1:
        raise IndexError(f"index_select: index should be 0- or 1-D, got shape {tuple(ind.shape)}")
    return getitem(x, (slice(None),) * d + (Tensor._wrap(ind.reshape(-1)),)) if x._data.ndim else getitem(x, ())


@op(
    OpMath(
        "y[i][j] = x[index[i][j]][j] for dim 0 (and likewise for other dims); y has index's shape",
        grads=("zeros(x.shape) with g scatter-added at the gathered positions",),
        note="Repeated indices add up. Computed as getitem with index along dim and ranges along the other dims.",
    ),
    summary="Pick values of x along ``dim`` at the positions in ``index``.",
)
def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    d = norm_dim(dim, x._data.ndim, "gather")
    ind = check_indices(index, x._data.shape[d] if x._data.ndim else 1, "gather", d)
    if ind.size == 0:  # PyTorch skips the rank check for an empty index: an empty result
        return x.reshape(-1)[:0].reshape(ind.shape)
    if x._data.ndim == 0 and ind.ndim <= 1:  # a scalar counts as one element along dim 0
        return getitem(x.reshape(1), (ind,)) if ind.ndim else x.reshape(1)[ind.item()]
    if ind.ndim != x._data.ndim:
        raise RuntimeError(
            f"gather: index tensor must have the same number of dimensions as input ({x._data.ndim}), got {ind.ndim}"
        )
    grids = list(np.ogrid[tuple(slice(s) for s in ind.shape)])
    grids[d] = ind
    return getitem(x, tuple(grids))


class Take(Function):
    math = OpMath(
        "y = x.flat[idx] (idx an int array of any shape)",
        grads=("zeros(x.shape) with g scatter-added at flat positions idx",),
        note="Repeated indices add up.",
    )

    def forward(self, x, idx):
        self.idx = idx
        return x.reshape(-1)[idx]

    def backward(self, g):
        return ScatterAdd.apply(g, idx=self.idx, shape=self.input_shapes[0])


class ScatterAdd(Function):
    """The backward of Take; sums with np.bincount."""

    math = OpMath(
        "y = zeros(shape) with y.flat[idx] += v",
        grads=("g.flat[idx]",),
        inputs=("v",),
        note="Repeated indices add up.",
    )

    def forward(self, g, idx, shape):
        self.idx = idx
        size = int(np.prod(shape, dtype=np.int64))
        out = np.bincount(idx.reshape(-1), weights=g.reshape(-1), minlength=size)
        return out.astype(g.dtype, copy=False).reshape(shape)

    def backward(self, gy):
        return Take.apply(gy, idx=self.idx)


class IndexPut(Function):
    math = OpMath(
        "y = x with y[idx] = v",
        grads=("g with zeros at idx", "g[idx], summed to v's shape"),
        inputs=("x", "v"),
        note="The out-of-place form of t[idx] = v; repeated indices keep the last write, as NumPy and PyTorch.",
    )

    def forward(self, x, v, idx):
        self.idx = idx
        y = x.copy()
        y[idx] = v
        return y

    def backward(self, g):
        zero = Tensor._wrap(np.zeros((), dtype=g._data.dtype))
        gx = IndexPut.apply(g, zero, idx=self.idx)
        gv = Index.apply(g, idx=self.idx, advanced=True)
        return gx, gv


def index_put(x: Tensor, idx, value: Tensor) -> Tensor:
    """x with ``x[idx] = value`` (value broadcast); what ``x[idx] = value`` computes, out of place."""
    nidx, _ = normalize_index(idx)
    try:
        np.broadcast_to(value._data, np.empty(x._data.shape, dtype=bool)[nidx].shape)
    except IndexError as e:
        raise IndexError(f"index: {e} (tensor shape {x._data.shape})") from None
    except ValueError:
        raise RuntimeError(
            f"index_put: a value of shape {tuple(value._data.shape)} cannot be assigned to the indexed shape "
            f"{np.empty(x._data.shape, dtype=bool)[nidx].shape}"
        ) from None
    if value._data.dtype != x._data.dtype:
        value = value.to(x.dtype)
    return IndexPut.apply(x, value, idx=nidx)
