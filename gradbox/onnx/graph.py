"""Building the ONNX graph: names, nodes, initializers, and what each op mapping sees (:class:`Ctx`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradbox.onnx.trace import TENSOR_ARGS, ExportError, Node, Recording

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


class Graph:
    """ONNX nodes and initializers under construction (``onnx`` is the imported package)."""

    def __init__(self, onnx: Any, opset: int) -> None:
        self.onnx, self.h, self.opset = onnx, onnx.helper, opset
        self.nodes: list = []
        self.initializers: dict[str, Any] = {}
        self.taken: set[str] = set()
        self.const_cache: dict[tuple, str] = {}

    def fresh(self, hint: str) -> str:
        name, k = hint, 1
        while name in self.taken:
            k += 1
            name = f"{hint}_{k}"
        self.taken.add(name)
        return name

    def const(self, a: np.ndarray, hint: str) -> str:
        """An initializer holding ``a`` (small ones are shared by value)."""
        a = np.array(a, order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)
        key = (a.dtype.str, a.shape, a.tobytes()) if a.size <= 16 else None
        if key is not None and key in self.const_cache:
            return self.const_cache[key]
        name = self.fresh(hint)
        self.initializers[name] = self.onnx.numpy_helper.from_array(a, name)
        if key is not None:
            self.const_cache[key] = name
        return name

    def node(self, op_type: str, inputs: list[str], scope: str, n_out: int = 1, **attrs: Any) -> list[str]:
        base = f"/{scope}/{op_type}" if scope else f"/{op_type}"
        name = self.fresh(base)
        outs = [self.fresh(f"{name}_output_{i}") for i in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.h.make_node(op_type, inputs, outs, name=name, **attrs))
        return outs


class Ctx:
    """One recorded op as its mapping sees it: its inputs as ONNX names, shapes, dynamic dims
    (axis -> symbol), parameters, and helpers to emit nodes and constants."""

    def __init__(self, exporter: Any, node: Node) -> None:
        self.ex, self.node, self.g = exporter, node, exporter.graph
        self.rec: Recording = exporter.rec
        self.params = node.params
        self.changed: set[str] = exporter.changed[node_index(exporter, node)]
        self.opset = self.g.opset

    # ---- what the op saw ----------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return len(self.node.inputs)

    def x(self, i: int) -> str:
        return self.ex.name_of(self.node.inputs[i])

    def shape(self, i: int) -> tuple[int, ...]:
        return self.rec.values[self.node.inputs[i]].shape

    def dtype(self, i: int) -> np.dtype:
        return self.rec.values[self.node.inputs[i]].dtype

    def dyn(self, i: int) -> dict[int, str]:
        return self.ex.dyn[self.node.inputs[i]]

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.rec.values[self.node.output].shape

    @property
    def out_dtype(self) -> np.dtype:
        return self.rec.values[self.node.output].dtype

    @property
    def out_dyn(self) -> dict[int, str]:
        return self.ex.dyn[self.node.output]

    # a functional call recorded whole (functions.py): its tensor arguments by parameter name
    def arg_index(self, name: str) -> int:
        return self.params[TENSOR_ARGS].index(name)

    def has(self, name: str) -> bool:
        return name in self.params[TENSOR_ARGS]

    def arg(self, name: str) -> str:
        return self.x(self.arg_index(name))

    def linked(self, a: np.ndarray) -> str | None:
        """The ONNX name of the recorded value whose data ``a`` is (an index tensor), else None."""
        v = self.node.linked.get(id(a))
        return None if v is None else self.ex.name_of(v)

    # ---- emitting -----------------------------------------------------------------------
    @property
    def scope(self) -> str:
        return self.node.module

    def emit(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        return self.g.node(op_type, inputs, self.scope, **attrs)[0]

    def emit_n(self, op_type: str, inputs: list[str], n_out: int, **attrs: Any) -> list[str]:
        return self.g.node(op_type, inputs, self.scope, n_out=n_out, **attrs)

    def const(self, a: Any, dtype: Any = None, hint: str = "") -> str:
        arr = np.asarray(a, dtype=dtype)
        scope = f"{self.scope}." if self.scope else ""
        return self.g.const(arr, hint or f"{scope}{self.node.op}.const")

    def ints(self, values) -> str:
        return self.const(np.asarray(list(values), dtype=np.int64), hint="ints")

    def cast(self, name: str, src: np.dtype, dst: np.dtype) -> str:
        if src == dst:
            return name
        return self.emit("Cast", [name], to=self.g.h.np_dtype_to_tensor_dtype(np.dtype(dst)))

    def x_as_out(self, i: int) -> str:
        """Input i converted to the output's dtype (ONNX ops want equal input types)."""
        return self.cast(self.x(i), self.dtype(i), self.out_dtype)

    def axes_op(self, op_type: str, x: str, axes, keepdims: bool, since: int = 18) -> str:
        """A reduce op over ``axes`` (None: all), with axes as an attribute before opset ``since``
        and as an input from it on."""
        keep = int(bool(keepdims))
        if axes is None:
            return self.emit(op_type, [x], keepdims=keep)
        axes = [int(a) for a in axes]
        if self.opset >= since:
            return self.emit(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.emit(op_type, [x], axes=axes, keepdims=keep)

    def shape_tensor(self, dims: list[int | str]) -> str:
        """A 1-D int64 shape whose entries are ints or dynamic dims (``"n"``, ``"7*n"``), read at run
        time from the graph input that has the axis."""
        if all(isinstance(d, int) for d in dims):
            return self.ints(dims)
        parts = []
        for d in dims:
            if isinstance(d, int):
                parts.append(self.ints([d]))
            else:
                k, _, sym = d.rpartition("*")
                inp, axis = self.ex.symbol_source(sym)
                part = self.emit("Gather", [self.emit("Shape", [inp]), self.ints([axis])], axis=0)
                parts.append(self.emit("Mul", [part, self.ints([int(k)])]) if k else part)
        return self.emit("Concat", parts, axis=0)

    def fail(self, reason: str) -> None:
        raise ExportError(self.ex.describe(self.node) + ": " + reason)


def node_index(exporter: Any, node: Node) -> int:
    return exporter.node_index[id(node)]
