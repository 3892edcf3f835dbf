"""Layers exported as one ONNX node instead of the ops they are made of.

gradbox's batch norm in eval mode is elementwise ops with the running statistics; ONNX has
BatchNormalization for exactly that, and runtimes fuse it into the preceding convolution.
Layers whose forward picks values by a mask or by indices computed with NumPy (CELU, the
shrinks, Threshold, PReLU, Embedding's padding row, adaptive max pooling, the distances) cannot
be traced op by op, since the mask is not an op: they map whole to ONNX ops, with the bodies
their functional forms use too (``functions.py``: ``F.celu`` called in your own forward).
``MODULE_MAPPINGS`` maps a layer class name to (when it applies, the mapping); a layer for
which ``when`` is false is exported op by op like any other module.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gradbox.nn import Module
from gradbox.onnx import functions as fx
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
    return fx.celu_body(c, c.x(0), c.node.module_obj.alpha)


def shrink(c: Ctx) -> str:
    return fx.shrink_body(c, c.x(0), c.node.module_obj.lambd, soft=c.node.op == "Softshrink")


def threshold(c: Ctx) -> str:
    m = c.node.module_obj
    return fx.threshold_body(c, c.x(0), c.dtype(0), m.threshold, m.value)


def prelu(c: Ctx) -> str:
    m = c.node.module_obj
    return fx.prelu_body(c, c.x(0), len(c.shape(0)), c.ex.tensor_name(m.weight, m, "weight"), m.weight._data.size)


def embedding(c: Ctx) -> str:
    """Rows of the table (padding_idx only changes the gradient, not the forward)."""
    m = c.node.module_obj
    return c.emit("Gather", [c.ex.tensor_name(m.weight, m, "weight"), c.x(0)], axis=0)


def adaptive_max_pool(c: Ctx) -> str:
    d = int(c.node.op[-2])  # AdaptiveMaxPool1d / 2d / 3d
    return fx.adaptive_max_body(c, c.x(0), c.shape(0), c.dyn(0), d, c.node.module_obj.output_size)


def pairwise_distance(c: Ctx) -> str:
    m = c.node.module_obj
    return fx.pairwise_distance_body(c, c.x(0), c.x(1), m.norm, m.eps, m.keepdim, c.dtype(0))


def cosine_similarity(c: Ctx) -> str:
    m = c.node.module_obj
    return fx.cosine_similarity_body(c, c.x(0), c.x(1), m.dim, m.eps, c.dtype(0))


def unfold(c: Ctx) -> str:
    m = c.node.module_obj
    return fx.unfold_body(c, c.x(0), c.shape(0), c.dtype(0), m.kernel_size, m.dilation, m.padding, m.stride)


def fold(c: Ctx) -> str:
    m = c.node.module_obj
    return fx.fold_body(
        c, c.x(0), c.shape(0), c.dtype(0), m.output_size, m.kernel_size, m.dilation, m.padding, m.stride
    )


def embedding_bag(c: Ctx) -> str:
    m = c.node.module_obj
    unsupported = c.n_inputs != 1 or m.padding_idx is not None or m.max_norm is not None
    weight = c.ex.tensor_name(m.weight, m, "weight")
    return fx.embedding_bag_body(c, weight, c.x(0), len(c.shape(0)), m.mode, unsupported)


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
