"""One forward pass, watched: module hooks for the layers and op tracing for everything between.

Every op application is seen (``gradbox.autograd.function.tracing``), so each tensor's field
(``fields``), cost and producer are known whichever way it was made: a layer, a residual
``+``, ``gb.cat``, ``flatten``, ``F.relu``, pooling called functionally. Tensors are keyed by
``id`` with a weak reference to tell a live tensor from a reused id, so nothing is kept alive.

In-place ops (``out += identity``, ``ReLU(inplace=True)``) run their out-of-place op and then
write its result into the tensor and bump its version; the trace notices the bump at the next
event and gives the tensor the op result's field and producer.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradbox import nn
from gradbox.autograd.function import tracing
from gradbox.inspect import costs
from gradbox.inspect.fields import LOST, Axis, Context, Field, adaptive, propagate
from gradbox.tensor import Tensor

# Normalisation keeps the field: its statistics count as constants, as in the literature (a
# group or layer norm's statistics would otherwise make every unit see its whole group).
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)


def tensors_in(obj) -> list[Tensor]:
    """The tensors in a module's inputs or outputs (a tensor, nested tuples/lists, dict values)."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, tuple | list):
        return [t for o in obj for t in tensors_in(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in tensors_in(o)]
    return []


def _version(t: Tensor) -> int:
    return t._vc[0] if t._vc is not None else 0


class _Entry:
    __slots__ = ("field", "producer", "ref")

    def __init__(self, t: Tensor, fld: Field | None, producer: str | None) -> None:
        self.ref, self.field, self.producer = weakref.ref(t), fld, producer


class TensorTable:
    """id(tensor) -> (field, producer) for the live tensors seen."""

    def __init__(self) -> None:
        self._d: dict[int, _Entry] = {}

    def get(self, t: Tensor) -> _Entry | None:
        e = self._d.get(id(t))
        return e if e is not None and e.ref() is t else None

    def put(self, t: Tensor, fld: Field | None, producer: str | None) -> None:
        if fld is None and producer is None:
            self._d.pop(id(t), None)
        else:
            self._d[id(t)] = _Entry(t, fld, producer)

    def field(self, t: Tensor) -> Field | None:
        e = self.get(t)
        return e.field if e is not None else None

    def producer(self, t: Tensor) -> str | None:
        e = self.get(t)
        return e.producer if e is not None else None


@dataclass
class Record:
    """What one module (all its calls) or one functional op did in the pass."""

    name: str
    type: str
    container: str  # the module whose forward ran it (for a module: its parent)
    calls: int = 0
    input_shapes: list[tuple[int, ...]] | None = None
    output_shapes: list[tuple[int, ...]] | None = None
    field: Field | None = None
    macs: int = 0
    other_ops: int = 0
    output_bytes: int = 0
    order: int = -1
    misaligned: list[str] = dataclasses.field(default_factory=list)
    counted: bool = True  # False for an op the cost table does not know


@dataclass
class _Frame:
    name: str
    module: nn.Module
    own_cost: bool  # the layer's cost comes from costs.module_cost, not from its ops
    node: str | None  # its node in the module graph, if it is one


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


class Trace:
    """Runs ``model`` once on ``inputs`` and records, per module and per functional op, shapes,
    costs and receptive fields; with ``display`` (module name -> drawn as one node), also the
    module-level graph (``nodes``, ``edges``)."""

    def __init__(self, model: nn.Module, display: Callable[[str], bool] | None = None) -> None:
        self.model = model
        self.display = display
        self.modules = dict(model.named_modules())
        self.names = {id(m): n for n, m in self.modules.items()}
        self.leaf = {n: not any(True for _ in m.children()) for n, m in self.modules.items()}
        self.records: dict[str, Record] = {
            n: Record(n, type(m).__name__, n.rpartition(".")[0]) for n, m in self.modules.items()
        }
        self.functional: list[Record] = []
        self.table = TensorTable()
        self.stack: list[_Frame] = []
        self.warnings: list[str] = []
        self.uncounted: set[str] = set()
        self.nodes: dict[str, tuple[str, str, str]] = {}  # node -> (kind, label, container)
        self.edges: list[tuple[str, str, tuple[int, ...]]] = []
        self._order = 0
        self._pending: tuple | None = None
        self._op_names: dict[tuple[str, str], int] = {}  # occurrences of an op in a block, calls of a module
        self.ctx = Context((), self._misaligned)

    # ---- bookkeeping ----------------------------------------------------------------------
    def _tick(self) -> int:
        self._order += 1
        return self._order

    def _settle(self) -> None:
        """Give tensors changed in place since the last op that op's result."""
        if self._pending is None:
            return
        out, inputs = self._pending
        self._pending = None
        e = self.table.get(out)
        for t, v in inputs:
            if _version(t) != v and t._data.shape == out._data.shape:
                self.table.put(t, e.field if e else None, e.producer if e else None)

    def _counting(self) -> bool:
        return not any(f.own_cost for f in self.stack)

    def _add_cost(self, macs: int, other: int) -> None:
        for f in self.stack:
            r = self.records[f.name]
            r.macs += macs
            r.other_ops += other

    def _block(self) -> str:
        return self.stack[-1].name if self.stack else ""

    def _misaligned(self, op: str, axis: int, axes: list[Axis]) -> None:
        if not self._counting():
            return  # inside a layer that defines its own field
        block = self._block()
        where = f"{block!r} ({self.records[block].type})" if block else f"the model ({type(self.model).__name__})"
        a, b = axes[0], next((x for x in axes[1:] if (x.stride, x.centre) != (axes[0].stride, axes[0].centre)), axes[1])
        msg = (
            f"receptive field: the paths merged by {op} in {where} are misaligned: "
            f"effective stride {_fmt(a.stride)} vs {_fmt(b.stride)}, centre {_fmt(a.centre)} vs {_fmt(b.centre)} "
            f"(effective padding {_fmt(a.padding)} vs {_fmt(b.padding)}); the field shown is their union"
        )
        if msg not in self.warnings:
            self.warnings.append(msg)
        for f in self.stack:
            if msg not in self.records[f.name].misaligned:
                self.records[f.name].misaligned.append(msg)

    # ---- module hooks -----------------------------------------------------------------------
    def _displayed_above(self) -> bool:
        return any(f.node is not None for f in self.stack)

    def _pre(self, module: nn.Module, args) -> None:
        self._settle()
        name = self.names[id(module)]
        node = None
        if self.display is not None and not self._displayed_above() and self.display(name):
            k = self._op_names[("#", name)] = self._op_names.get(("#", name), 0) + 1
            node = f"m:{name}" + (f"#{k}" if k > 1 else "")  # a module called twice is two nodes
            r = self.records[name]
            self.nodes[node] = ("module", f"{name}\n{r.type}" + (f" (call {k})" if k > 1 else ""), r.container)
            for t in tensors_in(args):
                src = self.table.producer(t)
                if src is not None:
                    self.edges.append((src, node, tuple(t._data.shape)))
        own = costs.counts_itself(module) and self._counting()
        self.stack.append(_Frame(name, module, own, node))
        r = self.records[name]
        if r.calls == 0:
            r.input_shapes = [tuple(t._data.shape) for t in tensors_in(args)]

    def _post(self, module: nn.Module, args, output) -> None:
        self._settle()
        frame = self.stack.pop()
        r = self.records[frame.name]
        outs = tensors_in(output)
        ins = tensors_in(args)
        if isinstance(module, costs.ADAPTIVE + NORMS) and ins and outs:
            e = self.table.get(outs[0])
            fld = self.table.field(ins[0])
            if isinstance(module, costs.ADAPTIVE):
                fld = adaptive(fld, ins[0]._data.shape, outs[0]._data.shape)
            self.table.put(outs[0], fld, e.producer if e else None)
        if any(self.table.field(t) is not None for t in ins):
            for t in outs:  # computed from the input even if its ops hide it (an embedding's indices)
                e = self.table.get(t)
                if e is None or e.field is None:
                    self.table.put(t, LOST, e.producer if e else None)
        if frame.own_cost and outs:
            macs, other = costs.module_cost(module, [tuple(t._data.shape) for t in ins], tuple(outs[0]._data.shape))
            self.stack.append(frame)
            self._add_cost(macs, other)
            self.stack.pop()
        if frame.node is not None:
            for t in outs:
                e = self.table.get(t)
                self.table.put(t, e.field if e else None, frame.node)
        r.calls += 1
        r.output_bytes += sum(t._data.nbytes for t in outs)
        if r.calls == 1:
            r.output_shapes = [tuple(t._data.shape) for t in outs]
            r.field = self.table.field(outs[0]) if outs else None
            r.order = self._tick()

    # ---- ops ------------------------------------------------------------------------------
    def _op(self, cls, inputs, params, out: Tensor) -> None:
        self._settle()
        op = cls.__name__
        shapes = [tuple(t._data.shape) for t in inputs]
        oshape = tuple(out._data.shape)
        fields = [self.table.field(t) for t in inputs]
        fld = propagate(op, params, fields, shapes, [t._data for t in inputs], oshape, self.ctx)
        counting = self._counting()
        cost = costs.op_cost(op, params, shapes, oshape)
        if counting:
            if cost is None:
                self.uncounted.add(op)
            else:
                self._add_cost(*cost)
        producer = None
        container = self._block()
        between = counting and not self.leaf.get(container, True)
        sources = [self.table.producer(t) for t in inputs]
        if between and (fld is not None or any(s is not None for s in sources)):
            k = self._op_names.get((container, op), 0)
            self._op_names[(container, op)] = k + 1
            base = op.lower() + (f"_{k}" if k else "")
            name = f"{container}.{base}" if container else base
            view = any(np.may_share_memory(out._data, t._data) for t in inputs)
            rec = Record(name, op, container, 1, shapes, [oshape], fld, *(cost or (0, 0)))
            rec.output_bytes = 0 if view else out._data.nbytes
            rec.counted = cost is not None
            rec.order = self._tick()
            self.functional.append(rec)
            if self.display is not None and not self._displayed_above():
                producer = f"f:{name}"
                self.nodes[producer] = ("op", op, container)
                for t, s in zip(inputs, sources):
                    if s is not None:
                        self.edges.append((s, producer, tuple(t._data.shape)))
        self.table.put(out, fld, producer)
        self._pending = (out, [(t, _version(t)) for t in inputs])

    # ---- the pass ---------------------------------------------------------------------------
    def run(self, inputs: list[Tensor]):
        """Call the model on ``inputs`` (the first one with spatial dims, (N, C, *S), is the one
        receptive fields refer to) and return its output."""
        spatial = next((t for t in inputs if t._data.ndim >= 3 and t._data.dtype.kind == "f"), None)
        for i, t in enumerate(inputs):
            fld = None  # fields refer to one input: the others count as constants
            if t is spatial:
                fld = Field(tuple((2 + d, Axis(1, 1, 0)) for d in range(t._data.ndim - 2)))
            elif spatial is None and i == 0:
                fld = LOST
            node = f"in:{i}" if self.display is not None else None
            if node is not None:
                self.nodes[node] = ("input", f"input {i}" if len(inputs) > 1 else "input", "")
            self.table.put(t, fld, node)
        self.ctx.extent = tuple(spatial._data.shape[2:]) if spatial is not None else ()
        handles = []
        try:
            for m in self.modules.values():
                handles.append(m.register_forward_pre_hook(self._pre))
                handles.append(m.register_forward_hook(self._post))
            with tracing(self._op):
                output = self.model(*inputs)
            self._settle()
        finally:
            for h in handles:
                h.remove()
            self.stack.clear()
        if self.display is not None:
            self.nodes["out"] = ("output", "output", "")
            for t in tensors_in(output):
                src = self.table.producer(t)
                if src is not None:
                    self.edges.append((src, "out", tuple(t._data.shape)))
        return output
