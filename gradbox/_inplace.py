"""In-place ops (``t.add_(x)``, ``t[idx] = v``, ``F.relu(t, inplace=True)``): in place means in place.

Each one computes its out-of-place op and writes the result into ``t``'s own array, so every
view of ``t`` sees the change, and bumps ``t``'s version counter (shared with its views). A
node that saved ``t`` for its backward then refuses to run (``Function.check_saved_versions``)
instead of silently using the new values. PyTorch's autograd rules apply:

* on a leaf that requires grad, in grad mode: an error (wrap the update in ``no_grad()``, as
  optimizers do);
* on a tensor inside the graph: its history is rebased onto the new op, whose input is the
  old value (kept as a copy), so gradients flow through the in-place op like through its
  out-of-place twin;
* on a view of a tensor that requires grad, in grad mode: an error (PyTorch rewrites the
  base's history there; gradbox does not, and says so rather than giving a wrong gradient).

Without grad mode, or when nothing requires grad, only the data changes.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

from gradbox import _dtype, creation, ops
from gradbox import random as _random
from gradbox.autograd import grad_mode
from gradbox.autograd.grad_mode import no_grad
from gradbox.tensor import Tensor


def bump_version(t: Tensor) -> None:
    """Record that ``t``'s values changed in place (its views share the counter)."""
    if t._vc is None:
        t._vc = [0]
    t._vc[0] += 1


def _requires_grad(x) -> bool:
    return isinstance(x, Tensor) and x.requires_grad


def _writable(t: Tensor, op: str) -> np.ndarray:
    a = t._data
    if not a.flags.writeable:
        if 0 in a.strides and a.size > 1:
            raise RuntimeError(
                f"{op}: unsupported operation: more than one element of the written-to tensor refers to a single "
                "memory location (it is an expanded view); call .clone() before the in-place operation"
            )
        a = t._data = np.array(a)  # a read-only array of its own (e.g. from a file): take a private copy
    return a


def apply_inplace(t: Tensor, op: str, fn: Callable[..., Tensor], *args, casting: str = "same_kind", **kwargs) -> Tensor:
    """``t <- fn(t, *args, **kwargs)`` in ``t``'s memory, with the version bump and PyTorch's
    autograd rules for in-place ops (see the module docstring)."""
    track = grad_mode.is_grad_enabled() and (t.requires_grad or any(_requires_grad(a) for a in args))
    if track:
        if t.requires_grad and t.grad_fn is None:
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad is being used in an in-place operation; "
                "wrap the update in gb.no_grad() (as optimizers do)"
            )
        if t._base is not None:
            raise RuntimeError(
                f"{op}: in-place operation on a view (of a tensor of shape {tuple(t._base._data.shape)}) inside the "
                "autograd graph: gradbox cannot rewrite the base's history as PyTorch does; use the out-of-place op, "
                "or .clone() the view first"
            )
        old = Tensor._wrap(t._data.copy())  # the value before the op, as the new node's input
        old.grad_fn, old.requires_grad = t.grad_fn, t.requires_grad
        result = fn(old, *args, **kwargs)
    else:
        with no_grad():
            result = fn(t, *args, **kwargs)
    r = result._data
    a = _writable(t, op)
    if r.shape != a.shape:
        raise RuntimeError(
            f"{op}: output with shape {tuple(a.shape)} doesn't match the broadcast shape {tuple(r.shape)}"
        )
    if r.dtype != a.dtype and not np.can_cast(r.dtype, a.dtype, casting):
        raise RuntimeError(
            f"{op}: result type {_dtype.from_numpy_dtype(r.dtype)} can't be cast to the desired output type {t.dtype}"
        )
    np.copyto(a, r, casting="unsafe")
    if track:
        t.grad_fn, t.requires_grad = result.grad_fn, True
    bump_version(t)
    return t


def _scaled(x, alpha):
    return x if alpha == 1 else ops.mul(x, alpha)


def _filled(x: Tensor, value) -> Tensor:
    """value broadcast to x's shape, with no gradient to x (what fill_/copy_ compute)."""
    v = value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, dtype=x._data.dtype))
    return ops.add(ops.mul(x, 0), v.to(x.dtype) if v._data.dtype != x._data.dtype else v)


# ---- the methods --------------------------------------------------------------------------


def zero_(self):
    return apply_inplace(self, "zero_", ops.mul, 0)


def fill_(self, value):
    return apply_inplace(self, "fill_", _filled, value)


def copy_(self, src, non_blocking: bool = False):
    if not isinstance(src, Tensor):
        src = creation.tensor(src)
    try:
        np.broadcast_shapes(src._data.shape, self._data.shape)
    except ValueError:
        raise RuntimeError(
            f"copy_: source of shape {tuple(src._data.shape)} does not broadcast to {tuple(self._data.shape)}"
        ) from None
    return apply_inplace(self, "copy_", _filled, src, casting="unsafe")


def add_(self, other, *, alpha=1):
    return apply_inplace(self, "add_", lambda x, o: ops.add(x, _scaled(o, alpha)), other)


def sub_(self, other, *, alpha=1):
    return apply_inplace(self, "sub_", lambda x, o: ops.sub(x, _scaled(o, alpha)), other)


def mul_(self, other):
    return apply_inplace(self, "mul_", ops.mul, other)


def div_(self, other, *, rounding_mode=None):
    return apply_inplace(self, "div_", lambda x, o: ops.div(x, o, rounding_mode=rounding_mode), other)


def pow_(self, exponent):
    return apply_inplace(self, "pow_", ops.pow, exponent)


def clamp_(self, min=None, max=None):  # noqa: A002 - PyTorch's names
    return apply_inplace(self, "clamp_", lambda x: ops.clamp(x, min, max))


def clamp_min_(self, min):  # noqa: A002
    return apply_inplace(self, "clamp_min_", lambda x: ops.clamp(x, min=min))


def clamp_max_(self, max):  # noqa: A002
    return apply_inplace(self, "clamp_max_", lambda x: ops.clamp(x, max=max))


def addcmul_(self, tensor1, tensor2, *, value=1):
    return apply_inplace(self, "addcmul_", lambda x, a, b: ops.add(x, _scaled(ops.mul(a, b), value)), tensor1, tensor2)


def addcdiv_(self, tensor1, tensor2, *, value=1):
    return apply_inplace(self, "addcdiv_", lambda x, a, b: ops.add(x, _scaled(ops.div(a, b), value)), tensor1, tensor2)


def masked_fill_(self, mask, value):
    return apply_inplace(self, "masked_fill_", lambda x, v: ops.masked_fill(x, mask, v), value)


def _random_fill(name: str, draw: Callable[[np.random.Generator, tuple], np.ndarray]):
    def method(self, *args, generator=None, **kwargs):
        values = draw(_random._gen(generator), self._data.shape, *args, **kwargs)
        return apply_inplace(self, name, _filled, Tensor._wrap(np.asarray(values, dtype=self._data.dtype)))

    method.__name__ = name
    return method


uniform_ = _random_fill("uniform_", lambda g, shape, a=0.0, b=1.0: g.uniform(a, b, shape))
normal_ = _random_fill("normal_", lambda g, shape, mean=0.0, std=1.0: g.normal(mean, std, shape))


def setitem(self, idx, value) -> None:
    if isinstance(value, numbers.Number | np.ndarray | list | tuple) and not isinstance(value, bool):
        value = Tensor._wrap(np.asarray(value, dtype=self._data.dtype))
    elif isinstance(value, bool):
        value = Tensor._wrap(np.asarray(value, dtype=self._data.dtype))
    apply_inplace(self, "__setitem__", lambda x, v: ops.index.index_put(x, idx, v), value, casting="unsafe")


def _unary_(name: str, f: Callable[[Tensor], Tensor]):
    def method(self):
        return apply_inplace(self, name, f)

    method.__name__ = name
    return method


UNARY = {
    "neg_": ops.neg,
    "abs_": ops.abs,
    "exp_": ops.exp,
    "log_": ops.log,
    "sqrt_": ops.sqrt,
    "sin_": ops.sin,
    "cos_": ops.cos,
    "tanh_": ops.tanh,
    "sigmoid_": ops.sigmoid,
    "relu_": ops.relu,
    "reciprocal_": ops.reciprocal,
    "square_": ops.square,
}

METHODS = {
    f.__name__: f
    for f in (
        zero_,
        fill_,
        copy_,
        add_,
        sub_,
        mul_,
        div_,
        pow_,
        clamp_,
        clamp_min_,
        clamp_max_,
        addcmul_,
        addcdiv_,
        masked_fill_,
        uniform_,
        normal_,
    )
}
METHODS.update({name: _unary_(name, f) for name, f in UNARY.items()})
METHODS["clip_"] = clamp_


def attach(cls) -> None:
    for name, f in METHODS.items():
        setattr(cls, name, f)
    cls.__setitem__ = setitem
