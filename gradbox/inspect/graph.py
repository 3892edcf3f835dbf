"""A graph to draw: nodes, edges and nested clusters, written as DOT and rendered to SVG or PNG."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from gradbox.inspect import render as _render

STYLE = {
    "op": 'shape=box, style="rounded,filled", fillcolor="#fff3c4", fontname="Helvetica", fontsize=11',
    "tensor": 'shape=box, style=filled, fillcolor="#dcebfa", fontname="Helvetica", fontsize=11',
    "leaf": 'shape=box, style=filled, fillcolor="#c9e8c9", fontname="Helvetica", fontsize=11',
    "const": 'shape=box, style="dashed", fontname="Helvetica", fontsize=11',
    "module": 'shape=box, style="rounded,filled", fillcolor="#dcebfa", fontname="Helvetica", fontsize=11',
    "input": 'shape=oval, style=filled, fillcolor="#c9e8c9", fontname="Helvetica", fontsize=11',
    "output": 'shape=oval, style=filled, fillcolor="#f6d0d0", fontname="Helvetica", fontsize=11',
}


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass
class Node:
    id: str
    label: str
    kind: str  # op, tensor, leaf, const, module, input, output
    cluster: str = ""


@dataclass
class Edge:
    src: str
    dst: str
    label: str = ""


@dataclass
class Graph:
    """Nodes, edges and nested clusters; ``source`` is the DOT text, ``to_svg()``/``to_png()``
    render it (``gradbox.inspect.render``), ``save(path)`` writes by suffix (.dot, .svg, .png).
    In Jupyter it shows as SVG (or as DOT text with the reason when no renderer is found)."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    clusters: dict[str, str] = field(default_factory=dict)  # path -> label; "a.b" nests in "a"
    rankdir: str = "TB"
    title: str = ""

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    @property
    def source(self) -> str:
        return self.to_dot()

    def to_dot(self) -> str:
        lines = [
            "digraph G {",
            f"  rankdir={self.rankdir};",
            '  graph [fontname="Helvetica"];',
            '  node [fontname="Helvetica"];',
            '  edge [fontname="Helvetica", fontsize=10];',
        ]
        if self.title:
            lines.append(f"  label={_quote(self.title)}; labelloc=t;")
        by_cluster: dict[str, list[Node]] = {}
        for n in self.nodes:
            by_cluster.setdefault(n.cluster if n.cluster in self.clusters else "", []).append(n)

        def parent(c: str) -> str:
            while "." in c:
                c = c.rpartition(".")[0]
                if c in self.clusters:
                    return c
            return ""

        def emit(path: str, indent: str) -> None:
            for n in by_cluster.get(path, []):
                lines.append(f"{indent}{_quote(n.id)} [label={_quote(n.label)}, {STYLE[n.kind]}];")
            kids = [c for c in self.clusters if parent(c) == path]
            for c in kids:
                lines.append(f"{indent}subgraph {_quote('cluster_' + c)} {{")
                lines.append(
                    f'{indent}  label={_quote(self.clusters[c])}; style="rounded,dashed"; color="#888888"; fontsize=10;'
                )
                emit(c, indent + "  ")
                lines.append(f"{indent}}}")

        emit("", "  ")
        for e in self.edges:
            attr = f" [label={_quote(e.label)}]" if e.label else ""
            lines.append(f"  {_quote(e.src)} -> {_quote(e.dst)}{attr};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_svg(self) -> str:
        return _render.render(self.to_dot(), "svg").decode()

    def to_png(self) -> bytes:
        return _render.render(self.to_dot(), "png")

    def save(self, path: str | Path) -> Path:
        """Write the graph as .dot/.gv text, .svg or .png; when no renderer is found, write the
        DOT text next to ``path`` (suffix .dot), warn with the reason, and return that path."""
        path = Path(path)
        fmt = path.suffix.lower().lstrip(".")
        if fmt in ("dot", "gv"):
            path.write_text(self.to_dot())
            return path
        if fmt not in ("svg", "png"):
            raise ValueError(f"save: unknown format {path.suffix!r}; use .dot, .gv, .svg or .png")
        try:
            data = _render.render(self.to_dot(), fmt)
        except _render.RenderUnavailableError as e:
            alt = path.with_suffix(".dot")
            alt.write_text(self.to_dot())
            warnings.warn(f"{e}; wrote the DOT text to {alt} instead of {path}", RuntimeWarning, stacklevel=2)
            return alt
        path.write_bytes(data)
        return path

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        try:
            return {"image/svg+xml": self.to_svg(), "text/plain": repr(self)}
        except _render.RenderUnavailableError as e:
            return {"text/plain": f"{e}\n\n{self.to_dot()}"}

    def __repr__(self) -> str:
        return f"<Graph: {len(self.nodes)} nodes, {len(self.edges)} edges; .source for DOT, .save('g.svg') to render>"
