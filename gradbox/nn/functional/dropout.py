"""Inverted dropout: in training, y = x * m / (1 - p) with m ~ Bernoulli(1 - p), so E[y] = x and
eval mode is the identity.   dL/dx = g * m / (1 - p)."""

from __future__ import annotations

import numpy as np

from gradbox._inplace import apply_inplace
from gradbox.random import _gen
from gradbox.tensor import Tensor


def _mask(shape, p: float, dtype) -> Tensor:
    keep = _gen(None).random(shape, dtype=np.float32) >= p
    return Tensor._wrap(keep.astype(dtype) * dtype.type(1.0 / (1.0 - p)))


def _check_p(p: float, op: str) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    _check_p(p, "dropout")
    if not training or p == 0.0:
        return input
    mask = 0.0 if p == 1.0 else _mask(input._data.shape, p, input._data.dtype)
    return apply_inplace(input, "dropout_", lambda x: x * mask) if inplace else input * mask


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels: one Bernoulli draw per (sample, channel) of a (N, C, H, W) input."""
    _check_p(p, "dropout2d")
    if not training or p == 0.0:
        return input
    xs = input._data.shape
    if len(xs) not in (3, 4):
        raise RuntimeError(f"dropout2d: expected a 3-D or 4-D input, got shape {tuple(xs)}")
    mask = 0.0 if p == 1.0 else _mask(xs[:-2] + (1, 1), p, input._data.dtype)
    return apply_inplace(input, "dropout2d_", lambda x: x * mask) if inplace else input * mask
