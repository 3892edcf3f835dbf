"""Scans along a dim (cumulative sum, product, max/min, log-sum-exp) and the finite differences
and integrals built on them (diff, gradient, trapezoid, cumulative_trapezoid).

The adjoint of a prefix sum is a suffix sum: if y_j = sum_{i<=j} x_i then
dL/dx_i = sum_{j>=i} g_j, i.e. flip(cumsum(flip(g))).
"""

from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from gradbox import _dtype
from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._more import with_out
from gradbox.ops._util import as_tensor, const, norm_dim
from gradbox.ops.elementwise import exp, log, logical_xor, where
from gradbox.ops.index import IndexAdd, getitem
from gradbox.ops.reduce import sum as _sum
from gradbox.ops.scatter import along
from gradbox.ops.shape import cat, flip, reshape
from gradbox.tensor import Tensor

return_types_cummax = namedtuple("cummax", ["values", "indices"])
return_types_cummin = namedtuple("cummin", ["values", "indices"])


def _rev_cumsum(g: Tensor, dim: int) -> Tensor:
    return flip(cumsum(flip(g, (dim,)), dim), (dim,))


class Cumsum(Function):
    math = OpMath(
        "y_j = sum_{i <= j} x_i along dim",
        grads=("dL/dx_i = sum_{j >= i} g_j (a suffix sum: flip(cumsum(flip(g))))",),
    )

    def forward(self, x, dim):
        self.dim = dim
        return np.cumsum(x, axis=dim, dtype=x.dtype)

    def backward(self, g):
        return _rev_cumsum(g, self.dim)


class Cumprod(Function):
    math = OpMath(
        "y_j = prod_{i <= j} x_i along dim",
        grads=("dL/dx_i = sum_{j >= i} g_j prod_{k <= j, k != i} x_k   (= suffix-sum(g * y) / x_i when no x is 0)",),
        note="Where a slice holds a zero the products of the others are formed exactly; that branch is not "
        "differentiable a second time.",
    )
    save_inputs = True
    save_output = True

    def forward(self, x, dim):
        self.dim = dim
        return np.cumprod(x, axis=dim, dtype=x.dtype)

    def backward(self, g):
        x = self.inputs[0]
        d = self.dim
        if (x._data != 0).all():
            return _rev_cumsum(g * self.output, d) / x
        a = np.moveaxis(x._data, d, -1)
        gg = np.moveaxis(g._data, d, -1)
        n = a.shape[-1]
        before = np.cumprod(np.concatenate([np.ones(a.shape[:-1] + (1,), a.dtype), a[..., :-1]], axis=-1), axis=-1)
        out = np.empty_like(a)
        for i in range(n):
            q = np.cumprod(np.concatenate([np.ones(a.shape[:-1] + (1,), a.dtype), a[..., i + 1 :]], axis=-1), axis=-1)
            out[..., i] = before[..., i] * np.sum(gg[..., i:] * q, axis=-1)
        return const(np.moveaxis(out, -1, d))


class CumExtreme(Function):
    math = OpMath(
        "y_j = max (or min) of x_0..x_j along dim; idx_j its position",
        grads=("zeros(x.shape) with g scatter-added at idx along dim",),
        note="At ties the latest position wins; a NaN propagates. Indices (int64) carry no gradient. As PyTorch.",
    )

    def forward(self, x, dim, is_max):
        a = np.moveaxis(x, dim, -1)
        vals = np.empty_like(a)
        idx = np.zeros(a.shape, dtype=np.int64)
        if a.shape[-1]:
            cur = a[..., 0].copy()
            cur_i = np.zeros(a.shape[:-1], dtype=np.int64)
            for j in range(a.shape[-1]):
                v = a[..., j]
                take = ((v >= cur) if is_max else (v <= cur)) | np.isnan(v)
                cur = np.where(take, v, cur)
                cur_i = np.where(take, j, cur_i)
                vals[..., j], idx[..., j] = cur, cur_i
        self.dim, self.idx = dim, np.moveaxis(idx, -1, dim)
        return np.moveaxis(vals, -1, dim)

    def backward(self, g):
        return IndexAdd.apply(g, idx=along(self.idx, self.dim), shape=self.input_shapes[0], advanced=True)


class LogCumSumExp(Function):
    math = OpMath(
        "y_j = log sum_{i <= j} e^(x_i) along dim",
        grads=("dL/dx_i = sum_{j >= i} g_j e^(x_i - y_j)",),
        note="Computed in log space, separately for the positive and negative parts of g: "
        "e^(x + logcumsumexp_rev(log g+ - y)) - e^(x + logcumsumexp_rev(log g- - y)), so nothing overflows.",
    )
    save_inputs = True
    save_output = True

    def forward(self, x, dim):
        self.dim = dim
        return np.logaddexp.accumulate(x, axis=dim) if x.shape[dim] else x.copy()

    def backward(self, g):
        x, y, d = self.inputs[0], self.output, self.dim
        gd = g._data
        pos = const(gd > 0)
        neg = const(gd < 0)
        # log 0 taken as a huge finite negative, not -inf: -inf - (-inf) would make the second derivative NaN
        tiny = float(np.finfo(gd.dtype).min) / 4
        lp = where(pos, log(where(pos, g, 1.0)), tiny) - y
        ln = where(neg, log(where(neg, -g, 1.0)), tiny) - y
        rp = flip(logcumsumexp(flip(lp, (d,)), d), (d,))
        rn = flip(logcumsumexp(flip(ln, (d,)), d), (d,))
        return exp(x + rp) - exp(x + rn)


def _scan_input(x, dim, name: str, dtype=None) -> tuple[Tensor, int, bool]:
    x = as_tensor(x, name)
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind in "biu":
        x = x.to(_dtype.int64)
    scalar = x._data.ndim == 0
    d = norm_dim(dim, x._data.ndim, name)
    return (reshape(x, (1,)) if scalar else x), d, scalar


@op(Cumsum, summary="Cumulative sum along ``dim`` (bool and integer inputs sum as int64).")
@with_out
def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    x, d, scalar = _scan_input(input, dim, "cumsum", dtype)
    y = Cumsum.apply(x, dim=d)
    return reshape(y, ()) if scalar else y


@op(Cumprod, summary="Cumulative product along ``dim`` (bool and integer inputs multiply as int64).")
@with_out
def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    x, d, scalar = _scan_input(input, dim, "cumprod", dtype)
    y = Cumprod.apply(x, dim=d)
    return reshape(y, ()) if scalar else y


def _cumextreme(input, dim, is_max: bool, name: str):
    x = as_tensor(input, name)
    scalar = x._data.ndim == 0
    d = norm_dim(dim, x._data.ndim, name)
    xx = reshape(x, (1,)) if scalar else x
    if x._data.dtype.kind != "f":
        fn = CumExtreme()
        vals = Tensor._wrap(fn.forward(xx._data, d, is_max))
        idx = fn.idx
    else:
        vals = CumExtreme.apply(xx, dim=d, is_max=is_max)
        idx = vals.grad_fn.idx if vals.grad_fn is not None else _indices(xx._data, d, is_max)
    rt = return_types_cummax if is_max else return_types_cummin
    if scalar:
        return rt(reshape(vals, ()), Tensor._wrap(idx.reshape(())))
    return rt(vals, Tensor._wrap(idx))


def _indices(a: np.ndarray, d: int, is_max: bool) -> np.ndarray:
    fn = CumExtreme()
    fn.forward(a, d, is_max)
    return fn.idx


@op(CumExtreme.math._replace(forward="y_j = max of x_0..x_j along dim, with its position"))
@with_out
def cummax(input: Tensor, dim: int):
    return _cumextreme(input, dim, True, "cummax")


@op(CumExtreme.math._replace(forward="y_j = min of x_0..x_j along dim, with its position"))
@with_out
def cummin(input: Tensor, dim: int):
    return _cumextreme(input, dim, False, "cummin")


@op(LogCumSumExp, summary="log(cumsum(exp(x))) along ``dim``, computed without overflow.")
@with_out
def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    x = as_tensor(input, "logcumsumexp")
    if x._data.dtype.kind != "f":
        x = x.to(_dtype.get_default_dtype())
    scalar = x._data.ndim == 0
    d = norm_dim(dim, x._data.ndim, "logcumsumexp")
    y = LogCumSumExp.apply(reshape(x, (1,)) if scalar else x, dim=d)
    return reshape(y, ()) if scalar else y


def _slice(x: Tensor, dim: int, start, stop) -> Tensor:
    return getitem(x, (slice(None),) * dim + (slice(start, stop),))


@op(
    OpMath(
        "y = x[1:] - x[:-1] along dim, n times (after prepend/append are concatenated)",
        grads=("the adjoint differences of g, n times",),
        note="Bool inputs give x[1:] xor x[:-1]. Computed with cat, slicing and sub.",
    )
)
@with_out
def diff(
    input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None, append: Tensor | None = None
) -> Tensor:
    x = as_tensor(input, "diff")
    if x._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    d = norm_dim(dim, x._data.ndim, "diff")
    if n == 0:  # PyTorch returns the input itself, without prepend/append
        return x
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        parts = [
            p if p._data.ndim == x._data.ndim else p.expand(*[1 if i == d else s for i, s in enumerate(x.shape)])
            for p in parts
        ]
        x = cat(parts, d)
    for _ in range(n):
        if x._data.shape[d] == 0:
            break
        a, b = _slice(x, d, 1, None), _slice(x, d, None, -1)
        x = logical_xor(a, b) if x._data.dtype == np.bool_ else a - b
    return x


def _dx_sum(y: Tensor, x, dx, d: int, cumulative: bool) -> Tensor:
    if y._data.shape[d] == 0 and not cumulative:
        return _sum(y, d)
    mid = (_slice(y, d, 1, None) + _slice(y, d, None, -1)) * 0.5
    if x is not None:
        xt = as_tensor(x, "trapezoid")
        if xt._data.ndim == 1:
            h = diff(xt).reshape(*[-1 if i == d else 1 for i in range(y._data.ndim)])
        else:
            h = diff(xt, dim=d - y._data.ndim if xt._data.ndim == y._data.ndim else -1)
        area = mid * h
    else:
        area = mid * (1.0 if dx is None else dx)
    return cumsum(area, d) if cumulative else _sum(area, d)


def _trapz_input(y, name):
    y = as_tensor(y, name)
    if y._data.dtype.kind != "f":
        y = y.to(_dtype.get_default_dtype())
    return y


@op(
    OpMath(
        "y = sum_i (x_{i+1} - x_i) (f_i + f_{i+1}) / 2 along dim (spacing dx, or sample points x)",
        grads=("the trapezoid weights times g",),
        note="Computed with slicing, mul and sum.",
    )
)
def trapezoid(y: Tensor, x: Tensor | None = None, *, dx=None, dim: int = -1) -> Tensor:
    f = _trapz_input(y, "trapezoid")
    if isinstance(x, numbers.Number):
        x, dx = None, x
    return _dx_sum(f, x, dx, norm_dim(dim, f._data.ndim, "trapezoid"), False)


@op(OpMath("y = trapezoid(f, x, dx, dim)", grads=("as trapezoid",), note="An alias of trapezoid."))
def trapz(y: Tensor, x: Tensor | None = None, *, dx=None, dim: int = -1) -> Tensor:
    return trapezoid(y, x, dx=dx, dim=dim)


@op(
    OpMath(
        "y_j = sum_{i < j} (x_{i+1} - x_i) (f_i + f_{i+1}) / 2 along dim",
        grads=("the cumulative trapezoid weights times g",),
        note="Computed with slicing, mul and cumsum.",
    )
)
def cumulative_trapezoid(y: Tensor, x: Tensor | None = None, *, dx=None, dim: int = -1) -> Tensor:
    f = _trapz_input(y, "cumulative_trapezoid")
    if isinstance(x, numbers.Number):
        x, dx = None, x
    return _dx_sum(f, x, dx, norm_dim(dim, f._data.ndim, "cumulative_trapezoid"), True)


def _gradient_1d(f: Tensor, d: int, h, edge_order: int) -> Tensor:
    s = lambda a, b: _slice(f, d, a, b)  # noqa: E731
    if isinstance(h, Tensor):  # sample coordinates
        c = h._data.astype(f._data.dtype)
        dx = np.diff(c)
        shape = [-1 if i == d else 1 for i in range(f._data.ndim)]
        k = lambda v: const(np.asarray(v, dtype=f._data.dtype).reshape(shape))  # noqa: E731
        dx1, dx2 = dx[:-1], dx[1:]
        a = -dx2 / (dx1 * (dx1 + dx2))
        b = (dx2 - dx1) / (dx1 * dx2)
        cc = dx1 / (dx2 * (dx1 + dx2))
        mid = s(None, -2) * k(a) + s(1, -1) * k(b) + s(2, None) * k(cc)
        if edge_order == 1:
            lo = (s(1, 2) - s(0, 1)) / float(dx[0])
            hi = (s(-1, None) - s(-2, -1)) / float(dx[-1])
        else:
            d1, d2 = float(dx[0]), float(dx[1])
            lo = (
                s(0, 1) * (-(2 * d1 + d2) / (d1 * (d1 + d2)))
                + s(1, 2) * ((d1 + d2) / (d1 * d2))
                + s(2, 3) * (-d1 / (d2 * (d1 + d2)))
            )
            d1, d2 = float(dx[-2]), float(dx[-1])
            hi = (
                s(-3, -2) * (d2 / (d1 * (d1 + d2)))
                + s(-2, -1) * (-(d2 + d1) / (d1 * d2))
                + s(-1, None) * ((2 * d2 + d1) / (d2 * (d1 + d2)))
            )
        return cat([lo, mid, hi], d)
    h = float(h)
    mid = (s(2, None) - s(None, -2)) / (2.0 * h)
    if edge_order == 1:
        lo = (s(1, 2) - s(0, 1)) / h
        hi = (s(-1, None) - s(-2, -1)) / h
    else:
        lo = (s(0, 1) * -1.5 + s(1, 2) * 2.0 - s(2, 3) * 0.5) / h
        hi = (s(-3, -2) * 0.5 - s(-2, -1) * 2.0 + s(-1, None) * 1.5) / h
    return cat([lo, mid, hi], d)


@op(
    OpMath(
        "dy/dx_d estimated by central differences (f_{i+1} - f_{i-1}) / (2h) inside, one-sided at the edges",
        grads=("the adjoint finite differences of g",),
        note="spacing: a number, a number per dim, or the sample coordinates per dim (non-uniform differences as "
        "NumPy's gradient). Returns one tensor per dim. Computed with slicing and arithmetic.",
    )
)
def gradient(input: Tensor, *, spacing=1, dim=None, edge_order: int = 1) -> tuple[Tensor, ...]:
    f = as_tensor(input, "gradient")
    if f._data.dtype.kind != "f":
        f = f.to(_dtype.get_default_dtype())
    nd = f._data.ndim
    dims = list(range(nd)) if dim is None else [dim] if isinstance(dim, int) else list(dim)
    dims = [norm_dim(d, nd, "gradient") for d in dims]
    if spacing is None:
        spacing = 1.0
    if isinstance(spacing, numbers.Number) or isinstance(spacing, Tensor) and spacing._data.ndim == 0:
        hs = [float(spacing)] * len(dims)
    else:
        hs = list(spacing)
        if len(hs) != len(dims):
            raise RuntimeError(
                f"torch.gradient expected spacing to be unspecified, a scalar or its length to match the number of dimensions ({len(dims)}), got {len(hs)}"
            )
        hs = [h if isinstance(h, Tensor) and h._data.ndim == 1 else float(h) for h in hs]
    out = []
    for d, h in zip(dims, hs):
        if f._data.shape[d] < edge_order + 1:
            raise RuntimeError(
                f"torch.gradient expected each dimension size to be at least edge_order+1, got shape {tuple(f.shape)}"
            )
        out.append(_gradient_1d(f, d, h, edge_order))
    return tuple(out)
