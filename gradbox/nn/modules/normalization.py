"""BatchNorm1d/2d, LayerNorm, GroupNorm."""

from __future__ import annotations

import numpy as np

from gradbox import _dtype
from gradbox.nn import functional as F
from gradbox.nn.modules.module import Module
from gradbox.nn.parameter import Parameter
from gradbox.tensor import Tensor


def _full(shape, value, dtype) -> np.ndarray:
    npd = _dtype.get_default_dtype().np if dtype is None else _dtype.to_numpy_dtype(dtype)
    return np.full(shape, value, dtype=npd)


def _affine(module: Module, shape, affine: bool, bias: bool, dtype) -> None:
    """weight = 1 and bias = 0 of the given shape (each registered as None when absent)."""
    module.register_parameter("weight", Parameter(_full(shape, 1.0, dtype)) if affine else None)
    module.register_parameter("bias", Parameter(_full(shape, 0.0, dtype)) if affine and bias else None)


class _BatchNorm(Module):
    _ndims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats, self.use_bias = affine, track_running_stats, bias
        _affine(self, (num_features,), affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._wrap(_full((num_features,), 0.0, dtype)))
            self.register_buffer("running_var", Tensor._wrap(_full((num_features,), 1.0, dtype)))
            self.register_buffer("num_batches_tracked", Tensor._wrap(np.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def extra_repr(self) -> str:
        b = f", bias={self.use_bias}" if self.affine else ""
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}{b}, track_running_stats={self.track_running_stats}"

    def forward(self, input):
        xs = input._data.shape
        if len(xs) not in self._ndims:
            want = " or ".join(f"{n}D" for n in self._ndims)
            raise ValueError(f"expected {want} input, got {len(xs)}D input (shape {tuple(xs)})")
        if xs[1] != self.num_features:
            raise ValueError(
                f"expected input with {self.num_features} channels, got {xs[1]} (input shape {tuple(xs)})"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data[...] += 1
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked._data)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch,
            momentum,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Per-feature normalisation of (N, C) or (N, C, L) inputs over the batch (and length)."""

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Per-channel normalisation of (N, C, H, W) inputs over batch and spatial dims."""

    _ndims = (4,)


class LayerNorm(Module):
    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps, self.elementwise_affine, self.use_bias = eps, elementwise_affine, bias
        _affine(self, self.normalized_shape, elementwise_affine, bias, dtype)

    def extra_repr(self) -> str:
        b = f", bias={self.use_bias}" if self.elementwise_affine else ""
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}{b}"

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)


class GroupNorm(Module):
    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.use_bias = bias
        _affine(self, (num_channels,), affine, bias, dtype)

    def extra_repr(self) -> str:
        b = f", bias={self.use_bias}" if self.affine else ""
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}{b}"

    def forward(self, input):
        if input._data.ndim < 2 or input._data.shape[1] != self.num_channels:
            raise RuntimeError(
                f"expected input with {self.num_channels} channels, got shape {tuple(input._data.shape)}"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)
