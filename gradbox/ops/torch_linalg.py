"""PyTorch's ``torch.linalg`` functions that are not decompositions: norms of vectors and matrices,
chained products, vecdot, vander, diagonal, matrix_power, cross. (``gb.linalg`` is this module.)

The spectral norms (ord 2, -2, 'nuc') need the singular values: their op takes them from
NumPy's SVD and differentiates them as d sigma_i = u_i^T dA v_i (distinct singular values).
"""

from __future__ import annotations

import numpy as np

from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._util import as_tensor, const, norm_dim
from gradbox.ops.elementwise import abs as _abs
from gradbox.ops.elementwise import pow as _pow
from gradbox.ops.elementwise import where
from gradbox.ops.linalg import matmul
from gradbox.ops.matrix import cross as _cross
from gradbox.ops.matrix import diagonal as _diagonal
from gradbox.ops.reduce import amax, amin
from gradbox.ops.reduce import sum as _sum
from gradbox.ops.shape import reshape, stack
from gradbox.tensor import Tensor


class SingularValues(Function):
    math = OpMath(
        "s = the singular values of A (descending), over the last two dims",
        grads=("U diag(g) V^T",),
        note="Valid where the singular values are distinct (and, for the zero ones, nonzero); from NumPy's SVD.",
    )

    def forward(self, a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        self.u, self.vh = u, vh
        return s

    def backward(self, g):
        return const(self.u) @ (g.unsqueeze(-1) * const(self.vh))


class Inverse(Function):
    math = OpMath("Y = A^-1", grads=("-Y^T G Y^T",), inputs=("A",), note="From NumPy's inv (LU).")
    save_output = True

    def forward(self, a):
        return np.linalg.inv(a)

    def backward(self, g):
        yt = self.output.transpose(-2, -1)
        return -(yt @ g @ yt)


class PNorm(Function):
    math = OpMath(
        "y = (sum |x|^p)^(1/p) over the dims D (p finite, not 0, 1 or 2)",
        grads=("g * sign(x) |x|^(p - 1) y^(1 - p) (0 where x = 0 for p < 1; 0 where y = 0 for p > 1)",),
        note="PyTorch's subgradients at zero; g and y are broadcast over D.",
    )
    save_inputs = True
    save_output = True

    def forward(self, x, p, dims, keepdim):
        self.p, self.dims, self.keepdim = p, dims, keepdim
        with np.errstate(divide="ignore"):
            return np.power(np.sum(np.power(np.abs(x), p), axis=dims, keepdims=keepdim), 1.0 / p)

    def backward(self, g):
        x, y, p = self.inputs[0], self.output, self.p
        if not self.keepdim and self.dims is not None:
            shape = tuple(1 if i in self.dims else n for i, n in enumerate(x._data.shape))
            g, y = reshape(g, shape), reshape(y, shape)
        xz = const(x._data == 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = const(np.sign(x._data)) * _pow(where(xz, 1.0, _abs(x)), p - 1)
            if p < 1:
                return where(xz, 0.0, scaled) * g * _pow(y, 1 - p)
            yz = const(y._data == 0)
            return scaled * where(yz, 0.0, g / _pow(where(yz, 1.0, y), p - 1))


def _dims(dim, nd: int, name: str):
    if dim is None:
        return None
    return tuple(norm_dim(d, nd, name) for d in ((dim,) if isinstance(dim, int) else dim))


@op(
    OpMath(
        "y = (sum |x|^p)^(1/p) over dim (all elements when dim is None); p = inf: max |x|, -inf: min |x|, 0: count of nonzeros",
        grads=("g * sign(x) |x|^(p - 1) / y^(p - 1) (max / min: shared by the ties; 0 where y = 0)",),
        note="Computed from abs, pow, sum, amax and amin.",
    )
)
def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    x = as_tensor(x, "linalg.vector_norm")
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {x.dtype}")
    dims = _dims(dim, x._data.ndim, "linalg.vector_norm")
    if x._data.ndim == 0:
        dims = None
    a = _abs(x)
    p = float(ord)
    if p == float("inf"):
        return amax(a, dims if dims is not None else (), keepdim) if x._data.size else _sum(a, dims, keepdim)
    if p == float("-inf"):
        return amin(a, dims if dims is not None else (), keepdim)
    if p == 0:  # a count: its gradient is 0, still recorded (as in PyTorch) through where(False, x, 0)
        count = _sum((x != 0).to(x.dtype), dims, keepdim)
        return count + _sum(where(const(np.zeros(x._data.shape, dtype=bool)), x, 0.0), dims, keepdim)
    if p == 1:
        return _sum(a, dims, keepdim)
    if p != 2:
        return PNorm.apply(x, p=p, dims=dims, keepdim=keepdim)
    s = _sum(a * a, dims, keepdim)
    zero = const(s._data == 0)
    root = _pow(where(zero, 1.0, s), 1.0 / p)
    return where(zero, 0.0, root)


@op(
    OpMath(
        "y = a matrix norm over dims (-2, -1): 'fro' sqrt(sum x^2), 'nuc' sum of singular values, 1 / -1 max / min "
        "column sum of |x|, inf / -inf max / min row sum, 2 / -2 largest / smallest singular value",
        grads=("the gradient of that composition (singular values: U diag(g) V^T)",),
        note="Computed from vector_norm, sum, amax, amin and the singular values.",
    )
)
def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: N803
    a = as_tensor(A, "linalg.matrix_norm")
    if dtype is not None:
        a = a.to(dtype)
    if a._data.ndim < 2:
        raise RuntimeError(
            f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions, got {a._data.ndim}"
        )
    d0, d1 = (norm_dim(d, a._data.ndim, "linalg.matrix_norm") for d in dim)
    if ord == "fro":
        return vector_norm(a, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = SingularValues.apply(_to_last2(a, d0, d1))
        y = _sum(s, -1) if ord == "nuc" else (amax(s, -1) if ord == 2 else amin(s, -1))
        return _keep(y, a._data.ndim, d0, d1) if keepdim else y
    if ord in (1, -1, float("inf"), float("-inf")):
        sum_dim, red_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
        s = _sum(_abs(a), sum_dim, keepdim=True)
        y = (amax if ord in (1, float("inf")) else amin)(s, red_dim, keepdim=True)
        return y if keepdim else reshape(y, tuple(n for i, n in enumerate(a._data.shape) if i not in (d0, d1)))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def _to_last2(a: Tensor, d0: int, d1: int) -> Tensor:
    rest = [i for i in range(a._data.ndim) if i not in (d0, d1)]
    return a.permute(*rest, d0, d1)


def _keep(y: Tensor, nd: int, d0: int, d1: int) -> Tensor:
    shape = list(y._data.shape)
    for d in sorted((d0, d1)):
        shape.insert(d, 1)
    return reshape(y, tuple(shape))


@op(
    OpMath(
        "y = vector_norm when dim is an int (or ord is None over all elements), matrix_norm when dim is a pair or A is 2-D",
        grads=("as vector_norm or matrix_norm",),
    )
)
def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: N803
    a = as_tensor(A, "linalg.norm")
    if dim is not None and not isinstance(dim, int) and len(dim) == 2:
        return matrix_norm(a, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is None and ord is not None and a._data.ndim == 2:
        return matrix_norm(a, ord, (-2, -1), keepdim, dtype=dtype)
    if dim is None and ord is not None and a._data.ndim != 1:
        raise RuntimeError(
            f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {a._data.ndim}D."
        )
    return vector_norm(a, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


@op(
    OpMath(
        "torch.norm: a number p gives the vector p-norm over dim (all elements when dim is None); 'fro' the 2-norm "
        "over dim; 'nuc' the nuclear norm (sum of singular values) over two dims",
        grads=("those of linalg.vector_norm and linalg.matrix_norm",),
        note="Computed by linalg.vector_norm (p = 2: dL/dx = g x / y, 0 where y = 0, as in PyTorch) or linalg.matrix_norm.",
    ),
    summary="The p-norm of x over ``dim`` (torch.norm; gb.linalg.vector_norm and matrix_norm are the newer names).",
)
def norm_(x: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    x = as_tensor(x, "norm")
    if isinstance(p, str):
        if p == "nuc":
            return matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
        if p != "fro":
            raise RuntimeError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
        p = 2
    elif not isinstance(p, int | float) or isinstance(p, bool):
        raise TypeError(f"norm: p must be a number, 'fro' or 'nuc', got {type(p).__name__}")
    return vector_norm(x, p, dim, keepdim, dtype=dtype)


torch_norm = norm_  # gb.norm (gb.linalg.norm is linalg's own norm)
torch_norm.__name__ = torch_norm.__qualname__ = "norm"


@op(
    OpMath(
        "Y = A_1 @ A_2 @ ... @ A_k (the first may be a row vector, the last a column vector)",
        grads=("for each A_j: (A_1..A_(j-1))^T G (A_(j+1)..A_k)^T",),
        inputs=("A_j",),
        note="Computed as matmul, left to right.",
    )
)
def multi_dot(tensors) -> Tensor:
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    first_vec, last_vec = ts[0].ndim == 1, ts[-1].ndim == 1
    if first_vec:
        ts[0] = reshape(ts[0], (1, -1))
    if last_vec:
        ts[-1] = reshape(ts[-1], (-1, 1))
    for t in ts:
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensors must be 2D (the first and last may be 1D), got {t.ndim}D")
    y = ts[0]
    for t in ts[1:]:
        y = matmul(y, t)
    if first_vec and last_vec:
        return reshape(y, ())
    if first_vec:
        return reshape(y, (-1,))
    if last_vec:
        return reshape(y, (-1,))
    return y


@op(
    OpMath(
        "y = sum_dim x * y (x and y broadcast)",
        grads=("g * y", "g * x"),
        inputs=("x", "y"),
        note="Computed as mul and sum.",
    )
)
def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    return _sum(x * y, dim)


@op(
    OpMath(
        "V[..., i, j] = x[..., i]^j for j < N (increasing powers)",
        grads=("sum_j g_ij j x_i^(j - 1)",),
        note="Computed as a running product (cumulative multiplication by x).",
    )
)
def vander(x: Tensor, N: int | None = None) -> Tensor:  # noqa: N803
    x = as_tensor(x, "linalg.vander")
    if x._data.ndim == 0:
        x = reshape(x, (1,))
    n = x._data.shape[-1] if N is None else int(N)
    if n < 0:
        raise RuntimeError(f"N must be non-negative, got {n}")
    if x._data.dtype == np.bool_ or x._data.dtype.kind in "iu":
        x = x.to("int64")
    cols, cur = [], None
    for j in range(n):
        cur = Tensor._wrap(np.ones(x._data.shape, dtype=x._data.dtype)) if j == 0 else (x if j == 1 else cur * x)
        cols.append(cur)
    if not cols:
        return Tensor._wrap(np.zeros(x._data.shape + (0,), dtype=x._data.dtype))
    return stack(cols, -1)


@op(OpMath("y = diagonal(A, offset, dim1, dim2) (dims -2, -1 by default)", grads=("zeros with g on that diagonal",)))
def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: N803
    return _diagonal(A, offset, dim1, dim2)


@op(
    OpMath(
        "Y = A^n (n >= 0: repeated squaring; n < 0: (A^-1)^|n|)",
        grads=("the gradient of the product chain (through the inverse: -Y^T G Y^T)",),
        note="Computed as matmul (and the inverse op for negative n).",
    )
)
def matrix_power(A: Tensor, n: int) -> Tensor:  # noqa: N803
    a = as_tensor(A, "linalg.matrix_power")
    if a._data.ndim < 2 or a._data.shape[-1] != a._data.shape[-2]:
        raise RuntimeError(
            f"linalg.matrix_power: A must be batches of square matrices, but they are {tuple(a.shape[-2:])} matrices"
        )
    if n == 0:
        eye = np.broadcast_to(np.eye(a._data.shape[-1], dtype=a._data.dtype), a._data.shape)
        return Tensor._wrap(eye.copy()) + a * 0.0 if a._data.dtype.kind == "f" else Tensor._wrap(eye.copy())
    if n < 0:
        a, n = Inverse.apply(a), -n
    result, base = None, a
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


@op(
    OpMath(
        "y = a x b along dim (default the last)",
        grads=("b x g", "g x a"),
        inputs=("a", "b"),
        note="As gb.cross with dim=-1.",
    )
)
def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    return _cross(input, other, dim)
