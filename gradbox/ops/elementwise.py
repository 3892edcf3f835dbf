"""Elementwise arithmetic and nonlinearities.

Notation: g = dL/dy is the upstream gradient, y the op's output. Broadcasting is undone by
the engine, so each backward below is written for same-shape operands.
"""

from __future__ import annotations

import numpy as np

from gradbox import _dtype
from gradbox.autograd import grad_mode
from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops import _parallel
from gradbox.ops._util import as_tensor, binary, check_broadcast, const
from gradbox.tensor import Tensor


class Add(Function):
    math = OpMath("y = a + b", grads=("g", "g"), inputs=("a", "b"), local=("1", "1"))

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    math = OpMath("y = a - b", grads=("g", "-g"), inputs=("a", "b"), local=("1", "-1"))

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g


class Mul(Function):
    math = OpMath("y = a * b", grads=("g * b", "g * a"), inputs=("a", "b"), local=("b", "a"))

    save_inputs = True

    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.inputs
        return g * b, g * a


class Div(Function):
    math = OpMath("y = a / b", grads=("g / b", "-g * a / b^2"), inputs=("a", "b"), local=("1 / b", "-a / b^2"))

    save_inputs = True

    def forward(self, a, b):
        return a / b

    def backward(self, g):
        a, b = self.inputs
        return g / b, -g * a / (b * b)


class Pow(Function):
    math = OpMath(
        "y = a^b",
        grads=("g * b * a^(b - 1)", "g * y * ln(a)"),
        inputs=("a", "b"),
        local=("b * a^(b - 1)", "y * ln(a)"),
        note="dL/da is 0 where b = 0; dL/db is 0 where a = 0 and b >= 0 (as in PyTorch).",
    )

    save_inputs = True
    save_output = True

    def forward(self, a, b):
        return np.power(a, b)

    def backward(self, g):
        a, b = self.inputs
        with np.errstate(divide="ignore", invalid="ignore"):  # the masked entries may be inf/nan
            ga = where(const(b._data == 0), 0.0, g * b * a ** (b - 1))
            if not b.requires_grad:
                return ga, None
            zero_base = const((a._data == 0) & (b._data >= 0))
            return ga, where(zero_base, 0.0, g * self.output * log(a))


class PowScalar(Function):
    math = OpMath("y = x^p (p a constant)", grads=("g * p * x^(p - 1)",), local=("p * x^(p - 1)",), note="0 when p = 0.")

    save_inputs = True

    def forward(self, x, p):
        self.p = p
        return np.power(x, x.dtype.type(p)) if x.dtype.kind == "f" else np.power(x, p)

    def backward(self, g):
        (x,) = self.inputs
        if self.p == 0:
            return g * 0.0
        return g * (self.p * x ** (self.p - 1))


class Neg(Function):
    math = OpMath("y = -x", grads=("-g",), local=("-1",))

    def forward(self, x):
        return np.negative(x)

    def backward(self, g):
        return -g


class Exp(Function):
    math = OpMath("y = e^x", grads=("g * y",), local=("e^x = y",))

    save_output = True

    def forward(self, x):
        return np.exp(x)

    def backward(self, g):
        return g * self.output


class Log(Function):
    math = OpMath("y = ln x", grads=("g / x",), local=("1 / x",))

    save_inputs = True

    def forward(self, x):
        return np.log(x)

    def backward(self, g):
        return g / self.inputs[0]


class Log1p(Function):
    math = OpMath("y = ln(1 + x)", grads=("g / (1 + x)",), local=("1 / (1 + x)",), note="Accurate for small x.")

    save_inputs = True

    def forward(self, x):
        return np.log1p(x)

    def backward(self, g):
        return g / (1.0 + self.inputs[0])


class Erf(Function):
    math = OpMath(
        "y = erf(x) = (2 / sqrt(pi)) int_0^x e^(-t^2) dt",
        grads=("g * (2 / sqrt(pi)) * e^(-x^2)",),
        local=("(2 / sqrt(pi)) * e^(-x^2)",),
    )

    save_inputs = True

    def forward(self, x):
        from scipy.special import erf as _erf  # deferred: scipy.special adds ~0.1 s to import gradbox

        return _erf(x)

    def backward(self, g):
        x = self.inputs[0]
        return g * (exp(-(x * x)) * (2.0 / np.sqrt(np.pi)))


class Sqrt(Function):
    math = OpMath("y = sqrt(x)", grads=("g / (2 y)",), local=("1 / (2 sqrt(x))",))

    save_output = True

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g):
        return g / (2.0 * self.output)


class Abs(Function):
    math = OpMath("y = |x|", grads=("g * sign(x)",), local=("sign(x)",), note="sign(0) = 0: the subgradient at 0 is 0, as in PyTorch.")

    save_inputs = True

    def forward(self, x):
        return np.abs(x)

    def backward(self, g):
        return g * const(np.sign(self.inputs[0]._data))


class Sin(Function):
    math = OpMath("y = sin x", grads=("g * cos x",), local=("cos x",))

    save_inputs = True

    def forward(self, x):
        return np.sin(x)

    def backward(self, g):
        return g * cos(self.inputs[0])


class Cos(Function):
    math = OpMath("y = cos x", grads=("-g * sin x",), local=("-sin x",))

    save_inputs = True

    def forward(self, x):
        return np.cos(x)

    def backward(self, g):
        return -g * sin(self.inputs[0])


class Tanh(Function):
    math = OpMath("y = tanh x", grads=("g * (1 - y^2)",), local=("1 - tanh(x)^2",))

    save_output = True

    def forward(self, x):
        return np.tanh(x)

    def backward(self, g):
        y = self.output
        return g * (1.0 - y * y)


class Sigmoid(Function):
    """Computed without overflow (scipy's expit)."""

    math = OpMath("y = sigma(x) = 1 / (1 + e^(-x))", grads=("g * y * (1 - y)",), local=("sigma(x) * (1 - sigma(x))",))

    save_output = True

    def forward(self, x):
        # stable for large |x|, one pass, keeps float32; deferred: scipy.special adds ~0.1 s to import gradbox
        from scipy.special import expit

        return expit(x)

    def backward(self, g):
        y = self.output
        return g * y * (1.0 - y)


class Relu(Function):
    math = OpMath(
        "y = max(x, 0)",
        grads=("g * [x > 0]",),
        local=("[x > 0]",),
        note="The derivative at x = 0 is taken as 0, and a NaN x passes g on (the mask is [not y <= 0]), as in PyTorch.",
    )

    save_output = True

    def forward(self, x):
        if x.nbytes < _parallel.MIN_BYTES:  # too small to split: one call
            return np.maximum(x, 0)
        y = np.empty_like(x)
        _parallel.elementwise(np.maximum, y, x, np.zeros((), x.dtype))
        return y

    def backward(self, g):
        # a multiply by the 0/1 mask: np.where on a random mask is ~10x slower (branches)
        if grad_mode.is_grad_enabled():  # create_graph: in gradbox ops
            return g * const(_passes(self.output._data).astype(g._data.dtype))
        ga, y = g._data, self.output._data
        if ga.nbytes < _parallel.MIN_BYTES:
            return const(np.multiply(ga, _passes(y)))
        gx = np.empty_like(ga)
        _parallel.elementwise(_relu_grad, gx, ga, y)
        return const(gx)


def _passes(y: np.ndarray) -> np.ndarray:
    """ReLU's mask from its output: not (y <= 0), so a NaN (from a NaN input) passes the
    gradient on, as PyTorch's threshold_backward does (y > 0 would stop it). Negated in place:
    with the multiply, about the cost of the old 0/1 float mask times g."""
    mask = np.asarray(np.less_equal(y, 0))  # asarray: a 0-d y gives a NumPy scalar
    return np.logical_not(mask, out=mask)


def _relu_grad(g: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    np.multiply(g, _passes(y), out=out)


class Clamp(Function):
    math = OpMath(
        "y = min(max(x, lo), hi)",
        grads=("g * [lo <= x <= hi]",),
        local=("[lo <= x <= hi]",),
        note="The bounds pass the gradient; with strict (hardtanh, relu6) it is [lo < x < hi], as in PyTorch.",
    )

    save_inputs = True

    def forward(self, x, lo, hi, strict=False):
        self.lo, self.hi, self.strict = lo, hi, strict
        return np.clip(x, lo, hi)

    def backward(self, g):
        x = self.inputs[0]._data
        keep = np.ones(x.shape, dtype=bool)
        above, below = (np.greater, np.less) if self.strict else (np.greater_equal, np.less_equal)
        if self.lo is not None:
            keep &= above(x, self.lo)
        if self.hi is not None:
            keep &= below(x, self.hi)
        return g * const(keep.astype(g._data.dtype))


class Maximum(Function):
    math = OpMath(
        "y = max(a, b)",
        grads=("g * ([a > b] + [a = b] / 2)", "g * ([b > a] + [a = b] / 2)"),
        inputs=("a", "b"),
        note="Ties share the gradient evenly, as in PyTorch.",
    )

    save_inputs = True

    def forward(self, a, b):
        return np.maximum(a, b)

    def backward(self, g):
        a, b = self.inputs[0]._data, self.inputs[1]._data
        return _split_ties(g, a > b, a < b, a == b)


class Minimum(Function):
    math = OpMath(
        "y = min(a, b)",
        grads=("g * ([a < b] + [a = b] / 2)", "g * ([b < a] + [a = b] / 2)"),
        inputs=("a", "b"),
        note="Ties share the gradient evenly, as in PyTorch.",
    )

    save_inputs = True

    def forward(self, a, b):
        return np.minimum(a, b)

    def backward(self, g):
        a, b = self.inputs[0]._data, self.inputs[1]._data
        return _split_ties(g, a < b, a > b, a == b)


def _split_ties(g: Tensor, first: np.ndarray, second: np.ndarray, tie: np.ndarray):
    dt = g._data.dtype
    half = tie.astype(dt) * dt.type(0.5)
    return g * const(first.astype(dt) + half), g * const(second.astype(dt) + half)


class Where(Function):
    math = OpMath("y = a where c else b (c a constant bool mask)", grads=("g * [c]", "g * [not c]"), inputs=("a", "b"))

    def forward(self, a, b, cond):
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, g):
        zero = const(np.zeros((), dtype=g._data.dtype))
        return Where.apply(g, zero, cond=self.cond), Where.apply(zero, g, cond=self.cond)


class Cast(Function):
    math = OpMath("y = x converted to another dtype", grads=("g converted back to x's dtype",), note="No gradient flows to integer or bool inputs.")

    def forward(self, x, dtype):
        self.src = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return g.to(self.src) if self.src.kind == "f" else None


# ---- functional forms -------------------------------------------------------------------


@op(Add)
def add(a, b, *, alpha=1) -> Tensor:
    if alpha != 1:
        b = mul(b, alpha)
    return Add.apply(*binary("add", a, b))


@op(Sub)
def sub(a, b, *, alpha=1) -> Tensor:
    if alpha != 1:
        b = mul(b, alpha)
    return Sub.apply(*binary("sub", a, b))


@op(Mul)
def mul(a, b) -> Tensor:
    return Mul.apply(*binary("mul", a, b))


@op(Div)
def div(a, b, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode is not None:
        return floor_divide(a, b) if rounding_mode == "floor" else _no_grad(a, b, "div", np.trunc, np.divide)
    a, b = binary("div", a, b)
    if a._data.dtype.kind != "f":  # true division of integers gives the default float dtype
        a, b = a.to(_dtype.get_default_dtype()), b.to(_dtype.get_default_dtype())
    return Div.apply(a, b)


class IntegerDivisionByZeroError(ZeroDivisionError, RuntimeError):
    """Integer division or remainder by zero (PyTorch raises a RuntimeError saying ZeroDivisionError)."""


def _no_grad(a, b, op, post, fn) -> Tensor:
    a, b = binary(op, a, b)
    if a._data.dtype.kind in "iub" and b._data.dtype.kind in "iub" and not np.all(b._data):
        raise IntegerDivisionByZeroError(f"{op}: integer division by zero (ZeroDivisionError)")
    with np.errstate(divide="ignore", invalid="ignore"):  # floats: IEEE inf/nan, as in PyTorch
        out = fn(a._data, b._data)
    return Tensor._wrap(post(out) if post is not None else out)


@op(OpMath("y = floor(a / b)", grads=None, inputs=("a", "b")), summary="Elementwise floor(a / b); its gradient is zero almost everywhere, so it is not recorded.")
def floor_divide(a, b) -> Tensor:
    return _no_grad(a, b, "floor_divide", None, np.floor_divide)


@op(
    OpMath(
        "y = x^e",
        grads=("g * e * x^(e - 1)", "g * y * ln(x)"),
        inputs=("x", "e"),
        note="A Python number as exponent is a constant (PowScalar); a tensor exponent is differentiated too (Pow).",
    )
)
def pow(x, exponent) -> Tensor:  # noqa: A001 - torch.pow
    if isinstance(exponent, bool | int | float) and isinstance(x, Tensor):
        if x._data.dtype.kind != "f" and isinstance(exponent, int) and exponent < 0:
            raise RuntimeError("pow: integers to negative integer powers are not allowed")
        if x._data.dtype.kind != "f" and isinstance(exponent, float):
            x = x.to(_default_float())
        return PowScalar.apply(x, p=exponent)
    return Pow.apply(*binary("pow", x, exponent))


def _default_float():
    return _dtype.get_default_dtype()


@op(Neg)
def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def _unary(cls, name: str, doc_from: type):
    def f(x: Tensor) -> Tensor:
        x = as_tensor(x, name)
        if x._data.dtype.kind != "f":
            x = x.to(_default_float())
        return cls.apply(x)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = None
    return op(doc_from)(f)


exp = _unary(Exp, "exp", Exp)
log = _unary(Log, "log", Log)
sqrt = _unary(Sqrt, "sqrt", Sqrt)
log1p = _unary(Log1p, "log1p", Log1p)
erf = _unary(Erf, "erf", Erf)
sin = _unary(Sin, "sin", Sin)
cos = _unary(Cos, "cos", Cos)
tanh = _unary(Tanh, "tanh", Tanh)
sigmoid = _unary(Sigmoid, "sigmoid", Sigmoid)


@op(Abs)
def abs(x: Tensor) -> Tensor:  # noqa: A001 - torch.abs
    return Abs.apply(as_tensor(x, "abs"))


@op(Relu)
def relu(x: Tensor) -> Tensor:
    return Relu.apply(as_tensor(x, "relu"))


@op(Clamp, summary="Clamp every element into [min, max] (either bound may be None; tensor bounds broadcast).")
def clamp(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch argument names
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x if min is None else maximum(x, min)
        return out if max is None else minimum(out, max)
    dt = x._data.dtype
    if dt.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
        x = x.to(_default_float())
        dt = x._data.dtype
    lo = None if min is None else dt.type(min)
    hi = None if max is None else dt.type(max)
    return Clamp.apply(x, lo=lo, hi=hi)


clip = clamp


@op(Maximum)
def maximum(a, b) -> Tensor:
    return Maximum.apply(*binary("maximum", a, b))


@op(Minimum)
def minimum(a, b) -> Tensor:
    return Minimum.apply(*binary("minimum", a, b))


@op(Where, summary="Pick ``a`` where ``condition`` holds, else ``b`` (all three broadcast).")
def where(condition, a, b) -> Tensor:
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    a, b = binary("where", a, b)
    check_broadcast("where", cond.shape, a._data.shape, b._data.shape)
    return Where.apply(a, b, cond=cond)


@op(OpMath("y = sign(x) in {-1, 0, 1}", grads=None), summary="Its gradient is zero almost everywhere, so it is not recorded.")
def sign(x: Tensor) -> Tensor:
    s = np.sign(x._data)
    if s.dtype.kind == "f":
        s = np.where(np.isnan(s), s.dtype.type(0), s)  # PyTorch: sign(NaN) = 0
    return Tensor._wrap(s)


@op(OpMath("y = x^2", grads=("2 g x",), local=("2 x",), note="Computed as mul(x, x)."))
def square(x: Tensor) -> Tensor:
    return mul(x, x)


@op(OpMath("y = x^(-1/2)", grads=("-g x^(-3/2) / 2",), local=("-x^(-3/2) / 2",), note="Computed as pow(x, -0.5)."))
def rsqrt(x: Tensor) -> Tensor:
    return pow(x, -0.5)


@op(OpMath("y = 1 / x", grads=("-g / x^2",), local=("-1 / x^2",), note="Computed as div(1, x)."))
def reciprocal(x: Tensor) -> Tensor:
    return div(1.0, x)


@op(OpMath("y = value where mask else x", grads=("g * [not mask]", "sum of g over the mask"), inputs=("x", "value"), note="Computed as where(mask, value, x)."))
def masked_fill(x: Tensor, mask, value) -> Tensor:
    """x with ``value`` where ``mask`` is True."""
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    if isinstance(value, Tensor):
        value = value.to(x.dtype)
    else:
        value = Tensor._wrap(np.asarray(value, dtype=x._data.dtype))
    check_broadcast("masked_fill", m.shape, x._data.shape)  # out of place the result takes the broadcast shape
    return Where.apply(value, x, cond=m)


def _compare(npf, name, symbol):
    def f(a, b) -> Tensor:
        a, b = binary(name, a, b)
        return Tensor._wrap(npf(a._data, b._data))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = None
    return op(OpMath(f"y = a {symbol} b (bool)", grads=None, inputs=("a", "b")))(f)


eq = _compare(np.equal, "eq", "==")
ne = _compare(np.not_equal, "ne", "!=")
lt = _compare(np.less, "lt", "<")
le = _compare(np.less_equal, "le", "<=")
gt = _compare(np.greater, "gt", ">")
ge = _compare(np.greater_equal, "ge", ">=")
logical_and = _compare(np.logical_and, "logical_and", "and")
logical_or = _compare(np.logical_or, "logical_or", "or")
logical_xor = _compare(np.logical_xor, "logical_xor", "xor")


@op(OpMath("y = not x (bool)", grads=None))
def logical_not(x: Tensor) -> Tensor:
    return Tensor._wrap(np.logical_not(x._data))


@op(OpMath("y = [x is NaN] (bool)", grads=None))
def isnan(x: Tensor) -> Tensor:
    return Tensor._wrap(np.isnan(x._data))


@op(OpMath("y = [x is finite] (bool)", grads=None))
def isfinite(x: Tensor) -> Tensor:
    return Tensor._wrap(np.isfinite(x._data))


@op(Cast)
def cast(x: Tensor, dtype) -> Tensor:
    npd = _dtype.to_numpy_dtype(dtype)
    if x._data.dtype == npd:
        return x
    if npd.kind != "f":  # an integer or bool result carries no gradient, so it is not recorded
        return Tensor._wrap(x._data.astype(npd))
    return Cast.apply(x, dtype=npd)


@op(OpMath("y = a OP b bit by bit (and, or, xor of integers or bools)", grads=None, inputs=("a", "b")))
def bitwise(npf, a, b) -> Tensor:
    a, b = binary(npf.__name__, a, b)
    return Tensor._wrap(npf(a._data, b._data))
