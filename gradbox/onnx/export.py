"""``gb.onnx.export``: trace a model's forward and write it as an ONNX graph.

The steps: record the forward twice (``trace.py``; the second time on other values with
longer dynamic axes), compare the recordings (``shapes.py``) to learn the dynamic dims, then
map each recorded op to ONNX nodes (``ops.py``, ``modules.py``) with the ``onnx`` package's
helpers, check the model with ``onnx.checker`` and write it atomically.

Parameters and buffers become initializers under their ``state_dict`` names; an op whose
inputs are all constants (a buffer reshaped for broadcasting) is folded into one constant,
using the value the recording computed.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from gradbox import __version__
from gradbox.interop.extras import require
from gradbox.nn import Module
from gradbox.onnx import ops as op_maps
from gradbox.onnx import ops_math  # noqa: F401 - registers the math ops' mappings in op_maps.OP_MAPPINGS
from gradbox.onnx.functions import FUNCTION_MAPPINGS
from gradbox.onnx.graph import Ctx, Graph
from gradbox.onnx.modules import MODULE_MAPPINGS
from gradbox.onnx.shapes import PERTURBATIONS, align, grow, perturb
from gradbox.onnx.trace import ExportError, ForwardError, Node, Recording, record
from gradbox.tensor import Tensor

MIN_OPSET = 13
FOLD_LIMIT = 1 << 16  # fold an all-constant op when its result has at most this many elements (or shrinks)


class Exporter:
    """Turns one recording (plus the dynamic dims found by ``align``) into ONNX nodes."""

    def __init__(self, onnx: Any, rec: Recording, dyn, changed, opset: int, sources: dict[str, tuple[str, int]]):
        self.onnx, self.rec, self.dyn, self.changed = onnx, rec, dyn, changed
        self.graph = Graph(onnx, opset)
        self.sources = sources  # symbol -> (graph input name, axis)
        self.names: dict[int, str] = {}
        self.folded: dict[int, tuple[np.ndarray, str]] = {}
        self.node_index = {id(n): i for i, n in enumerate(rec.nodes)}

    # ---- names --------------------------------------------------------------------------
    def name_of(self, v: int) -> str:
        if v in self.names:
            return self.names[v]
        val = self.rec.values[v]
        if val.kind == "param":
            name = self._initializer(val.name, val.data)
        elif v in self.folded:
            data, hint = self.folded[v]
            name = self.graph.const(data, hint)
        elif val.kind == "const":
            name = self.graph.const(val.data, "const")
        else:
            raise ExportError(f"internal: value {v} ({val.kind}) used before it was produced")
        self.names[v] = name
        return name

    def _initializer(self, name: str, data: np.ndarray) -> str:
        if name not in self.graph.initializers:
            self.graph.taken.add(name)
            self.graph.initializers[name] = self.onnx.numpy_helper.from_array(np.array(data, order="C"), name)
        return name

    def tensor_name(self, t: Tensor, module: Module, attr: str) -> str:
        name = self.rec.names.get(id(t))
        if name is None:
            raise ExportError(f"{type(module).__name__}.{attr} is not a parameter or buffer of the exported model")
        return self._initializer(name, t._data)

    def symbol_source(self, sym: str) -> tuple[str, int]:
        return self.sources[sym]

    def describe(self, node: Node) -> str:
        return f"op {node.op} (called from module {node.module or '(the model)'!r} of type {node.module_type})"

    # ---- the graph ----------------------------------------------------------------------
    def _constant(self, v: int) -> bool:
        return self.rec.values[v].kind in ("param", "const") or v in self.folded

    def run(self) -> None:
        for i, node in enumerate(self.rec.nodes):
            if node.module_obj is not None:
                self.names[node.output] = MODULE_MAPPINGS[node.op][1](Ctx(self, node))
                continue
            if node.op.startswith("F."):
                self._check_params(node, self.changed[i])
                self.names[node.output] = FUNCTION_MAPPINGS[node.op[2:]][1](Ctx(self, node))
                continue
            mapping = op_maps.OP_MAPPINGS.get(node.op)
            if mapping is None:
                why = op_maps.UNEXPORTABLE.get(node.op, "no ONNX mapping is registered for it (gradbox/onnx/ops.py)")
                raise ExportError(f"{self.describe(node)} cannot be exported: {why}")
            self._check_params(node, self.changed[i] - mapping.dynamic)
            if self._foldable(node):
                out = self.rec._tensor_of[node.output]._data
                hint = f"{node.module}.{node.op}" if node.module else node.op
                self.folded[node.output] = (np.array(out), hint)
                continue
            self.names[node.output] = mapping.fn(Ctx(self, node))

    def _check_params(self, node: Node, changed: set[str]) -> None:
        if changed:
            raise ExportError(
                f"{self.describe(node)}: its parameter(s) {sorted(changed)} depend on the input (they change with "
                "its values or batch size): they were computed outside gradbox's ops (e.g. .item(), .numpy(), a "
                "comparison, x.shape used for a new tensor), and the graph would freeze them"
            )

    def _foldable(self, node: Node) -> bool:
        if not all(self._constant(v) for v in node.inputs) or not all(self._constant(v) for v in node.linked.values()):
            return False
        size = int(np.prod(self.rec.values[node.output].shape))
        biggest = max([int(np.prod(self.rec.values[v].shape)) for v in node.inputs] + [1])
        return size <= max(biggest, FOLD_LIMIT)

    def outputs(self, out_names: list[str]) -> None:
        """Give the graph outputs their names (renaming the producing node's output, or an Identity)."""
        taken: set[str] = set()
        for v, want in zip(self.rec.outputs, out_names):
            cur = self.name_of(v)
            produced = any(cur in n.output for n in self.graph.nodes)
            if not produced or cur in taken or self.rec.values[v].kind == "input":
                self.graph.nodes.append(self.graph.h.make_node("Identity", [cur], [want], name=f"/Identity_{want}"))
            else:
                for n in self.graph.nodes:
                    for seq in (n.input, n.output):
                        for j, s in enumerate(seq):
                            if s == cur:
                                seq[j] = want
                for k, name in self.names.items():
                    if name == cur:
                        self.names[k] = want
            taken.add(want)


def _dims(shape: tuple[int, ...], dyn: dict[int, str], names: dict[int, str] | None = None) -> list:
    """A value's dims for its ONNX type: a symbol (the user's name first) where dynamic, else the size."""
    names = names or {}
    return [names.get(a) or dyn.get(a) or int(s) for a, s in enumerate(shape)]


def _axes_spec(dynamic_axes: dict | None, known: list[str] | None) -> dict[str, dict[int, str]]:
    """``dynamic_axes`` as {name: {axis: symbol}}; with ``known``, every name must be one of them."""
    out: dict[str, dict[int, str]] = {}
    for name, axes in (dynamic_axes or {}).items():
        if known is not None and name not in known:
            raise ValueError(f"gb.onnx.export: dynamic_axes names {name!r}, which is none of {known}")
        if isinstance(axes, dict):
            out[name] = {int(a): str(s) for a, s in axes.items()}
        elif isinstance(axes, list | tuple):
            out[name] = {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
        else:
            raise TypeError(
                f"gb.onnx.export: dynamic_axes[{name!r}] must be a dict {{axis: name}} or a list of axes, "
                f"got {type(axes).__name__}"
            )
    return out


def _check_axes(name: str, axes: dict[int, str], shape: tuple[int, ...]) -> dict[int, str]:
    """``axes`` with negative axes counted from the end; each must be an axis of ``shape``."""
    out = {}
    for a, sym in axes.items():
        if not -len(shape) <= a < len(shape):
            has = f"axes 0 to {len(shape) - 1}, or -{len(shape)} to -1" if shape else "no axes"
            raise ValueError(
                f"gb.onnx.export: dynamic_axes gives axis {a} of {name!r}, which has shape {tuple(shape)} ({has})"
            )
        out[a % len(shape)] = sym
    return out


def _as_inputs(args: Any) -> list[Tensor]:
    items = list(args) if isinstance(args, tuple | list) else [args]
    out = []
    for a in items:
        if isinstance(a, np.ndarray):
            a = Tensor._wrap(a)
        if not isinstance(a, Tensor):
            raise TypeError(f"gb.onnx.export: args must be tensors (or a tuple of them), got {type(a).__name__}")
        out.append(a)
    return out


def export(
    model: Module,
    args: Any,
    f: str | os.PathLike | BinaryIO,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    dynamic_axes: dict | None = None,
    opset_version: int = 17,
    *,
    metadata: dict[str, str] | None = None,
) -> None:
    """Trace ``model(*args)`` in eval mode and write it to ``f`` as an ONNX model (PyTorch's
    ``torch.onnx.export`` arguments). ``dynamic_axes`` ({name: {axis: symbol}} or {name: [axes]})
    makes those input/output dims free, e.g. ``{"input": {0: "batch"}, "output": {0: "batch"}}``.
    ``metadata`` is stored in the model's metadata_props. Raises :class:`ExportError` naming
    the op and the module that cannot be exported."""
    onnx = require("onnx", "gb.onnx.export")
    if not MIN_OPSET <= opset_version <= onnx.defs.onnx_opset_version():
        raise ValueError(
            f"gb.onnx.export: opset_version must be in [{MIN_OPSET}, {onnx.defs.onnx_opset_version()}], got {opset_version}"
        )
    inputs = _as_inputs(args)
    in_names = list(input_names or (["input"] if len(inputs) == 1 else [f"input_{i}" for i in range(len(inputs))]))
    if len(in_names) != len(inputs):
        raise ValueError(f"gb.onnx.export: {len(in_names)} input_names for {len(inputs)} inputs")
    in_spec = {k: v for k, v in _axes_spec(dynamic_axes, None).items() if k in in_names}
    rec, dyn, changed, sources = _record_twice(model, inputs, in_names, in_spec, opset_version)
    n_out = len(rec.outputs)
    out_names = list(output_names or (["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)]))
    if len(out_names) != n_out:
        raise ValueError(f"gb.onnx.export: {len(out_names)} output_names for the model's {n_out} outputs")
    spec = _axes_spec(dynamic_axes, in_names + out_names)
    for v, name in zip(rec.outputs, out_names):
        spec[name] = _check_axes(name, spec.get(name, {}), rec.values[v].shape)
    ex = Exporter(onnx, rec, dyn, changed, opset_version, sources)
    for v, name in zip(range(len(inputs)), in_names):
        ex.names[v] = name
        ex.graph.taken.add(name)
    ex.run()
    ex.outputs(out_names)
    h = onnx.helper
    graph_inputs = [
        h.make_tensor_value_info(n, h.np_dtype_to_tensor_dtype(rec.values[v].dtype), _dims(rec.values[v].shape, dyn[v]))
        for v, n in enumerate(in_names)
    ]
    graph_outputs = [
        h.make_tensor_value_info(
            n, h.np_dtype_to_tensor_dtype(rec.values[v].dtype), _dims(rec.values[v].shape, dyn[v], spec.get(n))
        )
        for v, n in zip(rec.outputs, out_names)
    ]
    graph = h.make_graph(
        ex.graph.nodes, type(model).__name__, graph_inputs, graph_outputs, list(ex.graph.initializers.values())
    )
    opset = [h.make_opsetid("", opset_version)]
    proto = h.make_model(graph, opset_imports=opset, producer_name="gradbox", producer_version=__version__)
    proto.ir_version = h.find_min_ir_version_for(opset)
    if metadata:
        h.set_model_props(proto, {str(k): str(v) for k, v in metadata.items()})
    onnx.checker.check_model(proto, full_check=True)
    _write(proto.SerializeToString(), f)


def _record_twice(model: Module, inputs: list[Tensor], in_names: list[str], spec: dict, opset: int):
    """Record the forward on the inputs and on changed, grown ones; align the two recordings."""
    sizes: dict[str, tuple[int, int]] = {}
    sources: dict[str, tuple[str, int]] = {}
    for t, name in zip(inputs, in_names):
        spec[name] = _check_axes(name, spec.get(name, {}), t._data.shape)
        for axis, sym in spec[name].items():
            size = int(t._data.shape[axis])
            if sym in sizes and sizes[sym][0] != size:
                raise ValueError(f"gb.onnx.export: dynamic axis {sym!r} has sizes {sizes[sym][0]} and {size}")
            sizes.setdefault(sym, (size, size + len(sizes) + 1))
            sources.setdefault(sym, (name, axis))
    preds = {cls: functools.partial(_whole, when=when, opset=opset) for cls, (when, _) in MODULE_MAPPINGS.items()}
    fpreds = {name: functools.partial(when, opset=opset) for name, (when, _) in FUNCTION_MAPPINGS.items()}
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        try:
            r0 = record(model, inputs, in_names, preds, fpreds)
        except ForwardError as e:
            given = ", ".join(f"{n}: {t._data.dtype} {list(t._data.shape)}" for t, n in zip(inputs, in_names))
            raise ExportError(
                f"gb.onnx.export: the model's forward fails on the given args ({given}) in {e.where}: "
                f"{type(e.error).__name__}: {e.error}"
            ) from e.error
        for level in range(PERTURBATIONS):  # the second input: other values if the forward accepts them
            other = [
                Tensor._wrap(
                    grow(perturb(t._data, level), {a: sizes[s][1] - sizes[s][0] for a, s in spec.get(n, {}).items()})
                )
                for t, n in zip(inputs, in_names)
            ]
            try:
                r1 = record(model, other, in_names, preds, fpreds)
                break
            except ForwardError as failed:
                e = failed.error
                if level == PERTURBATIONS - 1:
                    grown = ", ".join(f"{k}: {a} -> {b}" for k, (a, b) in sizes.items()) or "none"
                    raise ExportError(
                        f"the forward fails on a second input of other values and longer dynamic axes ({grown}), which "
                        f"export needs to tell batch-sized dims apart: {type(e).__name__}: {e}. Axes that must have the "
                        "same size need the same symbol in dynamic_axes"
                    ) from e
    finally:
        for m, mode in modes:
            m.__dict__["training"] = mode
    dyn, changed = align(r0, r1, sizes)
    return r0, dyn, changed, sources


def _whole(m: Module, when, opset: int) -> bool:
    """Whether layer ``m`` exports as one node: gradbox's own layer class, and its mapping applies."""
    return type(m).__module__.startswith("gradbox.") and when(m, opset)


def _write(data: bytes, f: str | os.PathLike | BinaryIO) -> None:
    if hasattr(f, "write"):
        f.write(data)
        return
    path = Path(f)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
