"""The ONNX mapping of each op in ``Function.registry``: one function per op class, by name.

A mapping receives a :class:`~gradbox.onnx.graph.Ctx` (the recorded op: its inputs as ONNX
names, shapes, parameters and dynamic dims) and returns the ONNX name of the op's result.
``OP_MAPPINGS`` holds them; ``UNEXPORTABLE`` lists the ops with no mapping and why. Every op
of the registry is in exactly one of the two (tests/test_onnx_export.py checks it), so a new op
comes with its mapping or its reason. A mapping may accept params that depend on the batch
size (``dynamic=...``); any other param that changes between the two recordings fails the
export (see ``shapes.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradbox.onnx.graph import INT64_MAX, INT64_MIN, Ctx


@dataclass(frozen=True)
class Mapping:
    fn: Callable[[Ctx], str]
    dynamic: frozenset[str]  # params allowed to follow the batch size


OP_MAPPINGS: dict[str, Mapping] = {}

_BACKWARD = "a backward op: it appears only when differentiating, never in a forward pass to export"
UNEXPORTABLE: dict[str, str] = {
    "BatchNormTrain": "batch norm with batch statistics (training mode); export runs the model in eval mode, so "
    "only F.batch_norm(..., training=True) called directly reaches it: pass training=False",
    "SoftmaxCrossEntropy": "a loss (it needs the targets): export the model, and compute the loss outside the graph",
    "IndexPut": "an assignment into a tensor (t[idx] = v): build the result out of place (cat, where) to export it",
    "CustomFunctionNode": "a user's gb.autograd.Function: its forward is arbitrary Python on arrays, which has no "
    "ONNX form; write it with gradbox ops (or the layer it stands for) to export it",
    "CustomOutput": "an output of a user's gb.autograd.Function (see CustomFunctionNode)",
    "ConvWeight": _BACKWARD,
    "SoftmaxCrossEntropyGrad": _BACKWARD,
    "IndexAdd": _BACKWARD,
    "ScatterAdd": _BACKWARD,
    "MaxPoolScatter": _BACKWARD,
    "MaxPoolGather": _BACKWARD,
    "WindowSpread": _BACKWARD,
}


def maps(*ops: str, dynamic: tuple[str, ...] = ()):
    def register(fn: Callable[[Ctx], str]) -> Callable[[Ctx], str]:
        for op in ops:
            OP_MAPPINGS[op] = Mapping(fn, frozenset(dynamic))
        return fn

    return register


# ---- elementwise ----------------------------------------------------------------------------

_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow", "Maximum": "Max", "Minimum": "Min"}
_UNARY = {
    "Neg": "Neg",
    "Exp": "Exp",
    "Log": "Log",
    "Sqrt": "Sqrt",
    "Abs": "Abs",
    "Sin": "Sin",
    "Cos": "Cos",
    "Tanh": "Tanh",
    "Sigmoid": "Sigmoid",
    "Relu": "Relu",
    "Erf": "Erf",
}


@maps(*_BINARY)
def binary(c: Ctx) -> str:
    return c.emit(_BINARY[c.node.op], [c.x_as_out(0), c.x_as_out(1)])


@maps(*_UNARY)
def unary(c: Ctx) -> str:
    return c.emit(_UNARY[c.node.op], [c.x_as_out(0)])


@maps("Log1p")
def log1p(c: Ctx) -> str:
    return c.emit("Log", [c.emit("Add", [c.x(0), c.const(1, c.out_dtype)])])


@maps("PowScalar")
def pow_scalar(c: Ctx) -> str:
    return c.emit("Pow", [c.x_as_out(0), c.const(c.params["p"], c.out_dtype)])


@maps("Clamp")
def clamp(c: Ctx) -> str:
    lo, hi = c.params["lo"], c.params["hi"]
    bounds = [c.const(b, c.out_dtype) if b is not None else "" for b in (lo, hi)]
    while bounds and bounds[-1] == "":
        bounds.pop()
    return c.emit("Clip", [c.x_as_out(0), *bounds])


@maps("LeakyRelu")
def leaky_relu(c: Ctx) -> str:
    return c.emit("LeakyRelu", [c.x(0)], alpha=float(c.params["slope"]))


@maps("Elu")
def elu(c: Ctx) -> str:
    return c.emit("Elu", [c.x(0)], alpha=float(c.params["alpha"]))


@maps("Softplus")
def softplus(c: Ctx) -> str:
    """(1/b) softplus(b x), and x where b x > threshold."""
    beta, threshold, dt = c.params["beta"], c.params["threshold"], c.out_dtype
    x = c.x(0)
    bx = x if beta == 1 else c.emit("Mul", [x, c.const(beta, dt)])
    soft = c.emit("Softplus", [bx])
    if beta != 1:
        soft = c.emit("Div", [soft, c.const(beta, dt)])
    above = c.emit("Greater", [bx, c.const(threshold, dt)])
    return c.emit("Where", [above, x, soft])


@maps("Where")
def where(c: Ctx) -> str:
    cond = c.params["cond"]
    name = c.linked(cond) if isinstance(cond, np.ndarray) else None
    if name is None:
        name = c.const(np.asarray(cond, dtype=bool))
    return c.emit("Where", [name, c.x_as_out(0), c.x_as_out(1)])


@maps("Cast")
def cast(c: Ctx) -> str:
    return c.emit("Cast", [c.x(0)], to=c.g.h.np_dtype_to_tensor_dtype(np.dtype(c.params["dtype"])))


@maps("Clone")
def clone(c: Ctx) -> str:
    return c.emit("Identity", [c.x(0)])


# ---- linear algebra, convolution, pooling -------------------------------------------------


@maps("Matmul")
def matmul(c: Ctx) -> str:
    return c.emit("MatMul", [c.x(0), c.x(1)])


@maps("Linear")
def linear(c: Ctx) -> str:
    if len(c.shape(0)) == 2:
        return c.emit("Gemm", [c.x(i) for i in range(c.n_inputs)], transB=1)
    y = c.emit("MatMul", [c.x(0), c.emit("Transpose", [c.x(1)], perm=[1, 0])])
    return c.emit("Add", [y, c.x(2)]) if c.n_inputs == 3 else y


def _window_attrs(kernel, stride, dilation, pads) -> dict:
    return {
        "kernel_shape": [int(k) for k in kernel],
        "strides": [int(s) for s in stride],
        "dilations": [int(d) for d in dilation],
        "pads": [int(lo) for lo, _ in pads] + [int(hi) for _, hi in pads],
    }


def _natural_out(spatial, kernel, stride, dilation, pads) -> tuple[int, ...]:
    return tuple(
        (s + lo + hi - d * (k - 1) - 1) // st + 1
        for s, k, st, d, (lo, hi) in zip(spatial, kernel, stride, dilation, pads)
    )


@maps("Conv")
def conv(c: Ctx) -> str:
    geo = c.params["geo"]
    kernel = c.shape(1)[2:]
    out = c.params.get("out")
    if out is not None and tuple(out) != _natural_out(c.shape(0)[2:], kernel, geo.stride, geo.dilation, geo.padding):
        c.fail(f"a convolution limited to output size {tuple(out)} (the adjoint of a transposed convolution)")
    return c.emit(
        "Conv",
        [c.x(i) for i in range(c.n_inputs)],
        group=int(geo.groups),
        **_window_attrs(kernel, geo.stride, geo.dilation, geo.padding),
    )


@maps("ConvInput", dynamic=("x_shape",))
def conv_transpose(c: Ctx) -> str:
    """The adjoint of conv: ConvTranspose, its output_padding chosen to give the recorded size."""
    geo, target = c.params["geo"], c.params["x_shape"][2:]
    kernel = c.shape(1)[2:]
    natural = [
        st * (i - 1) + d * (k - 1) + 1 - lo - hi
        for i, k, st, d, (lo, hi) in zip(c.shape(0)[2:], kernel, geo.stride, geo.dilation, geo.padding)
    ]
    extra = [int(t - n) for t, n in zip(target, natural)]
    if any(e < 0 for e in extra):
        c.fail(f"output size {tuple(target)} is below the transposed convolution's {tuple(natural)}")
    return c.emit(
        "ConvTranspose",
        [c.x(0), c.x(1)],
        group=int(geo.groups),
        output_padding=extra if any(extra) else None,
        **_window_attrs(kernel, geo.stride, geo.dilation, geo.padding),
    )


@maps("MaxPool")
def max_pool(c: Ctx) -> str:
    p = c.params
    if tuple(p["out"]) != _natural_out(c.shape(0)[2:], p["kernel"], p["stride"], p["dilation"], p["pads"]):
        c.fail(f"pooling geometry {p} does not give output size {tuple(p['out'])}")
    return c.emit("MaxPool", [c.x(0)], **_window_attrs(p["kernel"], p["stride"], p["dilation"], p["pads"]))


@maps("WindowSum")
def window_sum(c: Ctx) -> str:
    """The sum over each window (average pooling's numerator): AveragePool times the window
    size, or for a dilated window a depthwise convolution with ones."""
    p = c.params
    kernel, stride, dilation = p["kernel"], p["stride"], p["dilation"]
    zero = tuple((0, 0) for _ in kernel)
    if tuple(p["out"]) != _natural_out(c.shape(0)[2:], kernel, stride, dilation, zero):
        c.fail(f"window geometry {p} does not give output size {tuple(p['out'])}")
    attrs = _window_attrs(kernel, stride, dilation, zero)
    if all(d == 1 for d in dilation):
        del attrs["dilations"]
        avg = c.emit("AveragePool", [c.x(0)], **attrs)
        return c.emit("Mul", [avg, c.const(float(np.prod(kernel)), c.out_dtype)])
    channels = c.shape(0)[1]
    ones = c.const(np.ones((channels, 1, *kernel), dtype=c.out_dtype))
    return c.emit("Conv", [c.x(0), ones], group=int(channels), **attrs)


# ---- reductions -------------------------------------------------------------------------


@maps("Sum")
def reduce_sum(c: Ctx) -> str:
    return c.axes_op("ReduceSum", c.x(0), c.params["dims"], c.params["keepdim"], since=13)


@maps("Mean")
def reduce_mean(c: Ctx) -> str:
    return c.axes_op("ReduceMean", c.x(0), c.params["dims"], c.params["keepdim"])


@maps("AMaxMin")
def amax_amin(c: Ctx) -> str:
    op = "ReduceMax" if c.params["is_max"] else "ReduceMin"
    return c.axes_op(op, c.x(0), c.params["dims"], c.params["keepdim"])


@maps("MaxMinDim")
def max_min_dim(c: Ctx) -> str:
    op = "ReduceMax" if c.params["is_max"] else "ReduceMin"
    return c.axes_op(op, c.x(0), [c.params["dim"]], c.params["keepdim"])


@maps("Prod")
def reduce_prod(c: Ctx) -> str:
    dim = c.params["dim"]
    return c.axes_op("ReduceProd", c.x(0), None if dim is None else [dim], c.params["keepdim"])


@maps("LogSumExp")
def logsumexp(c: Ctx) -> str:
    return c.axes_op("ReduceLogSumExp", c.x(0), c.params["dims"], c.params["keepdim"])


def _variance(c: Ctx) -> str:
    dims = c.params["dims"]
    shape = c.shape(0)
    axes = list(range(len(shape))) if dims is None else list(dims)
    if any(a in c.dyn(0) for a in axes):
        c.fail("a variance over a dynamic axis (its count N is not known when exporting)")
    n = int(np.prod([shape[a] for a in axes]))
    x = c.x(0)
    centered = c.emit("Sub", [x, c.axes_op("ReduceMean", x, axes, True)])
    total = c.axes_op("ReduceSum", c.emit("Mul", [centered, centered]), axes, c.params["keepdim"], since=13)
    return c.emit("Div", [total, c.const(n - c.params["correction"], c.out_dtype)])


@maps("Var")
def variance(c: Ctx) -> str:
    return _variance(c)


@maps("Std")
def std(c: Ctx) -> str:
    return c.emit("Sqrt", [_variance(c)])


@maps("Softmax")
def softmax(c: Ctx) -> str:
    return c.emit("Softmax", [c.x(0)], axis=int(c.params["dim"]))


@maps("LogSoftmax")
def log_softmax(c: Ctx) -> str:
    return c.emit("LogSoftmax", [c.x(0)], axis=int(c.params["dim"]))


# ---- moving elements --------------------------------------------------------------------


@maps("Reshape", dynamic=("shape",))
def reshape(c: Ctx) -> str:
    """Static sizes, and for each dynamic axis 0 (copy the input's dim) where it stays in place;
    one other dynamic axis becomes -1; with more, the shape is computed at run time."""
    out, out_dyn = c.out_shape, c.out_dyn
    target = [int(s) if a not in out_dyn else -1 for a, s in enumerate(out)]
    src = c.shape(0)
    rest = []
    for axis in out_dyn:
        if axis < len(src) and c.dyn(0).get(axis) == out_dyn[axis] and list(src[:axis]) == list(out[:axis]):
            target[axis] = 0
        else:
            rest.append(axis)
    if len(rest) > 1:
        dims: list[int | str] = [out_dyn.get(a, int(s)) for a, s in enumerate(out)]
        return c.emit("Reshape", [c.x(0), c.shape_tensor(dims)])
    return c.emit("Reshape", [c.x(0), c.ints(target)])


@maps("Permute")
def permute(c: Ctx) -> str:
    return c.emit("Transpose", [c.x(0)], perm=[int(d) for d in c.params["dims"]])


@maps("Expand", dynamic=("shape",))
def expand(c: Ctx) -> str:
    out, src, dyn = c.out_shape, c.shape(0), c.out_dyn
    lead = len(out) - len(src)
    dims: list[int | str] = []
    for axis, size in enumerate(out):
        if axis in dyn:
            kept = axis >= lead and src[axis - lead] == size
            dims.append(1 if kept else dyn[axis])  # 1 keeps the input's own (dynamic) size
        else:
            dims.append(int(size))
    return c.emit("Expand", [c.x(0), c.shape_tensor(dims)])


@maps("Flip")
def flip(c: Ctx) -> str:
    dims = [int(d) for d in c.params["dims"]]
    k = len(dims)
    return c.emit("Slice", [c.x(0), c.ints([-1] * k), c.ints([INT64_MIN] * k), c.ints(dims), c.ints([-1] * k)])


@maps("Pad")
def pad(c: Ctx) -> str:
    amounts, ndim = c.params["pad"], len(c.shape(0))
    lo, hi = [0] * ndim, [0] * ndim
    for i in range(len(amounts) // 2):
        lo[ndim - 1 - i], hi[ndim - 1 - i] = int(amounts[2 * i]), int(amounts[2 * i + 1])
    value = c.const(c.params["value"], c.out_dtype)
    return c.emit("Pad", [c.x(0), c.ints(lo + hi), value], mode="constant")


@maps("Cat")
def cat(c: Ctx) -> str:
    return c.emit("Concat", [c.x_as_out(i) for i in range(c.n_inputs)], axis=int(c.params["dim"]))


@maps("SumTo", dynamic=("shape",))
def sum_to(c: Ctx) -> str:
    shape, src = c.params["shape"], c.shape(0)
    lead = len(src) - len(shape)
    axes = list(range(lead)) + [lead + i for i, s in enumerate(shape) if s == 1 and src[lead + i] != 1]
    y = c.axes_op("ReduceSum", c.x(0), axes, True, since=13) if axes else c.x(0)
    dims: list[int | str] = [c.out_dyn.get(i, int(s)) for i, s in enumerate(c.out_shape)]
    return c.emit("Reshape", [y, c.shape_tensor(dims)])


@maps("Take")
def take(c: Ctx) -> str:
    idx = c.params["idx"]
    name = c.linked(idx) or c.const(np.asarray(idx, dtype=np.int64))
    return c.emit("Gather", [c.emit("Reshape", [c.x(0), c.ints([-1])]), name], axis=0)


@maps("Index")
def index(c: Ctx) -> str:
    """Basic indexing (slices, ints, None, ...) as Slice, Squeeze and Unsqueeze; one index array
    as Gather along its axis."""
    items = list(c.params["idx"])
    ndim = len(c.shape(0))
    used = sum(1 for it in items if it is not None and it is not Ellipsis)
    if Ellipsis in [it for it in items if not isinstance(it, np.ndarray)]:
        k = next(i for i, it in enumerate(items) if not isinstance(it, np.ndarray) and it is Ellipsis)
        items[k : k + 1] = [slice(None)] * (ndim - used)
    items += [slice(None)] * (ndim - sum(1 for it in items if it is not None))
    arrays = [it for it in items if isinstance(it, np.ndarray)]
    if len(arrays) > 1:
        c.fail("indexing with several index arrays together (only one index array can be exported, as Gather)")
    starts, ends, axes, steps = [], [], [], []
    squeeze, new_axes = [], []
    gather = None
    dim = out_pos = 0
    for it in items:
        if it is None:
            new_axes.append(out_pos)
            out_pos += 1
            continue
        if isinstance(it, np.ndarray):
            gather = (dim, it)
            out_pos += it.ndim
        elif isinstance(it, slice):
            if it != slice(None):
                step = 1 if it.step is None else int(it.step)
                start = (0 if step > 0 else -1) if it.start is None else int(it.start)
                end = (INT64_MAX if step > 0 else INT64_MIN) if it.stop is None else int(it.stop)
                starts.append(start), ends.append(end), axes.append(dim), steps.append(step)
            out_pos += 1
        else:  # an int
            i = int(it)
            starts.append(i), ends.append(INT64_MAX if i == -1 else i + 1), axes.append(dim), steps.append(1)
            squeeze.append(dim)
        dim += 1
    y = c.x(0)
    if axes:
        y = c.emit("Slice", [y, c.ints(starts), c.ints(ends), c.ints(axes), c.ints(steps)])
    if gather is not None:
        axis, arr = gather
        name = c.linked(arr) or c.const(np.asarray(arr, dtype=np.int64))
        y = c.emit("Gather", [y, name], axis=axis)
        squeeze = [d if d < axis else d + arr.ndim - 1 for d in squeeze]
    if squeeze:
        y = c.emit("Squeeze", [y, c.ints(squeeze)])
    if new_axes:
        y = c.emit("Unsqueeze", [y, c.ints(new_axes)])
    if y == c.x(0):
        y = c.emit("Identity", [y])
    return y
