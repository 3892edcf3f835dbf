"""Activation functions with PyTorch's signatures; their ops are in ``gradbox.ops.activation``
and ``gradbox.ops.elementwise``."""

from __future__ import annotations

import numpy as np

from gradbox import ops
from gradbox._inplace import apply_inplace
from gradbox.ops import activation as _act
from gradbox.tensor import Tensor


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """y = max(x, 0); dL/dx = g [x > 0]. ``inplace=True`` overwrites ``input`` (see gradbox/_inplace.py)."""
    return apply_inplace(input, "relu_", ops.relu) if inplace else ops.relu(input)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """y = min(max(x, 0), 6) (hardtanh(0, 6))."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    if inplace:
        return apply_inplace(input, "hardtanh_", lambda x: _act.hardtanh(x, min_val, max_val))
    return _act.hardtanh(input, min_val, max_val)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    if inplace:
        return apply_inplace(input, "leaky_relu_", lambda x: _act.leaky_relu(x, negative_slope))
    return _act.leaky_relu(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    if inplace:
        return apply_inplace(input, "elu_", lambda x: _act.elu(x, alpha))
    return _act.elu(input, alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """y = x Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2.

    dL/dx = g (Phi(x) + x phi(x)) with phi the normal density; with approximate='tanh',
    Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2. Composed of gradbox ops.
    """
    x = _act.float_input(input, "gelu")
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * float(np.sqrt(2.0 / np.pi))
        return 0.5 * x * (1.0 + ops.tanh(inner))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * (0.5 * (1.0 + ops.erf(x * float(1.0 / np.sqrt(2.0)))))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """y = x sigmoid(x); dL/dx = g s (1 + x (1 - s)) with s = sigmoid(x) (composed of gradbox ops)."""
    x = _act.float_input(input, "silu")
    if inplace:
        return apply_inplace(x, "silu_", lambda t: t * ops.sigmoid(t))
    return x * ops.sigmoid(x)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return _act.softplus(input, beta, threshold)


def sigmoid(input: Tensor) -> Tensor:
    return ops.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return ops.tanh(input)


def _softmax_dim(x: Tensor, dim) -> int:
    if dim is None:  # PyTorch's legacy implicit choice
        return 0 if x._data.ndim in (0, 1, 3) else 1
    return dim


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    return ops.softmax(input, _softmax_dim(input, dim), dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    return ops.log_softmax(input, _softmax_dim(input, dim), dtype=dtype)


def logsigmoid(input: Tensor) -> Tensor:
    """y = log sigmoid(x) = -softplus(-x)."""
    return -softplus(-input)
