"""gradbox dtypes: thin named wrappers over NumPy dtypes, compared and printed like PyTorch's."""

from __future__ import annotations

import numpy as np

from gradbox import _device


class dtype:  # noqa: N801 - mirrors torch.dtype
    """A tensor element type. ``gb.float32`` wraps ``np.float32`` and prints as ``gradbox.float32``."""

    __slots__ = ("name", "np", "is_floating_point", "itemsize")

    def __init__(self, name: str, np_dtype: type) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return f"gradbox.{self.name}"

    def __reduce__(self):  # pickles as the module-level singleton
        return (_by_name, (self.name,))


float16 = half = dtype("float16", np.float16)
float32 = float = dtype("float32", np.float32)  # noqa: A001 - torch.float alias
float64 = double = dtype("float64", np.float64)
uint8 = dtype("uint8", np.uint8)
int8 = dtype("int8", np.int8)
int16 = short = dtype("int16", np.int16)
int32 = int = dtype("int32", np.int32)  # noqa: A001 - torch.int alias
int64 = long = dtype("int64", np.int64)
bool = dtype("bool", np.bool_)  # noqa: A001 - torch.bool

_ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool)
_FROM_NP: dict[np.dtype, dtype] = {d.np: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}

_default_float = float32


def _by_name(name: str) -> dtype:
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype: np.dtype) -> dtype:
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        raise TypeError(f"gradbox has no dtype for NumPy dtype {np_dtype}") from None


def to_numpy_dtype(d) -> np.dtype:
    """Accept a gradbox dtype, a NumPy dtype/type or a name and return the NumPy dtype."""
    if isinstance(d, dtype):
        return d.np
    if isinstance(d, str):
        if d in _BY_NAME:
            return _BY_NAME[d].np
    npd = np.dtype(d)
    if npd not in _FROM_NP:
        raise TypeError(f"gradbox has no dtype for {d!r}")
    return npd


def parse_to_args(args: tuple, kwargs: dict, like=None):
    """The dtype asked for by ``.to(...)`` arguments (dtype, "cpu", a tensor, dtype=/device=),
    or None; any device other than the CPU raises."""
    target = kwargs.get("dtype")
    for a in list(args) + [kwargs.get("device")]:
        if like is not None and isinstance(a, like):
            target = a._data.dtype
        elif isinstance(a, _device.device) or (isinstance(a, str) and a not in _BY_NAME):
            _device.check(a, "to")
        elif a is not None and not isinstance(a, builtins_bool):
            target = a
    return None if target is None else to_numpy_dtype(target)


def get_default_dtype() -> dtype:
    """The dtype Python floats become (float32 unless changed, as in PyTorch)."""
    return _default_float


def set_default_dtype(d) -> None:
    """Set the dtype Python floats and float creation functions produce (float32 or float64)."""
    global _default_float
    npd = to_numpy_dtype(d)
    if npd.kind != "f":
        raise TypeError(f"set_default_dtype: only floating point dtypes are allowed, got {d!r}")
    _default_float = _FROM_NP[npd]


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}


def result_type(*operands) -> np.dtype:
    """PyTorch's type promotion for an op on tensors and Python scalars.

    Categories rank bool < integer < float. The result takes the highest category present.
    Within it, dimensioned tensors win over zero-dim tensors, which win over Python scalars;
    a Python float among integer tensors gives the default float dtype, a Python int among
    bool tensors gives int64 (NumPy would give float64 and int64 in other places).
    """
    best = -1
    tiers: tuple[list, list, list] = ([], [], [])  # dimensioned, zero-dim, python scalars
    for op in operands:
        if isinstance(op, np.ndarray):
            rank = _KIND_RANK[op.dtype.kind]
            tier = 0 if op.ndim else 1
            dt = op.dtype
        else:  # python scalar
            if isinstance(op, builtins_bool):
                rank, dt = 0, np.dtype(np.bool_)
            elif isinstance(op, builtins_int):
                rank, dt = 1, np.dtype(np.int64)
            else:
                rank, dt = 2, _default_float.np
            tier = 2
        if rank > best:
            best = rank
            tiers = ([], [], [])
        if rank == best:
            tiers[tier].append(dt)
    for tier in tiers:
        if tier:
            return np.result_type(*tier)
    raise TypeError("result_type: no operands")


import builtins as _builtins  # noqa: E402

builtins_bool = _builtins.bool
builtins_int = _builtins.int
