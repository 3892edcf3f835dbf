"""Normalisation layers, composed of gradbox ops so every derivative follows from the graph.

For a group of values x_1..x_N: mu = mean x, s2 = mean (x - mu)^2 (biased), x^ = (x - mu)/sqrt(s2 + eps),
y = gamma x^ + beta. The composed backward is the textbook
dL/dx = (1/(N sqrt(s2+eps))) (N gx^ - sum gx^ - x^ sum gx^ x^), with gx^ = gamma g.
"""

from __future__ import annotations

import math

from gradbox import ops
from gradbox.autograd.grad_mode import no_grad
from gradbox.ops import normalization as _norm
from gradbox.tensor import Tensor


def _normalize(x: Tensor, dims: tuple[int, ...], eps: float) -> Tensor:
    mu = ops.mean(x, dims, keepdim=True)
    centered = x - mu
    var = ops.mean(centered * centered, dims, keepdim=True)
    return centered / ops.sqrt(var + eps)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel (dim 1) over the batch and spatial dims.

    In training, batch statistics are used and the running ones updated in place:
    r_mean <- (1 - m) r_mean + m mu,  r_var <- (1 - m) r_var + m s2 N/(N-1) (unbiased).
    In eval, the running statistics are used.
    """
    x = input
    if x._data.ndim < 2:
        raise RuntimeError(
            f"batch_norm: expected an input with at least 2 dims (N, C, ...), got shape {tuple(x._data.shape)}"
        )
    shape = [1, -1] + [1] * (x._data.ndim - 2)
    if training:
        n = x._data.size // x._data.shape[1]
        if n <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {list(x._data.shape)}"
            )
        inputs = [x] + [t for t in (weight, bias) if t is not None]
        stats: dict = {}
        y = _norm.BatchNormTrain.apply(
            *inputs, eps=eps, has_weight=weight is not None, has_bias=bias is not None, stats=stats
        )
        mean, var = stats["mean"], stats["var"]
        if running_mean is not None and running_var is not None:
            with no_grad():
                m = momentum
                running_mean._data[...] = (1 - m) * running_mean._data + m * mean
                running_var._data[...] = (1 - m) * running_var._data + m * var * (n / (n - 1))
        return y
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var are needed when training=False")
        y = (x - running_mean.reshape(shape)) / ops.sqrt(running_var.reshape(shape) + eps)
        if weight is not None:
            y = y * weight.reshape(shape)
        if bias is not None:
            y = y + bias.reshape(shape)
        return y


def layer_norm(
    input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalise over the last len(normalized_shape) dims of each sample."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    xs = input._data.shape
    if xs[len(xs) - len(shape) :] != shape or len(xs) < len(shape):
        raise RuntimeError(
            f"layer_norm: given normalized_shape={list(shape)}, expected input with shape [*, {', '.join(map(str, shape))}], "
            f"but got input of size {list(xs)}"
        )
    y = _normalize(input, tuple(range(len(xs) - len(shape), len(xs))), eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalise each group of num_groups consecutive channels over (channels in group, spatial)."""
    xs = input._data.shape
    if len(xs) < 2 or xs[1] % num_groups:
        raise RuntimeError(
            f"group_norm: expected an input (N, C, ...) with C divisible by num_groups={num_groups}, got shape {tuple(xs)}"
        )
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != (xs[1],):
            raise RuntimeError(f"group_norm: expected {name} of shape ({xs[1]},) (one per channel), got {tuple(p.shape)}")
    per_group = math.prod(xs[1:]) // num_groups  # spelled out: -1 cannot be inferred for an empty batch
    y = _normalize(ops.reshape(input, (xs[0], num_groups, per_group)), (2,), eps)
    y = ops.reshape(y, xs)
    shape = [1, -1] + [1] * (len(xs) - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps) along dim."""
    n = ops.norm(input, p, dim, keepdim=True)
    return input / ops.clamp(n, min=eps)
