"""Layers exported as one ONNX node instead of the ops they are made of.

gradbox's batch norm in eval mode is elementwise ops with the running statistics; ONNX has
BatchNormalization for exactly that, and runtimes fuse it into the preceding convolution.
Layers whose forward picks values by a mask or by indices computed with NumPy (CELU, the
shrinks, Threshold, PReLU, Embedding's padding row, adaptive max pooling, the distances) cannot
be traced op by op, since the mask is not an op: they map whole to ONNX ops.
``MODULE_MAPPINGS`` maps a layer class name to (when it applies, the mapping); a layer for
which ``when`` is false is exported op by op like any other module.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from gradbox.nn import Module
from gradbox.onnx.graph import Ctx


def _param(c: Ctx, module: Module, name: str, fill: float, n: int, dtype) -> str:
    t = getattr(module, name, None)
    if t is None:
        return c.const(np.full(n, fill, dtype=dtype))
    return c.ex.tensor_name(t, module, name)


def batch_norm(c: Ctx) -> str:
    m = c.node.module_obj
    n, dt = m.num_features, c.dtype(0)
    ins = [
        c.x(0),
        _param(c, m, "weight", 1.0, n, dt),
        _param(c, m, "bias", 0.0, n, dt),
        c.ex.tensor_name(m.running_mean, m, "running_mean"),
        c.ex.tensor_name(m.running_var, m, "running_var"),
    ]
    return c.emit("BatchNormalization", ins, epsilon=float(m.eps))


def layer_norm(c: Ctx) -> str:
    m = c.node.module_obj
    shape, dt = tuple(m.normalized_shape), c.dtype(0)
    w = c.const(np.ones(shape, dtype=dt)) if m.weight is None else c.ex.tensor_name(m.weight, m, "weight")
    ins = [c.x(0), w] + ([c.ex.tensor_name(m.bias, m, "bias")] if m.bias is not None else [])
    return c.emit("LayerNormalization", ins, axis=-len(shape), epsilon=float(m.eps))


def celu(c: Ctx) -> str:
    return c.emit("Celu", [c.x(0)], alpha=float(c.node.module_obj.alpha))


def shrink(c: Ctx) -> str:
    m = c.node.module_obj
    bias = float(m.lambd) if c.node.op == "Softshrink" else 0.0
    return c.emit("Shrink", [c.x(0)], lambd=float(m.lambd), bias=bias)


def threshold(c: Ctx) -> str:
    m, dt = c.node.module_obj, c.dtype(0)
    above = c.emit("Greater", [c.x(0), c.const(m.threshold, dt)])
    return c.emit("Where", [above, c.x(0), c.const(m.value, dt)])


def prelu(c: Ctx) -> str:
    """PRelu with the slopes shaped (C, 1, ...) to broadcast over the channel dim."""
    m = c.node.module_obj
    slope = c.ex.tensor_name(m.weight, m, "weight")
    ndim = len(c.shape(0))
    if m.weight._data.size > 1 and ndim > 2:
        slope = c.emit("Reshape", [slope, c.ints([-1] + [1] * (ndim - 2))])
    return c.emit("PRelu", [c.x(0), slope])


def embedding(c: Ctx) -> str:
    """Rows of the table (padding_idx only changes the gradient, not the forward)."""
    m = c.node.module_obj
    return c.emit("Gather", [c.ex.tensor_name(m.weight, m, "weight"), c.x(0)], axis=0)


def adaptive_max_pool(c: Ctx) -> str:
    """The max over each adaptive window, one spatial dim at a time (the max over a box is the max
    over one dim of the max over the other): per window a Slice and a ReduceMax, then Concat."""
    m, shape = c.node.module_obj, c.shape(0)
    d = int(c.node.op[-2])  # AdaptiveMaxPool1d / 2d / 3d
    spatial = shape[-d:]
    outs = (m.output_size,) * d if isinstance(m.output_size, int) or m.output_size is None else tuple(m.output_size)
    y = c.x(0)
    for i, (size, o) in enumerate(zip(spatial, outs)):
        o = size if o is None else int(o)
        axis = len(shape) - d + i
        if axis in c.dyn(0):
            c.fail(f"adaptive pooling over the dynamic axis {c.dyn(0)[axis]!r}")
        parts = []
        for k in range(o):
            lo, hi = math.floor(k * size / o), math.ceil((k + 1) * size / o)
            window = c.emit("Slice", [y, c.ints([lo]), c.ints([hi]), c.ints([axis])])
            parts.append(c.axes_op("ReduceMax", window, [axis], True))
        y = parts[0] if o == 1 else c.emit("Concat", parts, axis=axis)
    return y


def pairwise_distance(c: Ctx) -> str:
    """||x1 - x2 + eps||_p over the last dim."""
    m, dt = c.node.module_obj, c.dtype(0)
    diff = c.emit("Add", [c.emit("Sub", [c.x(0), c.x(1)]), c.const(m.eps, dt)])
    p, keep = float(m.norm), bool(m.keepdim)
    mag = c.emit("Abs", [diff])
    if p == math.inf:
        return c.axes_op("ReduceMax", mag, [-1], keep)
    if p == 0:
        nonzero = c.emit("Cast", [c.emit("Not", [c.emit("Equal", [diff, c.const(0, dt)])])], to=c.g.h.np_dtype_to_tensor_dtype(dt))
        return c.axes_op("ReduceSum", nonzero, [-1], keep, since=13)
    total = c.axes_op("ReduceSum", c.emit("Pow", [mag, c.const(p, dt)]), [-1], keep, since=13)
    return c.emit("Pow", [total, c.const(1.0 / p, dt)])


def cosine_similarity(c: Ctx) -> str:
    """sum(a b) / (max(||a||, eps) max(||b||, eps)) along dim, a and b broadcast first."""
    m, dt = c.node.module_obj, c.dtype(0)
    common = c.emit("Shape", [c.emit("Add", [c.x(0), c.x(1)])])
    a, b = (c.emit("Expand", [c.x(i), common]) for i in (0, 1))
    na, nb = (c.emit("Clip", [c.axes_op("ReduceL2", t, [m.dim], True), c.const(m.eps, dt)]) for t in (a, b))
    prod = c.emit("Mul", [c.emit("Div", [a, na]), c.emit("Div", [b, nb])])
    return c.axes_op("ReduceSum", prod, [m.dim], False, since=13)


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _picker(channels: int, kernel: tuple[int, int], dtype) -> np.ndarray:
    """Weights (C*kh*kw, 1, kh, kw) whose output channel c*K + k copies kernel offset k of channel c
    (groups = C): a convolution with them is im2col in PyTorch's (c, i, j) order."""
    k = kernel[0] * kernel[1]
    w = np.zeros((channels * k, 1, *kernel), dtype=dtype)
    for c in range(channels):
        for j in range(k):
            w[c * k + j, 0, j // kernel[1], j % kernel[1]] = 1
    return w


def unfold(c: Ctx) -> str:
    """nn.Unfold (im2col) as a grouped convolution with one-hot kernels, then (N, C*kh*kw, L)."""
    m, shape = c.node.module_obj, c.shape(0)
    if len(shape) != 4:
        c.fail("Unfold of an unbatched (3-D) input")
    kernel, dil, pad, stride = _pair(m.kernel_size), _pair(m.dilation), _pair(m.padding), _pair(m.stride)
    ch = shape[1]
    w = c.const(_picker(ch, kernel, c.dtype(0)))
    cols = c.emit("Conv", [c.x(0), w], group=ch, kernel_shape=list(kernel), strides=list(stride),
                  dilations=list(dil), pads=[pad[0], pad[1], pad[0], pad[1]])  # fmt: skip
    return c.emit("Reshape", [cols, c.ints([0, ch * kernel[0] * kernel[1], -1])])


def fold(c: Ctx) -> str:
    """nn.Fold (col2im, the adjoint of Unfold) as a grouped transposed convolution with one-hot kernels."""
    m, shape = c.node.module_obj, c.shape(0)
    if len(shape) != 3:
        c.fail("Fold of an unbatched (2-D) input")
    size, kernel = _pair(m.output_size), _pair(m.kernel_size)
    dil, pad, stride = _pair(m.dilation), _pair(m.padding), _pair(m.stride)
    k = kernel[0] * kernel[1]
    ch = shape[1] // k
    blocks = [(s + 2 * p - d * (kk - 1) - 1) // st + 1 for s, p, d, kk, st in zip(size, pad, dil, kernel, stride)]
    natural = [st * (b - 1) + d * (kk - 1) + 1 - 2 * p for b, st, d, kk, p in zip(blocks, stride, dil, kernel, pad)]
    grid = c.emit("Reshape", [c.x(0), c.ints([0, ch * k, *blocks])])
    w = c.const(_picker(ch, kernel, c.dtype(0)))
    extra = [s - n for s, n in zip(size, natural)]
    return c.emit("ConvTranspose", [grid, w], group=ch, kernel_shape=list(kernel), strides=list(stride),
                  dilations=list(dil), pads=[pad[0], pad[1], pad[0], pad[1]],
                  output_padding=extra if any(extra) else None)  # fmt: skip


def embedding_bag(c: Ctx) -> str:
    """Bags of equal size (a 2-D input): Gather, then the sum, mean or max over each bag."""
    m = c.node.module_obj
    if c.n_inputs != 1 or len(c.shape(0)) != 2 or m.padding_idx is not None or m.max_norm is not None:
        c.fail("EmbeddingBag with offsets, per-sample weights, padding_idx or max_norm (bags of data-dependent size)")
    rows = c.emit("Gather", [c.ex.tensor_name(m.weight, m, "weight"), c.x(0)], axis=0)
    op = {"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax"}[m.mode]
    return c.axes_op(op, rows, [1], False, since=13 if op == "ReduceSum" else 18)


def _bn_applies(m: Module) -> bool:
    return not m.training and m.running_mean is not None and m.running_var is not None


# layer class name -> (whether this instance is exported whole, given the opset; the mapping)
MODULE_MAPPINGS: dict[str, tuple[Callable[[Module, int], bool], Callable[[Ctx], str]]] = {
    "BatchNorm1d": (lambda m, opset: _bn_applies(m), batch_norm),
    "BatchNorm2d": (lambda m, opset: _bn_applies(m), batch_norm),
    "LayerNorm": (lambda m, opset: opset >= 17, layer_norm),
    # these compute a mask with NumPy (x > 0), which a trace of the ops cannot see: exported whole
    "CELU": (lambda m, opset: True, celu),
    "Hardshrink": (lambda m, opset: True, shrink),
    "Softshrink": (lambda m, opset: True, shrink),
    "Threshold": (lambda m, opset: True, threshold),
    "PReLU": (lambda m, opset: True, prelu),
    "Embedding": (lambda m, opset: m.max_norm is None, embedding),
    "AdaptiveMaxPool1d": (lambda m, opset: not m.return_indices, adaptive_max_pool),
    "AdaptiveMaxPool2d": (lambda m, opset: not m.return_indices, adaptive_max_pool),
    "AdaptiveMaxPool3d": (lambda m, opset: not m.return_indices, adaptive_max_pool),
    "Unfold": (lambda m, opset: True, unfold),
    "Fold": (lambda m, opset: True, fold),
    "EmbeddingBag": (lambda m, opset: True, embedding_bag),
    "PairwiseDistance": (lambda m, opset: True, pairwise_distance),
    "CosineSimilarity": (lambda m, opset: True, cosine_similarity),
}
