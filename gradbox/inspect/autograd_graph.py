"""The autograd graph of a result, with values and gradients, and ``draw_graph``.

``draw_graph(output)`` walks the autograd graph that produced ``output``: one node per op
(labelled with its name, its forward and its local derivative rule, from the op's ``math``)
and one per tensor (its name, shape, value when small, gradient once computed). Tensors are
named by ``params`` (a dict, or a module whose parameters are named by their path), or
numbered in the order they were computed. Constants that fed an op without needing a gradient
are drawn too, dashed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gradbox import nn
from gradbox.autograd.engine import topological_order
from gradbox.autograd.function import Function
from gradbox.inspect.graph import Edge, Graph, Node
from gradbox.inspect.module_graph import module_graph
from gradbox.tensor import Tensor


def _number(v: float) -> str:
    return f"{float(v):.4g}"


def tensor_text(t: Tensor | None, shape, show_values: bool, show_grads: bool, small: int = 6) -> list[str]:
    """Shape, value (if at most ``small`` elements) and gradient lines of a tensor's label."""
    lines = [f"shape {tuple(int(s) for s in shape)}"]
    if t is None:
        return lines
    a = t._data
    if show_values and a.size <= small and a.dtype.kind in "fiub":
        lines.append("value " + (_number(a.item()) if a.ndim == 0 else np.array2string(a, precision=4, separator=", ")))
    g = t.grad if show_grads and t.requires_grad else None
    if g is not None and g._data.size <= small:
        ga = g._data
        lines.append(
            "grad " + (_number(ga.item()) if ga.ndim == 0 else np.array2string(ga, precision=4, separator=", "))
        )
    elif g is not None:
        lines.append(f"grad: |g| = {_number(np.linalg.norm(g._data))}")
    return lines


def op_text(fn: Function, width: int = 60) -> list[str]:
    """An op node's label: its name, its forward and its local derivative rule (OpMath)."""
    math = type(fn).math
    name = type(fn).__name__
    if math is None:
        return [name]
    lines = [name, math.forward]
    if math.local:
        lines.append(",  ".join(f"dy/d{n} = {loc}" for n, loc in zip(math.inputs, math.local) if loc))
    elif math.grads is not None:
        lines += [f"dL/d{n} = {g}" for n, g in zip(math.inputs, math.grads)]
    return [ln if len(ln) <= width else ln[: width - 3] + "..." for ln in lines]


def _names(params) -> dict[int, str]:
    if params is None:
        return {}
    if isinstance(params, nn.Module):
        params = dict(params.named_parameters())
    if not isinstance(params, Mapping):
        raise TypeError("params must be a dict of name -> Tensor or a Module")
    return {id(t): name for name, t in params.items()}


def autograd_graph(
    output: Tensor | Sequence[Tensor], params=None, show_values: bool = True, show_grads: bool = True
) -> Graph:
    """The graph that produced ``output``: ops and tensors, inputs before the ops they feed."""
    outs = [output] if isinstance(output, Tensor) else list(output)
    names = _names(params)
    known: dict[int, Tensor] = {}  # id(node) -> its output tensor
    named = {id(t): t for t in outs}
    if params is not None:
        items = params.named_parameters() if isinstance(params, nn.Module) else params.items()
        named.update({id(t): t for _, t in items})
    for t in named.values():
        if t.grad_fn is not None:
            known[id(t.grad_fn)] = t
    roots = [t.grad_fn for t in outs if t.grad_fn is not None]
    order = topological_order(roots)
    for fn in order:  # tensors reachable from the nodes themselves
        ret = fn.__dict__.get("_retain")
        r = ret() if ret is not None else None
        if r is not None:
            known.setdefault(id(fn), r)
        if fn.__dict__.get("output") is not None:
            known.setdefault(id(fn), fn.output)
        saved = fn.__dict__.get("inputs")
        if saved:
            for nxt, t in zip(fn.next_functions, saved):
                if nxt is not None and not isinstance(nxt, Tensor):
                    known.setdefault(id(nxt), t)
    forward = sorted(order, key=lambda f: f.seq)
    g = Graph()
    op_id = {id(f): f"op{i + 1}" for i, f in enumerate(forward)}
    out_id: dict[int, str] = {}
    leaf_id: dict[int, str] = {}
    unnamed = 0

    def label(t: Tensor | None, shape, default: str) -> str:
        nm = names.get(id(t), default) if t is not None else default
        return "\n".join([nm, *tensor_text(t, shape, show_values, show_grads)])

    for f in forward:
        for nxt in f.next_functions:
            if isinstance(nxt, Tensor) and id(nxt) not in leaf_id:
                leaf_id[id(nxt)] = f"leaf{len(leaf_id) + 1}"
                g.nodes.append(Node(leaf_id[id(nxt)], label(nxt, nxt._data.shape, f"leaf {len(leaf_id)}"), "leaf"))
        g.nodes.append(Node(op_id[id(f)], "\n".join(op_text(f)), "op"))
        t = known.get(id(f))
        shape = t._data.shape if t is not None else _out_shape(f, order)
        tid = f"t{len(out_id) + 1}"
        out_id[id(f)] = tid
        if t is None or id(t) not in names:
            unnamed += 1
        g.nodes.append(Node(tid, label(t, shape, f"t{unnamed}"), "tensor"))
        g.edges.append(Edge(op_id[id(f)], tid))
    consts = 0
    for f in forward:
        saved = f.__dict__.get("inputs")
        for i, nxt in enumerate(f.next_functions):
            if nxt is None:
                consts += 1
                t = saved[i] if saved and i < len(saved) else None
                cid = f"c{consts}"
                g.nodes.append(Node(cid, label(t, f.input_shapes[i], "constant"), "const"))
                g.edges.append(Edge(cid, op_id[id(f)], _input_name(f, i)))
            else:
                src = leaf_id[id(nxt)] if isinstance(nxt, Tensor) else out_id[id(nxt)]
                g.edges.append(Edge(src, op_id[id(f)], _input_name(f, i)))
    for t in outs:
        if t.grad_fn is None and id(t) not in leaf_id:
            g.nodes.append(Node(f"leaf{len(leaf_id) + 1}", label(t, t._data.shape, "output"), "leaf"))
            leaf_id[id(t)] = g.nodes[-1].id
    return g


def _input_name(fn: Function, i: int) -> str:
    math = type(fn).math
    if math is None or len(fn.next_functions) < 2:
        return ""
    return math.inputs[i] if i < len(math.inputs) else ""


def _out_shape(fn: Function, order: list[Function]) -> tuple[int, ...]:
    """A node's output shape when its tensor is gone: as a consumer recorded its input."""
    for c in order:
        for nxt, shape in zip(c.next_functions, c.input_shapes):
            if nxt is fn:
                return tuple(shape)
    return ()


def draw_graph(
    output: Tensor | Sequence[Tensor] | None = None,
    params: Mapping[str, Tensor] | nn.Module | None = None,
    show_values: bool = True,
    show_grads: bool = True,
    *,
    model: nn.Module | None = None,
    input_size: Sequence[int] | None = None,
    input_data: Any = None,
    depth: int | None = None,
    dtype: Any = None,
) -> Graph:
    """``draw_graph(output, params)``: the autograd graph that produced ``output``, one node per op
    (its local derivative rule) and per tensor (name, shape, value when small, gradient once
    computed). ``draw_graph(model=..., input_size=...)``: the module-level forward graph of a
    model, one node per module (collapsed to ``depth``) and per functional op, shapes on edges."""
    if model is not None:
        return module_graph(model, input_size, input_data, depth, dtype)
    if output is None:
        raise ValueError("draw_graph needs an output tensor, or model= and input_size=")
    return autograd_graph(output, params, show_values, show_grads)
