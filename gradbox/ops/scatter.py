"""Writing into positions given by indices: scatter, scatter_add, scatter_reduce, index_add,
index_copy, index_fill, index_put, put, masked_scatter, the *_scatter embeddings, and the
selections that read them back (take, take_along_dim, masked_select, nonzero).

"Along dim": for an index tensor I, position p of I addresses y[p with p[dim] replaced by I[p]].
The adjoint of scattering src to those positions is gathering g from them (``gather``), and the
adjoint of gathering is scatter-adding (repeated positions add up).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._more import with_out
from gradbox.ops._util import as_tensor, check_broadcast, const, norm_dim
from gradbox.ops.index import Index, IndexAdd, IndexPut, Take, getitem, normalize_index
from gradbox.ops.index import index_put as _index_put
from gradbox.ops.shape import broadcast_to, expand, reshape
from gradbox.tensor import Tensor


def along(index: np.ndarray, dim: int) -> tuple:
    """The NumPy index tuple addressing y[..., index, ...] at every position of ``index`` along ``dim``."""
    grids = list(np.ogrid[tuple(slice(s) for s in index.shape)]) if index.ndim > 1 else [np.arange(index.shape[0])]
    grids[dim] = index
    return tuple(grids)


def _crop(src: Tensor, shape: tuple) -> Tensor:
    if tuple(src._data.shape) == tuple(shape):
        return src
    return getitem(src, tuple(slice(0, s) for s in shape))


def _scatter_args(x: Tensor, dim: int, index, name: str, src=None) -> tuple[Tensor, int, np.ndarray, bool]:
    x = as_tensor(x, name)
    ind = index._data if isinstance(index, Tensor) else np.asarray(index)
    if ind.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index, got {ind.dtype}")
    scalar = x._data.ndim == 0
    d = norm_dim(dim, x._data.ndim, name)
    if scalar:
        x = reshape(x, (1,))
        ind = ind.reshape(-1)
    elif ind.ndim != x._data.ndim and ind.size:
        raise RuntimeError(
            f"{name}(): Index tensor must have the same number of dimensions as self tensor ({x._data.ndim}), got {ind.ndim}"
        )
    if ind.size:
        size = x._data.shape[d]
        if ind.min() < -size or ind.max() >= size:
            raise IndexError(f"{name}(): index {int(ind.max())} is out of bounds for dimension {d} with size {size}")
        ind = np.where(ind < 0, ind + size, ind)
    if src is not None and isinstance(src, Tensor) and src._data.dtype != x._data.dtype:
        raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype ({x.dtype} vs {src.dtype})")
    return x, d, ind, scalar


def _back(y: Tensor, scalar: bool) -> Tensor:
    return reshape(y, ()) if scalar else y


class ScatterReduce(Function):
    math = OpMath(
        "y = x with the src values reduced (sum, prod, mean, amax, amin) into the positions index addresses along dim",
        grads=(
            "g * A: A = 1 (sum), 1/N (mean), prod of the others (prod), [x = y] / ties (amax, amin)",
            "gather(g * B, index) * C, the same factors seen from src",
        ),
        inputs=("x", "src"),
        note="N counts the values reduced into a position (x itself too with include_self); ties of amax/amin share "
        "the gradient evenly. Without include_self the scattered positions of x get no gradient. As PyTorch.",
    )
    save_inputs = True
    save_output = True

    def forward(self, x, src, idx, reduce, include_self):
        self.idx, self.reduce, self.include_self = idx, reduce, include_self
        ufunc = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
        y = x.copy()
        hit = np.zeros(x.shape, dtype=bool)
        hit[idx] = True
        self.hit = hit
        if not include_self:
            y[hit] = (
                {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}[reduce]
                if x.dtype.kind == "f"
                else (
                    {"sum": 0, "mean": 0, "prod": 1}.get(
                        reduce, np.iinfo(x.dtype).min if reduce == "amax" else np.iinfo(x.dtype).max
                    )
                )
            )
        ufunc.at(y, idx, src)
        if reduce == "mean":
            n = np.full(x.shape, 1 if include_self else 0, dtype=np.int64)
            np.add.at(n, idx, 1)
            n[n == 0] = 1
            self.n = n
            y = y / n if x.dtype.kind == "f" else np.floor_divide(y, n)
            y = y.astype(x.dtype)
        return y

    def backward(self, g):
        x, src = self.inputs[0]._data, self.inputs[1]._data
        y, idx, dt = self.output._data, self.idx, g._data.dtype
        red = self.reduce
        ones = np.ones(x.shape, dtype=dt)
        if red == "sum":
            a, b, c = ones, None, None
        elif red == "mean":
            a = 1.0 / self.n.astype(dt)
            b, c = a, None
        elif red in ("amax", "amin"):
            self_is = (x == y).astype(dt)
            src_is = (src == y[idx]).astype(dt)
            count = self_is.copy()
            np.add.at(count, idx, src_is)
            count[count == 0] = 1
            a, b, c = self_is / count, 1.0 / count, src_is
        else:  # prod
            return self._prod_backward(g, x, src, y, idx, dt)
        if not self.include_self:
            a = a * (~self.hit)
        gx = g * const(a.astype(dt)) if red != "sum" or not self.include_self else g
        gs = Index.apply(g if b is None else g * const(b.astype(dt)), idx=idx, advanced=True)
        return gx, gs if c is None else gs * const(c)

    def _prod_backward(self, g, x, src, y, idx, dt):
        mx = np.where(x == 0, 1, x)
        mres = mx.copy()
        if not self.include_self:
            mres[self.hit] = 1
        np.multiply.at(mres, idx, src)
        a = mres / mx
        if not self.include_self:
            a = a * (~self.hit)
        zero = src == 0
        nz = np.zeros(x.shape)
        np.add.at(nz, idx, zero.astype(np.float64))
        single = zero & (nz[idx] == 1)
        msrc = np.where(single, 1, src)
        msres = x.copy()
        if not self.include_self:
            msres[self.hit] = 1
        np.multiply.at(msres, idx, msrc)
        gs = Index.apply(g * const(y.astype(dt)), idx=idx, advanced=True) * const((~single) / np.where(zero, 1, src))
        gs = gs + Index.apply(g * const(msres.astype(dt)), idx=idx, advanced=True) * const(single.astype(dt))
        return g * const(a.astype(dt)), gs


_REDUCES = ("sum", "prod", "mean", "amax", "amin")


@op(ScatterReduce, summary="x with src reduced into the positions ``index`` addresses along ``dim``.")
@with_out
def scatter_reduce(
    input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    if reduce not in _REDUCES:
        raise RuntimeError(f"scatter_reduce(): reduce argument must be one of {_REDUCES}, got {reduce!r}")
    x, d, ind, scalar = _scatter_args(input, dim, index, "scatter_reduce", src)
    if ind.size == 0:
        return input if not scalar else _back(x, scalar)
    s = _crop(reshape(src, (-1,)) if scalar else src, ind.shape)
    return _back(ScatterReduce.apply(x, s, idx=along(ind, d), reduce=reduce, include_self=include_self), scalar)


@op(
    OpMath(
        "y = x with src added at the positions index addresses along dim (repeated positions add up)",
        grads=("g", "gather(g, dim, index)"),
        inputs=("x", "src"),
        note="Computed as x + IndexAdd(src).",
    )
)
@with_out
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    x, d, ind, scalar = _scatter_args(input, dim, index, "scatter_add", src)
    if ind.size == 0:
        return _back(x, scalar)
    s = _crop(reshape(src, (-1,)) if scalar else src, ind.shape)
    return _back(x + IndexAdd.apply(s, idx=along(ind, d), shape=x._data.shape, advanced=True), scalar)


@op(
    OpMath(
        "y = x with y[index along dim] = src (or the number value)",
        grads=("g with zeros at the written positions", "gather(g, dim, index)"),
        inputs=("x", "src"),
        note="Where an index repeats, the last write wins (as PyTorch on the CPU). reduce='add' / 'multiply' is "
        "scatter_reduce with 'sum' / 'prod'.",
    )
)
@with_out
def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce: str | None = None) -> Tensor:
    if src is None and value is None:
        raise TypeError("scatter(): expected a src tensor or a value")
    src = value if src is None else src
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError(f"scatter(): reduce argument must be either add or multiply, got {reduce!r}")
        if not isinstance(src, Tensor):
            src = expand(
                Tensor._wrap(np.asarray(src, dtype=as_tensor(input, "scatter")._data.dtype)), *np.shape(index._data)
            )
        return scatter_reduce(input, dim, index, src, "sum" if reduce == "add" else "prod")
    x, d, ind, scalar = _scatter_args(input, dim, index, "scatter", src)
    if ind.size == 0:
        return _back(x, scalar)
    if isinstance(src, Tensor):
        v = _crop(reshape(src, (-1,)) if scalar else src, ind.shape)
    else:
        v = Tensor._wrap(np.asarray(src, dtype=x._data.dtype))
    return _back(IndexPut.apply(x, v, idx=along(ind, d)), scalar)


def _index_along(x: Tensor, dim: int, index, source: Tensor | None, name: str) -> tuple[Tensor, int, np.ndarray]:
    """The 1-D ``index`` of index_add/index_copy/index_reduce, expanded to source's shape along ``dim``."""
    x = as_tensor(x, name)
    d = norm_dim(dim, x._data.ndim, name)
    ind = index._data if isinstance(index, Tensor) else np.asarray(index)
    if ind.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector, got shape {tuple(ind.shape)}")
    ind = ind.reshape(-1)
    if x._data.ndim == 0:
        return x, d, ind
    shape = list(x._data.shape if source is None else source._data.shape or (1,))
    if source is not None and source._data.ndim and source._data.shape[d] != ind.size:
        raise RuntimeError(
            f"{name}(): Number of indices ({ind.size}) should be equal to source.size(dim) ({source._data.shape[d]})"
        )
    shape[d] = ind.size
    full = np.broadcast_to(ind.reshape([-1 if i == d else 1 for i in range(len(shape))]), shape)
    return x, d, np.ascontiguousarray(full)


@op(
    OpMath(
        "y = x with alpha * source added at the slices index selects along dim",
        grads=("g", "alpha * index_select(g, dim, index)"),
        inputs=("x", "source"),
        note="Repeated indices add up. Computed as scatter_add.",
    )
)
@with_out
def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    x, d, full = _index_along(input, dim, index, source, "index_add")
    src = source if alpha == 1 else source * alpha
    if x._data.ndim == 0:
        return scatter_add(x, 0, Tensor._wrap(full.reshape(())), reshape(src, ()))
    return scatter_add(x, d, Tensor._wrap(full), src)


@op(
    OpMath(
        "y = x with the slices index selects along dim replaced by source's",
        grads=("g with zeros at the copied slices", "index_select(g, dim, index)"),
        inputs=("x", "source"),
        note="Computed as scatter.",
    )
)
@with_out
def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    x, d, full = _index_along(input, dim, index, source, "index_copy")
    if x._data.ndim == 0:
        return scatter(x, 0, Tensor._wrap(full.reshape(())), reshape(source, ()))
    return scatter(x, d, Tensor._wrap(full), source)


@op(
    OpMath(
        "y = x with the slices index selects along dim reduced with source's (prod, mean, amax, amin)",
        grads=("as scatter_reduce", "as scatter_reduce"),
        inputs=("x", "source"),
        note="Computed as scatter_reduce with the index expanded along dim.",
    )
)
@with_out
def index_reduce(
    input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin, got {reduce!r}")
    x, d, full = _index_along(input, dim, index, source, "index_reduce")
    if x._data.ndim == 0:
        return scatter_reduce(
            x, 0, Tensor._wrap(full.reshape(())), reshape(source, ()), reduce, include_self=include_self
        )
    return scatter_reduce(x, d, Tensor._wrap(full), source, reduce, include_self=include_self)


@op(
    OpMath(
        "y = x with the slices index selects along dim set to value",
        grads=("g with zeros at the filled slices", "sum of g over the filled slices"),
        inputs=("x", "value"),
        note="value is a number or a 0-d tensor. Computed as index_put.",
    )
)
@with_out
def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    x = as_tensor(input, "index_fill")
    d = norm_dim(dim, x._data.ndim, "index_fill")
    ind = (index._data if isinstance(index, Tensor) else np.asarray(index)).reshape(-1)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"index_fill(): only supports a 0-dimensional value tensor, got {value._data.ndim} dims")
        v = value.to(x.dtype) if value.dtype != x.dtype else value
    else:
        v = Tensor._wrap(np.asarray(value, dtype=x._data.dtype))
    if x._data.ndim == 0:
        return _index_put(x, (), v) if ind.size else x
    idx = (slice(None),) * d + (Tensor._wrap(np.unique(ind % x._data.shape[d])),)
    return _index_put(x, idx, v)


@op(
    OpMath(
        "y = x with y[indices] = values (accumulate: y[indices] += values, repeated indices adding up)",
        grads=("g (with zeros at indices unless accumulate)", "g[indices], summed to values' shape"),
        inputs=("x", "values"),
    )
)
@with_out
def index_put(input: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    x = as_tensor(input, "index_put")
    idx = tuple(indices)
    v = values.to(x.dtype) if values.dtype != x.dtype else values
    if not accumulate:
        return _index_put(x, idx, v)
    nidx, _ = normalize_index(idx)
    target = np.empty(x._data.shape, dtype=bool)[nidx].shape
    return x + IndexAdd.apply(broadcast_to(v, target), idx=nidx, shape=x._data.shape, advanced=True)


@op(
    OpMath(
        "y = x with y.flat[index] = source (accumulate: += with repeats adding up)",
        grads=("g (with zeros at index unless accumulate)", "g.flat[index]"),
        inputs=("x", "source"),
        note="Negative indices count from the end of the flattened x.",
    )
)
def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    x = as_tensor(input, "put")
    flat = reshape(x, (-1,))
    ind = (index._data if isinstance(index, Tensor) else np.asarray(index)).reshape(-1)
    n = x._data.size
    if ind.size and (ind.min() < -n or ind.max() >= n):
        raise IndexError(f"put(): index out of range for a tensor of {n} elements")
    ind = np.where(ind < 0, ind + n, ind)
    src = reshape(source, (-1,))
    if accumulate:
        y = flat + IndexAdd.apply(src, idx=(ind,), shape=(n,), advanced=True)
    else:
        y = IndexPut.apply(flat, src, idx=(ind,))
    return reshape(y, x._data.shape)


@op(
    OpMath(
        "y = x.flat[index] (y has index's shape)",
        grads=("zeros(x.shape) with g scatter-added at the flat positions index",),
        note="Negative indices count from the end; repeated indices add up.",
    )
)
@with_out
def take(input: Tensor, index: Tensor) -> Tensor:
    x = as_tensor(input, "take")
    ind = index._data if isinstance(index, Tensor) else np.asarray(index)
    n = x._data.size
    if ind.size and (ind.min() < -n or ind.max() >= n):
        raise IndexError(f"take(): out of range: tried to access index {int(ind.max())} on a tensor of {n} elements")
    return Take.apply(x, idx=np.where(ind < 0, ind + n, ind).astype(np.int64))


@op(
    OpMath(
        "y = x picked along dim at indices (broadcast against x in the other dims); dim None: x.flat[indices]",
        grads=("zeros(x.shape) with g scatter-added at the picked positions",),
        note="Computed as broadcast_to and gather-style indexing.",
    )
)
@with_out
def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    x = as_tensor(input, "take_along_dim")
    ind = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    if dim is None:
        return take(reshape(x, (-1,)), Tensor._wrap(ind.reshape(-1)))
    d = norm_dim(dim, x._data.ndim, "take_along_dim")
    if ind.ndim != x._data.ndim:
        raise RuntimeError("take_along_dim(): input and indices should have the same number of dimensions")
    xs, is_ = list(x._data.shape), list(ind.shape)
    xs[d] = is_[d] = 1
    b = list(check_broadcast("take_along_dim", tuple(xs), tuple(is_)))
    xb = expand(x, *[s if i != d else x._data.shape[d] for i, s in enumerate(b)])
    ib = np.broadcast_to(ind, [s if i != d else ind.shape[d] for i, s in enumerate(b)])
    size = x._data.shape[d]
    ib = np.where(ib < 0, ib + size, ib)
    return Index.apply(xb, idx=along(np.ascontiguousarray(ib), d), advanced=True) if ib.ndim else getitem(xb, ())


@op(
    OpMath(
        "y = the elements of x where mask (both broadcast), as a 1-D tensor in row-major order",
        grads=("zeros(x.shape) with g placed at the mask's positions",),
        note="Computed as expand and boolean indexing.",
    )
)
@with_out
def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    x = as_tensor(input, "masked_select")
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_select: expected a bool mask, got {m.dtype}")
    shape = check_broadcast("masked_select", x._data.shape, m.shape)
    xb = expand(x, *shape) if tuple(shape) != x._data.shape else x
    if not shape:  # a 0-d mask: index the one-element view
        xb, shape = reshape(xb, (1,)), (1,)
    return getitem(xb, Tensor._wrap(np.broadcast_to(m, shape)))


class MaskedScatter(Function):
    math = OpMath(
        "y = x with the masked positions filled by source's first elements, in row-major order",
        grads=("g * [not mask]", "g[mask] in source's first positions, 0 after"),
        inputs=("x", "source"),
    )

    def forward(self, x, source, mask):
        self.mask = mask
        k = int(mask.sum())
        if source.size < k:
            raise RuntimeError(f"masked_scatter: expected source to have at least {k} elements, got {source.size}")
        y = x.copy()
        y[mask] = source.reshape(-1)[:k]
        return y

    def backward(self, g):
        m = self.mask
        dt = g._data.dtype
        src_shape = self.input_shapes[1]
        n = int(np.prod(src_shape, dtype=np.int64))
        k = int(m.sum())
        picked = getitem(g, Tensor._wrap(m))
        gs = IndexAdd.apply(picked, idx=(np.arange(k),), shape=(n,), advanced=False)
        return g * const((~m).astype(dt)), reshape(gs, src_shape)


@op(MaskedScatter, summary="x with the True positions of ``mask`` filled by the elements of ``source``, in order.")
@with_out
def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    x = as_tensor(input, "masked_scatter")
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter: expected a bool mask, got {m.dtype}")
    shape = check_broadcast("masked_scatter", x._data.shape, m.shape)
    if tuple(shape) != x._data.shape:
        x = expand(x, *shape)
    if source.dtype != x.dtype:
        raise RuntimeError(f"masked_scatter: expected source to have the dtype of self ({x.dtype}), got {source.dtype}")
    return MaskedScatter.apply(x, source, mask=np.ascontiguousarray(np.broadcast_to(m, shape)))


def _embed(x: Tensor, src: Tensor, idx: tuple, name: str) -> Tensor:
    target = np.empty(x._data.shape, dtype=bool)[idx].shape
    if tuple(src._data.shape) != target:
        raise RuntimeError(
            f"{name}: expected src to have a size equal to the slice of self ({target}), got {tuple(src._data.shape)}"
        )
    if src._data.dtype != x._data.dtype:
        src = src.to(x.dtype)
    return IndexPut.apply(x, src, idx=idx)


_EMBED = OpMath(
    "y = x with the selected part replaced by src",
    grads=("g with zeros at the selected part", "g at the selected part"),
    inputs=("x", "src"),
)


@op(_EMBED._replace(forward="y = x with y.select(dim, index) = src"))
def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    x = as_tensor(input, "select_scatter")
    d = norm_dim(dim, x._data.ndim, "select_scatter")
    return _embed(x, src, (slice(None),) * d + (index,), "select_scatter")


@op(_EMBED._replace(forward="y = x with y[start:end:step] along dim = src"))
def slice_scatter(
    input: Tensor, src: Tensor, dim: int = 0, start: int | None = None, end: int | None = None, step: int = 1
) -> Tensor:
    x = as_tensor(input, "slice_scatter")
    d = norm_dim(dim, x._data.ndim, "slice_scatter")
    return _embed(x, src, (slice(None),) * d + (slice(start, end, step),), "slice_scatter")


@op(_EMBED._replace(forward="y = x with its diagonal (offset, dim1, dim2) = src (the diagonal's dim last)"))
def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    x = as_tensor(input, "diagonal_scatter")
    nd = x._data.ndim
    d1, d2 = norm_dim(dim1, nd, "diagonal_scatter"), norm_dim(dim2, nd, "diagonal_scatter")
    n1, n2 = x._data.shape[d1], x._data.shape[d2]
    k = max(0, min(n1 - max(0, -offset), n2 - max(0, offset)))
    i = np.arange(k) + max(0, -offset)
    j = np.arange(k) + max(0, offset)
    idx: list = [slice(None)] * nd
    idx[d1], idx[d2] = i, j
    # NumPy puts the diagonal dim of x[idx] where adjacent advanced indices were, else first: move src's there
    srcp = src
    if src._data.ndim == nd - 1 and nd > 1:
        srcp = src.movedim(-1, min(d1, d2) if abs(d1 - d2) == 1 else 0)
    return _embed(x, srcp, tuple(idx), "diagonal_scatter")


return_types_nonzero = namedtuple("nonzero", ["indices"])


@op(OpMath("y = the (n, x.ndim) int64 indices of the nonzero elements, in row-major order", grads=None))
@with_out
def nonzero(input: Tensor, *, as_tuple: bool = False):
    a = as_tensor(input, "nonzero")._data
    if as_tuple:
        if a.ndim == 0:
            return (Tensor._wrap(np.zeros(int(a != 0), dtype=np.int64)),)
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in np.nonzero(a))
    found = np.argwhere(a)
    return Tensor._wrap(found.astype(np.int64).reshape(found.shape[0], a.ndim))


@op(OpMath("y = nonzero(x) (the (n, x.ndim) indices of its nonzero elements)", grads=None))
def argwhere(input: Tensor) -> Tensor:
    return nonzero(input)


@op(OpMath("y = nonzero(x) cut or padded with fill_value to ``size`` rows", grads=None))
@with_out
def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    nz = nonzero(input)._data
    out = np.full((size, nz.shape[1]), fill_value, dtype=np.int64)
    k = min(size, nz.shape[0])
    out[:k] = nz[:k]
    return Tensor._wrap(out)


@op(OpMath("y = the coordinates of flat indices in an array of ``shape`` (a tuple of int64 tensors)", grads=None))
def unravel_index(indices: Tensor, shape) -> tuple[Tensor, ...]:
    ind = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    if ind.dtype.kind not in "iu":
        raise TypeError(f"unravel_index: expected 'indices' to be an integer tensor, got {ind.dtype}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    n = int(np.prod(shape, dtype=np.int64))
    if ind.size and (ind.min() < -n or ind.max() >= n):
        raise RuntimeError(f"unravel_index: 'indices' must be in range [{-n}, {n - 1}]")
    ind = np.where(ind < 0, ind + n, ind)
    return tuple(Tensor._wrap(np.asarray(c, dtype=np.int64)) for c in np.unravel_index(ind, shape))
