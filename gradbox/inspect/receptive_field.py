"""Receptive fields measured: the input region a unit's gradient reaches, to check the analytic ones.

The gradient of one output unit with respect to the input is non-zero exactly on the inputs
the unit depends on, unless a mask cuts it: a ReLU at a negative input, a max-pool window's
non-maximal entries, cancelling signs. ``receptive_field_empirical`` removes all three: on a
copy of the model, every weight is positive (1 / fan-in, so values stay near 1), normalisation
statistics are neutral, and the backward of ReLU, clamps (ReLU6, hardtanh) and max pooling is
made dense (the gradient passes everywhere, spread over each pooling window), so the region is
the structural one.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

import gradbox as gb
from gradbox import nn
from gradbox.ops import elementwise, pool
from gradbox.ops.shape import pad


@dataclass
class EmpiricalField:
    """``unit``: the output index (``None``: all indices of that dim); ``region``: per spatial input axis, the first and last
    position with a non-zero gradient; ``mask``: where it is non-zero (summed over the batch
    and channels)."""

    unit: tuple[int | None, ...]
    region: tuple[tuple[int, int], ...]
    mask: np.ndarray

    @property
    def size(self) -> tuple[int, ...]:
        """The extent of the region per axis (the receptive field, clipped to the input)."""
        return tuple(hi - lo + 1 for lo, hi in self.region)

    @property
    def dense(self) -> bool:
        """Whether the non-zero gradient fills its bounding box."""
        box = tuple(slice(lo, hi + 1) for lo, hi in self.region)
        return bool(self.mask[box].all())


def _dense_maxpool_backward(self, g):
    kernel, stride, dilation, _ = self.geometry
    gp = pool.WindowSpread.apply(g, args=(kernel, stride, dilation), x_shape=self.xp_shape)
    return pad(gp, [v for lo, hi in reversed(self.pads) for v in (-lo, -hi)])


@contextlib.contextmanager
def dense_gradients() -> Iterator[None]:
    """Within the block, ReLU, clamps and max pooling pass the gradient everywhere."""
    saved = [
        (elementwise.Relu, elementwise.Relu.backward),
        (elementwise.Clamp, elementwise.Clamp.backward),
        (pool.MaxPool, pool.MaxPool.backward),
    ]
    elementwise.Relu.backward = lambda self, g: g
    elementwise.Clamp.backward = lambda self, g: g
    pool.MaxPool.backward = _dense_maxpool_backward
    try:
        yield
    finally:
        for cls, fn in saved:
            cls.backward = fn


def structural_copy(model: nn.Module) -> nn.Module:
    """A float64 copy of ``model`` in eval mode whose weights are positive: each weight tensor
    1 / fan-in, every vector parameter 1, normalisation statistics mean 0 and variance 1."""
    m = copy.deepcopy(model).double().eval()
    with gb.no_grad():
        for p in m.parameters():
            p._data[...] = 1.0 / math.prod(p._data.shape[1:]) if p._data.ndim >= 2 else 1.0
        for name, b in m.named_buffers():
            if name.endswith("running_mean"):
                b._data[...] = 0.0
            elif name.endswith("running_var"):
                b._data[...] = 1.0
    return m


def receptive_field_empirical(
    model: nn.Module, input_size: Sequence[int], unit: Sequence[int | None] | None = None
) -> EmpiricalField:
    """The region of the input (N, C, *S) whose gradient is non-zero for one output unit, with
    the gradients of ReLU and max pooling made dense and weights positive so that the region
    is structural. ``unit`` indexes the output; ``None`` in a position takes all its indices
    (default: batch 0, all channels, the centre position, so that a concatenation's unit is
    the union of its branches' as in the analytic field; (0, None) for a flat output).
    Compare with ``summary(...)``'s receptive field, clipped to the input (``analytic_region``)."""
    if len(input_size) < 3:
        raise ValueError(f"input_size must be (N, C, *spatial), got {tuple(input_size)}")
    m = structural_copy(model)
    x = gb.ones(*input_size, dtype=gb.float64, requires_grad=True)
    with dense_gradients():
        y = m(x)
        if not isinstance(y, gb.Tensor):
            y = y[0]
        shape = tuple(y.shape)
        if unit is None:
            unit = (0, None, *(s // 2 for s in shape[2:])) if len(shape) >= 3 else (0, None)[: len(shape)]
        unit = tuple(None if u is None else int(u) for u in unit)
        seed = np.zeros(shape)
        seed[tuple(slice(None) if u is None else u for u in unit)] = 1.0
        y.backward(gb.tensor(seed, dtype=y.dtype))
    g = np.abs(x.grad.numpy()).sum(axis=(0, 1))
    mask = g != 0
    if not mask.any():
        raise RuntimeError(f"no input reaches output unit {unit}: its gradient is zero everywhere")
    region = []
    for ax in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != ax)
        idx = np.flatnonzero(mask.any(axis=other) if other else mask)
        region.append((int(idx[0]), int(idx[-1])))
    return EmpiricalField(unit, tuple(region), mask)


def analytic_region(
    receptive_field, effective_stride, effective_padding, position: Sequence[int], extent: Sequence[int]
) -> tuple[tuple[int, int], ...]:
    """The input positions [lo, hi] per axis that output position ``position`` (spatial index)
    sees, by the analytic field (r, S, P): lo = i S - P, hi = lo + r - 1, clipped to the input."""
    n = len(extent)

    def per_axis(v):
        return tuple(v) if isinstance(v, tuple | list) else (v,) * n

    rs, ss, ps = per_axis(receptive_field), per_axis(effective_stride), per_axis(effective_padding)
    out = []
    for i, r, s, p, size in zip(position, rs, ss, ps, extent):
        lo = i * s - p
        out.append((int(max(lo, 0)), int(min(lo + r - 1, size - 1))))
    return tuple(out)
