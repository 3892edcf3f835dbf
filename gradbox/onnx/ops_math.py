"""ONNX mappings of the math ops: trigonometric and hyperbolic functions, logarithms in other
bases, rounding, NaN-aware extremes, cumulative sums (``gradbox.ops.pointwise``, ``arith``,
``scan``, ``scatter``). They register into the same table as ``ops.py``; ops ONNX has no
counterpart for are listed in ``UNEXPORTABLE`` with the reason."""

from __future__ import annotations

import math

import numpy as np

from gradbox.onnx.graph import Ctx
from gradbox.onnx.ops import UNEXPORTABLE, maps

_SAME_NAME = {n: n for n in ("Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Cosh", "Sinh", "Tan")}

UNEXPORTABLE.update(
    {
        "Erfinv": "ONNX has no inverse error function",
        "Nextafter": "ONNX has no nextafter (it works on the bits of the floating point format)",
        "Frexp": "ONNX has no mantissa/exponent split (frexp)",
        "Cumprod": "ONNX has no cumulative product (only CumSum)",
        "CumExtreme": "ONNX has no cumulative max/min (cummax, cummin)",
        "LogCumSumExp": "ONNX has no cumulative log-sum-exp",
        "MaskedScatter": "how much of source it uses depends on the mask's values, which one ONNX op cannot express",
        "ScatterReduce": "not mapped yet: ONNX ScatterElements reduces with sum/prod/max/min (opset 18) but not mean, "
        "and gradbox's index tuples would need converting",
        "Inverse": "the standard ONNX opsets have no matrix inverse (only ONNX Runtime's com.microsoft domain)",
        "SingularValues": "ONNX has no singular value decomposition",
    }
)


@maps(*_SAME_NAME)
def same_name(c: Ctx) -> str:
    return c.emit(_SAME_NAME[c.node.op], [c.x_as_out(0)])


def _k(c: Ctx, v: float) -> str:
    return c.const(v, c.out_dtype)


@maps("Erfc")
def erfc(c: Ctx) -> str:
    return c.emit("Sub", [_k(c, 1.0), c.emit("Erf", [c.x_as_out(0)])])


@maps("Exp2")
def exp2(c: Ctx) -> str:
    return c.emit("Pow", [_k(c, 2.0), c.x_as_out(0)])


@maps("Expm1")
def expm1(c: Ctx) -> str:
    return c.emit("Sub", [c.emit("Exp", [c.x_as_out(0)]), _k(c, 1.0)])


@maps("Log10", "Log2")
def log_base(c: Ctx) -> str:
    base = 10.0 if c.node.op == "Log10" else 2.0
    return c.emit("Div", [c.emit("Log", [c.x_as_out(0)]), _k(c, math.log(base))])


@maps("LogAddExp")
def logaddexp(c: Ctx) -> str:
    """max(a, b) + log_B(1 + B^-|a - b|)."""
    a, b = c.x_as_out(0), c.x_as_out(1)
    gap = c.emit("Neg", [c.emit("Abs", [c.emit("Sub", [a, b])])])
    if c.params["base2"]:
        tail = c.emit(
            "Div", [c.emit("Log", [c.emit("Add", [_k(c, 1.0), c.emit("Pow", [_k(c, 2.0), gap])])]), _k(c, math.log(2))]
        )
    else:
        tail = c.emit("Log", [c.emit("Add", [_k(c, 1.0), c.emit("Exp", [gap])])])
    return c.emit("Add", [c.emit("Max", [a, b]), tail])


@maps("Logit")
def logit(c: Ctx) -> str:
    z, eps = c.x_as_out(0), c.params["eps"]
    if eps is not None:
        z = c.emit("Clip", [z, _k(c, eps), _k(c, 1.0 - eps)])
    return c.emit("Log", [c.emit("Div", [z, c.emit("Sub", [_k(c, 1.0), z])])])


@maps("Hypot")
def hypot(c: Ctx) -> str:
    a, b = c.x_as_out(0), c.x_as_out(1)
    return c.emit("Sqrt", [c.emit("Add", [c.emit("Mul", [a, a]), c.emit("Mul", [b, b])])])


@maps("Atan2")
def atan2(c: Ctx) -> str:
    """atan(a / b), moved by +-pi where b < 0; +-pi/2 (0 at the origin) where b = 0."""
    a, b = c.x_as_out(0), c.x_as_out(1)
    zero = _k(c, 0.0)
    t = c.emit("Atan", [c.emit("Div", [a, b])])
    shift = c.emit("Where", [c.emit("GreaterOrEqual", [a, zero]), _k(c, math.pi), _k(c, -math.pi)])
    y = c.emit("Where", [c.emit("Less", [b, zero]), c.emit("Add", [t, shift]), t])
    half = c.emit("Mul", [c.emit("Sign", [a]), _k(c, math.pi / 2)])
    return c.emit("Where", [c.emit("Equal", [b, zero]), half, y])


@maps("Copysign")
def copysign(c: Ctx) -> str:
    mag = c.emit("Abs", [c.x_as_out(0)])
    negative = c.emit("Less", [c.x_as_out(1), _k(c, 0.0)])
    return c.emit("Where", [negative, c.emit("Neg", [mag]), mag])


@maps("FMaxMin")
def fmax_fmin(c: Ctx) -> str:
    a, b = c.x_as_out(0), c.x_as_out(1)
    both = c.emit("Max" if c.params["is_max"] else "Min", [a, b])
    return c.emit("Where", [c.emit("IsNaN", [a]), b, c.emit("Where", [c.emit("IsNaN", [b]), a, both])])


@maps("Fmod")
def fmod(c: Ctx) -> str:
    return c.emit("Mod", [c.x_as_out(0), c.x_as_out(1)], fmod=1)


@maps("Remainder")
def remainder(c: Ctx) -> str:
    """a - b floor(a / b) (the sign of b); integers: Mod with fmod=0, which is that for them."""
    a, b = c.x_as_out(0), c.x_as_out(1)
    if c.out_dtype.kind != "f":
        return c.emit("Mod", [a, b], fmod=0)
    return c.emit("Sub", [a, c.emit("Mul", [b, c.emit("Floor", [c.emit("Div", [a, b])])])])


@maps("Round")
def rounding(c: Ctx) -> str:
    fn, decimals = c.params["fn"], c.params.get("decimals", 0)
    x = c.x_as_out(0)
    name = getattr(fn, "__name__", str(fn))
    if name == "floor":
        return c.emit("Floor", [x])
    if name == "ceil":
        return c.emit("Ceil", [x])
    if name == "trunc":
        return c.emit("Where", [c.emit("Less", [x, _k(c, 0.0)]), c.emit("Ceil", [x]), c.emit("Floor", [x])])
    if name in ("round", "round_", "around"):
        if not decimals:
            return c.emit("Round", [x])
        scale = _k(c, 10.0**decimals)
        return c.emit("Div", [c.emit("Round", [c.emit("Mul", [x, scale])]), scale])
    c.fail(f"rounding function {name!r} has no ONNX mapping")
    return ""


@maps("Sinc")
def sinc(c: Ctx) -> str:
    x = c.x_as_out(0)
    px = c.emit("Mul", [x, _k(c, math.pi)])
    ratio = c.emit("Div", [c.emit("Sin", [px]), px])
    return c.emit("Where", [c.emit("Equal", [x, _k(c, 0.0)]), _k(c, 1.0), ratio])


@maps("Lerp")
def lerp(c: Ctx) -> str:
    """s + w (e - s) where |w| < 0.5, else e - (e - s)(1 - w) (gradbox's two exact forms)."""
    s, e, w = c.x_as_out(0), c.x_as_out(1), c.x_as_out(2)
    d = c.emit("Sub", [e, s])
    near = c.emit("Add", [s, c.emit("Mul", [w, d])])
    far = c.emit("Sub", [e, c.emit("Mul", [d, c.emit("Sub", [_k(c, 1.0), w])])])
    small = c.emit("Less", [c.emit("Abs", [w]), _k(c, 0.5)])
    return c.emit("Where", [small, near, far])


@maps("Xlogy")
def xlogy(c: Ctx) -> str:
    a, b = c.x_as_out(0), c.x_as_out(1)
    zero = _k(c, 0.0)
    keep_zero = c.emit("And", [c.emit("Equal", [a, zero]), c.emit("Not", [c.emit("IsNaN", [b])])])
    return c.emit("Where", [keep_zero, zero, c.emit("Mul", [a, c.emit("Log", [b])])])


@maps("NanToNum")
def nan_to_num(c: Ctx) -> str:
    x, info = c.x_as_out(0), np.finfo(c.out_dtype)
    nan, posinf, neginf = c.params["nan"], c.params["posinf"], c.params["neginf"]
    y = c.emit("Where", [c.emit("IsNaN", [x]), _k(c, 0.0 if nan is None else nan), x])
    y = c.emit("Where", [c.emit("IsInf", [x], detect_negative=0), _k(c, info.max if posinf is None else posinf), y])
    return c.emit("Where", [c.emit("IsInf", [x], detect_positive=0), _k(c, info.min if neginf is None else neginf), y])


@maps("Cumsum")
def cumsum(c: Ctx) -> str:
    return c.emit("CumSum", [c.x(0), c.const(np.int64(c.params["dim"]))])


@maps("Einsum")
def einsum(c: Ctx) -> str:
    equation = ",".join(c.params["subs"]) + "->" + c.params["out"]
    return c.emit("Einsum", [c.x_as_out(i) for i in range(c.n_inputs)], equation=equation)


@maps("Hardsigmoid")
def hardsigmoid(c: Ctx) -> str:
    return c.emit("HardSigmoid", [c.x(0)], alpha=1.0 / 6.0, beta=0.5)


@maps("Hardswish")
def hardswish(c: Ctx) -> str:
    if c.opset >= 14:
        return c.emit("HardSwish", [c.x(0)])
    return c.emit("Mul", [c.x(0), c.emit("HardSigmoid", [c.x(0)], alpha=1.0 / 6.0, beta=0.5)])


@maps("Unfold")
def unfold(c: Ctx) -> str:
    """x.unfold(dim, size, step): Gather of the windows' positions, the window axis moved last."""
    dim, size, step = c.params["dim"], c.params["size"], c.params["step"]
    shape = c.shape(0)
    if not shape:
        return c.emit("Reshape", [c.x(0), c.ints([1])])
    if dim in c.dyn(0):
        c.fail(f"unfold along the dynamic axis {c.dyn(0)[dim]!r}")
    count = (shape[dim] - size) // step + 1
    idx = np.arange(count)[:, None] * step + np.arange(size)[None, :]
    taken = c.emit("Gather", [c.x(0), c.const(idx.astype(np.int64))], axis=dim)
    perm = [a for a in range(len(shape) + 1) if a != dim + 1] + [dim + 1]
    return c.emit("Transpose", [taken], perm=perm)


@maps("PNorm")
def pnorm(c: Ctx) -> str:
    """(sum |x|^p)^(1/p) over the dims."""
    p = float(c.params["p"])
    powered = c.emit("Pow", [c.emit("Abs", [c.x_as_out(0)]), _k(c, p)])
    total = c.axes_op("ReduceSum", powered, c.params["dims"], c.params["keepdim"], since=13)
    return c.emit("Pow", [total, _k(c, 1.0 / p)])
