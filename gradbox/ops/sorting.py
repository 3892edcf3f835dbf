"""Ordering: sort, argsort, topk, kthvalue, median, mode, quantile, and the searching and counting
ops built on order (searchsorted, bucketize, unique, isin, histograms, bincount).

Every value-returning selection here picks elements of x at indices computed from x's order,
y = x[idx] along dim, so its gradient scatters g back to the picked positions:
dL/dx = zeros(x.shape) with g added at idx (PyTorch's rule; ties are resolved by the indices).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._more import with_out
from gradbox.ops._util import as_tensor, const, norm_dim
from gradbox.ops.elementwise import where
from gradbox.ops.index import Index, getitem
from gradbox.ops.reduce import sum as _sum
from gradbox.ops.scatter import along
from gradbox.ops.shape import reshape, squeeze, stack
from gradbox.tensor import Tensor

_RT = {n: namedtuple(n, ["values", "indices"]) for n in ("sort", "topk", "kthvalue", "median", "nanmedian", "mode")}
return_types_histogram = namedtuple("histogram", ["hist", "bin_edges"])
return_types_histogramdd = namedtuple("histogramdd", ["hist", "bin_edges"])

_PICK = OpMath(
    "y = x[idx] along dim, idx computed from the order of x",
    grads=("zeros(x.shape) with g added at idx along dim",),
    note="The indices (int64) are returned beside the values and carry no gradient.",
)


def order(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable argsort with NaN above every number (last ascending, first descending), as PyTorch."""
    if a.dtype == np.bool_:
        a = a.astype(np.int8)
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    if a.dtype.kind == "f":
        key = np.where(np.isnan(a), -np.inf, -a)
        nan_first = ~np.isnan(a)  # False (NaN) sorts before True
        moved_k, moved_n = np.moveaxis(key, axis, -1), np.moveaxis(nan_first, axis, -1)
        idx = np.lexsort((moved_k, moved_n), axis=-1) if moved_k.size else np.zeros(moved_k.shape, np.int64)
        return np.moveaxis(idx, -1, axis)
    return np.argsort(-a.astype(np.int64), axis=axis, kind="stable")


def _pick(x: Tensor, idx: np.ndarray, d: int) -> Tensor:
    if x._data.ndim == 0:
        return getitem(x, ())
    return Index.apply(x, idx=along(idx, d), advanced=True)


def _dim_input(input, dim, name: str) -> tuple[Tensor, int, bool]:
    x = as_tensor(input, name)
    d = norm_dim(dim, x._data.ndim, name)
    return x, d, x._data.ndim == 0


@op(_PICK._replace(forward="y = x sorted along dim (ascending, or descending), with the positions it came from"))
@with_out
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    if isinstance(dim, bool):  # sort(x, descending) positional form is not PyTorch's; keep dim an int
        raise TypeError("sort: dim must be an int")
    x, d, scalar = _dim_input(input, dim, "sort")
    if scalar:
        return _RT["sort"](getitem(x, ()), Tensor._wrap(np.zeros((), np.int64)))
    idx = order(x._data, d, descending)
    return _RT["sort"](_pick(x, idx, d), Tensor._wrap(idx.astype(np.int64)))


@op(OpMath("y = the indices that sort x along dim", grads=None))
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    x, d, scalar = _dim_input(input, dim, "argsort")
    if scalar:
        return Tensor._wrap(np.zeros((), np.int64))
    return Tensor._wrap(order(x._data, d, descending).astype(np.int64))


@op(_PICK._replace(forward="y = x sorted along dim 0"))
@with_out
def msort(input: Tensor) -> Tensor:
    return sort(input, 0).values


@op(_PICK._replace(forward="y = the k largest (or smallest) elements of x along dim, with their positions"))
@with_out
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    x, d, scalar = _dim_input(input, dim, "topk")
    n = 1 if scalar else x._data.shape[d]
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: selected index k ({k}) out of range for dimension {d} of size {n}")
    if scalar:
        return _RT["topk"](getitem(x, ()), Tensor._wrap(np.zeros((), np.int64)))
    idx = np.take(order(x._data, d, largest), np.arange(k), axis=d)
    return _RT["topk"](_pick(x, idx, d), Tensor._wrap(idx.astype(np.int64)))


def _kth(x: Tensor, k: int, d: int, keepdim: bool, name: str, scalar: bool, nan_last: bool = True):
    if scalar:
        return _RT[name](getitem(x, ()), Tensor._wrap(np.zeros((), np.int64)))
    idx = order(x._data, d, False)
    ks = np.asarray(k)
    pos = (
        np.take_along_axis(idx, np.expand_dims(np.broadcast_to(ks, np.delete(idx.shape, d)), d), axis=d)
        if ks.ndim
        else np.take(idx, [k], axis=d)
    )
    vals = _pick(x, pos, d)
    if not keepdim:
        vals, pos = squeeze(vals, d), np.squeeze(pos, d)
    return _RT[name](vals, Tensor._wrap(pos.astype(np.int64)))


@op(_PICK._replace(forward="y = the k-th smallest element of x along dim, with its position"))
@with_out
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    x, d, scalar = _dim_input(input, dim, "kthvalue")
    n = 1 if scalar else x._data.shape[d]
    if not 1 <= k <= n:
        raise IndexError(f"kthvalue(): selected number k ({k}) out of range for dimension {d} of size {n}")
    return _kth(x, k - 1, d, keepdim, "kthvalue", scalar)


def _even_share(x: Tensor, y: Tensor) -> Tensor:
    """y from x with the gradient shared evenly by the elements equal to y (NaN: by the NaNs)."""
    a, v = x._data, y._data
    hit = np.isnan(a) if np.isnan(v) else a == v
    w = hit.astype(a.dtype) / max(int(hit.sum()), 1)
    return _sum(x * const(w))


def _median(input, dim, keepdim: bool, ignore_nan: bool, name: str):
    x = as_tensor(input, name)
    if dim is None:
        a = x._data.reshape(-1)
        if a.size == 0:
            return Tensor._wrap(np.asarray(np.nan, dtype=a.dtype))
        valid = a[~np.isnan(a)] if ignore_nan and a.dtype.kind == "f" else a
        if valid.size == 0 or (not ignore_nan and a.dtype.kind == "f" and np.isnan(a).any()):
            val = np.asarray(np.nan, dtype=a.dtype)
        else:
            val = np.sort(valid)[(valid.size - 1) // 2]
        y = Tensor._wrap(np.asarray(val, dtype=a.dtype))
        if x._data.dtype.kind != "f" or not x.requires_grad:
            return y
        return _even_share(x, y)
    x, d, scalar = _dim_input(x, dim, name)
    if scalar:
        return _RT[name](getitem(x, ()), Tensor._wrap(np.zeros((), np.int64)))
    a = x._data
    n = a.shape[d]
    if a.dtype.kind == "f":
        nan_count = np.isnan(a).sum(axis=d)
        if ignore_nan:
            k = np.maximum((n - nan_count - 1) // 2, 0)
            k = np.where(nan_count == n, 0, k)
        else:
            k = np.where(nan_count > 0, n - nan_count, (n - 1) // 2)  # the first NaN in order
    else:
        k = np.full(np.delete(a.shape, d), (n - 1) // 2)
    return _kth(x, k, d, keepdim, name, False)


@op(
    OpMath(
        "y = the lower median of x (over all elements, or along dim with its position)",
        grads=("all elements: g shared evenly by the elements equal to y; along dim: g at the returned index",),
        note="A NaN makes the median NaN (nanmedian skips NaNs). As PyTorch.",
    )
)
@with_out
def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    return _median(input, dim, keepdim, False, "median")


@op(median.__math__._replace(forward="y = the lower median of the non-NaN elements of x"))
@with_out
def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):
    return _median(input, dim, keepdim, True, "nanmedian")


@op(
    _PICK._replace(
        forward="y = the most frequent value of x along dim (the smallest of tied counts), with its last position"
    )
)
@with_out
def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    x, d, scalar = _dim_input(input, dim, "mode")
    if scalar:
        return _RT["mode"](getitem(x, ()), Tensor._wrap(np.zeros((), np.int64)))
    a = np.moveaxis(x._data, d, -1)
    flat = a.reshape(-1, a.shape[-1])
    pos = np.zeros(flat.shape[0], dtype=np.int64)
    for r, row in enumerate(flat):
        vals, counts = np.unique(row, return_counts=True)
        best = vals[np.argmax(counts)]  # np.unique sorts: the first maximum is the smallest value
        pos[r] = (
            np.flatnonzero(row == best)[-1]
            if not (isinstance(best, float) and np.isnan(best))
            else np.flatnonzero(np.isnan(row))[-1]
        )
    pos = np.expand_dims(pos.reshape(a.shape[:-1]), d)
    vals = _pick(x, pos, d)
    if not keepdim:
        vals, pos = squeeze(vals, d), np.squeeze(pos, d)
    return _RT["mode"](vals, Tensor._wrap(pos))


def _quantile(input, q, dim, keepdim: bool, interpolation: str, ignore_nan: bool, name: str) -> Tensor:
    x = as_tensor(input, name)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    qa = q._data if isinstance(q, Tensor) else np.asarray(q, dtype=x._data.dtype)
    if qa.ndim > 1:
        raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    if ((qa < 0) | (qa > 1)).any():
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise RuntimeError(
            f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest. Got {interpolation}"
        )
    if dim is None or x._data.ndim == 0:
        if dim is not None:
            norm_dim(dim, 0, name)
        xs, d, dim = reshape(x, (-1,)), 0, None
    else:
        d = norm_dim(dim, x._data.ndim, name)
        xs = reshape(x, (1,)) if x._data.ndim == 0 else x
    if xs._data.shape[d] == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    srt = sort(xs, d).values
    a = srt._data
    n = a.shape[d]
    nan_count = np.isnan(a).sum(axis=d, keepdims=True)
    valid = (n - nan_count) if ignore_nan else np.full(nan_count.shape, n)
    rank = qa.reshape(qa.shape + (1,) * a.ndim) * (valid - 1)  # (Q, ..., 1, ...)
    if interpolation == "lower":
        rank = np.floor(rank)
    elif interpolation == "higher":
        rank = np.ceil(rank)
    elif interpolation == "nearest":
        rank = np.round(rank)
    lo = np.clip(np.floor(rank), 0, n - 1).astype(np.int64)
    hi = np.clip(np.ceil(rank), 0, n - 1).astype(np.int64)
    frac = rank - np.floor(rank)
    if interpolation == "midpoint":
        frac = np.where(hi != lo, 0.5, 0.0)
    outs = []
    for i in range(max(qa.size, 1)):
        li, hi_ = lo[i] if qa.ndim else lo, hi[i] if qa.ndim else hi
        vlo = _pick(srt, li.astype(np.int64) if li.ndim else li, d)
        vhi = _pick(srt, hi_.astype(np.int64) if hi_.ndim else hi_, d)
        f = const((frac[i] if qa.ndim else frac).astype(a.dtype))
        if interpolation == "linear" and isinstance(q, Tensor) and q.requires_grad:
            # the weight is q (valid - 1) - floor(rank): differentiable in q
            qi = getitem(q, i) if qa.ndim else q
            r = rank[i] if qa.ndim else rank
            f = qi * const((valid - 1).astype(a.dtype)) - const(np.floor(r).astype(a.dtype))
        v = vlo + (vhi - vlo) * f if interpolation in ("linear", "midpoint") else vlo
        bad = (nan_count == n) if ignore_nan else (nan_count > 0)
        if bad.any():
            v = where(const(np.broadcast_to(bad, v._data.shape)), float("nan"), v)
        if keepdim:
            if dim is None:
                v = reshape(v, (1,) * x._data.ndim)
        else:
            v = squeeze(v, d)
            if dim is None:
                v = reshape(v, ())
        outs.append(v)
    if qa.ndim == 0:
        return outs[0]
    return stack(outs, 0)


@op(
    OpMath(
        "y = the q-quantile of x along dim: sorted values at rank q (n - 1), interpolated",
        grads=("g spread onto the two neighbouring sorted elements with the interpolation weights",),
        note="interpolation: linear, lower, higher, midpoint or nearest; a NaN makes it NaN (nanquantile skips "
        "NaNs). Computed from sort, indexing and lerp.",
    )
)
@with_out
def quantile(
    input: Tensor, q, dim: int | None = None, keepdim: bool = False, *, interpolation: str = "linear"
) -> Tensor:
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


@op(quantile.__math__._replace(forward="y = the q-quantile of the non-NaN elements of x along dim"))
@with_out
def nanquantile(
    input: Tensor, q, dim: int | None = None, keepdim: bool = False, *, interpolation: str = "linear"
) -> Tensor:
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


def _unique_result(vals, inverse, counts, return_inverse, return_counts):
    out = [Tensor._wrap(vals)]
    if return_inverse:
        out.append(Tensor._wrap(inverse.astype(np.int64)))
    if return_counts:
        out.append(Tensor._wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


@op(OpMath("y = the distinct elements of x (sorted), optionally with the inverse map and counts", grads=None))
def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
):  # noqa: A002
    a = as_tensor(input, "unique")._data
    if dim is None:
        vals, inv, counts = np.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        return _unique_result(vals, inv.reshape(a.shape), counts, return_inverse, return_counts)
    d = norm_dim(dim, a.ndim, "unique")
    vals, inv, counts = np.unique(a, return_inverse=True, return_counts=True, axis=d)
    return _unique_result(vals, inv.reshape(-1), counts, return_inverse, return_counts)


@op(
    OpMath(
        "y = x with each run of equal consecutive elements kept once, optionally with inverse map and counts",
        grads=None,
    )
)
def unique_consecutive(
    input: Tensor, return_inverse: bool = False, return_counts: bool = False, dim: int | None = None
):
    a = as_tensor(input, "unique_consecutive")._data
    if dim is None:
        flat = a.reshape(-1)
        starts = np.ones(flat.shape, dtype=bool)
        starts[1:] = flat[1:] != flat[:-1]
        vals = flat[starts]
        inv = (np.cumsum(starts) - 1).reshape(a.shape)
    else:
        d = norm_dim(dim, a.ndim, "unique_consecutive")
        m = np.moveaxis(a, d, 0).reshape(a.shape[d], int(np.prod(np.delete(a.shape, d), dtype=np.int64)))
        starts = np.ones(m.shape[0], dtype=bool)
        starts[1:] = (m[1:] != m[:-1]).any(axis=1)
        vals = np.take(a, np.flatnonzero(starts), axis=d)
        inv = np.cumsum(starts) - 1
    counts = np.diff(np.append(np.flatnonzero(starts), starts.size))
    return _unique_result(vals, inv, counts, return_inverse, return_counts)


@op(OpMath("y = the insertion positions of values into the last dim of sorted_sequence (int64)", grads=None))
@with_out
def searchsorted(
    sorted_sequence: Tensor,
    values,
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Tensor | None = None,
) -> Tensor:
    seq = as_tensor(sorted_sequence, "searchsorted")._data
    scalar = not isinstance(values, Tensor)
    v = np.asarray(values) if scalar else values._data
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter._data, axis=-1)
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"searchsorted: side can only be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise RuntimeError("searchsorted: side and right can't be set to opposites")
        right = side == "right"
    s = "right" if right else "left"
    if seq.ndim == 1:
        out = np.searchsorted(seq, v, side=s)
    else:
        if v.shape[:-1] != seq.shape[:-1]:
            raise RuntimeError(
                f"searchsorted: boundaries and input should have the same leading dims, got {seq.shape} and {v.shape}"
            )
        rows = int(np.prod(seq.shape[:-1], dtype=np.int64))
        lead = seq.reshape(rows, seq.shape[-1])
        vv = v.reshape(rows, v.shape[-1])
        found = [np.searchsorted(r, w, side=s) for r, w in zip(lead, vv)]
        out = np.stack(found).reshape(v.shape) if found else np.zeros(v.shape, np.int64)
    return Tensor._wrap(np.asarray(out, dtype=np.int32 if out_int32 else np.int64))


@op(OpMath("y = the index of the bucket of each element of x for sorted 1-D boundaries (int64)", grads=None))
@with_out
def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})")
    v = input._data if isinstance(input, Tensor) else np.asarray(input)
    out = np.searchsorted(boundaries._data, v, side="right" if right else "left")
    return Tensor._wrap(np.asarray(out, dtype=np.int32 if out_int32 else np.int64))


@op(OpMath("y = [x is one of test_elements] (bool; invert negates)", grads=None))
def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    e = elements._data if isinstance(elements, Tensor) else np.asarray(elements)
    t = test_elements._data if isinstance(test_elements, Tensor) else np.asarray(test_elements)
    return Tensor._wrap(np.asarray(np.isin(e, t, invert=invert)))


@op(OpMath("y = counts of x in ``bins`` equal-width bins over [min, max] (x's own range when both are 0)", grads=None))
@with_out
def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    a = as_tensor(input, "histc")._data
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"histc: max must be larger than min, got min {min} and max {max}")
    inside = a[(a >= lo) & (a <= hi)]
    counts, _ = np.histogram(inside, bins=bins, range=(lo, hi))
    return Tensor._wrap(counts.astype(a.dtype))


def _edges(a: np.ndarray, bins, rng) -> np.ndarray:
    if isinstance(bins, Tensor):
        return bins._data
    if rng is not None:
        lo, hi = float(rng[0]), float(rng[1])
    elif a.size:
        lo, hi = float(a.min()), float(a.max())
    else:
        lo, hi = 0.0, 1.0
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, int(bins) + 1, dtype=a.dtype)


def _binned(pts: np.ndarray, edges: list[np.ndarray], w, density: bool) -> np.ndarray:
    """Counts of the points (rows) in the boxes the edges make; the last bin of each dim is closed."""
    shape = tuple(max(len(e) - 1, 0) for e in edges)
    keep = np.ones(pts.shape[0], dtype=bool)
    idx = []
    for i, e in enumerate(edges):
        v = pts[:, i]
        k = np.searchsorted(e, v, side="right") - 1
        k = np.where(v == e[-1], len(e) - 2, k)
        keep &= (v >= e[0]) & (v <= e[-1]) & (k >= 0) & (k < len(e) - 1)
        idx.append(k)
    hist = np.zeros(shape, dtype=np.float64)
    wk = np.ones(pts.shape[0]) if w is None else w.astype(np.float64)
    np.add.at(hist, tuple(k[keep] for k in idx), wk[keep])
    if density:
        vol = np.ones(shape)
        for i, e in enumerate(edges):
            vol = vol * np.diff(e).astype(np.float64).reshape([-1 if j == i else 1 for j in range(len(edges))])
        with np.errstate(invalid="ignore", divide="ignore"):  # no points: 0/0 = NaN, as PyTorch
            hist = hist / (hist.sum() * vol)
    return hist


@op(OpMath("y = (counts of x in bins, bin edges); bins a count (over range) or the edges", grads=None))
@with_out
def histogram(input: Tensor, bins=100, *, range=None, weight: Tensor | None = None, density: bool = False):  # noqa: A002
    a = as_tensor(input, "histogram")._data.reshape(-1)
    edges = _edges(a, bins, range)
    w = None if weight is None else weight._data.reshape(-1)
    hist = _binned(a.reshape(-1, 1), [edges], w, density)
    return return_types_histogram(Tensor._wrap(hist.astype(a.dtype)), Tensor._wrap(edges.astype(a.dtype)))


@op(OpMath("y = (counts of the rows of x (points in D dims) in D-dimensional bins, the D lists of edges)", grads=None))
def histogramdd(input: Tensor, bins=10, *, range=None, weight: Tensor | None = None, density: bool = False):  # noqa: A002
    a = as_tensor(input, "histogramdd")._data
    dd = a.shape[-1]
    pts = a.reshape(-1, dd)
    if isinstance(bins, int):
        bins = [bins] * dd
    edges = []
    for i in np.arange(dd):
        r = None if range is None else (range[2 * i], range[2 * i + 1])
        edges.append(_edges(pts[:, i], bins[i], r))
    w = None if weight is None else weight._data.reshape(-1)
    hist = _binned(pts, edges, w, density)
    return return_types_histogramdd(
        Tensor._wrap(hist.astype(a.dtype)), [Tensor._wrap(e.astype(a.dtype)) for e in edges]
    )


@op(OpMath("y_i = the number (or weighted sum) of occurrences of i in the 1-D non-negative int tensor x", grads=None))
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    a = as_tensor(input, "bincount")._data
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got {a.dtype} of shape {a.shape}")
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs")
    w = None if weights is None else weights._data
    out = np.bincount(a, weights=w, minlength=minlength)
    if w is None:
        return Tensor._wrap(out.astype(np.int64))
    return Tensor._wrap(out.astype(w.dtype if w.dtype.kind == "f" else np.float64))


@op(OpMath("y = the number of nonzero elements of x over dim (all elements when dim is None), int64", grads=None))
def count_nonzero(input: Tensor, dim=None) -> Tensor:
    a = as_tensor(input, "count_nonzero")._data
    if dim is None:
        return Tensor._wrap(np.asarray(np.count_nonzero(a), dtype=np.int64))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    dims = tuple(norm_dim(d, a.ndim, "count_nonzero") for d in dims)
    if a.ndim == 0:
        return Tensor._wrap(np.asarray(np.count_nonzero(a), dtype=np.int64))
    return Tensor._wrap(np.asarray(np.count_nonzero(a, axis=dims), dtype=np.int64))
