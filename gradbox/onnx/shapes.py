"""Which dims are dynamic, found by tracing twice.

The export records the forward once on the given inputs and once more on inputs whose values
are changed and whose dynamic axes are longer (symbol k by k + 1 entries). The two recordings
must be the same sequence of ops; then

* a dim that differs between them follows the symbol whose sizes it shows (a dynamic dim), or
  a multiple of it (a batch of sequences flattened for a linear layer: ``"7*n"``);
* a parameter that differs (a reshape target, an index) depends on the batch size or on the
  input values: the op's mapping must handle it (a reshape's batch entry) or export fails;
* a constant that differs was computed from the input outside gradbox's ops (a comparison,
  ``.item()``, ``.numpy()``): the graph would freeze it, so export fails naming where.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradbox.onnx.trace import ExportError, Node, Recording


def same(a: Any, b: Any, link_a: dict[int, int], link_b: dict[int, int]) -> bool:
    """Equality of op parameters; arrays that are the data of recorded values compare by value index."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        if id(a) in link_a or id(b) in link_b:
            return link_a.get(id(a), -1) == link_b.get(id(b), -2)
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, tuple | list):
        return (
            isinstance(b, tuple | list) and len(a) == len(b) and all(same(x, y, link_a, link_b) for x, y in zip(a, b))
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k], link_a, link_b) for k in a)
    if isinstance(a, slice):
        return isinstance(b, slice) and same((a.start, a.stop, a.step), (b.start, b.stop, b.step), link_a, link_b)
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b


def _where(node: Node) -> str:
    return f"module {node.module or '(the model)'!r} of type {node.module_type}"


def _user(rec: Recording, v: int) -> str:
    for node in rec.nodes:
        if v in node.inputs:
            return f"op {node.op} in {_where(node)}"
    return "a model output"


def align(
    r0: Recording, r1: Recording, sizes: dict[str, tuple[int, int]]
) -> tuple[list[dict[int, str]], list[set[str]]]:
    """Per value, its dynamic dims (axis -> symbol); per node, the names of the params that differ."""
    for i, (a, b) in enumerate(zip(r0.nodes, r1.nodes)):
        if a.op != b.op or a.inputs != b.inputs or a.module != b.module:
            raise ExportError(
                f"the forward takes another path for other input values or sizes: op {i} is {a.op} in {_where(a)}, "
                f"then {b.op} in {_where(b)}; export records one path (control flow that depends on the "
                "input's values or batch size cannot be exported)"
            )
    if len(r0.nodes) != len(r1.nodes) or len(r0.values) != len(r1.values) or r0.outputs != r1.outputs:
        raise ExportError(
            f"the forward applies {len(r0.nodes)} ops on the given input and {len(r1.nodes)} on another input of "
            "other values or batch size; control flow that depends on the input cannot be exported"
        )
    dyn: list[dict[int, str]] = []
    for v, (a, b) in enumerate(zip(r0.values, r1.values)):
        if a.kind == "const":
            if a.shape != b.shape or not same(a.data, b.data, {}, {}):
                what = "its shape follows the batch size" if a.shape != b.shape else "its values follow the input"
                raise ExportError(
                    f"a constant of shape {a.shape} made inside the forward and used by {_user(r0, v)} depends on "
                    f"the input ({what}): it was computed outside gradbox's ops (e.g. with a comparison, .item(), "
                    ".numpy() or a new tensor sized from x.shape), and the graph would freeze it"
                )
            dyn.append({})
            continue
        d: dict[int, str] = {}
        for axis, (s0, s1) in enumerate(zip(a.shape, b.shape)):
            if s0 == s1:
                continue
            sym = _symbol(s0, s1, sizes)
            if sym is None:
                node = r0.nodes[a.node] if a.kind == "op" else None
                where = f"the output of op {node.op} in {_where(node)}" if node else "a value"
                raise ExportError(
                    f"dim {axis} of {where} goes from {s0} to {s1} when the dynamic axes grow "
                    f"({', '.join(f'{k}: {t0} -> {t1}' for k, (t0, t1) in sizes.items())}): it is not a dynamic axis "
                    "or a multiple of one (e.g. batch * time), which ONNX export does not support"
                )
            d[axis] = sym
        dyn.append(d)
    changed = [
        {k for k in a.params if k not in b.params or not same(a.params[k], b.params[k], a.linked, b.linked)}
        for a, b in zip(r0.nodes, r1.nodes)
    ]
    return dyn, changed


def _symbol(s0: int, s1: int, sizes: dict[str, tuple[int, int]]) -> str | None:
    """The dynamic axis (``"n"``) or multiple of one (``"7*n"``) that a dim of sizes s0, s1 follows."""
    for name, (t0, t1) in sizes.items():
        if (s1 - s0) % (t1 - t0) == 0:
            k = (s1 - s0) // (t1 - t0)
            if k > 0 and s0 == k * t0:
                return name if k == 1 else f"{k}*{name}"
    return None


PERTURBATIONS = 3


def perturb(a: np.ndarray, level: int = 0) -> np.ndarray:
    """Other values of the same kind. Level 0: floats negated, scaled and shifted (signs,
    comparisons and extremes change), ints shifted within their range; level 1, for a forward
    that refuses those (probabilities, variances): the values of each last-axis row reversed,
    which keeps every elementwise range; level 2: unchanged."""
    if level == 1 and a.ndim:
        return a[..., ::-1].copy()
    if level >= 1:
        return a.copy()
    if a.dtype.kind == "f":
        return (a * -1.5 + 0.25).astype(a.dtype)
    if a.dtype.kind in "iu" and a.size:
        lo, hi = int(a.min()), int(a.max())
        return (lo + (a - lo + 1) % (hi - lo + 1)).astype(a.dtype) if hi > lo else a.copy()
    return a.copy()


def grow(a: np.ndarray, axes: dict[int, int]) -> np.ndarray:
    """``a`` with ``extra`` more entries along each given axis (copies of its first entries)."""
    for axis, extra in axes.items():
        n = a.shape[axis]
        idx = np.concatenate([np.arange(n), np.arange(extra) % max(n, 1)])
        a = np.take(a, idx, axis=axis)
    return a
