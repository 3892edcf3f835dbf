"""What a worked cost explanation needs beyond ``summary``'s rows: each layer's input field (to write
r_out = r_in + (k - 1) j_in from r_in) and, for every block that merges paths (``cat`` of an
Inception block, ``+`` of a residual), which of its layers feed each merged input (its branches).

One forward pass with ``summary``'s own trace (``trace.Trace``); its hooks and op tracer are
wrapped so that, after each does its work, the fields and producers it keeps are read. Nothing
``summary`` computes changes.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

from gradbox import nn
from gradbox.autograd.grad_mode import no_grad
from gradbox.inspect.fields import Field
from gradbox.inspect.trace import Trace, tensors_in
from gradbox.tensor import Tensor

MERGES = frozenset({"Cat", "Add"})


@dataclass
class Merge:
    """A functional op that joins paths inside ``block``: per input, the layers of the block it
    depends on, its input fields and shapes."""

    name: str  # the functional row's name (``layer1.0.add``, ``cat``)
    op: str
    block: str
    branches: list[frozenset[str]]
    fields: list[Field | None]
    shapes: list[tuple[int, ...]]


@dataclass
class Observed:
    in_fields: dict[str, list[Field | None]] = field(default_factory=dict)  # module / functional row -> input fields
    merges: list[Merge] = field(default_factory=list)


class _Deps:
    """id(tensor) -> the modules its value depends on (weakly keyed: nothing is kept alive)."""

    def __init__(self) -> None:
        self._d: dict[int, tuple[weakref.ref, frozenset[str]]] = {}

    def get(self, t: Tensor) -> frozenset[str]:
        e = self._d.get(id(t))
        return e[1] if e is not None and e[0]() is t else frozenset()

    def put(self, t: Tensor, deps: frozenset[str]) -> None:
        self._d[id(t)] = (weakref.ref(t), deps)


def observe(model: nn.Module, inputs: Sequence[Tensor], mode: str = "eval") -> Observed:
    """One pass of ``model`` on ``inputs`` recording input fields per layer and the branches of merges."""
    tr = Trace(model)
    obs = Observed()
    deps = _Deps()
    orig_pre, orig_post, orig_op = tr._pre, tr._post, tr._op

    def pre(module, args):
        orig_pre(module, args)
        name = tr.names[id(module)]
        if name not in obs.in_fields:
            obs.in_fields[name] = [tr.table.field(t) for t in tensors_in(args)]

    def post(module, args, output):
        orig_post(module, args, output)
        name = tr.names[id(module)]
        d = frozenset().union(*[deps.get(t) for t in tensors_in(args)]) | {name}
        for t in tensors_in(output):
            deps.put(t, deps.get(t) | d)

    def op(cls, inputs, params, out):
        tr._settle()  # in-place results first, as the trace itself does (idempotent)
        fields = [tr.table.field(t) for t in inputs]
        before = len(tr.functional)
        orig_op(cls, inputs, params, out)
        deps.put(out, frozenset().union(*[deps.get(t) for t in inputs]))
        if len(tr.functional) > before:
            rec = tr.functional[-1]
            obs.in_fields[rec.name] = fields
            if cls.__name__ in MERGES and len(inputs) > 1:
                block = rec.container
                inside = [frozenset(n for n in deps.get(t) if _within(n, block)) for t in inputs]
                obs.merges.append(
                    Merge(rec.name, cls.__name__, block, inside, fields, [tuple(t._data.shape) for t in inputs])
                )

    tr._pre, tr._post, tr._op = pre, post, op
    flags = [(m, m.training) for m in model.modules()]
    buffers = [(b, b._data.copy()) for b in model.buffers()]  # a pass in train mode moves running stats
    if mode != "same":
        model.train(mode == "train")
    try:
        with no_grad():
            tr.run(list(inputs))
    finally:
        for m, t in flags:
            m.training = t
        for b, data in buffers:
            b._data[...] = data
    return obs


def _within(name: str, block: str) -> bool:
    return name != block and (block == "" or name.startswith(block + "."))
