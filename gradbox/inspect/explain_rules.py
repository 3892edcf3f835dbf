"""Each op's step of a worked backward pass: its forward as a formula, and per input the chain rule
with the numbers put in, computed here in NumPy (float64) apart from the op's own backward, so that
comparing with autograd checks both.

The symbolic rule comes from the op's math description (``type(node).math``, an ``OpMath``): its
``local`` derivative for element-wise ops (``d(a*b)/da = b``), else its vector-Jacobian product,
with the op's input letters replaced by the tensors' names. Ops without a rule here are explained
by their ``OpMath`` text and their own backward (``fallback``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradbox.inspect.explain_format import arr, arr_factor, factor, num, shape


@dataclass
class Operand:
    """One input (or the output) of an op as the explanation writes it."""

    name: str  # a name ("x", "t1", "fc1.weight") or, for a scalar constant, its number
    value: np.ndarray | None  # float64, or None when the graph did not keep it
    shape: tuple[int, ...]
    const: bool = False  # no gradient flows to it


@dataclass
class Call:
    """One op application: its class name, math, operands, output and parameters."""

    op: str
    math: Any  # OpMath | None
    ins: list[Operand]
    out: Operand
    params: dict = field(default_factory=dict)


@dataclass
class Term:
    """dL/d(input) at one op: ``chain`` (upstream x local, element-wise ops), the rule in symbols,
    a note (shapes), the numbers put in, and the value (in the broadcast shape, before summing)."""

    sym: str
    value: np.ndarray
    numbers: str | None = None
    note: str | None = None
    chain: str | None = None
    elementwise: bool = False


def subst(formula: str, mapping: dict[str, str]) -> str:
    """Replace the single-letter symbols of an OpMath formula by names (``b`` -> ``y``)."""
    return re.sub(r"\b([A-Za-z])\b", lambda mo: mapping.get(mo.group(1), mo.group(1)), formula)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _lse(x, axis, keepdims):
    mx = np.max(x, axis=axis, keepdims=True)
    out = mx + np.log(np.exp(x - mx).sum(axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


# ---- element-wise ops: forward, local derivative (value and numbers for scalars) ------------

V = dict[str, Any]  # "a", "b", "x", "y" (values), "p" (PowScalar's exponent)


@dataclass(frozen=True)
class Elementwise:
    forward: str  # "{0} * {1}"
    fwd: Callable[[V], np.ndarray]
    local: tuple[Callable[[V], np.ndarray], ...]
    numbers: tuple[str, ...]  # per input, the local derivative with numbers: "{b}", "{y} * (1 - {y})"


def _f(v) -> str:
    return factor(float(v))


ELEMENTWISE: dict[str, Elementwise] = {
    "Add": Elementwise("{0} + {1}", lambda v: v["a"] + v["b"], (lambda v: 1.0, lambda v: 1.0), ("1", "1")),
    "Sub": Elementwise("{0} - {1}", lambda v: v["a"] - v["b"], (lambda v: 1.0, lambda v: -1.0), ("1", "(-1)")),
    "Mul": Elementwise("{0} * {1}", lambda v: v["a"] * v["b"], (lambda v: v["b"], lambda v: v["a"]), ("{b}", "{a}")),
    "Div": Elementwise(
        "{0} / {1}", lambda v: v["a"] / v["b"], (lambda v: 1.0 / v["b"], lambda v: -v["a"] / v["b"] ** 2),
        ("1 / {b}", "-{a} / {b}^2"),
    ),
    "Neg": Elementwise("-{0}", lambda v: -v["x"], (lambda v: -1.0,), ("(-1)",)),
    "Clone": Elementwise("{0}", lambda v: v["x"], (lambda v: 1.0,), ("1",)),
    "Exp": Elementwise("exp({0})", lambda v: np.exp(v["x"]), (lambda v: v["y"],), ("{y}",)),
    "Log": Elementwise("log({0})", lambda v: np.log(v["x"]), (lambda v: 1.0 / v["x"],), ("1 / {x}",)),
    "Sqrt": Elementwise("sqrt({0})", lambda v: np.sqrt(v["x"]), (lambda v: 0.5 / v["y"],), ("1 / (2 * {y})",)),
    "Sigmoid": Elementwise(
        "sigma({0})", lambda v: _sigmoid(v["x"]), (lambda v: v["y"] * (1.0 - v["y"]),), ("{y} * (1 - {y})",)
    ),
    "Tanh": Elementwise("tanh({0})", lambda v: np.tanh(v["x"]), (lambda v: 1.0 - v["y"] ** 2,), ("1 - {y}^2",)),
    "Relu": Elementwise(
        "relu({0})", lambda v: np.maximum(v["x"], 0.0),
        (lambda v: (v["x"] if v["x"] is not None else v["y"]) > 0,),  # relu(x) > 0 exactly where x > 0
        ("[{x} > 0]",),
    ),
    "Abs": Elementwise("abs({0})", lambda v: np.abs(v["x"]), (lambda v: np.sign(v["x"]),), ("sign({x})",)),
    "Sin": Elementwise("sin({0})", lambda v: np.sin(v["x"]), (lambda v: np.cos(v["x"]),), ("cos({x})",)),
    "Cos": Elementwise("cos({0})", lambda v: np.cos(v["x"]), (lambda v: -np.sin(v["x"]),), ("-sin({x})",)),
    "PowScalar": Elementwise(
        "{0}^{p}", lambda v: v["x"] ** v["p"],
        (lambda v: v["p"] * v["x"] ** (v["p"] - 1) if v["p"] != 0 else np.zeros_like(v["x"]),),
        ("{p} * {x}^{p1}",),
    ),
    "Pow": Elementwise(
        "{0}^{1}", lambda v: v["a"] ** v["b"],
        (
            lambda v: np.where(v["b"] == 0, 0.0, v["b"] * v["a"] ** (v["b"] - 1)),
            lambda v: np.where((v["a"] == 0) & (v["b"] >= 0), 0.0, v["y"] * np.log(np.where(v["a"] == 0, 1.0, v["a"]))),
        ),
        ("{b} * {a}^({b} - 1)", "{y} * ln({a})"),
    ),
    "Maximum": Elementwise(
        "max({0}, {1})", lambda v: np.maximum(v["a"], v["b"]),
        (lambda v: (v["a"] > v["b"]) + (v["a"] == v["b"]) / 2, lambda v: (v["b"] > v["a"]) + (v["a"] == v["b"]) / 2),
        ("[{a} > {b}] + [{a} = {b}] / 2", "[{b} > {a}] + [{a} = {b}] / 2"),
    ),
    "Minimum": Elementwise(
        "min({0}, {1})", lambda v: np.minimum(v["a"], v["b"]),
        (lambda v: (v["a"] < v["b"]) + (v["a"] == v["b"]) / 2, lambda v: (v["b"] < v["a"]) + (v["a"] == v["b"]) / 2),
        ("[{a} < {b}] + [{a} = {b}] / 2", "[{b} < {a}] + [{a} = {b}] / 2"),
    ),
}  # fmt: skip
# OpMath local formulas for the ops whose math states none (Maximum, Minimum share their grads')
LOCAL_FALLBACK = {
    "Maximum": ("[a > b] + [a = b] / 2", "[b > a] + [a = b] / 2"),
    "Minimum": ("[a < b] + [a = b] / 2", "[b < a] + [a = b] / 2"),
}


def _letters(call: Call) -> dict[str, str]:
    """The op's input letters (OpMath ``inputs``) and ``y`` -> the names used in the explanation."""
    letters = call.math.inputs if call.math is not None else ("x",)
    mapping = {letter: op.name for letter, op in zip(letters, call.ins)}
    mapping["y"] = call.out.name
    if "p" in call.params:
        mapping["p"] = num(call.params["p"])
    return mapping


def _values(call: Call) -> V:
    letters = call.math.inputs if call.math is not None else ("x",)
    v: V = {letter: op.value for letter, op in zip(letters, call.ins)}
    v["y"] = call.out.value
    if "p" in call.params:
        v["p"] = float(call.params["p"])
    return v


def local_formula(call: Call, i: int) -> str:
    """The local derivative d(out)/d(input i) in the input names, from the op's math."""
    loc = call.math.local if call.math is not None else ()
    text = loc[i] if i < len(loc) and loc[i] else LOCAL_FALLBACK.get(call.op, ("?", "?"))[i]
    return subst(text, _letters(call))


def _scalar_numbers(template: str, v: V) -> str:
    strs = {k: _f(val) for k, val in v.items() if val is not None and np.size(val) == 1}
    if "p" in v:
        strs["p1"] = _f(v["p"] - 1)
    return template.format(**strs)


# ---- forward ---------------------------------------------------------------------------------


def _dims_text(dims, ndim: int) -> str:
    if dims is None:
        return ""
    d = (dims,) if isinstance(dims, int | np.integer) else tuple(dims)
    if ndim and sorted(int(x) % ndim for x in d) == list(range(ndim)):
        return ""
    return f" T{{over dims {shape(d)}}}"


def forward_formula(call: Call, notes: bool = True) -> str:
    """The op applied to its operands' names, e.g. ``x * y``, ``x W1^T + b1``, ``softmax(z)``
    (with words on what it does where the formula alone does not say, unless ``notes`` is False)."""
    n = [o.name for o in call.ins]
    op = call.op
    if op in ELEMENTWISE:
        return ELEMENTWISE[op].forward.format(*n, p=num(call.params.get("p", 0)))
    nd = len(call.ins[0].shape) if call.ins else 0
    if op in ("Sum", "Mean", "LogSumExp"):
        return f"{op.lower()}({n[0]})" + _dims_text(call.params.get("dims"), nd)
    if op == "AMaxMin":
        return f"max({n[0]})" + _dims_text(call.params.get("dims"), nd)
    if op in ("Softmax", "LogSoftmax"):
        return f"{'softmax' if op == 'Softmax' else 'log_softmax'}({n[0]})" + _dims_text(call.params.get("dim"), nd)
    if op == "Linear":
        return f"{n[0]} {n[1]}^T" + (f" + {n[2]}" if len(n) > 2 else "")
    if op == "Matmul":
        return f"{n[0]} {n[1]}"
    if op == "SoftmaxCrossEntropy":
        return f"CE({n[0]})" + (" T{ (per row: -sum_c r_c log softmax(z)_c, r the target rows)}" if notes else "")
    if op == "Reshape":
        return f"reshape({n[0]}, {shape(call.out.shape)})"
    if op == "Permute":
        dims = tuple(call.params.get("dims", ()))
        return f"{n[0]}^T" if dims == (1, 0) else f"permute({n[0]}, {shape(dims)})"
    if op == "Expand":
        return f"broadcast({n[0]}, {shape(call.out.shape)})"
    if op == "Cast":
        return f"{n[0]}"
    return f"{op}({', '.join(n)})"


def forward_value(call: Call) -> np.ndarray | None:
    """The op's result recomputed from its operands' values (None when one is unknown)."""
    if any(o.value is None for o in call.ins):
        return None
    x = [o.value for o in call.ins]
    op, p = call.op, call.params
    if op in ELEMENTWISE:
        return np.asarray(ELEMENTWISE[op].fwd(_values(call)), dtype=np.float64)
    dims = p.get("dims")
    dims = tuple(dims) if isinstance(dims, list | tuple) else dims
    keep = p.get("keepdim", False)
    if op == "Sum":
        return np.sum(x[0], axis=dims, keepdims=keep)
    if op == "Mean":
        return np.mean(x[0], axis=dims, keepdims=keep)
    if op == "AMaxMin":
        return np.max(x[0], axis=dims, keepdims=keep) if call.out.value is None else call.out.value
    if op == "LogSumExp":
        return _lse(x[0], dims, keep)
    if op == "Softmax":
        return _softmax(x[0], p["dim"])
    if op == "LogSoftmax":
        return np.log(_softmax(x[0], p["dim"]))
    if op == "Linear":
        return x[0] @ x[1].T + (x[2] if len(x) > 2 else 0.0)
    if op == "Matmul":
        return np.matmul(x[0], x[1])
    if op == "SoftmaxCrossEntropy" and "r" in p:
        return -(p["r"] * np.log(_softmax(x[0], 1))).sum(axis=1)
    if op == "Reshape":
        return np.reshape(x[0], call.out.shape)
    if op == "Permute" and "dims" in p:
        return np.transpose(x[0], p["dims"])
    if op == "Expand":
        return np.broadcast_to(x[0], call.out.shape).copy()
    if op == "Cast":
        return x[0]
    return None


# ---- backward --------------------------------------------------------------------------------


def vjp(call: Call, i: int, g: np.ndarray, up: str, digits: int, full: int) -> Term | None:
    """dL/d(input i) at this op, given the upstream gradient ``g`` = ``up`` (its symbol); None when
    this module has no rule for the op or a value it needs is unknown (use ``fallback``)."""
    op, x, out = call.op, call.ins, call.out
    a = lambda v: arr(v, digits, full)
    af = lambda v: arr_factor(v, digits, full)
    if op in ELEMENTWISE:
        v = _values(call)
        rule = ELEMENTWISE[op]
        try:
            with np.errstate(all="ignore"):
                loc = np.asarray(rule.local[i](v), dtype=np.float64)
        except TypeError:  # a value this derivative needs was not kept by the graph
            return None
        value = g * loc
        sym = local_formula(call, i)
        chain = f"{up} * P{{{out.name}|{x[i].name}}}"
        try:
            local_num = _scalar_numbers(rule.numbers[i], v) if loc.size == 1 and g.size == 1 else None
        except (KeyError, IndexError):
            local_num = None
        if local_num is not None:
            simple = re.fullmatch(r"\(?-?[\d.e]+\)?|\[[^\]]*\]", local_num)
            numbers = f"{af(g)} * {local_num}" if simple else f"{af(g)} * ({local_num})"
        else:
            numbers = f"{af(g)} * {af(np.broadcast_to(loc, value.shape))}"
        wrapped = sym if re.fullmatch(r"[\w.]+|\(-?[\w.]+\)|\[[^\]]*\]", sym) else f"({sym})"
        return Term(f"{up} * {wrapped}", value, numbers, None, chain, True)
    if any(o.value is None for o in x) and op not in ("Sum", "Mean", "Reshape", "Permute", "Expand", "Cast"):
        return None
    xs, gs = x[i].shape, g.shape
    nm = x[i].name
    if op in ("Sum", "Mean"):
        dims = call.params.get("dims")
        keep = call.params.get("keepdim", False)
        d = tuple(range(len(xs))) if dims is None else tuple(int(k) % max(len(xs), 1) for k in np.atleast_1d(dims))
        gk = g if keep or not xs else np.expand_dims(g, d)
        n = int(np.prod([xs[k] for k in d])) if xs else 1
        value = np.broadcast_to(gk / (n if op == "Mean" else 1), xs).copy()
        sym = f"{up}" if op == "Sum" else f"{up} / N"
        note = f"T{{for every element of {nm}; broadcast}} {shape(gs)} -> {shape(xs)}" + (
            f", N = {n}" if op == "Mean" else ""
        )
        numbers = f"{af(g)}" if op == "Sum" else f"{af(g)} / {n}"
        return Term(sym, value, numbers, note)
    if op == "AMaxMin":
        dims = call.params.get("dims")
        keep = call.params.get("keepdim", False)
        d = tuple(range(len(xs))) if dims is None else tuple(np.atleast_1d(dims))
        yk = out.value if keep or not xs else np.expand_dims(out.value, d)
        gk = g if keep or not xs else np.expand_dims(g, d)
        hit = (x[0].value == yk).astype(np.float64)
        share = hit / hit.sum(axis=d, keepdims=True)
        value = gk * share
        return Term(f"{up} * [{nm} = {out.name}] / n", value, f"{af(g)} * {af(share)}", "T{n: the number of maxima}")
    if op == "LogSumExp":
        dims = call.params.get("dims")
        keep = call.params.get("keepdim", False)
        d = tuple(range(len(xs))) if dims is None else tuple(np.atleast_1d(dims))
        yk = out.value if keep or not xs else np.expand_dims(out.value, d)
        gk = g if keep or not xs else np.expand_dims(g, d)
        sm = np.exp(x[0].value - yk)
        return Term(f"{up} * softmax({nm}) = {up} * e^({nm} - {out.name})", gk * sm, f"{af(g)} * {af(sm)}")
    if op == "Softmax":
        dim = call.params["dim"]
        p = out.value
        s = (g * p).sum(axis=dim, keepdims=True)
        value = p * (g - s)
        sym = f"{out.name} * ({up} - sum({up} * {out.name}))"
        return Term(
            sym,
            value,
            f"{af(p)} * ({a(g)} - {af(s if s.size > 1 else s.reshape(()))})",
            "T{sums along dim} " + str(dim),
        )
    if op == "LogSoftmax":
        dim = call.params["dim"]
        p = np.exp(out.value)
        s = g.sum(axis=dim, keepdims=True)
        return Term(
            f"{up} - softmax({nm}) * sum({up})",
            g - p * s,
            f"{a(g)} - {af(p)} * {af(s if s.size > 1 else s.reshape(()))}",
        )
    if op == "SoftmaxCrossEntropy" and "r" in call.params:
        r = np.asarray(call.params["r"], dtype=np.float64)
        p = _softmax(x[0].value, 1)
        coef = r.sum(axis=1, keepdims=True)
        gk = g.reshape(-1, 1)
        value = gk * (p * coef - r)
        onehot = bool(np.all((r == 0) | (r == 1)) and np.all(coef == 1))
        sym = f"{up} * (p - r)" if np.all(np.isclose(coef, 1)) else f"{up} * (p sum_c r_c - r)"
        note = f"T{{per row, p = softmax({nm}), r = {'onehot(y), the target class' if onehot else 'the target row'}}}"
        return Term(sym, value, f"{af(gk)} * ({a(p)} - {a(r)})", note)
    if op == "Linear":
        g2 = g.reshape(-1, gs[-1]) if g.ndim != 1 else g.reshape(1, -1)
        xin = x[0].value.reshape(-1, x[0].shape[-1]) if len(x[0].shape) != 1 else x[0].value.reshape(1, -1)
        w = x[1].value
        if i == 0:
            value = (g2 @ w).reshape(xs)
            note = f"{shape(gs)} {shape(w.shape)} -> {shape(xs)}"
            return Term(f"({up}) {x[1].name}", value, None, note)
        if i == 1:
            value = g2.T @ xin
            note = f"{shape(g2.shape)}^T {shape(xin.shape)} -> {shape(value.shape)}"
            return Term(f"({up})^T {x[0].name}", value, None, note)
        value = g2.sum(axis=0)
        return Term(f"T{{column sums of}} {up}", value, None, f"{shape(g2.shape)} -> {shape(value.shape)}")
    if op == "Matmul":
        ma, mb = x[0].value, x[1].value
        if i == 0:
            value = np.matmul(g, np.swapaxes(mb, -1, -2))
            return Term(
                f"({up}) {x[1].name}^T", value, None, f"{shape(gs)} {shape(mb.shape)}^T -> {shape(value.shape)}"
            )
        value = np.matmul(np.swapaxes(ma, -1, -2), g)
        return Term(f"{x[0].name}^T ({up})", value, None, f"{shape(ma.shape)}^T {shape(gs)} -> {shape(value.shape)}")
    if op == "Reshape":
        return Term(f"reshape({up}, {shape(xs)})", g.reshape(xs), None, f"{shape(gs)} -> {shape(xs)}")
    if op == "Permute" and "dims" in call.params:
        dims = tuple(call.params["dims"])
        inv = tuple(int(k) for k in np.argsort(dims))
        sym = f"({up})^T" if dims == (1, 0) else f"permute({up}, {shape(inv)})"
        return Term(sym, np.transpose(g, inv), None, f"{shape(gs)} -> {shape(xs)}")
    if op == "Expand":
        return Term(f"{up}", g, None, None)
    if op == "Cast":
        return Term(f"{up}", g, None, "T{cast back to the input's dtype}")
    return None


def fallback_text(call: Call, i: int, up: str) -> str:
    """The op's VJP for input i from its math description, with names put in (words kept as words);
    ``up`` is the upstream gradient as plain text (``dL/dt3``)."""
    if call.math is None or call.math.grads is None:
        return f"T{{by {call.op}'s backward}}"
    grads = call.math.grads
    text = grads[i] if i < len(grads) else grads[-1]
    mapping = _letters(call)
    mapping["g"] = f"({up})"
    return "T{" + subst(text, mapping) + "}"
