"""Activation functions. Piecewise ones carry their derivative as a constant mask, so their
second derivative is (correctly) zero away from the kinks."""

from __future__ import annotations

import numpy as np

from gradbox import ops
from gradbox.autograd.function import Function
from gradbox.ops._util import const
from gradbox.ops.elementwise import Clamp
from gradbox.tensor import Tensor


class LeakyRelu(Function):
    """y = x if x > 0 else a x.   dL/dx = g * (1 if x > 0 else a)."""

    def forward(self, x, slope):
        self.slope_mask = np.where(x > 0, 1, slope).astype(x.dtype)
        return x * self.slope_mask

    def backward(self, g):
        return g * const(self.slope_mask)


class Elu(Function):
    """y = x if x > 0 else a (e^x - 1).   dL/dx = g * (1 if x > 0 else y + a)."""

    save_inputs = True
    save_output = True

    def forward(self, x, alpha):
        self.alpha = alpha
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)

    def backward(self, g):
        pos = const(self.inputs[0]._data > 0)
        return ops.where(pos, g, g * (self.output + self.alpha))


class Softplus(Function):
    """y = (1/b) ln(1 + e^{b x}) (y = x where b x > threshold).   dL/dx = g * sigmoid(b x) (1 above threshold)."""

    save_inputs = True

    def forward(self, x, beta, threshold):
        self.beta, self.threshold = beta, threshold
        bx = beta * x
        soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
        return np.where(bx > threshold, x, soft).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        above = const(x._data * self.beta > self.threshold)
        return ops.where(above, g, g * ops.sigmoid(x * self.beta))


def _float(x: Tensor, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point tensor, got {x.dtype}")
    return x


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """y = max(x, 0); dL/dx = g [x > 0]."""
    return ops.relu(input)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """y = min(max(x, 0), 6) (hardtanh(0, 6))."""
    return hardtanh(input, 0.0, 6.0)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    x = _float(input, "hardtanh")
    dt = x._data.dtype.type
    return Clamp.apply(x, lo=dt(min_val), hi=dt(max_val), strict=True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return LeakyRelu.apply(_float(input, "leaky_relu"), slope=negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return Elu.apply(_float(input, "elu"), alpha=alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """y = x Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2.

    dL/dx = g (Phi(x) + x phi(x)) with phi the normal density; with approximate='tanh',
    Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2. Composed of gradbox ops.
    """
    x = _float(input, "gelu")
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * float(np.sqrt(2.0 / np.pi))
        return 0.5 * x * (1.0 + ops.tanh(inner))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * (0.5 * (1.0 + ops.erf(x * float(1.0 / np.sqrt(2.0)))))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """y = x sigmoid(x); dL/dx = g s (1 + x (1 - s)) with s = sigmoid(x) (composed of gradbox ops)."""
    x = _float(input, "silu")
    return x * ops.sigmoid(x)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return Softplus.apply(_float(input, "softplus"), beta=beta, threshold=threshold)


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
