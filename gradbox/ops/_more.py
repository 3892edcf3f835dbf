"""Helpers shared by the ops modules added for PyTorch's operator breadth: ``out=`` and dtype rules."""

from __future__ import annotations

import functools

import numpy as np

from gradbox import _dtype
from gradbox.autograd import grad_mode
from gradbox.ops._util import as_tensor
from gradbox.tensor import Tensor


def write_out(result, out, op: str):
    """Write ``result`` into the ``out=`` tensor(s) as PyTorch does (resized when the shape differs)."""
    if isinstance(result, tuple):
        if not isinstance(out, tuple | list) or len(out) != len(result):
            raise TypeError(f"{op}: out= must be a tuple of {len(result)} tensors")
        vals = [write_out(r, o, op) for r, o in zip(result, out)]
        return type(result)(*vals) if hasattr(result, "_fields") else tuple(vals)
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: out= must be a Tensor, got {type(out).__name__}")
    if grad_mode.is_grad_enabled() and (result.requires_grad or out.requires_grad):
        raise RuntimeError(
            f"{op}(): functions with out=... arguments don't support automatic differentiation, "
            "but one of the arguments requires grad"
        )
    r = result._data
    if not np.can_cast(r.dtype, out._data.dtype, casting="same_kind"):
        raise RuntimeError(f"{op}: result type {r.dtype} can't be cast to the desired output type {out._data.dtype}")
    if out._data.shape != r.shape:
        out._data = r.astype(out._data.dtype, copy=True)
    else:
        out._data[...] = r
    if out._vc is None:
        out._vc = [0]
    out._vc[0] += 1
    return out


def with_out(f):
    """Give an op function PyTorch's keyword-only ``out=``."""

    @functools.wraps(f)
    def g(*args, out=None, **kwargs):
        r = f(*args, **kwargs)
        return r if out is None else write_out(r, out, f.__name__)

    return g


def default_float() -> np.dtype:
    return _dtype.get_default_dtype().np


def float_tensor(x, op: str) -> Tensor:
    """x as a Tensor; integer and bool inputs become the default float dtype (PyTorch's unary float ops)."""
    x = as_tensor(x, op)
    if x._data.dtype.kind != "f":
        x = x.to(_dtype.get_default_dtype())
    return x


def zeros_like_grad(g: Tensor) -> Tensor:
    return Tensor._wrap(np.zeros(g._data.shape, dtype=g._data.dtype))
