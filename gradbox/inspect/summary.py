"""``gb.inspect.summary``: per-layer shapes, parameters, multiply-accumulates and receptive fields.

One forward pass (zeros of ``input_size``, or ``input_data``) under ``no_grad`` with module
hooks and op tracing (``gradbox.inspect.trace``); costs follow ``costs.COST_TABLE``, receptive
fields ``fields`` (Araujo, Norris and Sim, Distill 2019), through every functional op too.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import gradbox as gb
from gradbox import nn
from gradbox.inspect import table
from gradbox.inspect.fields import exact, summarize
from gradbox.inspect.trace import Record, Trace
from gradbox.tensor import Tensor


class MisalignedFieldWarning(UserWarning):
    """Paths merged by a block have receptive fields with different effective strides or centres."""


Shape = tuple[int, ...]


@dataclass
class LayerSummary:
    """One row: a module of ``named_modules()`` (its children included in ``params`` and the
    costs), or a functional op run between modules (``functional=True``)."""

    name: str
    type: str
    depth: int
    input_shape: Shape | list[Shape] | None
    output_shape: Shape | list[Shape] | None
    params: int
    trainable_params: int
    macs: int
    other_ops: int
    receptive_field: int | tuple | None
    effective_stride: int | float | tuple | None
    effective_padding: int | float | tuple | None
    activation_bytes: int
    functional: bool = False
    calls: int = 1
    parent: str = ""
    is_leaf: bool = True
    misaligned: list[str] = field(default_factory=list)
    field_exact: bool = True
    order: int = 0

    @property
    def flops(self) -> int:
        """2 x MACs (a multiply-accumulate is two floating-point operations)."""
        return 2 * self.macs

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("order")
        for k in ("input_shape", "output_shape", "receptive_field", "effective_stride", "effective_padding"):
            d[k] = _jsonable(d[k])
        return d


def _jsonable(v):
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    return v


def _one(shapes: list[Shape] | None) -> Shape | list[Shape] | None:
    if not shapes:
        return None
    return shapes[0] if len(shapes) == 1 else shapes


@dataclass
class ModelSummary:
    """What ``summary`` found: ``layers`` (one row per module, root excluded, in
    ``named_modules()`` order), ``functional`` (rows of the ops run between modules), totals,
    and the warnings of misaligned receptive fields. ``str()`` is a table; ``to_dict()`` JSON."""

    model: str
    input_shapes: list[Shape]
    output_shapes: list[Shape]
    layers: list[LayerSummary]
    functional: list[LayerSummary]
    total_params: int
    trainable_params: int
    total_macs: int
    other_ops: int
    input_bytes: int
    activation_bytes: int
    param_bytes: int
    buffer_bytes: int
    receptive_field: int | tuple | None
    effective_stride: int | float | tuple | None
    effective_padding: int | float | tuple | None
    warnings: list[str] = field(default_factory=list)
    uncounted_ops: list[str] = field(default_factory=list)
    depth: int | None = None
    include_functional: bool = False

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_flops(self) -> int:
        """2 x total_macs."""
        return 2 * self.total_macs

    @property
    def training_bytes(self) -> int:
        """Estimated memory of a training step: the input, the activations twice (their values
        kept for backward and their gradients), and the parameters four times (weights,
        gradients and Adam's two moments), plus the buffers."""
        return self.input_bytes + 2 * self.activation_bytes + 4 * self.param_bytes + self.buffer_bytes

    def __getitem__(self, name: str) -> LayerSummary:
        for r in self.layers + self.functional:
            if r.name == name:
                return r
        raise KeyError(f"no layer named {name!r}; layers: {', '.join(r.name for r in self.layers)}")

    def rows(self, depth: int | None = None, include_functional: bool | None = None) -> list[LayerSummary]:
        """The rows down to ``depth`` (default: the summary's), functional ops placed after the
        last layer of their block that ran before them."""
        depth = self.depth if depth is None else depth
        fn = self.include_functional if include_functional is None else include_functional
        rows = list(self.layers)
        if fn:
            for f in sorted(self.functional, key=lambda r: r.order):
                pos = next(i for i, r in enumerate(rows) if r.name == f.parent) + 1 if f.parent else 0
                for i in range(pos, len(rows)):
                    inside = rows[i].name.startswith(f.parent + ".") if f.parent else True
                    if not inside:
                        break
                    if rows[i].order < f.order:
                        pos = i + 1
                rows.insert(pos, f)
        return [r for r in rows if depth is None or r.depth <= depth]

    def __str__(self) -> str:
        return table.text(self)

    def __repr__(self) -> str:
        return table.text(self)

    def _repr_html_(self) -> str:
        return table.html(self)

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready data (rows by the summary's depth and functional setting)."""
        return {
            "model": self.model,
            "input_shapes": _jsonable(self.input_shapes),
            "output_shapes": _jsonable(self.output_shapes),
            "layers": [r.to_dict() for r in self.rows()],
            "totals": {
                "total_params": self.total_params,
                "trainable_params": self.trainable_params,
                "non_trainable_params": self.non_trainable_params,
                "total_macs": self.total_macs,
                "total_flops": self.total_flops,
                "other_ops": self.other_ops,
                "input_bytes": self.input_bytes,
                "activation_bytes": self.activation_bytes,
                "param_bytes": self.param_bytes,
                "buffer_bytes": self.buffer_bytes,
                "training_bytes": self.training_bytes,
                "receptive_field": _jsonable(self.receptive_field),
                "effective_stride": _jsonable(self.effective_stride),
                "effective_padding": _jsonable(self.effective_padding),
            },
            "conventions": {
                "macs": "multiply-accumulates of convolution, linear, bilinear and matrix products (torchvision's and fvcore's count)",
                "flops": "2 x MACs",
                "other_ops": "bias adds, normalisation, activations, pooling, element-wise ops: see gradbox.inspect.costs.COST_TABLE",
                "training_bytes": "input + 2 x activations + 4 x parameters (weights, gradients, Adam's moments) + buffers",
            },
            "warnings": list(self.warnings),
            "uncounted_ops": list(self.uncounted_ops),
        }


def make_inputs(input_size, input_data, dtype) -> list[Tensor]:
    """The model's positional inputs: ``input_data`` (a tensor or a sequence of them), or zeros of
    ``input_size`` (one shape, batch included, or a sequence of shapes)."""
    if input_data is not None:
        data = [input_data] if isinstance(input_data, Tensor) else list(input_data)
        if not all(isinstance(t, Tensor) for t in data):
            raise TypeError("input_data must be a Tensor or a sequence of Tensors")
        return data
    if input_size is None:
        raise ValueError("summary needs input_size (e.g. (1, 3, 224, 224), batch included) or input_data")
    sizes: Sequence = input_size
    if all(isinstance(s, int) for s in sizes):
        sizes = [tuple(sizes)]
    return [gb.zeros(*s, dtype=dtype) for s in sizes]


def run_trace(model: nn.Module, inputs: list[Tensor], mode: str = "eval", display=None) -> tuple[Trace, Any]:
    """One pass of ``model`` under no_grad with the trace attached; layers' train/eval flags are
    restored afterwards. ``mode``: "eval" (default, as torchinfo), "train" or "same"."""
    if mode not in ("eval", "train", "same"):
        raise ValueError(f"mode must be 'eval', 'train' or 'same', got {mode!r}")
    flags = [(m, m.training) for m in model.modules()]
    if mode != "same":
        model.train(mode == "train")
    try:
        tr = Trace(model, display)
        with gb.no_grad():
            out = tr.run(inputs)
    finally:
        for m, t in flags:
            m.training = t
    return tr, out


def _row(r: Record, module: nn.Module | None, depth: int, is_leaf: bool, functional: bool) -> LayerSummary:
    rf, stride, pad = summarize(r.field)
    if module is not None:
        params = list(module.parameters())
        n, nt = sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)
    else:
        n = nt = 0
    return LayerSummary(
        r.name, r.type, depth, _one(r.input_shapes), _one(r.output_shapes), n, nt, r.macs, r.other_ops,
        rf, stride, pad, r.output_bytes, functional, r.calls, r.container, is_leaf, list(r.misaligned), exact(r.field),
        r.order,
    )  # fmt: skip


def summary(
    model: nn.Module,
    input_size: Sequence[int] | Sequence[Sequence[int]] | None = None,
    input_data: Tensor | Sequence[Tensor] | None = None,
    dtype=gb.float32,
    depth: int | None = None,
    include_functional: bool = False,
    mode: str = "eval",
) -> ModelSummary:
    """Shapes, parameters, multiply-accumulates, other ops, receptive fields and memory of every
    layer of ``model``, from one forward pass of zeros of ``input_size`` (batch dimension
    included, as in torchinfo) or of ``input_data``.

    ``depth`` limits the printed rows; ``include_functional`` adds rows for the ops run between
    modules (a residual ``+``, ``gb.cat``, ``flatten``, ``F.relu``). Receptive fields refer to
    the first input with spatial dims; a block whose paths are misaligned warns
    (``MisalignedFieldWarning``) and is marked in its row.
    """
    inputs = make_inputs(input_size, input_data, dtype)
    tr, out = run_trace(model, inputs, mode)
    rows = []
    for name, m in tr.modules.items():
        if name:
            rows.append(_row(tr.records[name], m, name.count(".") + 1, tr.leaf[name], False))
    fn_rows = [_row(r, None, (r.container.count(".") + 2) if r.container else 1, True, True) for r in tr.functional]
    params = list(model.parameters())
    root = tr.records[""]
    rf, stride, pad = summarize(root.field)
    for w in tr.warnings:
        warnings.warn(w, MisalignedFieldWarning, stacklevel=2)
    act = sum(r.activation_bytes for r in rows if r.is_leaf) + sum(r.activation_bytes for r in fn_rows)
    return ModelSummary(
        model=type(model).__name__,
        input_shapes=[tuple(t._data.shape) for t in inputs],
        output_shapes=list(root.output_shapes or []),
        layers=rows,
        functional=fn_rows,
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        total_macs=root.macs,
        other_ops=root.other_ops,
        input_bytes=sum(t._data.nbytes for t in inputs),
        activation_bytes=act if rows else root.output_bytes,
        param_bytes=sum(p._data.nbytes for p in params),
        buffer_bytes=sum(b._data.nbytes for b in model.buffers()),
        receptive_field=rf,
        effective_stride=stride,
        effective_padding=pad,
        warnings=list(tr.warnings),
        uncounted_ops=sorted(tr.uncounted),
        depth=depth,
        include_functional=include_functional,
    )
