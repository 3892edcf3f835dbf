"""More losses with PyTorch's signatures and formulas (ATen's and torch.nn.functional's), each
composed of gradbox ops; ``reduction`` is 'mean' (default), 'sum' or 'none'.
"""

from __future__ import annotations

import math

import numpy as np

from gradbox import ops
from gradbox.autograd.opmath import OpMath, op
from gradbox.nn.functional.activation import logsigmoid
from gradbox.nn.functional.distance import pairwise_distance
from gradbox.nn.functional.loss import _reduce, cross_entropy
from gradbox.ops._util import const
from gradbox.tensor import Tensor


def _legacy(size_average, reduce, reduction: str) -> str:
    if size_average is None and reduce is None:
        return reduction
    if reduce is False:
        return "none"
    return "mean" if size_average in (None, True) else "sum"


def _loss_math(forward: str, inputs=("x",), note: str = "") -> OpMath:
    grads = tuple(f"the gradient of that composition w.r.t. {i}" for i in inputs)
    return OpMath(
        forward, grads=grads, inputs=inputs, note=(note + " " if note else "") + "Then reduced by 'reduction'."
    )


@op(_loss_math("l = max(0, -t (x1 - x2) + margin)", ("x1", "x2", "t")))
def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: input1: {tuple(input1.shape)}, "
            f"input2: {tuple(input2.shape)}, target: {tuple(target.shape)} "
        )
    loss = ops.clamp(-target * (input1 - input2) + margin, min=0)
    return _reduce(loss, _legacy(size_average, reduce, reduction), "margin_ranking_loss")


@op(_loss_math("l = x where t = 1, max(0, margin - x) where t = -1 (other targets: both terms)", ("x",)))
def hinge_embedding_loss(
    input: Tensor, target: Tensor, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    t = target._data
    clamp = ops.clamp(margin - input, min=0)
    out = ops.where(const(t != 1), clamp, 0.0) + ops.where(const(t != -1), input, 0.0)
    return _reduce(out, _legacy(size_average, reduce, reduction), "hinge_embedding_loss")


@op(_loss_math("l = log(1 + e^(-t x))", ("x", "t")))
def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    return _reduce(ops.log1p(ops.exp(-input * target)), _legacy(size_average, reduce, reduction), "soft_margin_loss")


@op(_loss_math("l = -(1/C) sum_c w_c (t_c log sigma(x_c) + (1 - t_c) log sigma(-x_c))", ("x", "t")))
def multilabel_soft_margin_loss(
    input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    cd = input.ndim - 1
    loss = ops.sum(loss, cd) / float(input.shape[cd]) if input.ndim else loss
    return _reduce(loss, _legacy(size_average, reduce, reduction), "multilabel_soft_margin_loss")


@op(
    _loss_math(
        "l = 1 - cos(x1, x2) where t = 1, max(0, cos(x1, x2) - margin) where t = -1",
        ("x1", "x2"),
        "cos = <x1, x2> / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)) over the last dim.",
    )
)
def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    nd = input1.ndim
    if nd not in (1, 2) or input2.ndim != nd:
        raise RuntimeError(
            f"cosine_embedding_loss: expected 1-D or 2-D inputs of the same dims, got {tuple(input1.shape)} and {tuple(input2.shape)}"
        )
    d = nd - 1
    eps = 1e-12
    prod = ops.sum(input1 * input2, d)
    m1 = ops.sum(input1 * input1, d) + eps
    m2 = ops.sum(input2 * input2, d) + eps
    cos = prod / ops.sqrt(m1 * m2)
    t = target._data
    out = ops.where(const(t == 1), 1.0 - cos, 0.0) + ops.where(const(t == -1), ops.clamp(cos - margin, min=0), 0.0)
    return _reduce(out, _legacy(size_average, reduce, reduction), "cosine_embedding_loss")


@op(
    _loss_math(
        "l = e^x - t x (log_input) or x - t log(x + eps); full adds t log t - t + log(2 pi t) / 2 where t > 1",
        ("x", "t"),
    )
)
def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average=None,
    eps: float = 1e-8,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _legacy(size_average, reduce, reduction)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(reduction + " is not a valid value for reduction")
    loss = ops.exp(input) - target * input if log_input else input - target * ops.log(input + eps)
    if full:
        t = target
        safe = ops.where(const(t._data > 1), t, 1.0)
        stirling = safe * ops.log(safe) - safe + 0.5 * ops.log(2 * math.pi * safe)
        loss = loss + ops.where(const(t._data > 1), stirling, 0.0)
    return _reduce(loss, reduction, "poisson_nll_loss")


@op(
    _loss_math(
        "l = (log max(var, eps) + (x - t)^2 / max(var, eps)) / 2 (+ log(2 pi) / 2 when full)",
        ("x", "t", "var"),
        "var is clamped without gradient, as PyTorch.",
    )
)
def gaussian_nll_loss(
    input: Tensor, target: Tensor, var, full: bool = False, eps: float = 1e-6, reduction: str = "mean"
) -> Tensor:
    if not isinstance(var, Tensor):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = Tensor._wrap(np.full(input._data.shape, var, dtype=input._data.dtype))
    if (var._data < 0).any():
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = ops.unsqueeze(var, -1)
        elif input.ndim == var.ndim and sum(y for x, y in zip(input.shape, var.shape) if x != y) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    v = var + const(np.maximum(var._data, eps) - var._data)  # clamp the values, pass the gradient through
    loss = 0.5 * (ops.log(v) + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


@op(
    _loss_math(
        "l = max(0, margin + d(a, p) - d(a, n)), d the pairwise p-distance (swap: d(a, n) -> min(d(a, n), d(p, n)))",
        ("a", "p", "n"),
    )
)
def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number of dimensions, but got: "
            f"anchor {anchor.ndim}D, positive {positive.ndim}D, and negative {negative.ndim}D inputs"
        )
    dpos = pairwise_distance(anchor, positive, p, eps)
    dneg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dneg = ops.minimum(dneg, pairwise_distance(positive, negative, p, eps))
    loss = ops.clamp(dpos - dneg + margin, min=0)
    return _reduce(loss, _legacy(size_average, reduce, reduction), "triplet_margin_loss")


@op(
    _loss_math(
        "l = max(0, margin + d(a, p) - d(a, n)) with a distance function d (pairwise_distance by default)",
        ("a", "p", "n"),
    )
)
def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function=None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number of dimensions"
        )
    dist = distance_function if distance_function is not None else pairwise_distance
    dpos, dneg = dist(anchor, positive), dist(anchor, negative)
    if swap:
        dneg = ops.minimum(dneg, dist(positive, negative))
    loss = ops.clamp(margin + dpos - dneg, min=0)
    return _reduce(loss, reduction, "triplet_margin_with_distance_loss")


@op(_loss_math("l_n = (1/C) sum_{j != y_n} w_{y_n} max(0, margin - x_{n,y_n} + x_{n,j})^p  (p = 1 or 2)", ("x",)))
def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x = input if input.ndim == 2 else ops.reshape(input, (1, -1))
    y = target._data.reshape(-1)
    n, c = x._data.shape
    rows = np.arange(n)
    xy = x[Tensor._wrap(rows), Tensor._wrap(y)]
    z = ops.clamp(margin - ops.unsqueeze(xy, 1) + x, min=0)
    other = np.ones((n, c), dtype=x._data.dtype)
    other[rows, y] = 0
    h = z * const(other) if p == 1 else z * z * const(other)
    if weight is not None:
        h = h * ops.unsqueeze(weight[Tensor._wrap(y)], 1)
    loss = ops.sum(h, 1) / float(c)
    if input.ndim < 2:
        loss = ops.reshape(loss, ()) if input.ndim == 0 or target.ndim == 0 else loss
    return _reduce(loss, _legacy(size_average, reduce, reduction), "multi_margin_loss")


@op(
    _loss_math(
        "l_n = (1/C) sum_{j in y_n} sum_{i not in y_n} max(0, 1 - (x_{n,j} - x_{n,i})), y_n: the targets before the first -1",
        ("x",),
    )
)
def multilabel_margin_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    x = input if input.ndim == 2 else ops.reshape(input, (1, -1))
    t = target._data.reshape(x._data.shape)
    n, c = x._data.shape
    pair = np.zeros((n, c, c), dtype=x._data.dtype)  # pair[n, j, i] = 1 for target j and non-target i
    for r in range(n):
        ends = np.flatnonzero(t[r] < 0)
        js = t[r, : ends[0] if ends.size else c]
        is_t = np.zeros(c, dtype=bool)
        is_t[js] = True
        for j in js:
            pair[r, j, ~is_t] += 1
    margins = ops.clamp(1.0 - (ops.unsqueeze(x, 2) - ops.unsqueeze(x, 1)), min=0)
    loss = ops.sum(margins * const(pair), (1, 2)) / float(c)
    if input.ndim < 2:
        loss = ops.reshape(loss, ()) if input.ndim <= 1 else loss
    return _reduce(loss, _legacy(size_average, reduce, reduction), "multilabel_margin_loss")


@op(_loss_math("l = cross_entropy(x W^T + b, t)", ("x", "W")))
def linear_cross_entropy(
    input: Tensor,
    linear_weight: Tensor,
    target: Tensor,
    *,
    linear_bias: Tensor | None = None,
    weight: Tensor | None = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options=None,
) -> Tensor:
    if input.ndim not in (1, 2):
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2 or input.shape[-1] != linear_weight.shape[-1]:
        raise RuntimeError(
            f"expected equal input and linear_weight last dimensions, got {tuple(input.shape)} and {tuple(linear_weight.shape)}"
        )
    classes, outs = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    w = ops.reshape(linear_weight, (-1, input.shape[-1]))
    b = None if linear_bias is None else ops.reshape(linear_bias, (-1,))
    logits = ops.reshape(ops.linalg.linear(input, w, b), tuple(input.shape[:-1]) + (classes,) + outs)
    kw = {} if ignore_index is None else {"ignore_index": ignore_index}
    if input.ndim == 1:  # unbatched: a batch of one
        t = ops.unsqueeze(target, 0)
        out = cross_entropy(
            ops.unsqueeze(logits, 0), t, weight=weight, reduction=reduction, label_smoothing=label_smoothing, **kw
        )
        return ops.reshape(out, ()) if reduction == "none" else out
    return cross_entropy(logits, target, weight=weight, reduction=reduction, label_smoothing=label_smoothing, **kw)
