"""``Parameter``: a leaf tensor that a Module registers as learnable."""

from __future__ import annotations

import numpy as np

from gradbox.tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module parameter: requires grad by default and is found by
    ``Module.parameters()`` when assigned as a module attribute."""

    def __init__(self, data: Tensor | np.ndarray | None = None, requires_grad: bool = True) -> None:
        if data is None:
            a = np.empty((0,), dtype=np.float32)
        elif isinstance(data, Tensor):
            a = data._data
        else:
            a = np.asarray(data)
        self._data = a
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, proto):
        return (Parameter, (self._data, self.requires_grad))


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute."""

    def __init__(self, data, persistent: bool = True) -> None:
        self._data = data._data if isinstance(data, Tensor) else np.asarray(data)
        self.persistent = persistent
