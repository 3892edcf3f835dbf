"""Functions of ``gb.nn.functional`` exported as a few ONNX nodes instead of the ops they are made of.

Some functional ops pick values with a mask or indices computed with NumPy (``x > 0`` in CELU,
the shrinks, Threshold and PReLU; the zero-norm guard of normalize and the distances; the
windows of adaptive max pooling; the padding row of embedding; the taps of grid_sample): a
trace of the ops cannot see those, so the whole call is recorded as one node and mapped here.
``FUNCTION_MAPPINGS`` maps a function name of ``gradbox.nn.functional`` to (whether this call is
recorded whole, given its arguments and the opset; the mapping). The mapping's ``Ctx`` has the
call's tensor arguments as its inputs (``arg``) and the other arguments as ``params``. The layers
of ``modules.py`` share the bodies defined here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from gradbox.onnx.graph import Ctx

# ---- bodies shared with the layer mappings (modules.py) -------------------------------------


def celu_body(c: Ctx, x: str, alpha: float) -> str:
    return c.emit("Celu", [x], alpha=float(alpha))


def shrink_body(c: Ctx, x: str, lambd: float, soft: bool) -> str:
    return c.emit("Shrink", [x], lambd=float(lambd), bias=float(lambd) if soft else 0.0)


def threshold_body(c: Ctx, x: str, dtype: np.dtype, threshold: float, value: float) -> str:
    """x where x > threshold, else value (an integer input is compared as float64, as NumPy does)."""
    xc = x if dtype.kind == "f" else c.cast(x, dtype, np.dtype(np.float64))
    above = c.emit("Greater", [xc, c.const(threshold, np.float64 if dtype.kind != "f" else dtype)])
    return c.emit("Where", [above, x, c.const(value, dtype)])


def prelu_body(c: Ctx, x: str, ndim: int, slope: str, n: int) -> str:
    """PRelu with the slopes shaped (C, 1, ...) to broadcast over the channel dim."""
    if n > 1 and ndim > 2:
        slope = c.emit("Reshape", [slope, c.ints([-1] + [1] * (ndim - 2))])
    return c.emit("PRelu", [x, slope])


def adaptive_max_body(c: Ctx, x: str, shape: tuple[int, ...], dyn: dict[int, str], d: int, output_size: Any) -> str:
    """The max over each adaptive window, one spatial dim at a time (the max over a box is the max
    over one dim of the max over the other): per window a Slice and a ReduceMax, then Concat."""
    spatial = shape[-d:]
    outs = (output_size,) * d if isinstance(output_size, int) or output_size is None else tuple(output_size)
    y = x
    for i, (size, o) in enumerate(zip(spatial, outs)):
        o = size if o is None else int(o)
        axis = len(shape) - d + i
        if axis in dyn:
            c.fail(f"adaptive pooling over the dynamic axis {dyn[axis]!r}")
        parts = []
        for k in range(o):
            lo, hi = math.floor(k * size / o), math.ceil((k + 1) * size / o)
            window = c.emit("Slice", [y, c.ints([lo]), c.ints([hi]), c.ints([axis])])
            parts.append(c.axes_op("ReduceMax", window, [axis], True))
        y = parts[0] if o == 1 else c.emit("Concat", parts, axis=axis)
    return y


def _pnorm(c: Ctx, x: str, p: float, axes: list[int], keep: bool, dt: np.dtype) -> str:
    """||x||_p over axes: L1 and L2 as ReduceL1/ReduceL2, inf as the largest |x|, 0 as the count of nonzeros."""
    if p == 2:
        return c.axes_op("ReduceL2", x, axes, keep)
    if p == 1:
        return c.axes_op("ReduceL1", x, axes, keep)
    mag = c.emit("Abs", [x])
    if p == math.inf:
        return c.axes_op("ReduceMax", mag, axes, keep)
    if p == 0:
        nonzero = c.emit("Not", [c.emit("Equal", [x, c.const(0, dt)])])
        return c.axes_op(
            "ReduceSum", c.emit("Cast", [nonzero], to=c.g.h.np_dtype_to_tensor_dtype(dt)), axes, keep, since=13
        )
    total = c.axes_op("ReduceSum", c.emit("Pow", [mag, c.const(p, dt)]), axes, keep, since=13)
    return c.emit("Pow", [total, c.const(1.0 / p, dt)])


def pairwise_distance_body(c: Ctx, a: str, b: str, p: float, eps: float, keepdim: bool, dt: np.dtype) -> str:
    """||x1 - x2 + eps||_p over the last dim."""
    diff = c.emit("Add", [c.emit("Sub", [a, b]), c.const(eps, dt)])
    return _pnorm(c, diff, float(p), [-1], bool(keepdim), dt)


def cosine_similarity_body(c: Ctx, a: str, b: str, dim: int, eps: float, dt: np.dtype) -> str:
    """sum(a b) / (max(||a||, eps) max(||b||, eps)) along dim, a and b broadcast first."""
    common = c.emit("Shape", [c.emit("Add", [a, b])])
    a, b = (c.emit("Expand", [t, common]) for t in (a, b))
    na, nb = (c.emit("Clip", [c.axes_op("ReduceL2", t, [dim], True), c.const(eps, dt)]) for t in (a, b))
    prod = c.emit("Mul", [c.emit("Div", [a, na]), c.emit("Div", [b, nb])])
    return c.axes_op("ReduceSum", prod, [dim], False, since=13)


def _tuple(v: Any, n: int) -> tuple[int, ...]:
    return (int(v),) * n if isinstance(v, int) else tuple(int(a) for a in v)


def _picker(channels: int, kernel: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """Weights (C*kh*kw, 1, kh, kw) whose output channel c*K + k copies kernel offset k of channel c
    (groups = C): a convolution with them is im2col in PyTorch's (c, i, j) order."""
    k = kernel[0] * kernel[1]
    w = np.zeros((channels * k, 1, *kernel), dtype=dtype)
    for ch in range(channels):
        for j in range(k):
            w[ch * k + j, 0, j // kernel[1], j % kernel[1]] = 1
    return w


def unfold_body(c: Ctx, x: str, shape: tuple[int, ...], dt: np.dtype, kernel_size, dilation, padding, stride) -> str:
    """im2col as a grouped convolution with one-hot kernels, then (N, C*kh*kw, L)."""
    if len(shape) != 4:
        c.fail("unfold of an unbatched (3-D) input")
    kernel, dil, pad, st = (_tuple(v, 2) for v in (kernel_size, dilation, padding, stride))
    ch = shape[1]
    cols = c.emit("Conv", [x, c.const(_picker(ch, kernel, dt))], group=ch, kernel_shape=list(kernel),
                  strides=list(st), dilations=list(dil), pads=[pad[0], pad[1], pad[0], pad[1]])  # fmt: skip
    return c.emit("Reshape", [cols, c.ints([0, ch * kernel[0] * kernel[1], -1])])


def fold_body(
    c: Ctx, x: str, shape: tuple[int, ...], dt: np.dtype, output_size, kernel_size, dilation, padding, stride
) -> str:
    """col2im (the adjoint of unfold) as a grouped transposed convolution with one-hot kernels."""
    if len(shape) != 3:
        c.fail("fold of an unbatched (2-D) input")
    size, kernel, dil, pad, st = (_tuple(v, 2) for v in (output_size, kernel_size, dilation, padding, stride))
    k = kernel[0] * kernel[1]
    ch = shape[1] // k
    blocks = [(s + 2 * p - d * (kk - 1) - 1) // t + 1 for s, p, d, kk, t in zip(size, pad, dil, kernel, st)]
    natural = [t * (b - 1) + d * (kk - 1) + 1 - 2 * p for b, t, d, kk, p in zip(blocks, st, dil, kernel, pad)]
    grid = c.emit("Reshape", [x, c.ints([0, ch * k, *blocks])])
    extra = [s - n for s, n in zip(size, natural)]
    return c.emit("ConvTranspose", [grid, c.const(_picker(ch, kernel, dt))], group=ch, kernel_shape=list(kernel),
                  strides=list(st), dilations=list(dil), pads=[pad[0], pad[1], pad[0], pad[1]],
                  output_padding=extra if any(extra) else None)  # fmt: skip


def embedding_bag_body(c: Ctx, weight: str, idx: str, ndim: int, mode: str, unsupported: bool) -> str:
    """Bags of equal size (a 2-D input): Gather, then the sum, mean or max over each bag."""
    if unsupported or ndim != 2:
        c.fail("EmbeddingBag with offsets, per-sample weights, padding_idx or max_norm (bags of data-dependent size)")
    rows = c.emit("Gather", [weight, idx], axis=0)
    op = {"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax"}[mode]
    return c.axes_op(op, rows, [1], False, since=13 if op == "ReduceSum" else 18)


# ---- the functions ------------------------------------------------------------------------


def _dt(c: Ctx, name: str) -> np.dtype:
    return c.dtype(c.arg_index(name))


def celu(c: Ctx) -> str:
    return celu_body(c, c.arg("input"), c.params["alpha"])


def hardshrink(c: Ctx) -> str:
    return shrink_body(c, c.arg("input"), c.params["lambd"], soft=False)


def softshrink(c: Ctx) -> str:
    return shrink_body(c, c.arg("input"), c.params["lambd"], soft=True)


def threshold(c: Ctx) -> str:
    return threshold_body(c, c.arg("input"), _dt(c, "input"), c.params["threshold"], c.params["value"])


def prelu(c: Ctx) -> str:
    w = c.arg_index("weight")
    return prelu_body(c, c.arg("input"), len(c.shape(c.arg_index("input"))), c.x(w), int(np.prod(c.shape(w))))


def _adaptive_max(d: int) -> Callable[[Ctx], str]:
    def mapping(c: Ctx) -> str:  # (with return_indices=True the call returns a tuple, which trace.py refuses)
        i = c.arg_index("input")
        return adaptive_max_body(c, c.x(i), c.shape(i), c.dyn(i), d, c.params["output_size"])

    return mapping


def normalize(c: Ctx) -> str:
    """x / max(||x||_p, eps) along dim."""
    x, dt = c.arg("input"), _dt(c, "input")
    norm = _pnorm(c, x, float(c.params["p"]), [int(c.params["dim"])], True, dt)
    return c.emit("Div", [x, c.emit("Clip", [norm, c.const(c.params["eps"], dt)])])


def pairwise_distance(c: Ctx) -> str:
    p = c.params
    if not c.shape(c.arg_index("x1")) and not c.shape(c.arg_index("x2")):
        c.fail("pairwise_distance of two 0-d tensors")
    return pairwise_distance_body(c, c.arg("x1"), c.arg("x2"), p["p"], p["eps"], p["keepdim"], _dt(c, "x1"))


def cosine_similarity(c: Ctx) -> str:
    return cosine_similarity_body(c, c.arg("x1"), c.arg("x2"), int(c.params["dim"]), c.params["eps"], _dt(c, "x1"))


def embedding(c: Ctx) -> str:
    """Rows of the table (padding_idx only changes the gradient, not the forward)."""
    return c.emit("Gather", [c.arg("weight"), c.arg("input")], axis=0)


def embedding_bag(c: Ctx) -> str:
    p = c.params
    unsupported = (
        c.has("offsets") or c.has("per_sample_weights") or p["padding_idx"] is not None or p["max_norm"] is not None
    )
    return embedding_bag_body(
        c, c.arg("weight"), c.arg("input"), len(c.shape(c.arg_index("input"))), p["mode"], unsupported
    )


def one_hot(c: Ctx) -> str:
    n = int(c.params["num_classes"])
    if n < 0:
        c.fail(
            "one_hot with num_classes=-1 (the number of classes would come from the input's largest value): pass num_classes"
        )
    values = c.const(np.array([0, 1], dtype=np.int64))
    return c.emit("OneHot", [c.arg("tensor"), c.const(np.int64(n)), values], axis=-1)


def grid_sample(c: Ctx) -> str:
    """ONNX GridSample (opset 16; 3-D grids and the modes' new names from opset 20)."""
    i = c.arg_index("input")
    nd = len(c.shape(i))
    if c.opset < 16 or (nd == 5 and c.opset < 20):
        c.fail(f"grid_sample of a {nd}-D input needs opset_version >= {16 if nd == 4 else 20}, got {c.opset}")
    mode = c.params["mode"]
    if c.opset >= 20:
        mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    return c.emit("GridSample", [c.x(i), c.arg("grid")], mode=mode, padding_mode=c.params["padding_mode"],
                  align_corners=int(bool(c.params["align_corners"])))  # fmt: skip


def unfold(c: Ctx) -> str:
    i, p = c.arg_index("input"), c.params
    return unfold_body(c, c.x(i), c.shape(i), c.dtype(i), p["kernel_size"], p["dilation"], p["padding"], p["stride"])


def fold(c: Ctx) -> str:
    i, p = c.arg_index("input"), c.params
    return fold_body(
        c, c.x(i), c.shape(i), c.dtype(i), p["output_size"], p["kernel_size"], p["dilation"], p["padding"], p["stride"]
    )


def _always(args: dict, opset: int) -> bool:
    return True


def _embedding_applies(args: dict, opset: int) -> bool:
    return args.get("max_norm") is None  # (gradbox refuses max_norm itself)


# function name in gradbox.nn.functional -> (whether a call is recorded whole, given its arguments
# by name and the opset; the mapping)
FUNCTION_MAPPINGS: dict[str, tuple[Callable[[dict, int], bool], Callable[[Ctx], str]]] = {
    "celu": (_always, celu),
    "hardshrink": (_always, hardshrink),
    "softshrink": (_always, softshrink),
    "threshold": (_always, threshold),
    "prelu": (_always, prelu),
    "normalize": (_always, normalize),
    "pairwise_distance": (_always, pairwise_distance),
    "cosine_similarity": (_always, cosine_similarity),
    "adaptive_max_pool1d": (_always, _adaptive_max(1)),
    "adaptive_max_pool2d": (_always, _adaptive_max(2)),
    "adaptive_max_pool3d": (_always, _adaptive_max(3)),
    "embedding": (_embedding_applies, embedding),
    "embedding_bag": (_always, embedding_bag),
    "one_hot": (_always, one_hot),
    "grid_sample": (_always, grid_sample),
    "unfold": (_always, unfold),
    "fold": (_always, fold),
}
