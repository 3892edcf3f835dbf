"""Tensor creation: from data, constant fills, ranges and random draws (gradbox's generator)."""

from __future__ import annotations

import numbers

import numpy as np

from gradbox import _device, _dtype
from gradbox.ops._util import endpoint, shape_arg
from gradbox.random import Generator, _gen
from gradbox.tensor import Tensor


def _np_dtype(dtype, default: np.dtype | None = None) -> np.dtype:
    if dtype is None:
        return default if default is not None else _dtype.get_default_dtype().np
    return _dtype.to_numpy_dtype(dtype)


def _finish(a: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(a)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer(data) -> np.ndarray:
    """NumPy arrays keep their dtype; Python floats become the default float, ints int64, bools bool."""
    if isinstance(data, Tensor):
        return data._data.copy()
    if isinstance(data, np.ndarray):
        return data.copy()
    if isinstance(data, np.generic):
        return np.asarray(data)
    if isinstance(data, list | tuple) and any(isinstance(x, Tensor) for x in data):
        data = [x._data if isinstance(x, Tensor) else x for x in data]
    try:
        a = np.array(data)
    except ValueError:
        raise ValueError(f"tensor: {_ragged(data)}") from None
    if a.dtype.kind == "f":
        a = a.astype(_dtype.get_default_dtype().np)
    elif a.dtype.kind in "iu":
        a = a.astype(np.int64)
    elif a.dtype.kind not in "b":
        raise TypeError(f"tensor: can't convert data of type {a.dtype} ({type(data).__name__}) to a tensor")
    return a


def _ragged(data, dim: int = 0) -> str:
    """Where nested sequences stop being rectangular, in PyTorch's words."""
    items = list(data)
    lengths = [len(x) if isinstance(x, list | tuple) else None for x in items]
    first = lengths[0] if lengths else None
    for n in lengths:
        if n != first:
            if first is None or n is None:
                return f"expected a sequence or a number consistently at dim {dim + 1}, got both"
            return f"expected sequence of length {first} at dim {dim + 1} (got {n})"
    for x in items:
        if isinstance(x, list | tuple):
            inner = _ragged(x, dim + 1)
            if inner:
                return inner
    return "" if dim else "the nested sequences do not form a rectangular array"


def tensor(data, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays or tensors)."""
    _device.check(device, "tensor")
    a = _infer(data)
    if dtype is not None:
        a = a.astype(_dtype.to_numpy_dtype(dtype), copy=False)
    return _finish(a, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array or tensor when the dtype allows."""
    _device.check(device, "as_tensor")
    if isinstance(data, Tensor) and (dtype is None or data._data.dtype == _dtype.to_numpy_dtype(dtype)):
        return data
    if isinstance(data, np.ndarray):
        return Tensor._wrap(data if dtype is None else data.astype(_dtype.to_numpy_dtype(dtype), copy=False))
    return tensor(data, dtype=dtype)


def from_numpy(a: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``a`` (keeps its dtype)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(a).__name__}")
    _dtype.from_numpy_dtype(a.dtype)
    return Tensor._wrap(a)


def zeros(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    _device.check(device, "zeros")
    return _finish(np.zeros(shape_arg(size, "zeros", new=True), _np_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    _device.check(device, "ones")
    return _finish(np.ones(shape_arg(size, "ones", new=True), _np_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    _device.check(device, "empty")
    return _finish(np.empty(shape_arg(size, "empty", new=True), _np_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    _device.check(device, "full")
    if dtype is None:
        if isinstance(fill_value, bool):
            default = np.dtype(np.bool_)
        elif isinstance(fill_value, numbers.Integral):
            default = np.dtype(np.int64)
        else:
            default = None
        npd = _np_dtype(None, default)
    else:
        npd = _np_dtype(dtype)
    return _finish(np.full(shape_arg((size,), "full", new=True), fill_value, npd), requires_grad)


def _like(x: Tensor, dtype) -> np.dtype:
    return x._data.dtype if dtype is None else _dtype.to_numpy_dtype(dtype)


def zeros_like(x: Tensor, dtype=None, requires_grad: bool = False, device=None, memory_format=None) -> Tensor:
    _device.check(device, "zeros_like")
    return _finish(np.zeros(x._data.shape, _like(x, dtype)), requires_grad)


def ones_like(x: Tensor, dtype=None, requires_grad: bool = False, device=None, memory_format=None) -> Tensor:
    _device.check(device, "ones_like")
    return _finish(np.ones(x._data.shape, _like(x, dtype)), requires_grad)


def full_like(
    x: Tensor, fill_value, dtype=None, requires_grad: bool = False, device=None, memory_format=None
) -> Tensor:
    _device.check(device, "full_like")
    return _finish(np.full(x._data.shape, fill_value, _like(x, dtype)), requires_grad)


def empty_like(x: Tensor, dtype=None, requires_grad: bool = False, device=None, memory_format=None) -> Tensor:
    _device.check(device, "empty_like")
    return _finish(np.empty(x._data.shape, _like(x, dtype)), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """[start, end) in steps; integer arguments give int64, any float gives the default float."""
    _device.check(device, "arange")
    if end is None:
        start, end = 0, start
    is_int = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound ({end}) and lower bound ({start}) inconsistent with step sign ({step})")
    npd = _np_dtype(dtype, np.dtype(np.int64) if is_int else None)
    return _finish(np.arange(start, end, step).astype(npd), requires_grad)


def linspace(start, end, steps: int, *, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """``steps`` evenly spaced values from start to end (both included), computed in float64
    and cast to ``dtype`` (integer dtypes truncate the endpoints and the values, as in PyTorch)."""
    _device.check(device, "linspace")
    start, end = endpoint(start, "linspace", "start"), endpoint(end, "linspace", "end")
    if not isinstance(steps, numbers.Integral) or steps < 0:
        raise RuntimeError(f"linspace: expected a non-negative integer number of steps, got {steps!r}")
    npd = _np_dtype(dtype)
    if npd.kind in "iub":  # as in PyTorch, the endpoints are cast to the integer dtype first
        start, end = int(start), int(end)
    return _finish(_even_steps(float(start), float(end), int(steps)).astype(npd), requires_grad)


def _even_steps(start: float, end: float, steps: int) -> np.ndarray:
    """PyTorch's formula in float64: start + i d for the first half, end - (steps - 1 - i) d for
    the second (d = (end - start) / (steps - 1)), so both endpoints are exact."""
    if steps <= 1:
        return np.full(steps, start)
    d = (end - start) / (steps - 1)
    i = np.arange(steps, dtype=np.float64)
    half = steps // 2
    return np.concatenate([start + d * i[:half], end - d * (steps - 1 - i[half:])])


def eye(n: int, m: int | None = None, *, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    _device.check(device, "eye")
    shape_arg((n,) if m is None else (n, m), "eye", new=True)
    return _finish(np.eye(n, m, dtype=_np_dtype(dtype)), requires_grad)


def _float_dtype(dtype, op: str) -> np.dtype:
    npd = _np_dtype(dtype)
    if npd.kind != "f":
        raise TypeError(f"{op}: expected a floating point dtype, got {dtype!r}")
    return npd


def rand(*size, generator: Generator | None = None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Uniform samples on [0, 1)."""
    _device.check(device, "rand")
    npd = _float_dtype(dtype, "rand")
    draw_dtype = np.float32 if npd == np.float32 else np.float64  # draw in the target dtype: no float64 copy
    a = _gen(generator).random(shape_arg(size, "rand", new=True), dtype=draw_dtype).astype(npd, copy=False)
    return _finish(a, requires_grad)


def randn(*size, generator: Generator | None = None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Standard normal samples."""
    _device.check(device, "randn")
    npd = _float_dtype(dtype, "randn")
    draw_dtype = np.float32 if npd == np.float32 else np.float64  # draw in the target dtype: no float64 copy
    a = _gen(generator).standard_normal(shape_arg(size, "randn", new=True), dtype=draw_dtype).astype(npd, copy=False)
    return _finish(a, requires_grad)


def randint(low, high=None, size=(), *, generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` starts at 0), int64 by default."""
    _device.check(device, "randint")
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"randint: expects low < high, got low={low}, high={high}")
    a = _gen(generator).integers(low, high, size=shape_arg((size,), "randint", new=True))
    return _finish(a.astype(_np_dtype(dtype, np.dtype(np.int64))), False)


def randperm(n: int, *, generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    _device.check(device, "randperm")
    return _finish(_gen(generator).permutation(n).astype(_np_dtype(dtype, np.dtype(np.int64))), False)


def rand_like(x: Tensor, dtype=None, requires_grad: bool = False, device=None, memory_format=None) -> Tensor:
    _device.check(device, "rand_like")
    return rand(x._data.shape, dtype=dtype or _dtype.from_numpy_dtype(x._data.dtype), requires_grad=requires_grad)


def randn_like(x: Tensor, dtype=None, requires_grad: bool = False, device=None, memory_format=None) -> Tensor:
    _device.check(device, "randn_like")
    return randn(x._data.shape, dtype=dtype or _dtype.from_numpy_dtype(x._data.dtype), requires_grad=requires_grad)


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def numel(x: Tensor) -> int:
    return x.numel()
