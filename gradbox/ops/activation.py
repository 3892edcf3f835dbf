"""Piecewise and smooth activations with their own ops (the rest compose elementwise ops).

Piecewise ones carry their derivative as a constant mask, so their second derivative is
(correctly) zero away from the kinks.
"""

from __future__ import annotations

import numpy as np

from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath
from gradbox.ops._util import const
from gradbox.ops.elementwise import Clamp, sigmoid, where
from gradbox.tensor import Tensor


class LeakyRelu(Function):
    math = OpMath("y = x if x > 0 else a x", grads=("g * (1 if x > 0 else a)",), local=("1 if x > 0 else a",))

    def forward(self, x, slope):
        self.slope_mask = np.where(x > 0, 1, slope).astype(x.dtype)
        return x * self.slope_mask

    def backward(self, g):
        return g * const(self.slope_mask)


class Elu(Function):
    math = OpMath("y = x if x > 0 else a (e^x - 1)", grads=("g * (1 if x > 0 else y + a)",), local=("1 if x > 0 else a e^x",))

    save_inputs = True
    save_output = True

    def forward(self, x, alpha):
        self.alpha = alpha
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)

    def backward(self, g):
        pos = const(self.inputs[0]._data > 0)
        return where(pos, g, g * (self.output + self.alpha))


class Softplus(Function):
    math = OpMath(
        "y = (1/b) ln(1 + e^(b x)), and y = x where b x > threshold",
        grads=("g * sigma(b x)  (g above the threshold)",),
        local=("sigma(b x)",),
    )

    save_inputs = True

    def forward(self, x, beta, threshold):
        self.beta, self.threshold = beta, threshold
        bx = beta * x
        soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
        return np.where(bx > threshold, x, soft).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        above = const(x._data * self.beta > self.threshold)
        return where(above, g, g * sigmoid(x * self.beta))


def float_input(x: Tensor, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point tensor, got {x.dtype}")
    return x



def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    x = float_input(x, "hardtanh")
    dt = x._data.dtype.type
    return Clamp.apply(x, lo=dt(min_val), hi=dt(max_val), strict=True)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyRelu.apply(float_input(x, "leaky_relu"), slope=negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return Elu.apply(float_input(x, "elu"), alpha=alpha)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return Softplus.apply(float_input(x, "softplus"), beta=beta, threshold=threshold)
