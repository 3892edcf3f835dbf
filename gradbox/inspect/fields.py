"""Receptive fields as data, and how each op transforms them.

Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural Networks" (Distill,
2019): along one spatial axis, unit i of a feature map sees the input positions

    [start + i * stride, start + i * stride + size - 1]

where ``size`` is the receptive field r, ``stride`` the effective stride j (the product of the
strides so far) and ``start = -P``, P the effective padding. A window op with kernel k,
dilation d (effective kernel k' = d (k - 1) + 1), stride s and left padding p maps
(r, j, start) to

    r' = r + (k' - 1) j,    j' = j s,    start' = start - p j.

Element-wise ops keep the field; ops that merge paths (``+`` of a residual, ``cat`` of an
Inception block) take, per axis, the union of the paths' fields. The union is the larger field
when the paths are aligned (same effective stride and same centre ``start + (r - 1) / 2``);
when they are not, the merge is reported (``on_misaligned``), never silently merged. An axis
whose every unit sees the same region (after a broadcast, a softmax or a dense matrix over
that axis) has stride 0.

A tensor's field is ``None`` when it does not depend on the model input (parameters,
constants), :data:`LOST` when it does but its spatial structure is gone (after a flatten, a
linear layer, or a reduction that drops a spatial dim), and otherwise one :class:`Axis` per
spatial axis of the input, each tied to the tensor dim that carries it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Axis:
    """The receptive field along one input axis: unit i sees [start + i stride, ... + size - 1].
    ``uniform`` is False after windows of unequal sizes (adaptive pooling of sizes that do not
    divide): ``size`` is then the largest field and ``stride`` the mean step."""

    size: int
    stride: float
    start: float
    uniform: bool = True

    @property
    def padding(self) -> float:
        """The effective padding P = -start."""
        return -self.start

    @property
    def centre(self) -> float:
        """The centre of unit 0's field, in input coordinates."""
        return self.start + (self.size - 1) / 2

    def region(self, i: int) -> tuple[float, float]:
        """The input positions [lo, hi] that unit i sees (before clipping to the input)."""
        lo = self.start + i * self.stride
        return lo, lo + self.size - 1

    def window(self, kernel: int, stride: int, padding: int, dilation: int = 1) -> Axis:
        """The field after a window op (convolution, pooling) on this axis."""
        eff = dilation * (kernel - 1) + 1
        return Axis(
            self.size + (eff - 1) * self.stride, self.stride * stride, self.start - padding * self.stride, self.uniform
        )

    def windows(self, bounds: Sequence[tuple[int, int]], length: int) -> Axis:
        """The field after output unit o pools input units [a_o, b_o) (adaptive pooling, a constant
        matrix over this axis). Equal windows at a constant step are an ordinary window op."""
        widths = [b - a for a, b in bounds]
        steps = {bounds[i + 1][0] - bounds[i][0] for i in range(len(bounds) - 1)}
        if len(set(widths)) == 1 and len(steps) <= 1:
            step = steps.pop() if steps else widths[0]  # one window: kernel = stride = its width
            return self.window(widths[0], step, -bounds[0][0])
        return Axis(
            self.size + (max(widths) - 1) * self.stride,
            self.stride * length / len(bounds),
            self.start + bounds[0][0] * self.stride,
            False,
        )

    def spread(self, length: int) -> Axis:
        """Every unit sees the whole axis of ``length`` units (softmax, a dense matrix): stride 0."""
        return Axis(self.size + (length - 1) * self.stride, 0, self.start, self.uniform)

    def shift(self, offset: int, step: int = 1) -> Axis:
        """Slicing units offset, offset + step, ...; padding by p is shift(-p)."""
        return Axis(self.size, self.stride * step, self.start + offset * self.stride, self.uniform)


@dataclass(frozen=True)
class Field:
    """A tensor's field: ``axes`` pairs each input spatial axis with the tensor dim carrying it;
    ``None`` axes means the spatial structure is gone (:data:`LOST`)."""

    axes: tuple[tuple[int, Axis], ...] | None

    @property
    def lost(self) -> bool:
        return self.axes is None


LOST = Field(None)

Misaligned = Callable[[int, list[Axis]], None]  # (input axis index, the paths' fields)


def _intish(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


def merge(axes: list[Axis], units: int, report: Misaligned | None, index: int) -> Axis:
    """The union of several paths' fields on one axis of ``units`` units; reports misalignment."""
    if len(axes) == 1:
        return axes[0]
    strides = {a.stride for a in axes}
    centres = {a.centre for a in axes}
    aligned = len(centres) == 1 and (len(strides) == 1 or units == 1)
    if aligned:
        best = max(axes, key=lambda a: a.size)
        return Axis(best.size, best.stride, best.start, all(a.uniform for a in axes))
    if report is not None:
        report(index, axes)
    lo = min(a.start for a in axes)
    hi = max(a.start + a.size - 1 for a in axes)
    return Axis(int(hi - lo + 1), max(strides), lo, False)


# ---- propagation through ops ------------------------------------------------------------

ELEMENTWISE = frozenset(
    """Add Sub Mul Div Pow PowScalar Neg Exp Log Log1p Erf Sqrt Abs Sin Cos Tanh Sigmoid Relu Clamp
    Maximum Minimum Where Cast Clone LeakyRelu Elu Softplus""".split()
)
REDUCTIONS = frozenset("Sum Mean Var Std AMaxMin MaxMinDim Prod LogSumExp".split())


class Context:
    """What propagation needs beyond the op: the input's extent per spatial axis (a path without
    spatial structure that is merged sees all of it) and where to report misaligned merges."""

    def __init__(self, extent: Sequence[int], report: Callable[[str, int, list[Axis]], None] | None = None) -> None:
        self.extent = tuple(extent)
        self.report = report

    def whole(self) -> list[Axis]:
        """A path without spatial structure, merged with spatial ones, sees the whole input."""
        return [Axis(n, 0, 0) for n in self.extent]


def _dims_of(dims, ndim: int) -> tuple[int, ...]:
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, int | np.integer):
        dims = (dims,)
    return tuple(int(d) % ndim for d in dims)


def _broadcast(field: Field, shape: tuple[int, ...], out: tuple[int, ...]) -> list[tuple[int, Axis]]:
    """A path's axes as output dims (right-aligned broadcasting); a broadcast size-1 axis has stride 0."""
    lead = len(out) - len(shape)
    res = []
    for d, a in field.axes:
        od = d + lead
        if shape[d] == 1 and out[od] != 1:
            a = Axis(a.size, 0, a.start, a.uniform)
        res.append((od, a))
    return res


def merge_paths(
    op: str, fields: list[Field], shapes: list[tuple[int, ...]], out: tuple[int, ...], ctx: Context, cat_dim=None
) -> Field:
    """Element-wise ops and concatenation: the union of the dependent paths' fields, axis by axis."""
    spatial = [_broadcast(f, s, out) for f, s in zip(fields, shapes) if not f.lost]
    if not spatial:
        return LOST
    dims = [d for d, _ in spatial[0]]
    if cat_dim is not None and cat_dim in dims:
        return LOST  # joined along a spatial dim: no single grid any more
    if any([d for d, _ in p] != dims for p in spatial):
        return LOST  # the paths carry the input axes on different dims
    paths = [[a for _, a in p] for p in spatial] + [ctx.whole() for f in fields if f.lost]
    axes = []
    for i, d in enumerate(dims):
        report = (lambda k, a: ctx.report(op, k, a)) if ctx.report is not None else None
        axes.append((d, merge([p[i] for p in paths], out[d], report, i)))
    return Field(tuple(axes))


def _reduce(field: Field, shape, dims, keepdim: bool, spread: bool = False) -> Field:
    if field.lost:
        return LOST
    dims = set(dims)
    axes = []
    for d, a in field.axes:
        if d in dims:
            if not keepdim and not spread:
                return LOST
            a = a.spread(shape[d]) if spread else a.window(shape[d], shape[d], 0)
        axes.append((d - (0 if keepdim or spread else sum(1 for r in dims if r < d)), a))
    return Field(tuple(axes))


def _reshape(field: Field, shape, out) -> Field:
    """An axis survives a reshape when its size and the product of the dims before it are unchanged."""
    if field.lost:
        return LOST
    before_out = {}
    p = 1
    for j, n in enumerate(out):
        before_out.setdefault((p, n), j)
        p *= n
    axes = []
    for d, a in field.axes:
        key = (math.prod(shape[:d]), shape[d])
        if key not in before_out:
            return LOST
        axes.append((before_out[key], a))
    return Field(tuple(axes))


def _index(field: Field, shape, idx) -> Field:
    """Basic indexing: slices with a positive step shift and stride an axis; an int on a spatial dim drops it."""
    if field.lost:
        return LOST
    consumed = sum(1 for it in idx if it is not None and it is not Ellipsis)
    items = []
    for it in idx:
        items.extend([slice(None)] * (len(shape) - consumed) if it is Ellipsis else [it])
    items.extend([slice(None)] * (len(shape) - sum(1 for it in items if it is not None)))
    where, d_in, d_out = {}, 0, 0
    for it in items:
        if it is None:
            d_out += 1
            continue
        if isinstance(it, slice):
            where[d_in] = (d_out, it)
            d_out += 1
        else:
            where[d_in] = (None, it)
        d_in += 1
    axes = []
    for d, a in field.axes:
        od, it = where[d]
        if od is None:
            return LOST
        start, _, step = it.indices(shape[d])
        if step <= 0:
            return LOST
        axes.append((od, a.shift(start, step)))
    return Field(tuple(axes))


def _nonzero_bounds(m: np.ndarray) -> list[tuple[int, int]] | None:
    """Per column of m (rows: input units), the [first, last + 1) rows that are non-zero, if contiguous."""
    nz = m != 0
    bounds = []
    for col in nz.T:
        rows = np.flatnonzero(col)
        if rows.size == 0 or rows[-1] - rows[0] + 1 != rows.size:
            return None
        bounds.append((int(rows[0]), int(rows[-1]) + 1))
    return bounds


def _matmul(fields, shapes, arrays, out) -> Field:
    (fa, fb), (sa, sb) = fields, shapes
    if fa is not None and fb is not None:
        return LOST
    if fa is not None:  # x @ C: the last dim of x is contracted with the rows of C
        if fa.lost or len(sa) != len(out) or len(sb) != 2:
            return LOST
        axes = []
        for d, a in fa.axes:
            if d == len(sa) - 1:
                bounds = _nonzero_bounds(arrays[1])
                if bounds is None:
                    return LOST
                a = a.windows(bounds, sa[d])
            axes.append((d, a))
        return Field(tuple(axes))
    if fb.lost or len(sb) != len(out) or len(sa) != 2 or len(sb) < 2:
        return LOST
    axes = []
    for d, a in fb.axes:  # C @ x: dim -2 of x is contracted with the columns of C
        if d == len(sb) - 2:
            bounds = _nonzero_bounds(arrays[0].T)
            if bounds is None:
                return LOST
            a = a.windows(bounds, sb[d])
        axes.append((d, a))
    return Field(tuple(axes))


def _spatial_window(field: Field, per_dim: Callable[[int, Axis], Axis | None]) -> Field:
    """Window ops act on dims 2, 3, ...; the batch dim passes; a spatial axis carried on the
    channel dim (mixed by the op) is lost."""
    if field.lost:
        return LOST
    axes = []
    for d, a in field.axes:
        if d >= 2:
            a = per_dim(d - 2, a)
            if a is None:
                return LOST
        elif d == 1:
            return LOST
        axes.append((d, a))
    return Field(tuple(axes))


def _transposed(a: Axis, k: int, s: int, p: int, dl: int) -> Axis:
    """Transposed convolution: output o reads the inputs i with i s + kk dl - p = o (0 <= kk < k).
    Stride 1 is a convolution with padding dl (k - 1) - p; with larger strides the fields of
    the outputs differ in size (the largest is reported, the stride is j / s)."""
    if s == 1:
        return a.window(k, 1, dl * (k - 1) - p, dl)
    span, first = 0, 0
    for rho in range(s):  # the outputs o = rho (mod s) read the same kernel offsets
        ks = [kk for kk in range(k) if (rho + p - kk * dl) % s == 0]
        if ks:
            span = max(span, (max(ks) - min(ks)) * dl // s)
            if rho == 0:
                first = (p - max(ks) * dl) // s
    return Axis(a.size + span * a.stride, a.stride / s, a.start + first * a.stride, False)


def propagate(
    op: str,
    params: dict,
    fields: list[Field | None],
    shapes: list[tuple[int, ...]],
    arrays,
    out: tuple[int, ...],
    ctx: Context,
) -> Field | None:
    """The field of an op's output from its inputs' fields (``None``: the input is a constant)."""
    dep = [f for f in fields if f is not None]
    if not dep:
        return None
    x, xs = fields[0], shapes[0] if shapes else ()
    if op in ELEMENTWISE:
        if len(fields) == 1:
            return x
        return merge_paths(op, dep, [s for f, s in zip(fields, shapes) if f is not None], out, ctx)
    if op == "Cat":
        d = params["dim"] % len(out)
        return merge_paths(op, dep, [s for f, s in zip(fields, shapes) if f is not None], out, ctx, cat_dim=d)
    if op == "Matmul":
        return _matmul(fields, shapes, arrays, out)
    if x is None or any(f is not None for f in fields[1:]):
        return LOST  # e.g. a convolution whose weight depends on the input
    if op == "Conv":
        geo = params["geo"]
        kernel = shapes[1][2:]
        return _spatial_window(x, lambda i, a: a.window(kernel[i], geo.stride[i], geo.padding[i][0], geo.dilation[i]))
    if op == "ConvInput":
        geo = params["geo"]
        kernel = shapes[1][2:]
        return _spatial_window(
            x, lambda i, a: _transposed(a, kernel[i], geo.stride[i], geo.padding[i][0], geo.dilation[i])
        )
    if op == "MaxPool":
        k, s, dl, pads = params["kernel"], params["stride"], params["dilation"], params["pads"]
        return _spatial_window(x, lambda i, a: a.window(k[i], s[i], pads[i][0], dl[i]))
    if op == "WindowSum":
        k, s, dl = params["kernel"], params["stride"], params["dilation"]
        return _spatial_window(x, lambda i, a: a.window(k[i], s[i], 0, dl[i]))
    if x.lost:
        return LOST
    if op == "Pad":
        pad, n = params["pad"], len(params["pad"]) // 2
        lo = {len(xs) - 1 - i: pad[2 * i] for i in range(n)}
        return Field(tuple((d, a.shift(-lo.get(d, 0))) for d, a in x.axes))
    if op == "Reshape":
        return _reshape(x, xs, out)
    if op == "Permute":
        order = list(params["dims"])
        return Field(tuple((order.index(d), a) for d, a in x.axes))
    if op == "Expand":
        return Field(tuple(_broadcast(x, xs, out)))
    if op in REDUCTIONS:
        dims = params.get("dims", params.get("dim"))
        return _reduce(x, xs, _dims_of(dims, len(xs)), params.get("keepdim", False))
    if op in ("Softmax", "LogSoftmax"):
        return _reduce(x, xs, _dims_of(params["dim"], len(xs)), True, spread=True)
    if op == "SumTo":
        lead = len(xs) - len(params["shape"])
        reduced = [d for d in range(len(xs)) if d < lead or (params["shape"][d - lead] == 1 and xs[d] != 1)]
        f = _reduce(x, xs, reduced, True)
        return f if f.lost or lead == 0 else Field(tuple((d - lead, a) for d, a in f.axes if d >= lead))
    if op == "Index" and not params.get("advanced"):
        return _index(x, xs, params["idx"])
    if op == "Flip":
        flipped = _dims_of(params["dims"], len(xs))
        return LOST if any(d in flipped for d, _ in x.axes) else x
    if op == "Linear":
        return Field(x.axes) if all(d == 0 for d, _ in x.axes) else LOST
    return LOST


def adaptive(field: Field | None, in_shape, out_shape) -> Field | None:
    """Adaptive pooling: output unit o of an axis of length L pools [floor(o L / n), ceil((o + 1) L / n))."""
    if field is None or field.lost:
        return field

    def per_dim(i: int, a: Axis) -> Axis:
        size, n = in_shape[2 + i], out_shape[2 + i]
        return a.windows([(math.floor(o * size / n), math.ceil((o + 1) * size / n)) for o in range(n)], size)

    return _spatial_window(field, per_dim)


def exact(field: Field | None) -> bool:
    """False when the field is the largest of unequal ones (uneven adaptive windows, a transposed
    convolution with stride > 1): its size is then the maximum and its stride the mean step."""
    return field is None or field.lost or all(a.uniform for _, a in field.axes)


def summarize(field: Field | None) -> tuple:
    """(receptive field, effective stride, effective padding) per input axis, each an int when the
    axes agree; (None, None, None) for a constant or a tensor without spatial structure."""
    if field is None or field.lost:
        return None, None, None
    axes = [a for _, a in field.axes]

    def one(vals):
        vals = tuple(_intish(v) for v in vals)
        return vals[0] if len(set(vals)) == 1 else vals

    return one(a.size for a in axes), one(a.stride for a in axes), one(a.padding for a in axes)
