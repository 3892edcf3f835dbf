"""More normalisations with PyTorch's signatures: instance_norm, rms_norm, local_response_norm.
Each composes gradbox ops (mean, sqrt, pad, sliding windows), so the gradient is the composition's.
"""

from __future__ import annotations

import numpy as np

from gradbox import ops
from gradbox.autograd.grad_mode import no_grad
from gradbox.autograd.opmath import OpMath, op
from gradbox.tensor import Tensor


def _affine(y: Tensor, weight, bias, channel_dim: int = 1) -> Tensor:
    shape = [1] * y.ndim
    shape[channel_dim] = -1
    if weight is not None:
        y = y * ops.reshape(weight, tuple(shape))
    if bias is not None:
        y = y + ops.reshape(bias, tuple(shape))
    return y


@op(
    OpMath(
        "y = (x - mean) / sqrt(var + eps) * w + b, mean and (biased) var over the spatial dims of each (n, c)",
        grads=("the gradient of that composition",),
        note="With use_input_stats=False the running statistics are used instead; in training the running "
        "statistics move by momentum towards the batch average of the per-instance statistics (unbiased var).",
    )
)
def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    if input.ndim < 3:
        raise ValueError(
            f"instance_norm: expected an input (N, C, ...) with spatial dims, got shape {tuple(input.shape)}"
        )
    dims = tuple(range(2, input.ndim))
    n_spatial = int(np.prod(input.shape[2:]))
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        shape = (1, -1) + (1,) * len(dims)
        y = (input - ops.reshape(running_mean, shape)) / ops.sqrt(ops.reshape(running_var, shape) + eps)
        return _affine(y, weight, bias)
    if n_spatial <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(input.shape)}")
    mu = ops.mean(input, dims, keepdim=True)
    centered = input - mu
    var = ops.mean(centered * centered, dims, keepdim=True)
    y = centered / ops.sqrt(var + eps)
    if running_mean is not None or running_var is not None:
        with no_grad():
            if running_mean is not None:
                m = ops.mean(ops.reshape(mu.detach(), tuple(input.shape[:2])), 0)
                running_mean._data[...] = (1 - momentum) * running_mean._data + momentum * m._data
            if running_var is not None:
                unbiased = ops.reshape(var.detach(), tuple(input.shape[:2])) * (n_spatial / (n_spatial - 1))
                running_var._data[...] = (1 - momentum) * running_var._data + momentum * ops.mean(unbiased, 0)._data
    return _affine(y, weight, bias)


@op(
    OpMath(
        "y = x / sqrt(mean(x^2 over the normalized_shape dims) + eps) * w",
        grads=("the gradient of that composition",),
        note="eps defaults to the dtype's machine epsilon, as PyTorch.",
    )
)
def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape) :]) != shape or input.ndim < len(shape):
        raise RuntimeError(
            f"rms_norm: expected input with shape [*, {', '.join(map(str, shape))}], but got input of size {list(input.shape)}"
        )
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    y = (
        input / ops.sqrt(ops.mean(input * input, dims, keepdim=True) + eps)
        if dims
        else input / ops.sqrt(input * input + eps)
    )
    return y * weight if weight is not None else y


@op(
    OpMath(
        "y = x / (k + alpha * mean of x^2 over a window of ``size`` channels)^beta",
        grads=("the gradient of that composition",),
        note="The window is centred on each channel (zero-padded size//2 before, (size-1)//2 after). Computed from "
        "pad, sliding windows (Tensor.unfold), mean and pow.",
    )
)
def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    sq = input * input
    moved = ops.movedim(sq, 1, -1)
    padded = ops.pad(moved, (size // 2, (size - 1) // 2))
    div = ops.mean(padded.unfold(padded.ndim - 1, size, 1), -1)
    div = ops.movedim(div, -1, 1)
    return input / ops.pow(div * alpha + k, beta)
