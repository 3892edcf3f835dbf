"""Tensor methods that are the gb.<op> functions with the tensor as first argument."""

from __future__ import annotations

from gradbox import creation, ops
from gradbox.ops import movement

_SAME_NAME = """
add sub mul div pow neg exp log log1p erf sqrt abs sin cos tanh sigmoid relu clamp clip maximum minimum
sign square rsqrt reciprocal masked_fill eq ne lt le gt ge logical_not isnan isfinite
floor_divide remainder sum mean var std prod max min amax amin argmax argmin logsumexp softmax
log_softmax all any norm reshape view flatten unflatten permute transpose swapaxes t expand
expand_as squeeze unsqueeze flip split chunk repeat movedim view_as reshape_as matmul mm bmm
dot outer index_select gather
acos acosh addbmm addcdiv addcmul addmm addmv addr allclose aminmax arccos arccosh arcsin arcsinh arctan
arctan2 arctanh argsort argwhere asin asinh atan atan2 atanh baddbmm bincount broadcast_to ceil clamp_max
clamp_min copysign corrcoef cosh count_nonzero cov cross cummax cummin cumprod cumsum deg2rad diag
diag_embed diagflat diagonal diagonal_scatter diff dist dsplit equal erfc erfinv exp2 expm1 fix fliplr
flipud float_power floor fmax fmin fmod frac frexp heaviside histc histogram hsplit hypot index_add
index_copy index_fill index_put index_reduce inner isclose isinf isneginf isposinf isreal kron kthvalue
ldexp lerp log10 log2 logaddexp logaddexp2 logcumsumexp logical_xor logit masked_scatter masked_select
median mode msort mv nan_to_num nanmean nanmedian nanquantile nansum narrow nextafter nonzero
nonzero_static positive put quantile rad2deg ravel renorm repeat_interleave roll rot90 round scatter
scatter_add scatter_reduce select select_scatter sgn signbit sinc sinh slice_scatter sort split_with_sizes
take take_along_dim tan tensor_split tile topk trace tril triu true_divide trunc unbind unique
unique_consecutive unsafe_chunk unsafe_split vdot vsplit xlogy std_mean var_mean
""".split()
# Tensor-only methods (no gb.<name> function, or a different one): Tensor.unfold is sliding windows
_METHOD_ONLY = {"unfold": "movement.unfold", "sum_to_size": "movement.sum_to_size"}


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
    _attach_more(cls)


def _attach_more(cls) -> None:
    """Methods PyTorch's Tensor has beyond the gb.<op> functions: Tensor-only ops, dtype shorthands,
    reflected ops, H and mH."""
    for name, fn in _METHOD_ONLY.items():
        setattr(cls, name, getattr(movement, fn.split(".")[1]))

    def _caster(dtype):
        def cast(self, memory_format=None):
            return ops.cast(self, dtype)

        return cast

    for name, dtype in (("byte", "uint8"), ("char", "int8"), ("short", "int16")):
        setattr(cls, name, _caster(dtype))

    def __rdiv__(self, other):  # noqa: N807 - PyTorch's Tensor method
        return ops.div(ops._util.as_tensor(other, "div", like=self), self)

    def __rmod__(self, other):  # noqa: N807 - PyTorch's Tensor method
        return ops.remainder(ops._util.as_tensor(other, "remainder", like=self), self)

    for f in (__rdiv__, __rmod__):
        setattr(cls, f.__name__, f)
    cls.H = property(_conj_t)
    cls.mH = property(lambda self: ops.transpose(self, -2, -1))


def _conj_t(t):
    if t._data.ndim not in (0, 2):
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {t._data.ndim}-D tensor.")
    return ops.permute(t, tuple(reversed(range(t._data.ndim))))
