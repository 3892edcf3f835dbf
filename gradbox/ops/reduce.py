"""Reductions and the normalising ops built on them (softmax, log_softmax, logsumexp).

For a reduction over the set of dims D, g has the reduced shape; ``_spread`` restores the
reduced dims (as size 1) and broadcasts g back over x.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._kernels import channel_sum
from gradbox.ops._util import as_tensor, const, norm_dim, norm_dims
from gradbox.ops.elementwise import exp, maximum, minimum
from gradbox.ops.shape import expand, reshape
from gradbox.tensor import Tensor

return_types_max = namedtuple("max", ["values", "indices"])
return_types_min = namedtuple("min", ["values", "indices"])


def _kept_shape(shape: tuple, dims: tuple | None) -> tuple:
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _spread(g: Tensor, shape: tuple, dims: tuple | None, keepdim: bool) -> Tensor:
    """g over the reduced dims, broadcast back to ``shape`` (the adjoint of summing over dims)."""
    if not keepdim:
        g = reshape(g, _kept_shape(shape, dims))
    return expand(g, shape)


def _count(shape: tuple, dims: tuple | None) -> int:
    if dims is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[d] for d in dims], dtype=np.int64))


_D = "D is the set of reduced dims (all dims when dim is None); keepdim=False drops them from y."


class Sum(Function):
    math = OpMath("y = sum_{i in D} x_i", grads=("g broadcast over D",), note=_D)

    def forward(self, x, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim
        if x.ndim >= 3 and dims == (0, *range(2, x.ndim)):  # per channel, as a convolution's bias gradient
            y = channel_sum(x.reshape(x.shape[0], x.shape[1], int(np.prod(x.shape[2:]))))  # -1 fails on size 0
            return y.reshape(_kept_shape(x.shape, dims)) if keepdim else y
        return np.sum(x, axis=dims, keepdims=keepdim)

    def backward(self, g):
        return _spread(g, self.input_shapes[0], self.dims, self.keepdim)


class Mean(Function):
    math = OpMath(
        "y = (1/N) sum_{i in D} x_i",
        grads=("g / N broadcast over D",),
        note=_D + " N is the number of elements reduced.",
    )

    def forward(self, x, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim
        return np.mean(x, axis=dims, keepdims=keepdim)

    def backward(self, g):
        n = _count(self.input_shapes[0], self.dims)
        return _spread(g / float(n), self.input_shapes[0], self.dims, self.keepdim)


class Var(Function):
    math = OpMath(
        "y = sum_{i in D} (x_i - mean)^2 / (N - c)",
        grads=("g * 2 (x - mean) / (N - c)",),
        note=_D + " mean is over D, N the number of elements reduced, c the correction (1, the default: "
        "unbiased; 0: population); g is broadcast over D.",
    )

    save_inputs = True

    def forward(self, x, dims, correction, keepdim):
        self.dims, self.correction, self.keepdim = dims, correction, keepdim
        return np.var(x, axis=dims, ddof=correction, keepdims=keepdim)

    def backward(self, g):
        x = self.inputs[0]
        n = _count(x._data.shape, self.dims)
        centered = x - mean(x, self.dims, keepdim=True)
        return _spread(g, x._data.shape, self.dims, self.keepdim) * centered * (2.0 / (n - self.correction))


class Std(Function):
    math = OpMath(
        "y = sqrt(var(x)) over D",
        grads=("g * (x - mean) / ((N - c) y)",),
        note=_D + " mean is over D, N the number of elements reduced, c the correction as in var; g and y are "
        "broadcast over D.",
    )

    save_inputs = True
    save_output = True

    def forward(self, x, dims, correction, keepdim):
        self.dims, self.correction, self.keepdim = dims, correction, keepdim
        return np.std(x, axis=dims, ddof=correction, keepdims=keepdim)

    def backward(self, g):
        x = self.inputs[0]
        n = _count(x._data.shape, self.dims)
        centered = x - mean(x, self.dims, keepdim=True)
        shape = x._data.shape
        y = _spread(self.output, shape, self.dims, self.keepdim)
        return _spread(g, shape, self.dims, self.keepdim) * centered / (y * float(n - self.correction))


class Prod(Function):
    """Where some x_i is 0 the product of the others is formed exactly from prefix and suffix
    products; that branch is not differentiable a second time."""

    math = OpMath(
        "y = prod_{i in D} x_i",
        grads=("g * prod_{j in D, j != i} x_j   (= g * y / x_i when no x is 0)",),
        note="D is the one reduced dim (all dims when dim is None); g is broadcast over D.",
    )

    save_inputs = True
    save_output = True

    def forward(self, x, dim, keepdim):
        self.dim, self.keepdim = dim, keepdim
        return np.prod(x, axis=dim, keepdims=keepdim)

    def backward(self, g):
        x = self.inputs[0]
        dims = None if self.dim is None else (self.dim,)
        shape = x._data.shape
        gs = _spread(g, shape, dims, self.keepdim)
        if (x._data != 0).all():
            return gs * _spread(self.output, shape, dims, self.keepdim) / x
        a = x._data.reshape(-1) if self.dim is None else np.moveaxis(x._data, self.dim, -1)
        ones = np.ones(a.shape[:-1] + (1,), dtype=a.dtype)
        before = np.cumprod(np.concatenate([ones, a[..., :-1]], axis=-1), axis=-1)
        after = np.cumprod(np.concatenate([ones, a[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = before * after
        others = others.reshape(shape) if self.dim is None else np.moveaxis(others, -1, self.dim)
        return gs * const(others)


class AMaxMin(Function):
    math = OpMath(
        "y = max (or min) of x over the dims D (all dims when D is None)",
        grads=("g * [x = y] / n",),
        note="n is the number of elements of x's group equal to y: tied extremes share the gradient evenly, "
        "as PyTorch's amax/amin and max()/min() without a dim do.",
    )

    save_inputs = True
    save_output = True

    def forward(self, x, dims, keepdim, is_max):
        self.dims, self.keepdim = dims, keepdim
        return (np.max if is_max else np.min)(x, axis=dims, keepdims=keepdim)

    def backward(self, g):
        x = self.inputs[0]._data
        shape = x.shape
        y = self.output._data if self.keepdim else self.output._data.reshape(_kept_shape(shape, self.dims))
        hit = x == y
        dt = g._data.dtype
        share = hit.astype(dt) / hit.sum(axis=self.dims, keepdims=True).astype(dt)
        return _spread(g, shape, self.dims, self.keepdim) * const(share)


class MaxMinDim(Function):
    math = OpMath(
        "y = max (or min) of x along dim d",
        grads=("g at the chosen index along d, 0 elsewhere",),
        note="The chosen index is the first extreme along d; it is returned beside the values as int64 "
        "indices, which carry no gradient. Only the chosen element of tied extremes gets the gradient.",
    )

    def forward(self, x, dim, keepdim, is_max):
        idx = (np.argmax if is_max else np.argmin)(x, axis=dim, keepdims=True)
        self.dim, self.keepdim, self.idx = dim, keepdim, idx
        vals = np.take_along_axis(x, idx, axis=dim)
        return vals if keepdim else np.squeeze(vals, axis=dim)

    def backward(self, g):
        shape = self.input_shapes[0]
        hit = np.arange(shape[self.dim]).reshape([-1 if i == self.dim else 1 for i in range(len(shape))])
        onehot = const((hit == self.idx).astype(g._data.dtype))
        return _spread(g, shape, (self.dim,), self.keepdim) * onehot


class LogSumExp(Function):
    """Computed as m + log sum e^(x_i - m) with m = max x (0 where the max is infinite), so it does not overflow."""

    math = OpMath(
        "y = log sum_{i in D} e^(x_i)",
        grads=("g * e^(x - y) = g * softmax(x)",),
        note=_D + " The gradient of logsumexp is the softmax over D; g and y are broadcast over D.",
    )

    save_inputs = True
    save_output = True

    def forward(self, x, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim
        m = np.max(x, axis=dims, keepdims=True, initial=-np.inf)  # initial: an empty dim gives -inf
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(x - m), axis=dims, keepdims=True)) + m
        return out if keepdim else np.squeeze(out, axis=dims)

    def backward(self, g):
        x = self.inputs[0]
        shape = x._data.shape
        return _spread(g, shape, self.dims, self.keepdim) * exp(
            x - _spread(self.output, shape, self.dims, self.keepdim)
        )


class Softmax(Function):
    math = OpMath(
        "y_i = e^(x_i) / sum_j e^(x_j) along dim",
        grads=("y * (g - sum_j g_j y_j)",),
        note="The sums run along dim. Computed from x - max x, so it does not overflow.",
    )

    save_output = True

    def forward(self, x, dim):
        self.dim = dim
        if x.size == 0:  # nothing to normalise (NumPy's max has no identity)
            return x.copy()
        e = np.exp(x - np.max(x, axis=dim, keepdims=True))
        e /= np.sum(e, axis=dim, keepdims=True)
        return e

    def backward(self, g):
        y = self.output
        return y * (g - sum(g * y, self.dim, keepdim=True))


class LogSoftmax(Function):
    math = OpMath(
        "y_i = x_i - log sum_j e^(x_j) along dim",
        grads=("g - softmax(x) * sum_j g_j",),
        note="The sums run along dim; softmax(x) = e^y. Computed from x - max x, so it does not overflow.",
    )

    save_output = True

    def forward(self, x, dim):
        self.dim = dim
        if x.size == 0:
            return x.copy()
        z = x - np.max(x, axis=dim, keepdims=True)
        return z - np.log(np.sum(np.exp(z), axis=dim, keepdims=True))

    def backward(self, g):
        return g - exp(self.output) * sum(g, self.dim, keepdim=True)


# ---- functional forms -------------------------------------------------------------------


def _float_input(x, op: str) -> Tensor:
    x = as_tensor(x, op)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point tensor, got {x.dtype}")
    return x


@op(Sum, summary="Sum over ``dim`` (an int, a tuple of ints, or all dims); bool and integer inputs sum as int64.")
def sum(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    x = as_tensor(x, "sum")
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind in "biu":
        x = x.to("int64")
    return Sum.apply(x, dims=norm_dims(dim, x._data.ndim, "sum"), keepdim=keepdim)


@op(Mean, summary="Mean over ``dim`` (an int, a tuple of ints, or all dims) of a floating point tensor.")
def mean(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    x = as_tensor(x, "mean") if dtype is None else as_tensor(x, "mean").to(dtype)
    x = _float_input(x, "mean")
    return Mean.apply(x, dims=norm_dims(dim, x._data.ndim, "mean"), keepdim=keepdim)


def _correction(unbiased, correction) -> float:
    if correction is not None:
        return correction  # PyTorch takes a float correction too
    return 1 if unbiased is None or unbiased else 0


@op(
    Var,
    summary="Variance over ``dim``; unbiased (correction=1) unless ``unbiased=False`` or ``correction`` says otherwise.",
)
def var(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    x = _float_input(x, "var")
    if isinstance(dim, bool):  # var(x, False): the old positional `unbiased`
        dim, unbiased = None, dim
    return Var.apply(
        x, dims=norm_dims(dim, x._data.ndim, "var"), correction=_correction(unbiased, correction), keepdim=keepdim
    )


@op(
    Std,
    summary="Standard deviation over ``dim``; unbiased (correction=1) unless ``unbiased=False`` or ``correction`` says otherwise.",
)
def std(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    x = _float_input(x, "std")
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return Std.apply(
        x, dims=norm_dims(dim, x._data.ndim, "std"), correction=_correction(unbiased, correction), keepdim=keepdim
    )


@op(Prod, summary="Product of the elements along ``dim`` (of all elements when dim is None).")
def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    x = as_tensor(x, "prod")
    if dtype is not None:
        x = x.to(dtype)
    d = None if dim is None else norm_dim(dim, x._data.ndim, "prod")
    if x._data.ndim == 0:  # dim 0 / -1 of a scalar: the scalar itself
        d = None
    return Prod.apply(x, dim=d, keepdim=keepdim)


def _maxmin(x: Tensor, dim, keepdim: bool, is_max: bool):
    name = "max" if is_max else "min"
    if isinstance(dim, Tensor):  # max(a, b): elementwise
        return (maximum if is_max else minimum)(x, dim)
    x = as_tensor(x, name)
    if x._data.size == 0:
        raise RuntimeError(f"{name}: expected a non-empty tensor")
    if dim is None:
        return AMaxMin.apply(x, dims=None, keepdim=False, is_max=is_max)
    d = norm_dim(dim, x._data.ndim, name)
    if x._data.ndim == 0:
        return (return_types_max if is_max else return_types_min)(x, Tensor._wrap(np.zeros((), np.int64)))
    vals = MaxMinDim.apply(x, dim=d, keepdim=keepdim, is_max=is_max)
    idx = (np.argmax if is_max else np.argmin)(x._data, axis=d, keepdims=keepdim)
    return (return_types_max if is_max else return_types_min)(vals, Tensor._wrap(idx.astype(np.int64)))


def _maxmin_math(word: str) -> OpMath:
    return OpMath(
        f"y = {word} of x (over all elements, or along dim)",
        grads=("g * [x = y] / n over all elements; along dim, g at the returned index, 0 elsewhere",),
        note=f"With a dim the result is a named tuple (values, indices): the indices (int64, no gradient) point "
        f"at the first {word} along dim. Over all elements, the n elements tied at y share the gradient evenly. "
        f"{word}(a, b) with a tensor b is the elementwise {word}imum (see gb.{word}imum).",
    )


@op(
    _maxmin_math("max"),
    summary="``max(x)``: the largest element; ``max(x, dim)``: (values, indices); ``max(a, b)``: maximum.",
)
def max(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    return _maxmin(x, dim, keepdim, True)


@op(
    _maxmin_math("min"),
    summary="``min(x)``: the smallest element; ``min(x, dim)``: (values, indices); ``min(a, b)``: minimum.",
)
def min(x: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    return _maxmin(x, dim, keepdim, False)


def _amaxmin(x: Tensor, dim, keepdim: bool, is_max: bool, name: str) -> Tensor:
    x = as_tensor(x, name)
    dims = norm_dims(dim, x._data.ndim, name) if dim != () else None
    if x._data.size == 0 and (dims is None or 0 in [x._data.shape[d] for d in dims]):
        raise RuntimeError(f"{name}: cannot reduce over an empty dimension (input shape {tuple(x._data.shape)})")
    if x._data.ndim == 0:
        dims = None
    return AMaxMin.apply(x, dims=dims, keepdim=keepdim, is_max=is_max)


@op(
    AMaxMin.math._replace(forward="y = max of x over the dims D (all dims by default)"),
    summary="Largest values over ``dim`` (an int, a tuple of ints, or all dims); ties share the gradient.",
)
def amax(x: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    return _amaxmin(x, dim, keepdim, True, "amax")


@op(
    AMaxMin.math._replace(forward="y = min of x over the dims D (all dims by default)"),
    summary="Smallest values over ``dim`` (an int, a tuple of ints, or all dims); ties share the gradient.",
)
def amin(x: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    return _amaxmin(x, dim, keepdim, False, "amin")


@op(
    OpMath("y = argmax of x along dim (int64 indices)", grads=None, note="Ties: the first index."),
    summary="Index of the largest element (into the flattened x when dim is None).",
)
def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if dim is None:  # the index into the flattened tensor; keepdim keeps every dim as size 1
        if x._data.size == 0:
            raise RuntimeError(f"argmax: expected a non-empty tensor (input shape {tuple(x._data.shape)})")
        i = np.asarray(np.argmax(x._data), dtype=np.int64)
        return Tensor._wrap(i.reshape((1,) * x._data.ndim) if keepdim else i)
    d = norm_dim(dim, x._data.ndim, "argmax")
    if x._data.ndim and x._data.shape[d] == 0:
        raise IndexError(f"argmax: expected reduction dim {d} to have non-zero size (input shape {tuple(x._data.shape)})")
    return Tensor._wrap(np.argmax(x._data, axis=d, keepdims=keepdim).astype(np.int64))


@op(
    OpMath("y = argmin of x along dim (int64 indices)", grads=None, note="Ties: the first index."),
    summary="Index of the smallest element (into the flattened x when dim is None).",
)
def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if dim is None:  # the index into the flattened tensor; keepdim keeps every dim as size 1
        if x._data.size == 0:
            raise RuntimeError(f"argmin: expected a non-empty tensor (input shape {tuple(x._data.shape)})")
        i = np.asarray(np.argmin(x._data), dtype=np.int64)
        return Tensor._wrap(i.reshape((1,) * x._data.ndim) if keepdim else i)
    d = norm_dim(dim, x._data.ndim, "argmin")
    if x._data.ndim and x._data.shape[d] == 0:
        raise IndexError(f"argmin: expected reduction dim {d} to have non-zero size (input shape {tuple(x._data.shape)})")
    return Tensor._wrap(np.argmin(x._data, axis=d, keepdims=keepdim).astype(np.int64))


@op(LogSumExp, summary="log(sum(exp(x))) over ``dim`` (an int or a tuple of ints), computed without overflow.")
def logsumexp(x: Tensor, dim, keepdim: bool = False) -> Tensor:
    x = _float_input(x, "logsumexp")
    return LogSumExp.apply(x, dims=norm_dims(dim, x._data.ndim, "logsumexp"), keepdim=keepdim)


@op(Softmax, summary="Softmax along ``dim``: exponentials normalised to sum to 1.")
def softmax(x: Tensor, dim: int, dtype=None) -> Tensor:
    x = _float_input(x if dtype is None else as_tensor(x, "softmax").to(dtype), "softmax")
    return Softmax.apply(x, dim=norm_dim(dim, x._data.ndim, "softmax"))


@op(LogSoftmax, summary="log(softmax(x)) along ``dim``, computed without overflow.")
def log_softmax(x: Tensor, dim: int, dtype=None) -> Tensor:
    x = _float_input(x if dtype is None else as_tensor(x, "log_softmax").to(dtype), "log_softmax")
    return LogSoftmax.apply(x, dim=norm_dim(dim, x._data.ndim, "log_softmax"))


@op(
    OpMath("y = [every x is nonzero] over dim (bool)", grads=None),
    summary="True where every element over ``dim`` (all elements when dim is None) is nonzero.",
)
def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return Tensor._wrap(np.asarray(np.all(x._data, axis=dim, keepdims=keepdim)))


@op(
    OpMath("y = [some x is nonzero] over dim (bool)", grads=None),
    summary="True where some element over ``dim`` (all elements when dim is None) is nonzero.",
)
def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return Tensor._wrap(np.asarray(np.any(x._data, axis=dim, keepdims=keepdim)))
