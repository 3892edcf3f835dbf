"""Loss functions with PyTorch's signatures. ``reduction`` is 'mean' (default), 'sum' or 'none'.

Cross-entropy and NLL run on the fused op of ``gradbox.ops.loss`` (dL/dz = p - onehot(y) for
plain one-hot targets); the other losses compose elementwise ops.
"""

from __future__ import annotations

import numpy as np

from gradbox import ops
from gradbox.ops import loss as _loss
from gradbox.ops._util import const
from gradbox.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _same_shape(input: Tensor, target: Tensor, op: str) -> tuple[Tensor, Tensor]:
    if not isinstance(target, Tensor):
        target = Tensor._wrap(np.asarray(target, dtype=input._data.dtype))
    if input._data.shape != target._data.shape:
        raise ValueError(
            f"{op}: target size {tuple(target._data.shape)} must be the same as input size {tuple(input._data.shape)}"
        )
    if target._data.dtype != input._data.dtype:
        target = target.to(input.dtype)
    return input, target


def _weighted_reduce(losses: Tensor, row_w: np.ndarray, reduction: str, op: str) -> Tensor:
    """'mean' over index targets divides by the total weight of the non-ignored targets."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return ops.sum(losses)
    if reduction != "mean":
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return ops.sum(losses) / float(row_w.sum())


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of logits ``input`` (N, C) or (N, C, d1, ...) against class indices
    (N) / (N, d1, ...) or class probabilities of the input's shape."""
    op = "cross_entropy"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected floating point logits, got {input.dtype}")
    xs = input._data.shape
    c = xs[1] if input._data.ndim >= 2 else xs[0]
    z, out_shape = _loss.class_last(input)
    dt = input._data.dtype
    w = None if weight is None else weight._data.astype(np.float64)
    if w is not None and w.shape != (c,):
        raise RuntimeError(f"{op}: weight should have {c} elements (one per class), got shape {w.shape}")
    t = target._data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind == "f":  # class probabilities
        if t.shape != xs:
            raise RuntimeError(f"{op}: probability targets must have the input's shape {tuple(xs)}, got {t.shape}")
        if isinstance(target, Tensor) and target.requires_grad:  # differentiable in the target too
            q = target * (1 - label_smoothing) + label_smoothing / c if label_smoothing else target
            if weight is not None:
                q = q * weight.reshape([1, -1] + [1] * (input._data.ndim - 2))
            return _reduce(-ops.sum(q * ops.log_softmax(input, 1), 1), reduction, op)
        probs, _ = _loss.class_last(Tensor._wrap(t))
        r = probs._data.astype(np.float64)
        if label_smoothing:
            r = r * (1 - label_smoothing) + label_smoothing / c
        if w is not None:
            r = r * w[None, :]
        losses = _loss.SoftmaxCrossEntropy.apply(z, r=r.astype(dt))
        losses = ops.reshape(losses, out_shape)
        return _reduce(losses, reduction, op)
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected class indices (int64) or probabilities (float) as target, got {t.dtype}")
    z, out_shape, r, row_w = _loss.index_target(input, target, weight, ignore_index, label_smoothing, op)
    return _weighted_reduce(ops.reshape(_loss.SoftmaxCrossEntropy.apply(z, r=r), out_shape), row_w, reduction, op)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """loss_i = -w[y_i] input[i, y_i] (input: log-probabilities).   dL/dinput = -w[y_i] onehot(y_i) g_i.

    'mean' divides by the sum of the weights of the non-ignored targets."""
    op = "nll_loss"
    z, out_shape, r, row_w = _loss.index_target(input, target, weight, ignore_index, 0.0, op)
    return _weighted_reduce(ops.reshape(-ops.sum(z * const(r), 1), out_shape), row_w, reduction, op)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """(x - y)^2.   dL/dx = 2 (x - y) g."""
    x, y = _same_shape(input, target, "mse_loss")
    d = x - y
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """|x - y|.   dL/dx = sign(x - y) g."""
    x, y = _same_shape(input, target, "l1_loss")
    return _reduce(ops.abs(x - y), reduction, "l1_loss")


def smooth_l1_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = x - y).   dL/dx = clamp(d / beta, -1, 1) g."""
    x, y = _same_shape(input, target, "smooth_l1_loss")
    d = x - y
    if beta == 0.0:
        return _reduce(ops.abs(d), reduction, "smooth_l1_loss")
    a = ops.abs(d)
    loss = ops.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """delta * smooth_l1(beta=delta)."""
    return smooth_l1_loss(input, target, reduction=reduction, beta=delta) * delta


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """-(y log x + (1 - y) log(1 - x)), logs clamped at -100 as PyTorch.   dL/dx = (x - y) / (x (1 - x)) g."""
    x, y = _same_shape(input, target, "binary_cross_entropy")
    yd = y._data
    if ((yd < 0) | (yd > 1)).any():
        raise RuntimeError(
            f"binary_cross_entropy: all elements of target should be between 0 and 1, got values in "
            f"[{yd.min():g}, {yd.max():g}]"
        )
    xd = x._data
    if ((xd < 0) | (xd > 1)).any():
        raise RuntimeError(
            "binary_cross_entropy: all elements of input should be between 0 and 1 (apply sigmoid, or use binary_cross_entropy_with_logits)"
        )
    with np.errstate(divide="ignore"):
        loss = -(y * ops.clamp(ops.log(x), min=-100.0) + (1.0 - y) * ops.clamp(ops.log(1.0 - x), min=-100.0))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """-(p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))), p the pos_weight, computed stably as
    (1 - y) x + (1 + (p - 1) y) softplus(-x).   dL/dx = (sigmoid(x)(1 + (p-1) y) - p y) g."""
    x, y = _same_shape(input, target, "binary_cross_entropy_with_logits")
    softplus_neg = ops.log1p(ops.exp(-ops.abs(x))) + ops.clamp(-x, min=0.0)
    if pos_weight is not None:
        loss = (1.0 - y) * x + (1.0 + (pos_weight - 1.0) * y) * softplus_neg
    else:
        loss = (1.0 - y) * x + softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def kl_div(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False
) -> Tensor:
    """KL(target || exp(input)) pointwise: y (log y - x), 0 where y = 0 (input holds log-probabilities).

    'batchmean' divides the sum by the batch size (the true KL divergence per sample).
    dL/dx = -y g.
    """
    x, y = _same_shape(input, target, "kl_div")
    if log_target:
        loss = ops.exp(y) * (y - x)
    else:
        pos = const(y._data > 0)
        safe_log = ops.log(ops.where(pos, y, 1.0))
        loss = ops.where(pos, y * (safe_log - x), 0.0 * x)
    if reduction == "batchmean":
        return ops.sum(loss) / float(x._data.shape[0] if x._data.ndim else 1)
    return _reduce(loss, reduction, "kl_div")
