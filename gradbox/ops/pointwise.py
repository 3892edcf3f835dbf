"""More elementwise functions of one tensor: trigonometric and hyperbolic functions and their
inverses, logarithms and exponentials in other bases, rounding, and tests for special values.

Notation: g = dL/dy is the upstream gradient, y the op's output. Each backward is written in
gradbox ops, so it can be differentiated again. Rounding functions are piecewise constant:
their gradient is 0 everywhere (as in PyTorch, the result still takes part in the graph).
"""

from __future__ import annotations

import math

import numpy as np

from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._more import float_tensor, with_out, zeros_like_grad
from gradbox.ops._util import as_tensor, const
from gradbox.ops.elementwise import clamp, cos, exp, sign, sqrt, where
from gradbox.tensor import Tensor


class Tan(Function):
    math = OpMath("y = tan x", grads=("g * (1 + y^2)",), local=("1 + tan(x)^2",))
    save_output = True

    def forward(self, x):
        return np.tan(x)

    def backward(self, g):
        y = self.output
        return g * (1.0 + y * y)


class Atan(Function):
    math = OpMath("y = atan x", grads=("g / (1 + x^2)",), local=("1 / (1 + x^2)",))
    save_inputs = True

    def forward(self, x):
        return np.arctan(x)

    def backward(self, g):
        x = self.inputs[0]
        return g / (1.0 + x * x)


class Asin(Function):
    math = OpMath("y = asin x", grads=("g / sqrt(1 - x^2)",), local=("1 / sqrt(1 - x^2)",))
    save_inputs = True

    def forward(self, x):
        return np.arcsin(x)

    def backward(self, g):
        x = self.inputs[0]
        return g / sqrt(1.0 - x * x)


class Acos(Function):
    math = OpMath("y = acos x", grads=("-g / sqrt(1 - x^2)",), local=("-1 / sqrt(1 - x^2)",))
    save_inputs = True

    def forward(self, x):
        return np.arccos(x)

    def backward(self, g):
        x = self.inputs[0]
        return -g / sqrt(1.0 - x * x)


class Sinh(Function):
    math = OpMath("y = sinh x", grads=("g * cosh x",), local=("cosh x",))
    save_inputs = True

    def forward(self, x):
        return np.sinh(x)

    def backward(self, g):
        return g * cosh(self.inputs[0])


class Cosh(Function):
    math = OpMath("y = cosh x", grads=("g * sinh x",), local=("sinh x",))
    save_inputs = True

    def forward(self, x):
        return np.cosh(x)

    def backward(self, g):
        return g * sinh(self.inputs[0])


class Asinh(Function):
    math = OpMath("y = asinh x", grads=("g / sqrt(x^2 + 1)",), local=("1 / sqrt(x^2 + 1)",))
    save_inputs = True

    def forward(self, x):
        return np.arcsinh(x)

    def backward(self, g):
        x = self.inputs[0]
        return g / sqrt(x * x + 1.0)


class Acosh(Function):
    math = OpMath("y = acosh x", grads=("g / sqrt((x - 1)(x + 1))",), local=("1 / sqrt(x^2 - 1)",))
    save_inputs = True

    def forward(self, x):
        return np.arccosh(x)

    def backward(self, g):
        x = self.inputs[0]
        return g / sqrt((x - 1.0) * (x + 1.0))


class Atanh(Function):
    math = OpMath("y = atanh x", grads=("g / (1 - x^2)",), local=("1 / (1 - x^2)",))
    save_inputs = True

    def forward(self, x):
        return np.arctanh(x)

    def backward(self, g):
        x = self.inputs[0]
        return g / (1.0 - x * x)


class Log2(Function):
    math = OpMath("y = log2 x", grads=("g / (x ln 2)",), local=("1 / (x ln 2)",))
    save_inputs = True

    def forward(self, x):
        return np.log2(x)

    def backward(self, g):
        return g / (self.inputs[0] * math.log(2.0))


class Log10(Function):
    math = OpMath("y = log10 x", grads=("g / (x ln 10)",), local=("1 / (x ln 10)",))
    save_inputs = True

    def forward(self, x):
        return np.log10(x)

    def backward(self, g):
        return g / (self.inputs[0] * math.log(10.0))


class Expm1(Function):
    math = OpMath("y = e^x - 1", grads=("g * (y + 1)",), local=("e^x",), note="Accurate for small x.")
    save_output = True

    def forward(self, x):
        return np.expm1(x)

    def backward(self, g):
        return g * (self.output + 1.0)


class Exp2(Function):
    math = OpMath("y = 2^x", grads=("g * y * ln 2",), local=("2^x ln 2",))
    save_output = True

    def forward(self, x):
        return np.exp2(x)

    def backward(self, g):
        return g * self.output * math.log(2.0)


class Erfc(Function):
    math = OpMath(
        "y = erfc x = 1 - erf x", grads=("-g * (2 / sqrt(pi)) e^(-x^2)",), local=("-(2 / sqrt(pi)) e^(-x^2)",)
    )
    save_inputs = True

    def forward(self, x):
        from scipy.special import erfc as _erfc  # deferred: scipy.special adds ~0.1 s to import gradbox

        return _erfc(x)

    def backward(self, g):
        x = self.inputs[0]
        return g * (exp(-(x * x)) * (-2.0 / math.sqrt(math.pi)))


class Erfinv(Function):
    math = OpMath("y = erfinv x (erf(y) = x)", grads=("g * (sqrt(pi) / 2) e^(y^2)",), local=("(sqrt(pi) / 2) e^(y^2)",))
    save_output = True

    def forward(self, x):
        from scipy.special import erfinv as _erfinv  # deferred: scipy.special adds ~0.1 s to import gradbox

        return _erfinv(x)

    def backward(self, g):
        y = self.output
        return g * (exp(y * y) * (math.sqrt(math.pi) / 2.0))


class Sinc(Function):
    math = OpMath(
        "y = sin(pi x) / (pi x), 1 at x = 0",
        grads=("g * (cos(pi x) - y) / x, 0 at x = 0",),
        local=("(cos(pi x) - sinc x) / x",),
    )
    save_inputs = True
    save_output = True

    def forward(self, x):
        return np.sinc(x)

    def backward(self, g):
        x = self.inputs[0]
        zero = const(x._data == 0)
        safe = where(zero, 1.0, x)
        return where(zero, 0.0, g * (cos(safe * math.pi) - self.output) / safe)


class Logit(Function):
    math = OpMath(
        "y = ln(z / (1 - z)), z = x clamped to [eps, 1 - eps] (z = x without eps)",
        grads=("g / (x (1 - x)) inside [eps, 1 - eps], 0 outside",),
        local=("1 / (x (1 - x))",),
        note="Without eps, x outside [0, 1] gives NaN, as in PyTorch.",
    )
    save_inputs = True

    def forward(self, x, eps):
        self.eps = eps
        z = x if eps is None else np.clip(x, eps, 1.0 - eps)
        return np.log(z / (1.0 - z))

    def backward(self, g):
        x = self.inputs[0]
        d = g / (x * (1.0 - x))
        if self.eps is None:
            return d
        a = x._data
        return where(const((a < self.eps) | (a > 1.0 - self.eps)), 0.0, d)


class NanToNum(Function):
    math = OpMath(
        "y = x with NaN -> nan, +inf -> posinf, -inf -> neginf",
        grads=("g * [x is finite]",),
        note="The defaults are 0 for NaN and the dtype's largest / lowest finite value for +-inf.",
    )
    save_inputs = True

    def forward(self, x, nan, posinf, neginf):
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, g):
        return g * const(np.isfinite(self.inputs[0]._data).astype(g._data.dtype))


class Round(Function):
    """floor, ceil, trunc and round: piecewise constant, so the gradient is zero (as in PyTorch)."""

    math = OpMath(
        "y = floor(x), ceil(x), trunc(x) or round(x) (half to even, to ``decimals`` places)",
        grads=("0",),
        local=("0",),
        note="Piecewise constant: the gradient is zero everywhere (at the jumps too), as in PyTorch.",
    )

    def forward(self, x, fn, decimals=0):
        if fn is np.round and decimals:
            return np.round(x, decimals)
        return fn(x)

    def backward(self, g):
        return zeros_like_grad(g)


def _unary(cls, name: str):
    def f(input: Tensor) -> Tensor:
        return cls.apply(float_tensor(input, name))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = None
    return op(cls)(with_out(f))


tan = _unary(Tan, "tan")
atan = arctan = _unary(Atan, "atan")
asin = arcsin = _unary(Asin, "asin")
acos = arccos = _unary(Acos, "acos")
sinh = _unary(Sinh, "sinh")
cosh = _unary(Cosh, "cosh")
asinh = arcsinh = _unary(Asinh, "asinh")
acosh = arccosh = _unary(Acosh, "acosh")
atanh = arctanh = _unary(Atanh, "atanh")
log2 = _unary(Log2, "log2")
log10 = _unary(Log10, "log10")
expm1 = _unary(Expm1, "expm1")
exp2 = _unary(Exp2, "exp2")
erfc = _unary(Erfc, "erfc")
erfinv = _unary(Erfinv, "erfinv")
sinc = _unary(Sinc, "sinc")


@op(Logit, summary="log(x / (1 - x)), the inverse of sigmoid; with ``eps`` x is clamped to [eps, 1 - eps] first.")
@with_out
def logit(input: Tensor, eps: float | None = None) -> Tensor:
    return Logit.apply(float_tensor(input, "logit"), eps=eps)


def _rounding(name: str, fn):
    def f(input: Tensor) -> Tensor:
        x = as_tensor(input, name)
        if x._data.dtype.kind != "f":  # integers are already whole: PyTorch returns a copy
            return Tensor._wrap(x._data.copy())
        return Round.apply(x, fn=fn)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = None
    return op(Round.math._replace(forward=f"y = {name}(x)"))(with_out(f))


floor = _rounding("floor", np.floor)
ceil = _rounding("ceil", np.ceil)
trunc = _rounding("trunc", np.trunc)
fix = trunc


@op(Round.math._replace(forward="y = x rounded half to even (to ``decimals`` decimal places)"))
@with_out
def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001 - torch.round
    x = as_tensor(input, "round")
    if x._data.dtype.kind != "f":
        return Tensor._wrap(x._data.copy())
    return Round.apply(x, fn=np.round, decimals=decimals)


@op(OpMath("y = x - trunc(x)", grads=("g",), local=("1",), note="Computed as x - trunc(x)."))
@with_out
def frac(input: Tensor) -> Tensor:
    x = as_tensor(input, "frac")
    return x - trunc(x)


@op(OpMath("y = x * pi / 180", grads=("g * pi / 180",), local=("pi / 180",)))
@with_out
def deg2rad(input: Tensor) -> Tensor:
    return float_tensor(input, "deg2rad") * (math.pi / 180.0)


@op(OpMath("y = x * 180 / pi", grads=("g * 180 / pi",), local=("180 / pi",)))
@with_out
def rad2deg(input: Tensor) -> Tensor:
    return float_tensor(input, "rad2deg") * (180.0 / math.pi)


@op(OpMath("y = x", grads=("g",), local=("1",), note="Returns x itself, as PyTorch."))
def positive(input: Tensor) -> Tensor:
    x = as_tensor(input, "positive")
    if x._data.dtype == np.bool_:
        raise TypeError("positive: the `+` operator, on a bool tensor is not supported")
    return x


@op(OpMath("y = sign(x) for real x", grads=None), summary="The sign of x (sgn extends sign to complex numbers).")
@with_out
def sgn(input: Tensor) -> Tensor:
    return sign(as_tensor(input, "sgn"))


@op(NanToNum, summary="Replace NaN, +inf and -inf by finite numbers (0 and the dtype's extremes by default).")
@with_out
def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    x = as_tensor(input, "nan_to_num")
    if x._data.dtype.kind != "f":
        return Tensor._wrap(x._data.copy())
    return NanToNum.apply(x, nan=nan, posinf=posinf, neginf=neginf)


def _test(name: str, fn, words: str):
    def f(input: Tensor) -> Tensor:
        return Tensor._wrap(np.asarray(fn(as_tensor(input, name)._data)))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = None
    return op(OpMath(f"y = [{words}] (bool)", grads=None))(with_out(f))


isinf = _test("isinf", np.isinf, "x is +inf or -inf")
isposinf = _test("isposinf", np.isposinf, "x is +inf")
isneginf = _test("isneginf", np.isneginf, "x is -inf")
signbit = _test("signbit", np.signbit, "the sign bit of x is set (x < 0 or x is -0.0)")
isreal = _test("isreal", lambda a: np.ones(a.shape, dtype=bool), "x is real (always, for gradbox's real dtypes)")


@op(
    OpMath(
        "y = max(x, lo) (clamp from below)",
        grads=("g * [x >= lo]", "g * [x < lo]"),
        inputs=("x", "lo"),
        note="At a tie the gradient goes to x, as PyTorch's clamp_min.",
    )
)
@with_out
def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A002 - PyTorch's name
    if isinstance(min, Tensor):
        x = as_tensor(input, "clamp_min")
        return where(const(x._data >= min._data), x, min.to(x.dtype) if min.dtype != x.dtype else min)
    return clamp(input, min=min)


@op(
    OpMath(
        "y = min(x, hi) (clamp from above)",
        grads=("g * [x <= hi]", "g * [x > hi]"),
        inputs=("x", "hi"),
        note="At a tie the gradient goes to x, as PyTorch's clamp_max.",
    )
)
@with_out
def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A002 - PyTorch's name
    if isinstance(max, Tensor):
        x = as_tensor(input, "clamp_max")
        return where(const(x._data <= max._data), x, max.to(x.dtype) if max.dtype != x.dtype else max)
    return clamp(input, max=max)
