"""The Tensor: an ``np.ndarray`` plus what autograd needs (``requires_grad``, ``grad``, ``grad_fn``).

Math lives in ``gradbox.ops``; the methods here are the PyTorch-named entry points to it.
"""

from __future__ import annotations

import numbers
import weakref
from typing import Any

import numpy as np

from gradbox import _device, _dtype, _repr

_new = object.__new__


class Size(tuple):
    """A tensor's shape: a tuple that prints like ``gradbox.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"gradbox.Size({list(self)})"

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64))


def _check_grad_dtype(a: np.ndarray) -> None:
    if a.dtype.kind != "f":
        raise RuntimeError(
            f"only Tensors of floating point dtype can require gradients, got {_dtype.from_numpy_dtype(a.dtype)}"
        )


class Tensor:
    """An n-dimensional array that can record the ops applied to it and backpropagate through them."""

    __slots__ = ("_data", "__dict__", "__weakref__")
    __array_priority__ = 1000  # np.ndarray op Tensor defers to Tensor's reflected operators
    # Defaults live on the class, so a new tensor sets only ``_data`` (op overhead matters).
    requires_grad: bool = False
    grad: Tensor | None = None
    grad_fn: Any = None
    _hooks: list | None = None
    # The version counter, made on the first in-place change or view: a one-element list
    # shared by a tensor and its views; ``_base`` is the tensor a view was taken from.
    _vc: list | None = None
    _base: Tensor | None = None
    # A gradient whose array nothing else references (ops/_util.fresh): the engine may keep it
    # as a leaf's .grad without the defensive copy.
    _fresh: bool = False

    def __init__(self, data: Any = None, *, dtype=None, requires_grad: bool = False) -> None:
        # ``gb.Tensor(data)`` gives float32 like ``torch.Tensor(data)``; prefer ``gb.tensor``.
        a = np.asarray([] if data is None else (data._data if isinstance(data, Tensor) else data))
        a = a.astype(_dtype.to_numpy_dtype(dtype) if dtype is not None else _dtype.get_default_dtype().np)
        self._data = a
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(a: np.ndarray) -> Tensor:
        t = _new(Tensor)
        t._data = a if type(a) is np.ndarray else np.asarray(a)  # NumPy returns scalars for 0-d results
        return t

    # ---- attributes -------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_ops._util.norm_dim(dim, self._data.ndim, "size")]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self) -> _dtype.dtype:
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> _device.device:
        return _device.CPU

    is_cuda = False
    is_cpu = True
    is_mps = False

    def cuda(self, device=None, non_blocking: bool = False) -> Tensor:
        _device.check("cuda" if device is None else device, "cuda")
        return self

    def pin_memory(self) -> Tensor:
        """Pinned memory speeds host-to-GPU copies; on the CPU alone it changes nothing."""
        return self

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor as its number, as in PyTorch; other tensors take no spec."""
        if self._data.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} passed to Tensor.__format__ (a tensor of shape {tuple(self._data.shape)})")
        return str(self)

    @property
    def _version(self) -> int:
        """How many times this tensor's memory was changed in place (shared with its views)."""
        return self._vc[0] if self._vc is not None else 0

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    @property
    def data(self) -> Tensor:
        """The same values, detached from the graph (shares memory, like PyTorch's ``.data``)."""
        return self._alias()

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    @property
    def T(self) -> Tensor:  # noqa: N802
        return _ops.permute(self, tuple(reversed(range(self._data.ndim))))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        return _ops.transpose(self, -2, -1)

    # ---- conversion -------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on a Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        return self._data

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self) -> numbers.Number:
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to a Python scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} values is ambiguous")
        return bool(self._data.reshape(()))

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return _repr.tensor_repr(self)

    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to("cpu")``, ``to(other)``; gradbox runs on the CPU only."""
        target = _dtype.parse_to_args(args, kwargs, like=Tensor)
        return self if target is None else _ops.cast(self, target)

    def type(self, dtype=None):
        if dtype is None:
            return f"gradbox.{self.dtype.name}"
        return self.to(dtype)

    def float(self, memory_format=None) -> Tensor:
        return _ops.cast(self, np.float32)

    def double(self, memory_format=None) -> Tensor:
        return _ops.cast(self, np.float64)

    def half(self, memory_format=None) -> Tensor:
        return _ops.cast(self, np.float16)

    def long(self, memory_format=None) -> Tensor:
        return _ops.cast(self, np.int64)

    def int(self, memory_format=None) -> Tensor:
        return _ops.cast(self, np.int32)

    def bool(self, memory_format=None) -> Tensor:
        return _ops.cast(self, np.bool_)

    def cpu(self) -> Tensor:
        return self

    def contiguous(self) -> Tensor:
        return self if self._data.flags.c_contiguous else _ops.clone(self)

    def clone(self) -> Tensor:
        return _ops.clone(self)

    # ---- autograd ---------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            if not requires_grad:
                raise RuntimeError("you can only change requires_grad flags of leaf variables; use detach()")
            return self
        if requires_grad:
            _check_grad_dtype(self._data)
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """The same values outside the graph; shares memory and the version counter with self."""
        return self._alias()

    def _alias(self) -> Tensor:
        t = Tensor._wrap(self._data)
        if self._vc is None:
            self._vc = [0]
        t._vc = self._vc
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves keep it anyway)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn._retain = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self.grad_fn is not None and self.grad_fn._retain is not None

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            if self.grad_fn._hooks is None:
                self.grad_fn._hooks = []
            self.grad_fn._hooks.append(hook)
        else:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
        return hook

    def backward(
        self, gradient: Tensor | None = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # In-place methods (add_, mul_, zero_, copy_, __setitem__, ...): gradbox/_inplace.py.

    # ---- operators --------------------------------------------------------------------
    def __add__(self, o):
        return _ops.add(self, o)

    def __radd__(self, o):
        return _ops.add(o, self)

    def __sub__(self, o):
        return _ops.sub(self, o)

    def __rsub__(self, o):
        return _ops.sub(o, self)

    def __mul__(self, o):
        return _ops.mul(self, o)

    def __rmul__(self, o):
        return _ops.mul(o, self)

    def __truediv__(self, o):
        return _ops.div(self, o)

    def __rtruediv__(self, o):
        return _ops.div(o, self)

    def __floordiv__(self, o):
        return _ops.floor_divide(self, o)

    def __rfloordiv__(self, o):
        return _ops.floor_divide(o, self)

    def __mod__(self, o):
        return _ops.remainder(self, o)

    def __pow__(self, o):
        return _ops.pow(self, o)

    def __rpow__(self, o):
        return _ops.pow(_ops._util.as_tensor(o, "pow", like=self), self)

    def __matmul__(self, o):
        return _ops.matmul(self, o)

    def __rmatmul__(self, o):
        return _ops.matmul(o, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __eq__(self, o):  # type: ignore[override]
        return _ops.eq(self, o)

    def __ne__(self, o):  # type: ignore[override]
        return _ops.ne(self, o)

    def __lt__(self, o):
        return _ops.lt(self, o)

    def __le__(self, o):
        return _ops.le(self, o)

    def __gt__(self, o):
        return _ops.gt(self, o)

    def __ge__(self, o):
        return _ops.ge(self, o)

    def __and__(self, o):
        return _ops.logical_and(self, o) if self._data.dtype == np.bool_ else _ops.bitwise(np.bitwise_and, self, o)

    def __or__(self, o):
        return _ops.logical_or(self, o) if self._data.dtype == np.bool_ else _ops.bitwise(np.bitwise_or, self, o)

    def __xor__(self, o):
        return _ops.logical_xor(self, o)

    def __invert__(self):
        return Tensor._wrap(np.invert(self._data))

    # ``a += b`` is in place, as in PyTorch (with its autograd rules: see gradbox/_inplace.py)
    def __iadd__(self, o):
        return self.add_(o)

    def __isub__(self, o):
        return self.sub_(o)

    def __imul__(self, o):
        return self.mul_(o)

    def __itruediv__(self, o):
        return self.div_(o)

    def __getitem__(self, idx):
        return _ops.getitem(self, idx)


# cycle: autograd, ops and the methods import gradbox.tensor, so they come after Tensor is defined
from gradbox import _inplace, _tensor_methods, autograd  # noqa: E402  (they attach the PyTorch-named methods)
from gradbox import ops as _ops  # noqa: E402

_tensor_methods.attach(Tensor)
_inplace.attach(Tensor)
