"""Identity, Linear, Bilinear, Flatten, Unflatten."""

from __future__ import annotations

import math

import numpy as np

from gradbox import _dtype
from gradbox.nn import functional as F
from gradbox.nn import init
from gradbox.nn.modules.module import Module
from gradbox.nn.parameter import Parameter


def check_sizes(layer: str, **sizes: int) -> None:
    """Feature and table sizes are non-negative ints; a negative one names the layer and the argument."""
    for name, v in sizes.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{layer}: {name} must be a non-negative int, got {v!r}")


def empty_param(shape, dtype) -> Parameter:
    npd = _dtype.get_default_dtype().np if dtype is None else _dtype.to_numpy_dtype(dtype)
    return Parameter(np.empty(shape, dtype=npd))


class Identity(Module):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, x):
        return x


class Linear(Module):
    """y = x W^T + b with W (out_features, in_features); W and b ~ U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        check_sizes("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = empty_param((out_features, in_features), dtype)
        self.bias = empty_param((out_features,), dtype) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y_k = x1^T W_k x2 + b_k; W (out, in1, in2) and b ~ U(-1/sqrt(in1), 1/sqrt(in1))."""

    def __init__(
        self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        check_sizes("Bilinear", in1_features=in1_features, in2_features=in2_features, out_features=out_features)
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        self.weight = empty_param((out_features, in1_features, in2_features), dtype)
        if bias:
            self.bias = empty_param((out_features,), dtype)
        else:
            self.register_parameter("bias", None)
        bound = 1 / math.sqrt(in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        for x, n, which in ((input1, self.in1_features, "input1"), (input2, self.in2_features, "input2")):
            if x._data.shape[-1] != n:
                raise RuntimeError(
                    f"expected {which} with {n} features, got shape {tuple(x._data.shape)}"
                )
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in1_features={self.in1_features}, in2_features={self.in2_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        return F.unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
