"""A model's module-level forward graph: one node per module (collapsed to a depth) and per
functional op between modules, the shapes on the edges, containers drawn as clusters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradbox as gb
from gradbox import nn
from gradbox.inspect.graph import Edge, Graph, Node
from gradbox.inspect.summary import make_inputs, run_trace
from gradbox.inspect.table import shape_text


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape) if shape else "scalar"


def _geometry(m: nn.Module) -> str:
    """' 3x3/2' for a window layer's kernel and stride (nothing for other layers)."""
    k, s = getattr(m, "kernel_size", None), getattr(m, "stride", None)
    if k is None:
        return ""
    k = (k,) * 2 if isinstance(k, int) else tuple(k)
    s = (s,) * len(k) if isinstance(s, int) else tuple(s or k)
    return f" {'x'.join(map(str, k))}" + (
        f"/{'x'.join(map(str, s)) if len(set(s)) > 1 else s[0]}" if any(v != 1 for v in s) else ""
    )


def module_graph(
    model: nn.Module,
    input_size: Sequence[int] | None = None,
    input_data: Any = None,
    depth: int | None = None,
    dtype: Any = None,
) -> Graph:
    """Trace one forward pass (zeros of ``input_size`` or ``input_data``) and draw it: modules at
    ``depth`` (and leaves above it) are nodes, containers above ``depth`` are clusters, functional
    ops run by a container's own forward (``+``, ``cat``, ``flatten``) are nodes too."""
    inputs = make_inputs(input_size, input_data, dtype or gb.float32)
    mods = dict(model.named_modules())
    leaf = {n: not any(True for _ in m.children()) for n, m in mods.items()}

    def level(name: str) -> int:
        return name.count(".") + 1

    def display(name: str) -> bool:
        if name == "":
            return leaf[""]
        return level(name) == depth or (leaf[name] and (depth is None or level(name) < depth))

    tr, _ = run_trace(model, inputs, "eval", display)
    shapes = ", ".join(shape_text(t._data.shape) for t in inputs)
    g = Graph(title=f"{type(model).__name__}, input {shapes}" + (f", depth {depth}" if depth else ""))
    for nid, (kind, label, container) in tr.nodes.items():
        if kind == "module":
            name = nid[2:].partition("#")[0]
            n_params = sum(p.numel() for p in mods[name].parameters())
            label += _geometry(mods[name]) + (f"\n{n_params:,} params" if n_params else "")
            cluster = name.rpartition(".")[0]
        elif kind == "op":
            label = f"{label.lower()}()"
            cluster = container
        else:
            cluster = ""
        g.nodes.append(Node(nid, label, kind, cluster))
    used = set()
    for n in g.nodes:
        c = n.cluster
        while c:
            used.add(c)
            c = c.rpartition(".")[0]
    g.clusters = {c: f"{c} ({tr.records[c].type})" for c in sorted(used, key=lambda c: list(mods).index(c))}
    g.edges = [Edge(a, b, _dims(s)) for a, b, s in tr.edges]
    return g
