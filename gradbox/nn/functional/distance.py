"""Distances and similarities with PyTorch's signatures: cosine_similarity, pairwise_distance,
pdist. Each composes gradbox ops (sum, norm, where), so the gradient is the composition's.
"""

from __future__ import annotations

import numpy as np

from gradbox import ops
from gradbox.autograd.opmath import OpMath, op
from gradbox.tensor import Tensor


def pnorm(x: Tensor, p: float, dim, keepdim: bool = False) -> Tensor:
    """||x||_p over dim with PyTorch's conventions: p = 0 counts nonzeros, p = inf is the largest |x|,
    and the gradient where the norm is 0 is 0."""
    if p == 0:
        return ops.sum((x != 0).to(x.dtype), dim, keepdim)
    if p == float("inf"):
        return ops.amax(ops.abs(x), dim, keepdim)
    if p == 1:
        return ops.sum(ops.abs(x), dim, keepdim)
    return ops.norm(x, p, dim, keepdim)


@op(
    OpMath(
        "y = sum_dim (x1 / max(||x1||, eps)) (x2 / max(||x2||, eps))",
        grads=("the gradient of that composition", "the gradient of that composition"),
        inputs=("x1", "x2"),
        note="x1 and x2 broadcast; ||.|| is the 2-norm along dim. Computed from norm, clamp, div and sum.",
    )
)
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    a, b = ops.broadcast_tensors(x1, x2)
    na = ops.clamp(ops.norm(a, 2, dim, keepdim=True), min=eps)
    nb = ops.clamp(ops.norm(b, 2, dim, keepdim=True), min=eps)
    return ops.sum((a / na) * (b / nb), dim)


@op(
    OpMath(
        "y = ||x1 - x2 + eps||_p over the last dim",
        grads=("g d||.||_p / d(x1 - x2)", "-g d||.||_p / d(x1 - x2)"),
        inputs=("x1", "x2"),
        note="x1 and x2 broadcast. Computed as sub, add and norm.",
    )
)
def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    d = x1 - x2 + eps
    if d.ndim == 0:
        return ops.abs(d) if p != 0 else (d != 0).to(d.dtype)
    return pnorm(d, p, -1, keepdim)


@op(
    OpMath(
        "y = ||x_i - x_j||_p for every pair of rows i < j (row-major over the upper triangle)",
        grads=("the gradient of the pairwise norms, summed onto both rows",),
        note="Computed from indexing, sub and norm.",
    )
)
def pdist(input: Tensor, p: float = 2) -> Tensor:
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    i, j = np.triu_indices(n, 1)
    if i.size == 0:
        return Tensor._wrap(np.zeros((0,), dtype=input._data.dtype)) + ops.sum(input) * 0.0
    diff = input[Tensor._wrap(i)] - input[Tensor._wrap(j)]
    return pnorm(diff, float(p), -1)
