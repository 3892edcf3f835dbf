"""Flatten parameters to one vector and back."""

from __future__ import annotations

from gradbox import ops
from gradbox.tensor import Tensor


def parameters_to_vector(parameters) -> Tensor:
    """One 1-D tensor of all parameters in order (differentiable, like torch's)."""
    return ops.cat([ops.reshape(p, (-1,)) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in place."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected a Tensor, but got: {type(vec).__name__}")
    start = 0
    data = vec._data.reshape(-1)
    for p in parameters:
        n = p._data.size
        p._data[...] = data[start : start + n].reshape(p._data.shape)
        start += n
    if start != data.size:
        raise RuntimeError(f"vector_to_parameters: vector has {data.size} elements, the parameters {start}")
