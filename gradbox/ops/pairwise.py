"""Statistics and pairwise constructions on tensors: covariance and correlation, pairwise and
p-norm distances, renormalisation, cartesian products and combinations. Each composes gradbox
ops (norm, matmul, indexing), so its gradient is the composition's.
"""

from __future__ import annotations

import itertools

import numpy as np

from gradbox import _dtype
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._util import as_tensor, const, norm_dim, promote
from gradbox.ops.elementwise import abs as _abs
from gradbox.ops.elementwise import clamp, sqrt, where
from gradbox.ops.index import getitem
from gradbox.ops.linalg import matmul
from gradbox.ops.matrix import diagonal as _diagonal
from gradbox.ops.reduce import amax
from gradbox.ops.reduce import sum as _sum
from gradbox.ops.shape import expand, reshape, squeeze, stack
from gradbox.ops.torch_linalg import torch_norm as norm
from gradbox.tensor import Tensor


def _pdist_norm(diff: Tensor, p: float) -> Tensor:
    if p == 0:
        return _sum((diff != 0).to(diff.dtype), -1)
    if p == float("inf"):
        return amax(_abs(diff), -1) if diff._data.shape[-1] else _sum(diff * 0.0, -1)
    return norm(diff, p, -1)


@op(
    OpMath(
        "y[..., i, j] = ||x1[..., i, :] - x2[..., j, :]||_p",
        grads=("sum_j g_ij d||.||/d(x1_i - x2_j)", "-sum_i g_ij d||.||/d(x1_i - x2_j)"),
        inputs=("x1", "x2"),
        note="The gradient at a zero distance is 0. Computed from broadcast differences and norm.",
    )
)
def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str | None = None) -> Tensor:
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"cdist: expected (..., P, M) and (..., R, M) inputs, got {tuple(x1.shape)} and {tuple(x2.shape)}"
        )
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return _pdist_norm(diff, p)


@op(
    OpMath(
        "y = ||a - b||_p over all elements",
        grads=("g d||.||/d(a - b)", "-g d||.||/d(a - b)"),
        inputs=("a", "b"),
        note="Computed as norm(a - b, p).",
    )
)
def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    d = input - other
    return _pdist_norm(reshape(d, (-1,)), float(p))


@op(
    OpMath(
        "y = the covariance of the rows of x (variables) over its columns (observations), weighted",
        grads=("the adjoint of the centred, weighted product",),
        note="correction 1: unbiased; fweights (int frequencies) and aweights (weights) as numpy.cov. Computed from "
        "mean, sub and matmul.",
    )
)
def cov(
    input: Tensor, *, correction: int = 1, fweights: Tensor | None = None, aweights: Tensor | None = None
) -> Tensor:
    x = as_tensor(input, "cov")
    if x._data.ndim > 2:
        raise RuntimeError(
            f"cov(): expected input to have two or fewer dimensions but got an input with {x._data.ndim} dimensions"
        )
    if x._data.ndim < 2:
        x = reshape(x, (1, -1))
    if x._data.dtype.kind != "f":
        x = x.to(_dtype.get_default_dtype())
    w = fweights
    if aweights is not None:
        w = aweights if w is None else w * aweights  # in the weights' own dtype, as PyTorch
    if w is None:
        w_sum = Tensor._wrap(np.asarray(x._data.shape[1], dtype=np.int64))
        avg = _sum(x, 1) / w_sum
        norm_ = w_sum - correction
    else:
        w_sum = _sum(w)
        avg = _sum(x * w, 1) / w_sum
        norm_ = (
            w_sum - correction * _sum(w * aweights) / w_sum
            if aweights is not None and correction != 0
            else w_sum - correction
        )
    if norm_._data <= 0:
        norm_ = norm_ * 0
    xc = x - reshape(avg, (-1, 1))
    c = matmul(xc, (xc if w is None else xc * w).t())
    return squeeze(c / norm_)


@op(
    OpMath(
        "y_ij = cov_ij / sqrt(cov_ii cov_jj), clipped to [-1, 1]",
        grads=("the adjoint of the normalised covariance",),
        note="Computed from cov, diagonal, sqrt and clamp.",
    )
)
def corrcoef(input: Tensor) -> Tensor:
    c = cov(input)
    if c._data.ndim == 0:
        return c / c
    dg = _diagonal(c)
    sd = sqrt(dg)
    r = c / reshape(sd, (-1, 1)) / reshape(sd, (1, -1))
    return clamp(r, -1.0, 1.0)


@op(
    OpMath(
        "y = x with each slice along dim whose p-norm exceeds maxnorm scaled to norm maxnorm",
        grads=("the adjoint of the scaling, through the norm",),
        note="The scale is maxnorm / (norm + 1e-7), as PyTorch. Computed from norm, where and mul.",
    )
)
def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    x = as_tensor(input, "renorm")
    d = norm_dim(dim, x._data.ndim, "renorm")
    others = tuple(i for i in range(x._data.ndim) if i != d)
    if not others:
        nrm = _abs(x)  # a 1-D input's slices are its elements
    elif p == float("inf"):
        nrm = amax(_abs(x), others, keepdim=True)
    else:
        nrm = norm(x, p, others, keepdim=True)
    scale = where(const(nrm._data > maxnorm), maxnorm / (nrm + 1e-7), 1.0)
    return x * scale


@op(
    OpMath(
        "y = the rows of all combinations of the elements of the 1-D inputs (their cartesian product)",
        grads=("g summed back onto each input's elements",),
        inputs=("x_j",),
        note="Computed with expand, reshape and stack.",
    )
)
def cartesian_prod(*tensors: Tensor) -> Tensor:
    if len(tensors) == 1:
        return tensors[0]
    ts = promote("cartesian_prod", *tensors) if len({t.dtype for t in tensors}) > 1 else list(tensors)
    n = len(ts)
    sizes = [t._data.shape[0] for t in ts]
    cols = []
    for i, t in enumerate(ts):
        shape = [1] * n
        shape[i] = sizes[i]
        cols.append(reshape(expand(reshape(t, tuple(shape)), *sizes), (-1,)))
    return stack(cols, 1)


@op(
    OpMath(
        "y = the rows of the r-element combinations of the 1-D x (itertools.combinations order)",
        grads=("g scatter-added back to the chosen elements",),
        note="Computed as indexing.",
    )
)
def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    x = as_tensor(input, "combinations")
    if x._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(x._data.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return Tensor._wrap(np.zeros((0,), dtype=x._data.dtype))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.asarray(list(pick(range(x._data.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return getitem(x, Tensor._wrap(idx))
