"""More elementwise functions of two or three tensors (broadcast together, promoted as PyTorch):
atan2, hypot, logaddexp, copysign, fmod, fmax/fmin, xlogy, lerp, addcmul, addcdiv, comparisons
with a tolerance.

Notation: g = dL/dy is the upstream gradient, y the op's output; the engine undoes broadcasting.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from gradbox import _dtype
from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._more import default_float, with_out, write_out, zeros_like_grad
from gradbox.ops._util import as_tensor, binary, const, promote
from gradbox.ops.elementwise import _no_grad, div, exp, log, mul, sub, where
from gradbox.ops.elementwise import pow as _pow
from gradbox.tensor import Tensor

return_types_frexp = namedtuple("frexp", ["mantissa", "exponent"])


def _float_pair(name: str, a, b) -> tuple[Tensor, Tensor]:
    a, b = binary(name, a, b)
    if a._data.dtype.kind != "f":
        dt = _dtype.get_default_dtype()
        a, b = a.to(dt), b.to(dt)
    return a, b


class Atan2(Function):
    math = OpMath(
        "y = atan2(a, b), the angle of the point (b, a)",
        grads=("g * b / (a^2 + b^2)", "-g * a / (a^2 + b^2)"),
        inputs=("a", "b"),
    )
    save_inputs = True

    def forward(self, a, b):
        return np.arctan2(a, b)

    def backward(self, g):
        a, b = self.inputs
        r2 = a * a + b * b
        return g * b / r2, -g * a / r2


class Hypot(Function):
    math = OpMath("y = sqrt(a^2 + b^2)", grads=("g * a / y", "g * b / y"), inputs=("a", "b"))
    save_inputs = True
    save_output = True

    def forward(self, a, b):
        return np.hypot(a, b)

    def backward(self, g):
        a, b = self.inputs
        return g * a / self.output, g * b / self.output


class LogAddExp(Function):
    math = OpMath(
        "y = log_B(B^a + B^b) for base B = e (logaddexp) or 2 (logaddexp2)",
        grads=("g * B^(a - y)", "g * B^(b - y)"),
        inputs=("a", "b"),
        note="Computed as max(a, b) + log_B(1 + B^(-|a - b|)), so it does not overflow.",
    )
    save_inputs = True
    save_output = True

    def forward(self, a, b, base2):
        self.base2 = base2
        return np.logaddexp2(a, b) if base2 else np.logaddexp(a, b)

    def backward(self, g):
        a, b = self.inputs
        y = self.output
        if self.base2:
            return g * _pow(2.0, a - y), g * _pow(2.0, b - y)
        return g * exp(a - y), g * exp(b - y)


class Copysign(Function):
    math = OpMath(
        "y = |a| with the sign of b",
        grads=("g * y / a (0 where a = 0)", "0"),
        inputs=("a", "b"),
    )
    save_inputs = True
    save_output = True

    def forward(self, a, b):
        return np.copysign(a, b)

    def backward(self, g):
        a = self.inputs[0]
        zero = const(a._data == 0)
        return where(zero, 0.0, g * self.output / where(zero, 1.0, a)), zeros_like_grad(g)


class Fmod(Function):
    math = OpMath(
        "y = a - b * trunc(a / b) (the sign of a, as C's fmod)",
        grads=("g", "-g * trunc(a / b)"),
        inputs=("a", "b"),
    )
    save_inputs = True

    def forward(self, a, b):
        return np.fmod(a, b)

    def backward(self, g):
        a, b = self.inputs
        return g, -g * const(np.trunc(a._data / b._data))


class Remainder(Function):
    math = OpMath(
        "y = a - b * floor(a / b) (the sign of b, as Python's %)",
        grads=("g", "-g * floor(a / b)"),
        inputs=("a", "b"),
        note="floor(a / b) is piecewise constant: its own derivative is 0 wherever it is defined, as in PyTorch.",
    )
    save_inputs = True

    def forward(self, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):  # IEEE inf/nan for a zero divisor, as in PyTorch
            return np.remainder(a, b)

    def backward(self, g):
        a, b = self.inputs
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.floor(a._data / b._data)
        return g, -g * const(q)


@op(Remainder, summary="Remainder of a / b with the sign of b (Python's %); integers give integers.")
def remainder(a, b) -> Tensor:
    x, y = binary("remainder", a, b)
    if x._data.dtype.kind == "f" and (x.requires_grad or y.requires_grad):
        return Remainder.apply(x, y)
    return _no_grad(x, y, "remainder", None, np.remainder)


class FMaxMin(Function):
    math = OpMath(
        "y = max(a, b) (fmax) or min(a, b) (fmin), ignoring a NaN operand",
        grads=("g * [a wins or b is NaN]", "g * [b wins]"),
        inputs=("a", "b"),
        note="a wins ties (a >= b for fmax, a <= b for fmin), as in PyTorch.",
    )
    save_inputs = True

    def forward(self, a, b, is_max):
        self.is_max = is_max
        return np.fmax(a, b) if is_max else np.fmin(a, b)

    def backward(self, g):
        a, b = self.inputs[0]._data, self.inputs[1]._data
        first = ((a >= b) if self.is_max else (a <= b)) | np.isnan(b)
        dt = g._data.dtype
        return g * const(first.astype(dt)), g * const((~first).astype(dt))


class Xlogy(Function):
    math = OpMath(
        "y = a * ln(b), 0 where a = 0 (unless b is NaN)",
        grads=("g * ln(b) (0 where a = 0)", "g * a / b"),
        inputs=("a", "b"),
    )
    save_inputs = True

    def forward(self, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = a * np.log(b)
        return np.where((a == 0) & ~np.isnan(b), np.zeros((), a.dtype), out)

    def backward(self, g):
        a, b = self.inputs
        zero = const(a._data == 0)
        return where(zero, 0.0, g * log(b)), g * a / b


class Lerp(Function):
    math = OpMath(
        "y = s + w (e - s)",
        grads=("g * (1 - w)", "g * w", "g * (e - s)"),
        inputs=("s", "e", "w"),
        note="s: start, e: end, w: weight (a tensor or a number).",
    )
    save_inputs = True

    def forward(self, s, e, w):
        return np.where(np.abs(w) < 0.5, s + w * (e - s), e - (e - s) * (1 - w))

    def backward(self, g):
        s, e, w = self.inputs
        return g * (1.0 - w), g * w, g * (e - s)


# ---- functional forms -------------------------------------------------------------------


@op(Atan2)
@with_out
def atan2(input, other) -> Tensor:
    return Atan2.apply(*_float_pair("atan2", input, other))


arctan2 = atan2


@op(Hypot)
@with_out
def hypot(input, other) -> Tensor:
    return Hypot.apply(*_float_pair("hypot", input, other))


@op(LogAddExp.math._replace(forward="y = log(e^a + e^b)", grads=("g * e^(a - y)", "g * e^(b - y)")))
@with_out
def logaddexp(input, other) -> Tensor:
    return LogAddExp.apply(*_float_pair("logaddexp", input, other), base2=False)


@op(LogAddExp.math._replace(forward="y = log2(2^a + 2^b)", grads=("g * 2^(a - y)", "g * 2^(b - y)")))
@with_out
def logaddexp2(input, other) -> Tensor:
    return LogAddExp.apply(*_float_pair("logaddexp2", input, other), base2=True)


@op(Copysign)
@with_out
def copysign(input, other) -> Tensor:
    return Copysign.apply(*_float_pair("copysign", input, other))


@op(Fmod, summary="Remainder of a / b with the sign of a (C's fmod); integers give integers.")
@with_out
def fmod(input, other) -> Tensor:
    a, b = binary("fmod", input, other)
    if a._data.dtype.kind != "f":
        if not np.all(b._data):
            raise RuntimeError("fmod: integer division by zero (ZeroDivisionError)")
        return Tensor._wrap(np.fmod(a._data, b._data))
    return Fmod.apply(a, b)


@op(FMaxMin.math._replace(forward="y = max(a, b), ignoring a NaN operand"))
@with_out
def fmax(input, other) -> Tensor:
    a, b = binary("fmax", input, other)
    if a._data.dtype.kind != "f":
        return Tensor._wrap(np.fmax(a._data, b._data))
    return FMaxMin.apply(a, b, is_max=True)


@op(FMaxMin.math._replace(forward="y = min(a, b), ignoring a NaN operand"))
@with_out
def fmin(input, other) -> Tensor:
    a, b = binary("fmin", input, other)
    if a._data.dtype.kind != "f":
        return Tensor._wrap(np.fmin(a._data, b._data))
    return FMaxMin.apply(a, b, is_max=False)


@op(Xlogy)
@with_out
def xlogy(input, other) -> Tensor:
    return Xlogy.apply(*_float_pair("xlogy", input, other))


@op(OpMath("y = 0 where x < 0, values where x = 0, 1 where x > 0", grads=None, inputs=("x", "values")))
@with_out
def heaviside(input: Tensor, values: Tensor) -> Tensor:
    a, v = binary("heaviside", input, values)
    if input.dtype != values.dtype:
        raise RuntimeError(
            f"heaviside is not yet implemented for tensors with different dtypes ({input.dtype}, {values.dtype})"
        )
    return Tensor._wrap(np.heaviside(a._data, v._data).astype(a._data.dtype))


@op(
    OpMath(
        "y = a^b in double precision",
        grads=("g * b * a^(b - 1)", "g * y * ln(a)"),
        inputs=("a", "b"),
        note="Both operands are promoted to float64 first; computed as pow.",
    )
)
@with_out
def float_power(input, exponent) -> Tensor:
    x = as_tensor(input, "float_power").to(_dtype.float64) if not isinstance(input, int | float) else input
    e = exponent.to(_dtype.float64) if isinstance(exponent, Tensor) else float(exponent)
    if not isinstance(x, Tensor):
        x = Tensor._wrap(np.asarray(x, dtype=np.float64))
    return _pow(x, e)


@op(OpMath("y = a * 2^b", grads=("g * 2^b", "g * y * ln 2"), inputs=("a", "b"), note="Computed as a * pow(2, b)."))
@with_out
def ldexp(input, other) -> Tensor:
    a = as_tensor(input, "ldexp")
    if a._data.dtype.kind != "f":
        a = a.to(_dtype.get_default_dtype())
    b = as_tensor(other, "ldexp", like=a)
    return mul(a, _pow(Tensor._wrap(np.asarray(2.0, dtype=a._data.dtype)), b.to(a.dtype) if b.dtype != a.dtype else b))


class Nextafter(Function):
    math = OpMath(
        "y = the next floating point value after a towards b",
        grads=("g", "0"),
        inputs=("a", "b"),
        note="y differs from a by one unit in the last place: PyTorch takes dy/da = 1, dy/db = 0.",
    )

    def forward(self, a, b):
        return np.nextafter(a, b)

    def backward(self, g):
        return g, zeros_like_grad(g)


@op(Nextafter)
@with_out
def nextafter(input, other) -> Tensor:
    a, b = binary("nextafter", input, other)
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"nextafter: expected floating point tensors, got {a.dtype}")
    return Nextafter.apply(a, b)


@op(Lerp, summary="Linear interpolation start + weight * (end - start); weight a tensor or a number.")
@with_out
def lerp(input, end, weight) -> Tensor:
    s, e = binary("lerp", input, end)
    if isinstance(weight, Tensor):
        s, e, w = promote("lerp", s, e, weight)
    else:
        w = Tensor._wrap(np.asarray(weight, dtype=s._data.dtype))
    return Lerp.apply(s, e, w)


@op(
    OpMath(
        "y = x + value * t1 * t2",
        grads=("g", "g * value * t2", "g * value * t1"),
        inputs=("x", "t1", "t2"),
        note="Computed as add and mul.",
    )
)
@with_out
def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:
    p = mul(tensor1, tensor2)
    return input + (p if value == 1 else p * value)


@op(
    OpMath(
        "y = x + value * t1 / t2",
        grads=("g", "g * value / t2", "-g * value * t1 / t2^2"),
        inputs=("x", "t1", "t2"),
        note="Computed as add and div.",
    )
)
@with_out
def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:
    t1, t2 = as_tensor(tensor1, "addcdiv"), as_tensor(tensor2, "addcdiv")
    if t1._data.dtype.kind != "f" and t2._data.dtype.kind != "f":
        raise RuntimeError("addcdiv: integer division with addcdiv is no longer supported; use addcmul or div")
    q = div(t1, t2)
    return input + (q if value == 1 else q * value)


@op(OpMath("y = a / b", grads=("g / b", "-g * a / b^2"), inputs=("a", "b"), note="An alias of div."))
@with_out
def true_divide(input, other) -> Tensor:
    return div(input, other)


@op(OpMath("y = b - alpha * a", grads=("-alpha g", "g"), inputs=("a", "b"), note="Computed as sub(b, a, alpha=alpha)."))
def rsub(input, other, *, alpha=1) -> Tensor:
    a = as_tensor(input, "rsub")
    return sub(as_tensor(other, "rsub", like=a), a, alpha=alpha)


def _close(a: Tensor, b: Tensor, rtol: float, atol: float, equal_nan: bool, name: str) -> np.ndarray:
    a, b = binary(name, a, b)
    x, y = a._data, b._data
    if x.dtype.kind != "f":
        x, y = x.astype(default_float()), y.astype(default_float())
    with np.errstate(invalid="ignore", over="ignore"):
        close = (x == y) | (np.isfinite(y) & (np.abs(x - y) <= atol + rtol * np.abs(y)))
    if equal_nan:
        close |= np.isnan(x) & np.isnan(y)
    return close


@op(OpMath("y = [|a - b| <= atol + rtol |b|] (bool; equal infinities are close)", grads=None, inputs=("a", "b")))
def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    if input.dtype != other.dtype:
        raise RuntimeError(f"isclose: {input.dtype} did not match {other.dtype}")
    return Tensor._wrap(np.asarray(_close(input, other, rtol, atol, equal_nan, "isclose")))


@op(OpMath("y = every isclose(a, b) (a Python bool)", grads=None, inputs=("a", "b")))
def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    return bool(np.all(_close(input, other, rtol, atol, equal_nan, "allclose")))


@op(OpMath("y = [same shape and the same elements] (a Python bool)", grads=None, inputs=("a", "b")))
def equal(input: Tensor, other: Tensor) -> bool:
    a, b = as_tensor(input, "equal"), as_tensor(other, "equal")
    return a._data.shape == b._data.shape and bool(np.array_equal(a._data, b._data))


class Frexp(Function):
    math = OpMath(
        "x = m * 2^e with |m| in [0.5, 1) (m = 0 for x = 0); y = m",
        grads=("g / 2^e",),
        note="The integer exponent e (int32) is returned beside m and carries no gradient.",
    )

    def forward(self, x):
        m, e = np.frexp(x)
        self.e = e
        return m

    def backward(self, g):
        return g * const(np.ldexp(np.ones((), g._data.dtype), -self.e))


@op(Frexp, summary="Split x into (mantissa, exponent) with x = mantissa * 2^exponent.")
def frexp(input: Tensor, *, out=None):
    x = as_tensor(input, "frexp")
    if x._data.dtype.kind != "f":
        raise RuntimeError("frexp: only supports floating-point dtypes")
    m = Frexp.apply(x)
    res = return_types_frexp(m, Tensor._wrap(np.frexp(x._data)[1].astype(np.int32)))
    return res if out is None else write_out(res, out, "frexp")
