"""``explain_backward``: the worked solution of a backward pass, with the numbers, checked by autograd.

It walks the autograd graph of a scalar output: the forward value of each tensor (inputs to
output), then for every op from the output down its upstream gradient (a sum over its uses
where a tensor feeds several ops), its local derivative rule from its math description, the
numbers put in and the product; and it ends with each input's gradient. Every gradient it writes
is computed here apart from autograd (``explain_rules``) and compared with what autograd computes
for the same tensor; a mismatch raises :class:`ExplanationMismatchError`.

Values come from what the graph kept (tensors named in ``names``, what ops saved for backward,
retained gradients) or are recomputed from their inputs; forward passes run inside
``with gb.inspect.recording() as rec:`` also give the constants the graph drops
(``explain_backward(out, recording=rec)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradbox import nn
from gradbox.autograd.engine import run_backward, topological_order
from gradbox.autograd.function import Function, tracing
from gradbox.autograd.grad_mode import no_grad
from gradbox.inspect import explain_rules as rules
from gradbox.inspect.explain_format import FORMATS, Doc, Explanation, arr, factor, m, num, shape, t
from gradbox.tensor import Tensor


class ExplanationMismatchError(AssertionError):
    """A number of a worked solution differs from what gradbox computes: a bug, never expected."""


class Recording:
    """Every op applied inside ``with rec:`` (its class, inputs, parameters and output), so that a
    later explanation knows the constants and values the autograd graph does not keep."""

    def __init__(self) -> None:
        self.entries: list[tuple[type, tuple[Tensor, ...], dict, Tensor]] = []
        self._cm = None

    def _tracer(self, cls, inputs, params, out) -> None:
        self.entries.append((cls, tuple(inputs), dict(params), out))

    def __enter__(self) -> Recording:
        self._cm = tracing(self._tracer)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._cm.__exit__(*exc)

    def by_node(self) -> dict[int, tuple[type, tuple[Tensor, ...], dict, Tensor]]:
        return {id(e[3].grad_fn): e for e in self.entries if e[3].grad_fn is not None}


def recording() -> Recording:
    """``with gb.inspect.recording() as rec:`` records a forward pass for ``explain_backward(..., recording=rec)``."""
    return Recording()


class BackwardExplanation(Explanation):
    """The worked backward pass. Besides the text: ``values`` (name -> forward value),
    ``gradients`` (name -> dL/d(name) as the solution computes it, inputs and intermediates),
    ``autograd`` (the same from autograd), ``output`` (the output's name) and ``inputs`` (names)."""

    def __init__(self, doc: Doc, fmt: str, **data: Any) -> None:
        super().__init__(doc, fmt)
        self.values: dict[str, np.ndarray] = data["values"]
        self.gradients: dict[str, np.ndarray] = data["gradients"]
        self.autograd: dict[str, np.ndarray] = data["autograd"]
        self.output: str = data["output"]
        self.inputs: list[str] = data["inputs"]


def _f64(a) -> np.ndarray:
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind in "fiub" else a


def _name_map(names) -> dict[int, tuple[str, Tensor]]:
    """id(tensor) -> (name, tensor), from a dict of tensors (or modules: their parameters by path) or a module."""
    if names is None:
        return {}
    if isinstance(names, nn.Module):
        names = {"": names}
    if not isinstance(names, Mapping):
        raise TypeError("names must be a dict of name -> Tensor (or Module), or a Module")
    out: dict[int, tuple[str, Tensor]] = {}
    for key, v in names.items():
        if isinstance(v, nn.Module):
            for pn, p in v.named_parameters():
                out[id(p)] = (f"{key}.{pn}" if key else pn, p)
        elif isinstance(v, Tensor):
            out[id(v)] = (str(key), v)
        else:
            raise TypeError(f"names[{key!r}] is a {type(v).__name__}; expected a Tensor or a Module")
    return out


def _tolerance(*dtypes) -> tuple[float, float]:
    low = any(np.dtype(d).itemsize < 8 for d in dtypes if np.dtype(d).kind == "f")
    return (1e-4, 1e-5) if low else (1e-8, 1e-10)


def _check(mine: np.ndarray, ref: np.ndarray, what: str, tol: tuple[float, float]) -> None:
    ref = _f64(ref)
    scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    if mine.shape != ref.shape or not np.allclose(mine, ref, rtol=tol[0], atol=tol[1] * scale, equal_nan=True):
        raise ExplanationMismatchError(
            f"explain_backward: the worked solution gives {what} = {arr(mine)} but autograd computes {arr(ref)}; "
            "this is a bug in gradbox.inspect.explain_rules (please report it)"
        )


_PARAMS = ("p", "dims", "keepdim", "dim", "r")


class _Walk:
    """The graph of one output, its names and values, and the solution being written."""

    def __init__(self, output: Tensor, names, record: Recording | None, digits: int, full: int) -> None:
        self.output, self.digits, self.full = output, digits, full
        self.nodes = topological_order([output.grad_fn])  # the output first
        for node in self.nodes:
            if node._freed:
                raise RuntimeError(
                    "explain_backward: the graph was freed by a backward() call; explain it before backward(), "
                    "or pass retain_graph=True to backward()"
                )
        self.forward = sorted(self.nodes, key=lambda f: f.seq)
        self.named = _name_map(names)
        self.record = record.by_node() if record is not None else {}
        self.node_tensor: dict[int, Tensor] = {}  # id(node) -> a tensor it produced that we know
        for _, tt in self.named.values():
            if tt.grad_fn is not None:
                self.node_tensor.setdefault(id(tt.grad_fn), tt)
        self.node_tensor.setdefault(id(output.grad_fn), output)
        self._names()
        self._values()

    # ---- names ------------------------------------------------------------------------------
    def _names(self) -> None:
        taken = {nm for nm, _ in self.named.values()}
        counters = {"t": 0, "v": 0, "c": 0}

        def fresh(prefix: str) -> str:
            while True:
                counters[prefix] += 1
                nm = f"{prefix}{counters[prefix]}"
                if nm not in taken:
                    taken.add(nm)
                    return nm

        self.leaf_names: dict[int, str] = {}
        self.leaves: list[Tensor] = []
        self.node_names: dict[int, str] = {}
        out_t = self.node_tensor.get(id(self.output.grad_fn))
        root_name = self.named.get(id(out_t), (None,))[0] if out_t is not None else None
        if root_name is None:
            root_name = "L" if "L" not in taken else fresh("t")
            taken.add(root_name)
        for fn in self.forward:
            for nxt in fn.next_functions:
                if isinstance(nxt, Tensor) and id(nxt) not in self.leaf_names:
                    self.leaves.append(nxt)
                    self.leaf_names[id(nxt)] = self.named[id(nxt)][0] if id(nxt) in self.named else fresh("v")
            if fn is self.output.grad_fn:
                self.node_names[id(fn)] = root_name
            else:
                tt = self.node_tensor.get(id(fn))
                self.node_names[id(fn)] = (
                    self.named[id(tt)][0] if tt is not None and id(tt) in self.named else fresh("t")
                )
        self.const_names: dict[tuple[int, int], str] = {}
        for fn in self.forward:
            entry = self.record.get(id(fn))
            for i, nxt in enumerate(fn.next_functions):
                if nxt is not None:
                    continue
                src = self._saved_input(fn, i, entry)
                if src is not None and id(src) in self.named:
                    self.const_names[(id(fn), i)] = self.named[id(src)][0]
                elif src is not None and src._data.ndim == 0:
                    self.const_names[(id(fn), i)] = factor(float(src._data), self.digits)
                else:
                    self.const_names[(id(fn), i)] = fresh("c")
        self.root_name = root_name

    @staticmethod
    def _saved_input(fn: Function, i: int, entry) -> Tensor | None:
        if entry is not None and i < len(entry[1]):
            return entry[1][i]
        saved = fn.__dict__.get("inputs")
        return saved[i] if saved and i < len(saved) else None

    # ---- values -----------------------------------------------------------------------------
    def _node_value(self, fn: Function) -> np.ndarray | None:
        entry = self.record.get(id(fn))
        if entry is not None:
            return entry[3]._data
        tt = self.node_tensor.get(id(fn))
        if tt is not None:
            return tt._data
        if fn.__dict__.get("output") is not None:
            return fn.output._data
        ret = fn.__dict__.get("_retain")
        r = ret() if ret is not None else None
        if r is not None:
            return r._data
        for c in self.nodes:
            saved = c.__dict__.get("inputs")
            if saved:
                for nxt, s in zip(c.next_functions, saved):
                    if nxt is fn:
                        return s._data
        return None

    def _out_shape(self, fn: Function) -> tuple[int, ...]:
        if fn is self.output.grad_fn:
            return tuple(self.output._data.shape)
        for c in self.nodes:
            for nxt, s in zip(c.next_functions, c.input_shapes):
                if nxt is fn:
                    return tuple(s)
        return ()

    def _values(self) -> None:
        self.values: dict[int, np.ndarray | None] = {}  # id(node or leaf) -> value
        self.dtypes: set = set()
        for leaf in self.leaves:
            self.values[id(leaf)] = _f64(leaf._data)
            self.dtypes.add(leaf._data.dtype)
        self.calls: dict[int, rules.Call] = {}
        for fn in self.forward:
            raw = self._node_value(fn)
            if raw is not None:
                self.dtypes.add(raw.dtype)
            call = self._call(fn, None if raw is None else _f64(raw))
            if call.out.value is None:
                v = rules.forward_value(call)
                call.out.value = v
            self.values[id(fn)] = call.out.value
            self.calls[id(fn)] = call

    def _call(self, fn: Function, value: np.ndarray | None) -> rules.Call:
        entry = self.record.get(id(fn))
        params = dict(entry[2]) if entry is not None else {}
        for k in _PARAMS:
            if k in fn.__dict__ and k not in params:
                params[k] = fn.__dict__[k]
        if "dim" in params and isinstance(params["dim"], tuple | list) and len(params["dim"]) == 1:
            params["dim"] = params["dim"][0]
        ins = []
        for i, nxt in enumerate(fn.next_functions):
            shp = tuple(fn.input_shapes[i])
            if nxt is None:
                src = self._saved_input(fn, i, entry)
                ins.append(
                    rules.Operand(self.const_names[(id(fn), i)], None if src is None else _f64(src._data), shp, True)
                )
            elif isinstance(nxt, Tensor):
                ins.append(rules.Operand(self.leaf_names[id(nxt)], self.values[id(nxt)], shp))
            else:
                ins.append(rules.Operand(self.node_names[id(nxt)], self.values.get(id(nxt)), shp))
        saved = fn.__dict__.get("inputs")  # what backward uses: prefer it to values found elsewhere
        if saved:
            for op, s in zip(ins, saved):
                if s is not None and op.value is None:
                    op.value = _f64(s._data)
        out = rules.Operand(self.node_names[id(fn)], value, self._out_shape(fn) if value is None else value.shape)
        return rules.Call(type(fn).__name__, type(fn).math, ins, out, params)

    # ---- autograd's numbers -----------------------------------------------------------------
    def autograd(self, inputs: list[Tensor]) -> tuple[dict[int, np.ndarray], list[np.ndarray | None]]:
        proxies = []
        for fn in self.nodes:
            p = Tensor._wrap(np.empty(0))
            p.grad_fn = fn
            proxies.append(p)
        ones = Tensor._wrap(np.ones_like(self.output._data))
        res = run_backward([self.output], [ones], retain_graph=True, create_graph=False, capture=proxies + inputs)
        nodes = {id(fn): _f64(r._data) for fn, r in zip(self.nodes, res) if r is not None}
        return nodes, [None if r is None else _f64(r._data) for r in res[len(proxies) :]]


def _sum_to(v: np.ndarray, shp: tuple[int, ...]) -> np.ndarray:
    lead = v.ndim - len(shp)
    if lead > 0:
        v = v.sum(axis=tuple(range(lead)))
    keep = tuple(i for i, n in enumerate(shp) if n == 1 and v.shape[i] != 1)
    return v.sum(axis=keep, keepdims=True) if keep else v


def explain_backward(
    output: Tensor,
    inputs: Sequence[Tensor] | None = None,
    names: Mapping[str, Any] | nn.Module | None = None,
    fmt: str = "text",
    *,
    recording: Recording | None = None,
    title: str | None = None,
    digits: int = 6,
    full: int = 12,
) -> BackwardExplanation:
    """The worked backward pass of the scalar ``output``: forward values, then for every op from
    the output down its upstream gradient, local derivative rule, the numbers put in and the
    product (sums over a tensor's uses written as sums), and each input's gradient, checked
    against autograd (a mismatch raises :class:`ExplanationMismatchError`).

    ``inputs``: the tensors whose gradients end the solution (default: every leaf that needs
    one). ``names``: ``{"x": x, ...}`` (tensors, or modules whose parameters are named by path),
    or a module; other tensors are numbered (t1, t2 intermediates, v1 leaves, c1 constants; the
    output is L). ``fmt``: "text", "markdown" or "latex" (what ``str()`` gives; Jupyter shows
    Markdown). Arrays of at most ``full`` elements are written in full, larger ones by shape
    and norm; numbers with ``digits`` significant digits. The graph must not have been freed
    (explain before ``backward()``, or use ``retain_graph=True``).
    """
    if not isinstance(output, Tensor):
        raise TypeError(f"explain_backward: output must be a Tensor, got {type(output).__name__}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be 'text', 'markdown' or 'latex', got {fmt!r}")
    if output._data.size != 1:
        raise ValueError(
            f"explain_backward: the output must be a scalar (one element), got shape {tuple(output._data.shape)}; "
            "reduce it first (e.g. .sum())"
        )
    if output.grad_fn is None:
        raise ValueError(
            "explain_backward: the output was not computed from tensors that require grad: no graph to explain"
        )
    w = _Walk(output, names, recording, digits, full)
    root = w.root_name
    if inputs is None:
        inputs = list(w.leaves)
    else:
        inputs = list(inputs)
        for x in inputs:
            if not isinstance(x, Tensor):
                raise TypeError(f"explain_backward: inputs must be Tensors, got {type(x).__name__}")
    ref_nodes, ref_inputs = w.autograd(inputs)
    tol = _tolerance(*w.dtypes)
    a = lambda v: arr(v, digits, full)
    doc = Doc(title or f"Worked backward pass of {root}")
    values = _forward_section(doc, w, a, digits, full)
    contrib, gradients, by_autograd = _backward_section(doc, w, root, a, ref_nodes, tol, digits, full)
    in_names = _inputs_section(
        doc, w, root, a, inputs, ref_inputs, ref_nodes, contrib, gradients, by_autograd, tol, names
    )
    return BackwardExplanation(
        doc, fmt, values=values, gradients=gradients, autograd=by_autograd, output=root, inputs=in_names
    )


def _forward_section(doc: Doc, w: _Walk, a, digits: int, full: int) -> dict[str, np.ndarray]:
    """Each leaf's and constant's value, then each op's formula, numbers and value, inputs first."""
    values: dict[str, np.ndarray] = {}
    sec = doc.section("Forward pass (inputs to output)")
    for leaf in w.leaves:
        nm = w.leaf_names[id(leaf)]
        values[nm] = w.values[id(leaf)]
        shown = _shape_note(leaf._data.shape) if leaf._data.size <= full else []
        sec.add(m(f"{nm} = {a(w.values[id(leaf)])}"), *shown)
    for fn in w.forward:
        for i, nxt in enumerate(fn.next_functions):
            op = w.calls[id(fn)].ins[i]
            if nxt is None and not _is_number(op.name) and op.name not in values:
                values[op.name] = op.value
                if op.value is None:
                    sec.add(m(op.name), t(f": a constant of shape {shape(op.shape)}, not kept by the graph"))
                else:
                    sec.add(m(f"{op.name} = {a(op.value)}"), t("   (a constant)"))
    for fn in w.forward:
        call = w.calls[id(fn)]
        sec.add(*_forward_line(call, a, digits))
        if call.out.value is not None:
            values[call.out.name] = call.out.value
    return values


def _backward_section(doc: Doc, w: _Walk, root: str, a, ref_nodes, tol, digits: int, full: int):
    """Per op from the output down: its upstream gradient (checked against autograd's), then per
    input the chain rule with the numbers. Returns each tensor's shares, the gradients by name and
    autograd's by name."""
    output = w.output
    sec = doc.section(f"Backward pass (output to inputs): d{root}/d(input) = d{root}/d(output) x local derivative")
    contrib: dict[int, list[tuple[str, np.ndarray]]] = {id(output.grad_fn): [("", np.ones(output._data.shape))]}
    gradients: dict[str, np.ndarray] = {}
    autograd_by_name: dict[str, np.ndarray] = {}
    for fn in w.nodes:
        call = w.calls[id(fn)]
        nm = call.out.name
        parts = contrib.get(id(fn), [])
        g = sum(v for _, v in parts) if parts else np.zeros(call.out.shape)
        g = np.asarray(g, dtype=np.float64)
        sec.add(m(f"{nm} = {rules.forward_formula(call, notes=False)}"), t(f"   ({call.op})"))
        if fn is output.grad_fn:
            sec.add(m(f"D{{{root}|{root}}} = 1"), t("   (the output)"), level=1)
        else:
            sec.add(*_sum_line(root, nm, parts, g, a), level=1)
        ref = ref_nodes.get(id(fn))
        if ref is not None:
            _check(g, ref.reshape(g.shape) if ref.size == g.size else ref, f"d{root}/d{nm}", tol)
            autograd_by_name[nm] = ref
        gradients[nm] = g
        fallback = None
        slots = [id(nxt) for nxt in fn.next_functions if nxt is not None]
        for i, nxt in enumerate(fn.next_functions):
            if nxt is None:
                continue
            x = call.ins[i]
            letter = _letter(call, i) if slots.count(id(nxt)) > 1 else ""
            up = f"D{{{root}|{nm}}}"
            term = rules.vjp(call, i, g, up, digits, full)
            if term is None:
                if fallback is None:
                    fallback = _run_backward_of(fn, g, call)
                v = fallback[i]
                term = rules.Term(
                    rules.fallback_text(call, i, f"d{root}/d{nm}"), v, None, f"T{{(by {call.op}'s backward)}}"
                )
            v = np.asarray(term.value, dtype=np.float64)
            red = None
            if v.shape != x.shape:
                red = f"T{{summed over the broadcast dims:}} {shape(v.shape)} -> {shape(x.shape)}"
                v = _sum_to(v, x.shape)
            pieces = [m(f"D{{{root}|{x.name}}} = ")]
            if term.chain:
                pieces.append(m(term.chain + " = "))
            pieces.append(m(term.sym))
            if term.note:
                pieces += [t("   "), m(term.note)]
            if term.elementwise and v.size > 1:
                pieces.append(t("   (element-wise)"))
            if term.numbers:
                pieces.append(m(f" = {term.numbers}"))
            if red:
                pieces += [t(", "), m(red)]
            pieces.append(m(f" = {a(v)}"))
            if letter:
                pieces.append(t(f"   (through {letter}: {x.name} is used twice by {nm})"))
            sec.add(*pieces, level=1)
            key = id(nxt)
            contrib.setdefault(key, []).append((f"{nm} as {letter}" if letter else nm, v))
    return contrib, gradients, autograd_by_name


def _inputs_section(doc, w, root, a, inputs, ref_inputs, ref_nodes, contrib, gradients, autograd_by_name, tol, names):
    """Each input's gradient (a sum over its uses), checked against autograd's. Returns their names."""
    sec = doc.section(f"Gradients of the inputs (each equal to autograd's d{root}/d(input))")
    in_names = []
    for x, ref in zip(inputs, ref_inputs):
        key = id(x.grad_fn) if x.grad_fn is not None else id(x)
        nm = w.leaf_names.get(id(x)) or w.node_names.get(key) or _name_map(names).get(id(x), ("?",))[0]
        in_names.append(nm)
        parts = contrib.get(key, [])
        if x.grad_fn is not None and key in ref_nodes:
            g = gradients[nm]
        else:
            g = np.asarray(sum(v for _, v in parts), dtype=np.float64) if parts else np.zeros(x._data.shape)
        if not parts:
            sec.add(m(f"D{{{root}|{nm}}} = 0"), t(f"   ({nm} does not reach {root})"))
        else:
            sec.add(*_sum_line(root, nm, parts, g, a))
        if ref is not None:
            _check(g, ref, f"d{root}/d{nm}", tol)
            autograd_by_name[nm] = ref
        elif parts:
            raise ExplanationMismatchError(f"explain_backward: autograd gives no gradient for {nm}; the solution does")
        gradients[nm] = g
    return in_names


def _shape_note(shp) -> list:
    return [t(f"   (shape {shape(shp)})")] if len(shp) >= 1 else []


def _forward_line(call: rules.Call, a, digits: int) -> list:
    lhs = f"{call.out.name} = {rules.forward_formula(call)}"
    pieces = [m(lhs)]
    ins = call.ins
    if call.op in ("Linear", "Matmul"):
        sh = [shape(o.shape) for o in ins]
        note = (
            f"{sh[0]} {sh[1]}^T" + (f" + {sh[2]}" if len(sh) > 2 else "") if call.op == "Linear" else f"{sh[0]} {sh[1]}"
        )
        pieces += [t("   "), m(f"{note} -> {shape(call.out.shape)}")]
    elif (
        call.op in rules.ELEMENTWISE
        and all(o.value is not None and o.value.size == 1 for o in ins)
        and any(not o.const for o in ins)
    ):
        vals = [factor(float(o.value), digits) for o in ins]
        put = rules.ELEMENTWISE[call.op].forward.format(*vals, p=num(call.params.get("p", 0)))
        if call.out.value is None or put != a(call.out.value):
            pieces.append(m(" = " + put))
    if call.out.value is None:
        pieces.append(t("   (value not kept by the graph)"))
    else:
        pieces.append(m(f" = {a(call.out.value)}"))
    return pieces


def _sum_line(out: str, nm: str, parts: list[tuple[str, np.ndarray]], g: np.ndarray, a) -> list:
    if len(parts) <= 1:
        return [m(f"D{{{out}|{nm}}} = {a(g)}")] + ([t(f"   (from {parts[0][0]})")] if parts and parts[0][0] else [])
    terms = " + ".join(a(v) if i == 0 else _plus(a(v)) for i, (_, v) in enumerate(parts))
    uses = ", ".join(src for src, _ in parts)
    return [m(f"D{{{out}|{nm}}} = {terms} = {a(g)}"), t(f"   (sum over its {len(parts)} uses: {uses})")]


def _letter(call: rules.Call, i: int) -> str:
    letters = call.math.inputs if call.math is not None else ()
    return letters[i] if i < len(letters) else f"input {i + 1}"


def _is_number(s: str) -> bool:
    try:
        float(s.strip("()"))
    except ValueError:
        return False
    return True


def _plus(s: str) -> str:
    return f"({s})" if s.startswith("-") else s


def _run_backward_of(fn: Function, g: np.ndarray, call: rules.Call) -> list[np.ndarray | None]:
    """The op's own backward on g (for ops without a rule in explain_rules), summed to input shapes."""
    dt = next((o.value.dtype for o in call.ins if o.value is not None), np.float64)
    with no_grad():
        res = fn.backward(Tensor._wrap(np.asarray(g, dtype=np.result_type(dt, np.float32))))
    if not isinstance(res, tuple):
        res = (res,)
    return [None if r is None else _f64(r._data) for r in res]
