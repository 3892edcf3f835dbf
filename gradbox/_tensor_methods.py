"""Tensor methods that are the gb.<op> functions with the tensor as first argument."""

from __future__ import annotations

from gradbox import creation, ops

_SAME_NAME = """
add sub mul div pow neg exp log log1p erf sqrt abs sin cos tanh sigmoid relu clamp clip maximum minimum
sign square rsqrt reciprocal masked_fill eq ne lt le gt ge logical_not isnan isfinite
floor_divide remainder sum mean var std prod max min amax amin argmax argmin logsumexp softmax
log_softmax all any norm reshape view flatten unflatten permute transpose swapaxes t expand
expand_as squeeze unsqueeze flip split chunk repeat movedim view_as reshape_as matmul mm bmm
dot outer index_select gather
""".split()


def attach(cls) -> None:
    for name in _SAME_NAME:
        setattr(cls, name, getattr(ops, name))

    def where(self, condition, other):
        return ops.where(condition, self, other)

    def type_as(self, other):
        return self.to(other.dtype)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return creation.zeros(*size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return creation.ones(*size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return creation.tensor(data, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return creation.full(size, fill_value, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return creation.empty(*size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)

    for f in (where, type_as, new_zeros, new_ones, new_tensor, new_full, new_empty):
        setattr(cls, f.__name__, f)
