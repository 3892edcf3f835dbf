"""Argument normalisation shared by the functional layers."""

from __future__ import annotations

from gradbox.tensor import Tensor


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


def check_float_input(x, op: str, ndims: tuple[int, ...], what: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x._data.ndim not in ndims:
        raise RuntimeError(f"{op}: expected {what} input, got shape {tuple(x._data.shape)}")
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype}")
