"""More reductions: NaN-skipping sums and means, (min, max) in one call, and the (std, mean) /
(var, mean) pairs; plus the creation functions that take part in a graph or mirror torch's
(fill, scalar_tensor, logspace). Each composes gradbox's reductions, so its gradient is theirs.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from gradbox import _dtype
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._more import with_out
from gradbox.ops._util import as_tensor, const, endpoint, norm_dims
from gradbox.ops.elementwise import sqrt, where
from gradbox.ops.reduce import amax, amin, mean
from gradbox.ops.reduce import sum as _sum
from gradbox.ops.shape import expand
from gradbox.tensor import Tensor

return_types_aminmax = namedtuple("aminmax", ["min", "max"])


@op(
    OpMath(
        "y = sum of the non-NaN elements of x over dim",
        grads=("g broadcast over dim, 0 at the NaNs",),
        note="Computed as sum(where(isnan(x), 0, x)).",
    )
)
@with_out
def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    x = as_tensor(input, "nansum")
    if x._data.dtype.kind == "f":
        x = where(const(np.isnan(x._data)), 0.0, x)
    return _sum(x, dim, keepdim, dtype=dtype)


@op(
    OpMath(
        "y = mean of the non-NaN elements of x over dim",
        grads=("g / n broadcast over dim (n the count of non-NaNs), 0 at the NaNs",),
        note="Computed as nansum / count.",
    )
)
@with_out
def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    x = as_tensor(input, "nanmean")
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got {x.dtype}")
    dims = norm_dims(dim, x._data.ndim, "nanmean")
    count = np.sum(~np.isnan(x._data), axis=dims, keepdims=keepdim).astype(x._data.dtype)
    return nansum(x, dim, keepdim) / const(count)


@op(
    OpMath(
        "y = (min of x over dim, max of x over dim)",
        grads=("tied extremes share g_min (and g_max) evenly, as amin and amax",),
        note="Computed as amin and amax.",
    )
)
@with_out
def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False):
    x = as_tensor(input, "aminmax")
    if x._data.size == 0 and (dim is None or x._data.ndim == 0 or x._data.shape[dim] == 0):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no identity")
    if dim is None:
        lo, hi = amin(x), amax(x)
        if keepdim:
            lo, hi = lo.reshape(*(1,) * x._data.ndim), hi.reshape(*(1,) * x._data.ndim)
        return return_types_aminmax(lo, hi)
    return return_types_aminmax(amin(x, dim, keepdim), amax(x, dim, keepdim))


def _stat_mean(is_std: bool, input, dim, unbiased, keepdim, correction):
    x = as_tensor(input, "std_mean" if is_std else "var_mean")
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    c = float(correction) if correction is not None else (1.0 if unbiased is None or unbiased else 0.0)
    dims = norm_dims(dim, x._data.ndim, "var_mean")
    n = x._data.size if dims is None else int(np.prod([x._data.shape[d] for d in dims]))
    m = mean(x, dim, keepdim=True)
    centered = x - m
    with np.errstate(divide="ignore", invalid="ignore"):  # N - c <= 0: inf or NaN, as PyTorch
        v = _sum(centered * centered, dim, keepdim) / max(n - c, 0.0)
    m = m if keepdim else m.reshape(*v.shape)
    if not is_std:
        return v, m
    zero = const(v._data == 0)
    return where(zero, 0.0, sqrt(where(zero, 1.0, v))), m  # the gradient at std = 0 is 0, as PyTorch


@op(
    OpMath(
        "y = (std over dim, mean over dim)",
        grads=("g_std (x - mean) / ((N - c) std) + g_mean / N",),
        note="Computed as std and mean.",
    )
)
@with_out
def std_mean(
    input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None
) -> tuple[Tensor, Tensor]:
    return _stat_mean(True, input, dim, unbiased, keepdim, correction)


@op(
    OpMath(
        "y = (var over dim, mean over dim)",
        grads=("g_var 2 (x - mean) / (N - c) + g_mean / N",),
        note="Computed as var and mean.",
    )
)
@with_out
def var_mean(
    input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None
) -> tuple[Tensor, Tensor]:
    return _stat_mean(False, input, dim, unbiased, keepdim, correction)


@op(
    OpMath(
        "y = value everywhere, in x's shape and dtype",
        grads=("0", "sum of g (when value is a 0-d tensor)"),
        inputs=("x", "value"),
        note="Computed as expand.",
    )
)
def fill(input: Tensor, value) -> Tensor:
    x = as_tensor(input, "fill")
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(
                f"fill only supports 0-dimension value tensor but got tensor with {value._data.ndim} dimensions"
            )
        v = value.to(x.dtype) if value.dtype != x.dtype else value
        return (
            expand(v, *x._data.shape) * 1
            if x._data.dtype.kind == "f"
            else Tensor._wrap(np.full(x._data.shape, v._data))
        )
    return Tensor._wrap(np.full(x._data.shape, value, dtype=x._data.dtype))


@op(OpMath("y = the 0-d tensor holding s", grads=None))
def scalar_tensor(
    s, *, dtype=None, layout=None, device=None, pin_memory: bool = False, requires_grad: bool = False
) -> Tensor:
    npd = _dtype.get_default_dtype().np if dtype is None else _dtype.to_numpy_dtype(dtype)
    t = Tensor._wrap(np.asarray(s, dtype=npd))
    return t.requires_grad_(True) if requires_grad else t


@op(OpMath("y_i = base^(start + i (end - start) / (steps - 1)), steps values", grads=None))
def logspace(
    start, end, steps: int, base: float = 10.0, *, dtype=None, layout=None, device=None, requires_grad: bool = False
) -> Tensor:
    npd = _dtype.get_default_dtype().np if dtype is None else _dtype.to_numpy_dtype(dtype)
    if steps < 0:
        raise RuntimeError(f"number of steps must be non-negative, got {steps}")
    s, e = endpoint(start, "logspace", "start"), endpoint(end, "logspace", "end")
    if np.dtype(npd).kind in "iu":
        exps = np.linspace(s, e, steps, dtype=np.float64)
        out = np.asarray(np.power(float(base), exps)).astype(npd)
    else:
        out = np.power(np.asarray(base, dtype=npd), np.linspace(s, e, steps).astype(npd))
    t = Tensor._wrap(np.asarray(out, dtype=npd))
    return t.requires_grad_(True) if requires_grad else t
