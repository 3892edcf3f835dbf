"""More activations with PyTorch's signatures: selu, celu, prelu, glu, the shrinks, hardsigmoid,
hardswish, mish, softsign, softmin, threshold.

Each composes gradbox ops (where, exp, tanh, softplus, ...), whose derivatives give PyTorch's
gradient, kinks included; hardsigmoid and hardswish, whose kink conventions need it, have their
own ops (``gradbox.ops.activation_more``).
"""

from __future__ import annotations

import numpy as np

from gradbox import ops
from gradbox._inplace import apply_inplace
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops import activation as _act
from gradbox.ops import activation_more as _more
from gradbox.ops._util import const
from gradbox.tensor import Tensor

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _maybe_inplace(input: Tensor, inplace: bool, name: str, fn) -> Tensor:
    return apply_inplace(input, name + "_", fn) if inplace else fn(input)


@op(
    OpMath(
        "y = s * (x if x > 0 else a (e^x - 1)), s = 1.0507..., a = 1.6733...",
        grads=("g * s * (1 if x > 0 else a e^x)",),
        note="Computed as elu(x, a) * s.",
    )
)
def selu(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, "selu", lambda x: _act.elu(x, _SELU_ALPHA) * _SELU_SCALE)


@op(
    OpMath(
        "y = x if x > 0 else a (e^(x / a) - 1)",
        grads=("g * (1 if x > 0 else e^(x / a))",),
        note="Computed with where and exp.",
    )
)
def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu with alpha = 0")

    def f(x):
        x = _act.float_input(x, "celu")
        pos = const(x._data > 0)
        return ops.where(pos, x, (ops.exp(ops.where(pos, 0.0, x) / alpha) - 1.0) * alpha)

    return _maybe_inplace(input, inplace, "celu", f)


@op(
    OpMath(
        "y = x if x > 0 else w x (w per channel, dim 1, or one w)",
        grads=("g * (1 if x > 0 else w)", "sum of g * x where x <= 0"),
        inputs=("x", "w"),
        note="Computed with where and mul; the engine sums w's gradient over the broadcast dims.",
    )
)
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    x = _act.float_input(input, "prelu")
    w = weight
    if w._data.ndim != 1 and w._data.size != 1:
        raise RuntimeError(f"prelu: weight must be 1-D (one value or one per channel), got shape {tuple(w.shape)}")
    n = w._data.size
    if n != 1:
        if x._data.ndim < 2 and not (x._data.ndim == 1 and x._data.shape[0] == n):
            raise RuntimeError(
                f"prelu: {n} weights need an input with {n} channels (dim 1), got shape {tuple(x.shape)}"
            )
        c = x._data.shape[1] if x._data.ndim >= 2 else x._data.shape[0]
        if c != n:
            raise RuntimeError(f"prelu: weight has {n} values but the input has {c} channels")
        shape = (n,) + (1,) * (x._data.ndim - 2) if x._data.ndim >= 2 else (n,)
        w = ops.reshape(w, shape)
    elif w._data.ndim:
        w = ops.reshape(w, ())
    return ops.where(const(x._data > 0), x, w * x)


@op(
    OpMath(
        "y = a * sigmoid(b) where (a, b) are the two halves of x along dim",
        grads=("dL/da = g sigmoid(b), dL/db = g a sigmoid(b) (1 - sigmoid(b))",),
        note="Computed as chunk, sigmoid and mul.",
    )
)
def glu(input: Tensor, dim: int = -1) -> Tensor:
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim % input.ndim} is size {n}")
    a, b = ops.chunk(input, 2, dim)
    return a * ops.sigmoid(b)


@op(OpMath("y = x if |x| > lambda else 0", grads=("g * [|x| > lambda]",), note="Computed with where."))
def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    x = _act.float_input(input, "hardshrink")
    return ops.where(const((x._data > lambd) | (x._data < -lambd)), x, 0.0)


@op(
    OpMath(
        "y = x - lambda if x > lambda, x + lambda if x < -lambda, else 0",
        grads=("g * [|x| > lambda]",),
        note="Computed with where.",
    )
)
def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    x = _act.float_input(input, "softshrink")
    a = x._data
    return ops.where(const(a > lambd), x - lambd, ops.where(const(a < -lambd), x + lambd, 0.0))


@op(OpMath("y = x - tanh(x)", grads=("g * tanh(x)^2",), note="Computed as sub and tanh."))
def tanhshrink(input: Tensor) -> Tensor:
    return input - ops.tanh(input)


@op(_more.Hardsigmoid)
def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(
        input, inplace, "hardsigmoid", lambda x: _more.Hardsigmoid.apply(_act.float_input(x, "hardsigmoid"))
    )


@op(_more.Hardswish)
def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(
        input, inplace, "hardswish", lambda x: _more.Hardswish.apply(_act.float_input(x, "hardswish"))
    )


@op(
    OpMath(
        "y = x tanh(softplus(x))",
        grads=("g * (tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2)), sp = softplus(x)",),
        note="Computed as mul, tanh and softplus.",
    )
)
def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, "mish", lambda x: x * ops.tanh(_act.softplus(_act.float_input(x, "mish"))))


@op(OpMath("y = x / (1 + |x|)", grads=("g / (1 + |x|)^2",), note="Computed as div and abs."))
def softsign(input: Tensor) -> Tensor:
    return input / (ops.abs(input) + 1.0)


@op(OpMath("y = softmax(-x) along dim", grads=("-y * (g - sum_j g_j y_j)",), note="Computed as softmax of neg."))
def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1
    x = input if dtype is None else input.to(dtype)
    return ops.softmax(-x, dim)


@op(OpMath("y = x if x > threshold else value", grads=("g * [x > threshold]",), note="Computed with where."))
def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    def f(x):
        if x._data.dtype.kind != "f":
            return Tensor._wrap(np.where(x._data > threshold, x._data, np.asarray(value).astype(x._data.dtype)))
        return ops.where(const(x._data > threshold), x, float(value))

    return _maybe_inplace(input, inplace, "threshold", f)
