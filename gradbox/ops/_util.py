"""Argument handling shared by all ops: operand conversion, type promotion, dim and shape checks.

Every check lives here once, so each op's error names the op and the shapes involved instead
of surfacing a NumPy traceback.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from gradbox import _dtype
from gradbox.tensor import Tensor


def const(a) -> Tensor:
    """A Tensor that never requires grad (masks, zeros, scalars in backward formulas)."""
    return Tensor._wrap(np.asarray(a))


def fresh(a: np.ndarray) -> Tensor:
    """A gradient in a new array that no other tensor or node references (a product's result),
    for a plain backward: the engine may then keep it as a leaf's .grad instead of copying it
    (it copies otherwise, since a gradient may alias another leaf's or be a view)."""
    t = Tensor._wrap(a)
    t._fresh = True
    return t


def as_tensor(x, op: str, like: Tensor | None = None) -> Tensor:
    """Turn an operand into a Tensor; Python scalars take ``like``'s dtype per PyTorch promotion."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, bool | int | float):  # Python scalars (np.float64 is a float)
        if like is not None:
            return Tensor._wrap(np.asarray(x, dtype=_dtype.result_type(like._data, x)))
        return Tensor._wrap(np.asarray(x, dtype=_dtype.result_type(x)))
    if isinstance(x, np.ndarray | np.generic | list | tuple):
        from gradbox.creation import tensor  # cycle: creation imports ops._util (shape_arg)

        return tensor(x)
    raise TypeError(f"{op}: expected a Tensor or a number, got {type(x).__name__}")


def broadcast_error(op: str, sa: tuple, sb: tuple) -> RuntimeError:
    """The error for shapes that do not broadcast, naming the op, both shapes and the dimension."""
    n = max(len(sa), len(sb))
    pa = (1,) * (n - len(sa)) + tuple(sa)
    pb = (1,) * (n - len(sb)) + tuple(sb)
    for i in range(n - 1, -1, -1):
        if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
            return RuntimeError(
                f"{op}: shapes {tuple(sa)} and {tuple(sb)} cannot be broadcast: size {pa[i]} vs "
                f"{pb[i]} at dimension {i - n} (sizes must match or one of them be 1)"
            )
    return RuntimeError(f"{op}: shapes {tuple(sa)} and {tuple(sb)} cannot be broadcast")


def check_broadcast(op: str, *shapes: tuple) -> tuple:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        for i in range(len(shapes)):
            for j in range(i + 1, len(shapes)):
                try:
                    np.broadcast_shapes(shapes[i], shapes[j])
                except ValueError:
                    raise broadcast_error(op, shapes[i], shapes[j]) from None
        raise


def promote(op: str, *xs) -> list[Tensor]:
    """Tensors of one dtype, promoted as PyTorch does; scalars become 0-d constants."""
    raw = [x._data if isinstance(x, Tensor) else x for x in xs]
    if all(isinstance(x, Tensor) for x in xs):
        d0 = raw[0].dtype
        if all(r.dtype == d0 for r in raw):
            return list(xs)
    for r in raw:
        if not isinstance(r, np.ndarray | numbers.Number):
            raise TypeError(f"{op}: expected Tensors or numbers, got {type(r).__name__}")
    dt = _dtype.result_type(*[_scalar_or_array(r) for r in raw])
    out = []
    for x in xs:
        if isinstance(x, Tensor):
            out.append(x if x._data.dtype == dt else x.to(dt))
        else:
            out.append(Tensor._wrap(np.asarray(x, dtype=dt)))
    return out


def _scalar_or_array(r):
    if isinstance(r, bool | int | float) or isinstance(r, np.ndarray):
        return r
    return np.asarray(r)  # NumPy scalars other than float64 act as 0-d tensors


def binary(op: str, a, b) -> tuple[Tensor, Tensor]:
    """Promote two operands and check that their shapes broadcast."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        da, db = a._data, b._data
        if da.dtype != db.dtype:
            a, b = promote(op, a, b)
        if da.shape != db.shape:
            check_broadcast(op, da.shape, db.shape)
        return a, b
    if not isinstance(a, Tensor | numbers.Number):
        a = as_tensor(a, op)
    if not isinstance(b, Tensor | numbers.Number):
        b = as_tensor(b, op)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return binary(op, a, b)
    return tuple(promote(op, a, b))  # type: ignore[return-value]


def norm_dim(dim: int, ndim: int, op: str) -> int:
    """A dim in [-ndim, ndim) as a non-negative index (a 0-d tensor accepts -1 and 0)."""
    n = max(ndim, 1)
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def norm_dims(dim, ndim: int, op: str) -> tuple[int, ...] | None:
    """``None`` for all dims, otherwise a sorted tuple of distinct non-negative dims."""
    if dim is None:
        return None
    if isinstance(dim, Sequence):
        dims = tuple(sorted({norm_dim(d, ndim, op) for d in dim}))
        if len(dims) != len(dim):
            raise RuntimeError(f"{op}: dim {tuple(dim)} names a dimension twice")
        return dims if dims and ndim else None
    d = norm_dim(dim, ndim, op)
    return (d,) if ndim else None  # a 0-d tensor takes dim 0 or -1: reducing it over "all" its dims


def endpoint(v, op: str, what: str):
    """A Python number from a number or a 0-d tensor (torch's tensor overload of linspace and
    logspace): a float32 tensor endpoint must not make NumPy compute the range in float32."""
    if isinstance(v, Tensor | np.ndarray):
        if v.ndim != 0:
            raise RuntimeError(f"{op}: expected a 0-dimensional {what} tensor, got shape {tuple(v.shape)}")
        return v.item()
    return v


def shape_arg(args: tuple, op: str, new: bool = False) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` / ``f([2, 3])`` like PyTorch; ``new``: the sizes of a
    tensor to create, which must not be negative."""
    if len(args) == 1 and isinstance(args[0], Sequence | np.ndarray):
        args = tuple(args[0])
    out = []
    for s in args:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"{op}: sizes must be ints, got {s!r}")
        out.append(int(s))
    if new and any(s < 0 for s in out):
        raise RuntimeError(f"{op}: trying to create a tensor with negative dimension {min(out)}: {list(out)}")
    return tuple(out)
