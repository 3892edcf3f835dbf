"""Sliding-window geometry shared by convolution and pooling.

A window op over x (N, C, *S) with kernel K, stride s, dilation d and padding (lo, hi) per
spatial axis reads, for output position p and kernel offset k, the padded input at
p*s + k*d. Its output size per axis is

    out = floor((S + lo + hi - d (K - 1) - 1) / s) + 1.

Everything here works on raw arrays; the ops in ``conv.py`` and ``pool.py`` use it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import as_strided


def ntuple(v, n: int, name: str) -> tuple[int, ...]:
    """``3`` -> (3, 3); a tuple of length n passes; anything else raises naming the argument."""
    if isinstance(v, int):
        return (v,) * n
    t = tuple(int(a) for a in v)
    if len(t) == 1:
        return t * n
    if len(t) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def check_positive(op: str, **sizes) -> None:
    """Kernel sizes, strides and dilations must be >= 1 (paddings, given as ``padding``, >= 0):
    one check for every window op, naming the op, the argument and the value."""
    for name, values in sizes.items():
        if values is None:
            continue
        low = 0 if name.startswith("padding") or name == "output_padding" else 1
        if any(v < low for v in values):
            want = "non-negative" if low == 0 else "positive"
            raise RuntimeError(f"{op}: {name} must be {want}, got {tuple(values)}")


class Geometry(tuple):
    """(stride, padding as (lo, hi) pairs, dilation, groups) for one convolution."""

    stride = property(lambda self: self[0])
    padding = property(lambda self: self[1])
    dilation = property(lambda self: self[2])
    groups = property(lambda self: self[3])


def out_size(size: int, k: int, stride: int, lo: int, hi: int, dilation: int) -> int:
    return (size + lo + hi - dilation * (k - 1) - 1) // stride + 1


def pad_spatial(x: np.ndarray, pads, value=0) -> np.ndarray:
    """x (N, C, *S) padded by (lo, hi) per spatial axis with ``value``; x itself when no padding."""
    if not any(lo or hi for lo, hi in pads):
        return x
    return np.pad(x, [(0, 0)] * (x.ndim - len(pads)) + list(pads), constant_values=value)


def windows(xp: np.ndarray, kernel, stride, dilation, out) -> np.ndarray:
    """A read-only view of xp (N, C, *S) as (N, C, *out, *kernel) sliding windows (no copy)."""
    s = xp.strides
    sp = s[2:]
    shape = (*xp.shape[:2], *out, *kernel)
    strides = (*s[:2], *(a * b for a, b in zip(sp, stride)), *(a * b for a, b in zip(sp, dilation)))
    return as_strided(xp, shape, strides, writeable=False)


def offset_slices(kernel, stride, dilation, out) -> Iterator[tuple[tuple[int, ...], tuple[slice, ...]]]:
    """For each kernel offset k, the spatial slices of the padded input that offset k reads
    across all output positions: ``x_pad[..., k*d : k*d + s*(out-1) + 1 : s]``."""
    for k in itertools.product(*(range(kk) for kk in kernel)):
        yield (
            k,
            tuple(slice(ki * dl, ki * dl + st * (o - 1) + 1, st) for ki, dl, st, o in zip(k, dilation, stride, out)),
        )


def pool_geometry(spatial, kernel, stride, padding, dilation, ceil_mode: bool, who: str):
    """Output sizes and (lo, hi) paddings so that every window lies inside the padded input."""
    outs, pads = [], []
    for size, k, s, p, d in zip(spatial, kernel, stride, padding, dilation):
        eff = d * (k - 1) + 1
        if p * 2 > k:  # PyTorch compares with the kernel size itself, not the dilated one
            raise RuntimeError(f"{who}: pad should be at most half of kernel size, but got pad={p} and kernel_size={k}")
        num = size + 2 * p - eff + ((s - 1) if ceil_mode else 0)
        if num < 0:
            raise RuntimeError(
                f"{who}: input spatial size {tuple(spatial)} is too small for kernel {tuple(kernel)} (padding {tuple(padding)})"
            )
        o = num // s + 1
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1
        outs.append(o)
        pads.append((p, max(p, (o - 1) * s + eff - size - p)))
    return tuple(outs), tuple(pads)
