"""Linear maps, embeddings, padding modes, one-hot and nearest-neighbour resizing."""

from __future__ import annotations

import numpy as np

from gradbox import ops
from gradbox.tensor import Tensor


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b.   dL/dx = g W,  dL/dW = g^T x,  dL/db = sum over batch of g."""
    return ops.linalg.linear(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_k = x1^T W_k x2 + b_k for weight (out, in1, in2)."""
    a = ops.unsqueeze(ops.unsqueeze(input1, -2), -3)  # (..., 1, 1, in1)
    t = ops.matmul(a, weight)  # (..., out, 1, in2)
    y = ops.sum(ops.squeeze(t, -2) * ops.unsqueeze(input2, -2), -1)
    return y if bias is None else y + bias


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
) -> Tensor:
    """y = W[idx] (rows of the table).   dL/dW[r] = sum of g over the positions where idx = r
    (a scatter-add); the padding_idx row gets no gradient."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported by gradbox")
    idx = input._data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: expected integer indices, got {idx.dtype}")
    n = weight._data.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(
            f"embedding: index {int(idx.max() if idx.max() >= n else idx.min())} is out of range for a table of {n} rows "
            f"(valid: 0 to {n - 1})"
        )
    y = ops.getitem(weight, Tensor._wrap(idx))
    if padding_idx is not None:
        pad = Tensor._wrap(np.expand_dims(idx == (padding_idx % n), -1))
        y = ops.where(pad, y.detach(), y)
    return y


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """(..., ) int64 class indices -> (..., num_classes) int64 one-hot."""
    t = tensor._data
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: expected an integer tensor, got {t.dtype}")
    n = int(t.max()) + 1 if num_classes < 0 else num_classes
    if t.size and (t.min() < 0 or t.max() >= n):
        raise RuntimeError(f"one_hot: class values must be in [0, {n}), got min {int(t.min())}, max {int(t.max())}")
    return Tensor._wrap((t[..., None] == np.arange(n)).astype(np.int64))


def interpolate(
    input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None, recompute_scale_factor=None
) -> Tensor:
    """Nearest-neighbour resize of the spatial dims: out[i] = in[floor(i * scale)] with
    scale = in/out (or 1/scale_factor). Gradients add up on the source pixels."""
    if mode != "nearest":
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported by gradbox (only 'nearest')")
    d = input._data.ndim - 2
    if d < 1:
        raise ValueError(
            f"interpolate: expected an input (N, C, ...) with spatial dims, got shape {tuple(input._data.shape)}"
        )
    spatial = input._data.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size or scale_factor must be given")
    if size is not None:
        outs = (size,) * d if isinstance(size, int) else tuple(size)
        scales = [s / o for s, o in zip(spatial, outs)]
    else:
        sf = (scale_factor,) * d if isinstance(scale_factor, int | float) else tuple(scale_factor)
        outs = tuple(int(np.floor(s * f)) for s, f in zip(spatial, sf))
        scales = [s / o for s, o in zip(spatial, outs)] if recompute_scale_factor else [1.0 / f for f in sf]
    y = input
    for i, (s, o, sc) in enumerate(zip(spatial, outs, scales)):
        idx = np.minimum(np.floor(np.arange(o) * np.float32(sc)).astype(np.int64), s - 1)
        y = ops.getitem(y, (slice(None),) * (2 + i) + (Tensor._wrap(idx),))
    return y
