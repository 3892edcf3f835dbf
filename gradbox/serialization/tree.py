"""The structure of a saved object as JSON, with every tensor replaced by a reference.

``gb.save`` stores nested dicts, lists and tuples of tensors, arrays, numbers, strings and
None. The tensors go to the container (a safetensors file, or a legacy ``.npz``) under a
name; the rest becomes a JSON tree in which each tensor is ``{"__array__": name, ...}``::

    {"epoch": 3, "model": {"fc.weight": {"__array__": "model.fc.weight", "tensor": true,
                                         "requires_grad": false, "dtype": "F32", "shape": [10, 84]}}}

Other node kinds: ``{"__tuple__": [...]}``, ``{"__counter__": [[key, count], ...]}`` and
``{"__items__": [[key, value], ...]}`` for dicts whose keys are not all plain strings (the
optimizer's integer parameter ids). A tensor's name is its path of keys joined by dots
(``optimizer.state.0.exp_avg``), so a flat state_dict's tensors keep their own names.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from gradbox.tensor import Tensor

# NumPy dtype <-> safetensors dtype name (the types both can hold)
DTYPES: dict[str, str] = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "int16": "I16",
    "uint16": "U16",
    "int32": "I32",
    "uint32": "U32",
    "int64": "I64",
    "uint64": "U64",
    "float16": "F16",
    "float32": "F32",
    "float64": "F64",
}
NUMPY_OF: dict[str, np.dtype] = {v: np.dtype(k) for k, v in DTYPES.items()}


def st_dtype(a: np.ndarray, where: str) -> str:
    """The safetensors name of ``a``'s dtype; a TypeError naming the tensor if it has none."""
    name = DTYPES.get(a.dtype.name)
    if name is None:
        raise TypeError(
            f"gb.save: tensor {where!r} has dtype {a.dtype}, which safetensors cannot store "
            f"(supported: {', '.join(DTYPES)})"
        )
    return name


class Namer:
    """Unique tensor names from key paths (``model.conv1.weight``); ``arrays`` collects the data."""

    def __init__(self, legacy: bool = False) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.legacy = legacy  # the .npz container names its arrays a0, a1, ...

    def add(self, path: str, a: np.ndarray) -> str:
        if self.legacy:
            name = f"a{len(self.arrays)}"
        else:
            base = path or "tensor"
            name, k = base, 1
            while name in self.arrays or name == "__metadata__":
                k += 1
                name = f"{base}#{k}"
        self.arrays[name] = a
        return name


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def encode(obj: Any, namer: Namer, path: str = "") -> Any:
    """The JSON tree of ``obj``; tensors and arrays go to ``namer.arrays``."""
    if isinstance(obj, Tensor | np.ndarray):
        a = obj._data if isinstance(obj, Tensor) else obj
        a = a if a.flags.c_contiguous else np.ascontiguousarray(a)  # (ascontiguousarray makes 0-d arrays 1-d)
        if a.dtype.byteorder == ">":
            a = a.astype(a.dtype.newbyteorder("<"))
        ref = {
            "__array__": None,
            "tensor": isinstance(obj, Tensor),
            "requires_grad": bool(getattr(obj, "requires_grad", False)),
        }
        if not namer.legacy:
            ref["dtype"] = st_dtype(a, path or "tensor")
            ref["shape"] = list(a.shape)
        ref["__array__"] = namer.add(path, a)
        return ref
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, Counter):
        return {"__counter__": [[encode(k, namer, _join(path, i)), v] for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(k.startswith("__") and k.endswith("__") for k in obj):
            return {k: encode(v, namer, _join(path, k)) for k, v in obj.items()}
        return {
            "__items__": [
                [encode(k, namer, _join(path, f"key{i}")), encode(v, namer, _join(path, _key_text(k, i)))]
                for i, (k, v) in enumerate(obj.items())
            ]
        }
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, namer, _join(path, i)) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode(v, namer, _join(path, i)) for i, v in enumerate(obj)]
    raise TypeError(
        f"gb.save: cannot store an object of type {type(obj).__name__} at {path or 'the top level'!r} "
        "(tensors, arrays, numbers, strings, None, lists, tuples and dicts only)"
    )


def _key_text(k: Any, i: int) -> str:
    return str(k) if isinstance(k, str | int) and not isinstance(k, bool) else str(i)


def references(tree: Any) -> list[dict]:
    """Every tensor reference in ``tree``."""
    out: list[dict] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if "__array__" in node:
                out.append(node)
            else:
                stack.extend(node.values())
    return out


def decode(tree: Any, array: Callable[[str], np.ndarray]) -> Any:
    """The object ``encode`` described, with ``array(name)`` giving each stored array."""
    if isinstance(tree, list):
        return [decode(v, array) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "__array__" in tree:
        a = array(tree["__array__"])
        if not tree.get("tensor", True):
            return a
        t = Tensor._wrap(a)
        if tree.get("requires_grad") and a.dtype.kind == "f":
            t.requires_grad_(True)
        return t
    if "__tuple__" in tree:
        return tuple(decode(v, array) for v in tree["__tuple__"])
    if "__counter__" in tree:
        return Counter({_hashable(decode(k, array)): v for k, v in tree["__counter__"]})
    if "__items__" in tree:
        return OrderedDict((_hashable(decode(k, array)), decode(v, array)) for k, v in tree["__items__"])
    return OrderedDict((k, decode(v, array)) for k, v in tree.items())


def _hashable(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k
