"""``default_collate`` and ``default_convert`` with PyTorch's rules.

default_collate(batch), batch = [sample_1, ..., sample_B], by the type of sample_1:
tensor / array (B, ...) stacked along a new dim 0 (same shapes required); Python int -> int64
tensor, float -> float64 tensor, bool -> bool tensor; NumPy scalars keep their dtype; str/bytes
-> the list; dicts and namedtuples field by field into the same type; tuples field by field
into a *list*, lists into a list (PyTorch's backward-compatible choice).
"""

from __future__ import annotations

import collections.abc
import copy
import re

import numpy as np

from gradbox.tensor import Tensor

_ERR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
_STR_OBJ = re.compile(r"[SaUO]")


def _stack(arrays: list[np.ndarray]) -> Tensor:
    first = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != first:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(first)} at entry 0 and {list(a.shape)} at entry {i}"
            )
    return Tensor._wrap(np.stack(arrays))


def default_collate(batch: list | tuple):
    """Merge a list of samples into a batch (see the module docstring for the rules)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b._data for b in batch])
    if isinstance(elem, np.ndarray):
        if _STR_OBJ.search(elem.dtype.str) is not None:
            raise TypeError(_ERR.format(elem.dtype))
        return _stack([np.asarray(b) for b in batch])
    if isinstance(elem, np.bool_ | np.number | np.object_):
        return Tensor._wrap(np.asarray(batch))
    if isinstance(elem, float):
        return Tensor._wrap(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, bool):
        dtype = np.bool_ if all(type(b) is bool for b in batch) else np.int64
        return Tensor._wrap(np.asarray(batch, dtype=dtype))
    if isinstance(elem, int):  # a float among the ints gives the default float dtype, as torch.tensor
        dtype = np.int64 if all(isinstance(b, int) for b in batch) else np.float32
        return Tensor._wrap(np.asarray(batch, dtype=dtype))
    if isinstance(elem, str | bytes):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(fields)
                return clone
            return type(elem)(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(b) != size for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(s) for s in zip(*batch)]  # tuples: strings come back as one
        if isinstance(elem, tuple):
            return columns  # a list, as PyTorch (backward compatibility)
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, c in enumerate(columns):
                    clone[i] = c
                return clone
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(_ERR.format(type(elem)))


def default_convert(data):
    """What the DataLoader applies to single samples when batching is off (``batch_size=None``):
    arrays and NumPy scalars become tensors, containers are converted element-wise (tuples to
    lists), everything else is returned unchanged."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray | np.bool_ | np.number):
        if isinstance(data, np.ndarray) and _STR_OBJ.search(data.dtype.str) is not None:
            return data
        return Tensor._wrap(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        fields = {k: default_convert(data[k]) for k in data}
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update(fields)
                return clone
            return type(data)(fields)
        except TypeError:
            return fields
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, str | bytes):
        items = [default_convert(d) for d in data]
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(items):
                    clone[i] = d
                return clone
            return type(data)(items)
        except TypeError:
            return items
    return data
