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

A file may come from anywhere, so ``decode`` and ``references`` trust nothing in a tree: a
node of the wrong type, a reference that is not a string, a key that cannot be a dict key,
nesting deeper than ``MAX_DEPTH`` raise ``TreeError`` (which the readers turn into a
``CheckpointError`` naming the file). ``encode`` refuses to nest deeper than ``MAX_DEPTH`` too,
so everything ``gb.save`` writes loads back.
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
# JSON nesting (each list or object one level) a tree may have; a state_dict is 2 deep, a
# training checkpoint with an optimizer about 8
MAX_DEPTH = 100


class TreeError(ValueError):
    """A structure that ``encode`` cannot have written (a damaged or hand-made file)."""


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


def encode(obj: Any, namer: Namer, path: str = "", depth: int = 0) -> Any:
    """The JSON tree of ``obj``; tensors and arrays go to ``namer.arrays``."""
    if depth > MAX_DEPTH - 3:  # (a dict with non-string keys takes 3 JSON levels)
        raise ValueError(
            f"gb.save: the object is nested too deeply at {path or 'the top level'!r} "
            f"(at most {MAX_DEPTH - 3} levels of dicts, lists and tuples)"
        )
    d = depth + 1
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
        return {"__counter__": [[encode(k, namer, _join(path, i), d + 2), v] for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(k.startswith("__") and k.endswith("__") for k in obj):
            return {k: encode(v, namer, _join(path, k), d) for k, v in obj.items()}
        return {
            "__items__": [
                [encode(k, namer, _join(path, f"key{i}"), d + 2), encode(v, namer, _join(path, _key_text(k, i)), d + 2)]
                for i, (k, v) in enumerate(obj.items())
            ]
        }
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, namer, _join(path, i), d + 1) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode(v, namer, _join(path, i), d) for i, v in enumerate(obj)]
    raise TypeError(
        f"gb.save: cannot store an object of type {type(obj).__name__} at {path or 'the top level'!r} "
        "(tensors, arrays, numbers, strings, None, lists, tuples and dicts only)"
    )


def _key_text(k: Any, i: int) -> str:
    return str(k) if isinstance(k, str | int) and not isinstance(k, bool) else str(i)


def references(tree: Any) -> list[dict]:
    """Every tensor reference in ``tree`` (each a dict whose ``__array__`` is a string); a
    ``TreeError`` if the tree nests deeper than ``MAX_DEPTH`` or a reference is malformed."""
    out: list[dict] = []
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, list | dict):
            continue
        if depth > MAX_DEPTH:
            raise TreeError(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
        elif "__array__" in node:
            name = node["__array__"]
            if not isinstance(name, str):
                raise TreeError(f"a tensor reference {_short(node)} names no tensor (expected a string)")
            for key, kind in (("dtype", str), ("shape", list)):
                if key in node and not isinstance(node[key], kind):
                    raise TreeError(f"the reference to tensor {name!r} has {key} {_short(node[key])}")
            out.append(node)
        else:
            stack.extend((v, depth + 1) for v in node.values())
    return out


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def decode(tree: Any, array: Callable[[str], np.ndarray]) -> Any:
    """The object ``encode`` described, with ``array(name)`` giving each stored array. Call
    ``references(tree)`` first: it bounds the depth, which this recursion relies on."""
    if isinstance(tree, list):
        return [decode(v, array) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "__array__" in tree:
        a = array(tree["__array__"])
        if not tree.get("tensor", True):
            return a
        t = Tensor._wrap(a)
        if tree.get("requires_grad") is True and a.dtype.kind == "f":
            t.requires_grad_(True)
        return t
    if "__tuple__" in tree:
        return tuple(decode(v, array) for v in _list(tree, "__tuple__"))
    if "__counter__" in tree:
        counts = Counter()
        for k, v in _pairs(tree, "__counter__"):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TreeError(f"a __counter__ count is {_short(v)}, expected an integer")
            counts[_key(decode(k, array))] = v
        return counts
    if "__items__" in tree:
        return OrderedDict((_key(decode(k, array)), decode(v, array)) for k, v in _pairs(tree, "__items__"))
    return OrderedDict((k, decode(v, array)) for k, v in tree.items())


def _list(node: dict, kind: str) -> list:
    value = node[kind]
    if not isinstance(value, list):
        raise TreeError(f"a {kind} node holds {_short(value)}, expected a list")
    return value


def _pairs(node: dict, kind: str) -> list:
    items = _list(node, kind)
    for item in items:
        if not (isinstance(item, list) and len(item) == 2):
            raise TreeError(f"a {kind} node holds {_short(item)}, expected [key, value] pairs")
    return items


def _key(k: Any) -> Any:
    """A decoded dict key (a list, as JSON gives tuples of keys back, becomes a tuple)."""
    k = tuple(k) if isinstance(k, list) else k
    try:
        hash(k)
    except TypeError:
        raise TreeError(f"a dict key is {_short(k)}, which cannot be a key (unhashable)") from None
    return k
