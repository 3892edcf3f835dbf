"""Matrix and tensor products beyond matmul (einsum, tensordot, the add*mm family, kron) and the
structure of matrices (diagonals, triangles, block diagonals, trace).

Einsum is the general case: y = sum over the letters not in the output of prod_k x_k. Its
gradient for operand k is again an einsum: g contracted with every other operand onto x_k's
letters (a repeated letter, a diagonal, is restored with an identity; a letter only x_k has,
summed away in the forward, is broadcast back with a ones vector).
"""

from __future__ import annotations

import string

import numpy as np

from gradbox import _dtype
from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._more import with_out
from gradbox.ops._util import as_tensor, const, norm_dim, promote
from gradbox.ops.elementwise import mul, where
from gradbox.ops.index import getitem
from gradbox.ops.linalg import matmul
from gradbox.ops.reduce import sum as _sum
from gradbox.ops.scatter import diagonal_scatter
from gradbox.ops.shape import cat, expand, movedim, pad, reshape, stack
from gradbox.tensor import Tensor

_LETTERS = string.ascii_letters


class Einsum(Function):
    math = OpMath(
        "y[out] = sum over the other letters of prod_k x_k[s_k]",
        grads=(
            "einsum of g with every x_j (j != k) onto s_k (identities for repeated letters, ones for letters only x_k has)",
        ),
        inputs=("x_k",),
        note="One gradient per operand; s_k are the operand's letters, out the output's.",
    )
    save_inputs = True

    def forward(self, *arrays, subs, out):
        self.subs, self.out = subs, out
        return np.asarray(np.einsum(",".join(subs) + "->" + out, *arrays, optimize=len(arrays) > 2))

    def backward(self, g):
        xs, subs, out = self.inputs, self.subs, self.out
        size = {c: n for s, x in zip(subs, xs) for c, n in zip(s, x._data.shape)}
        grads = []
        for k, (sk, xk) in enumerate(zip(subs, xs)):
            if not xk.requires_grad:
                grads.append(None)
                continue
            fresh = iter(c for c in _LETTERS if c not in size)
            target, extra_ops, extra_subs = "", [], []
            seen: set = set()
            for c in sk:
                if c in seen:  # a repeated letter: a fresh one tied to c by an identity
                    f = next(fresh)
                    target += f
                    extra_ops.append(const(np.eye(size[c], dtype=g._data.dtype)))
                    extra_subs.append(c + f)
                else:
                    target += c
                    seen.add(c)
            ops = [g] + [x for j, x in enumerate(xs) if j != k] + extra_ops
            osubs = [out] + [s for j, s in enumerate(subs) if j != k] + extra_subs
            have = set("".join(osubs))
            for c in seen:
                if c not in have:  # summed away inside x_k alone: broadcast g back along it
                    ops.append(const(np.ones(size[c], dtype=g._data.dtype)))
                    osubs.append(c)
            grads.append(Einsum.apply(*ops, subs=tuple(osubs), out=target))
        return tuple(grads)


def _parse(equation: str, shapes: list[tuple]) -> tuple[list[str], str, tuple]:
    """Explicit letters for every operand (``...`` expanded) and the output; the ellipsis' broadcast shape."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise RuntimeError(f"einsum(): {len(ins)} operands in the equation, {len(shapes)} given")
    used = set(eq) - set(".,->")
    free = [c for c in _LETTERS if c not in used]
    ell_nd = max([len(sh) - len(s.replace("...", "")) for s, sh in zip(ins, shapes) if "..." in s] or [0])
    ell = "".join(free[:ell_nd])
    ell_shape: tuple = ()
    subs = []
    for s, sh in zip(ins, shapes):
        if "..." in s:
            n = len(sh) - len(s.replace("...", ""))
            mine = ell[ell_nd - n :] if n else ""
            ell_shape = tuple(np.broadcast_shapes(ell_shape, sh[s.index("...") : s.index("...") + n]))
            s = s.replace("...", mine)
        if len(s) != len(sh):
            raise RuntimeError(f"einsum(): the operand with subscripts {s!r} has {len(sh)} dims")
        subs.append(s)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts: dict = {}
        for c in "".join(s.replace("...", "") for s in ins):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1))
    return subs, out, ell_shape


@op(Einsum, summary="Einstein summation: ``einsum('ij,jk->ik', a, b)``; operands as arguments or one list.")
def einsum(equation: str, *operands) -> Tensor:
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    xs = promote("einsum", *operands) if len({o.dtype for o in operands}) > 1 else list(operands)
    subs, out, _ = _parse(equation, [x._data.shape for x in xs])
    size: dict = {}
    for s, x in zip(subs, xs):
        for c, n in zip(s, x._data.shape):
            if n != 1:
                if size.get(c, n) != n:
                    raise RuntimeError(
                        f"einsum(): operands do not broadcast: subscript {c!r} has sizes {size[c]} and {n}"
                    )
                size[c] = n
    fixed = []
    for s, x in zip(subs, xs):  # broadcast size-1 dims (from ... or explicit letters) to the common size
        want = tuple(size.get(c, 1) for c in s)
        fixed.append(expand(x, *want) if want != x._data.shape else x)
    return Einsum.apply(*fixed, subs=tuple(subs), out=out)


@op(
    OpMath(
        "y = sum over the paired dims of a[i..., k...] b[k..., j...]",
        grads=("g contracted with b onto a's dims", "g contracted with a onto b's dims"),
        inputs=("a", "b"),
        note="dims: an int n (a's last n dims with b's first n) or two lists of dims. Computed as einsum.",
    )
)
@with_out
def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(na - dims, na)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    da = [norm_dim(d, na, "tensordot") for d in da]
    db = [norm_dim(d, nb, "tensordot") for d in db]
    letters = iter(_LETTERS)
    sa = [next(letters) for _ in range(na)]
    sb = [next(letters) for _ in range(nb)]
    for i, j in zip(da, db):
        sb[j] = sa[i]
    out = "".join(c for i, c in enumerate(sa) if i not in da) + "".join(c for j, c in enumerate(sb) if j not in db)
    return einsum(f"{''.join(sa)},{''.join(sb)}->{out}", a, b)


def _scaled(x: Tensor, s) -> Tensor:
    return x if s == 1 else x * s


def _add_scaled(inp: Tensor, prod: Tensor, beta, alpha) -> Tensor:
    """beta * input + alpha * prod; with beta = 0 the input is ignored (its NaNs too), as PyTorch."""
    p = _scaled(prod, alpha)
    if beta == 0:
        return p + const(np.zeros(inp._data.shape, dtype=p._data.dtype)) if inp._data.shape != p._data.shape else p
    return _scaled(inp, beta) + p


_ADD = "y = beta * x + alpha * {}"


def _addmath(prod: str, ga: str, gb: str) -> OpMath:
    return OpMath(
        _ADD.format(prod),
        grads=("beta * g", ga, gb),
        inputs=("x", "A", "B"),
        note="With beta = 0, x is ignored (NaN in it is not propagated). Computed from matmul, mul and add.",
    )


@op(_addmath("A @ B", "alpha * g @ B^T", "alpha * A^T @ g"))
@with_out
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"addmm: expected 2-D matrices, got {tuple(mat1.shape)} and {tuple(mat2.shape)}")
    return _add_scaled(input, matmul(mat1, mat2), beta, alpha)


@op(_addmath("A @ v", "alpha * outer(g, v)", "alpha * A^T @ g"))
@with_out
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    if mat.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"addmv: expected a matrix and a vector, got {tuple(mat.shape)} and {tuple(vec.shape)}")
    return _add_scaled(input, matmul(mat, vec), beta, alpha)


@op(_addmath("outer(u, v)", "alpha * g @ v", "alpha * g^T @ u"))
@with_out
def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    if vec1.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"addr: expected 1-D vectors, got {tuple(vec1.shape)} and {tuple(vec2.shape)}")
    prod = reshape(vec1, (-1, 1)) * reshape(vec2, (1, -1))
    if prod._data.dtype == np.bool_:
        return Tensor._wrap((input._data & bool(beta)) | (prod._data & bool(alpha)))
    return _add_scaled(input, prod, beta, alpha)


@op(_addmath("sum_b A_b @ B_b", "alpha * g @ B_b^T", "alpha * A_b^T @ g"))
@with_out
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    if batch1.ndim != 3 or batch2.ndim != 3:
        raise RuntimeError(f"addbmm: expected 3-D tensors, got {tuple(batch1.shape)} and {tuple(batch2.shape)}")
    return _add_scaled(input, _sum(matmul(batch1, batch2), 0), beta, alpha)


@op(_addmath("A_b @ B_b (per batch)", "alpha * g_b @ B_b^T", "alpha * A_b^T @ g_b"))
@with_out
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    if batch1.ndim != 3 or batch2.ndim != 3:
        raise RuntimeError(f"baddbmm: expected 3-D tensors, got {tuple(batch1.shape)} and {tuple(batch2.shape)}")
    return _add_scaled(input, matmul(batch1, batch2), beta, alpha)


@op(OpMath("y = A @ v", grads=("outer(g, v)", "A^T @ g"), inputs=("A", "v"), note="Computed as matmul."))
@with_out
def mv(input: Tensor, vec: Tensor) -> Tensor:
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: expected a matrix and a vector, got {tuple(input.shape)} and {tuple(vec.shape)}")
    return matmul(input, vec)


@op(
    OpMath(
        "y = sum_k a[..., k] b[..., k] (over the last dims; a product when one is 0-d)",
        grads=("g contracted with b", "g contracted with a"),
        inputs=("a", "b"),
        note="Computed as tensordot over the last dims.",
    )
)
@with_out
def inner(input: Tensor, other: Tensor) -> Tensor:
    if input.ndim == 0 or other.ndim == 0:
        return mul(input, other)
    return tensordot(input, other, ([-1], [-1]))


@op(OpMath("y = sum_i a_i b_i (1-D)", grads=("g * b", "g * a"), inputs=("a", "b"), note="Computed as matmul."))
@with_out
def vdot(input: Tensor, other: Tensor) -> Tensor:
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"vdot: expected 1-D tensors, got {tuple(input.shape)} and {tuple(other.shape)}")
    if input.dtype != other.dtype:
        raise RuntimeError(f"vdot: expected both vectors to have same dtype, but found {input.dtype} and {other.dtype}")
    return matmul(input, other)


@op(
    OpMath(
        "y[i * n_b + j] = a[i] b[j] in every dim (the Kronecker product)",
        grads=("sum over b's blocks of g * b", "sum over a's blocks of g * a"),
        inputs=("a", "b"),
        note="Computed as an interleaved broadcast product and reshape.",
    )
)
@with_out
def kron(input: Tensor, other: Tensor) -> Tensor:
    a, b = promote("kron", input, other)
    nd = max(a._data.ndim, b._data.ndim)
    sa = (1,) * (nd - a._data.ndim) + a._data.shape
    sb = (1,) * (nd - b._data.ndim) + b._data.shape
    ai = reshape(a, tuple(v for s in sa for v in (s, 1)))
    bi = reshape(b, tuple(v for s in sb for v in (1, s)))
    return reshape(ai * bi, tuple(x * y for x, y in zip(sa, sb)))


def _diag_index(shape: tuple, offset: int, d1: int, d2: int) -> tuple:
    n1, n2 = shape[d1], shape[d2]
    k = max(0, min(n1 - max(0, -offset), n2 - max(0, offset)))
    idx: list = [slice(None)] * len(shape)
    idx[d1], idx[d2] = np.arange(k) + max(0, -offset), np.arange(k) + max(0, offset)
    return tuple(idx)


@op(
    OpMath(
        "y = the diagonal x[..., i, ..., i + offset, ...] of dims dim1, dim2, as the last dim",
        grads=("zeros(x.shape) with g on that diagonal",),
        note="Computed as indexing.",
    )
)
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    x = as_tensor(input, "diagonal")
    nd = x._data.ndim
    d1, d2 = norm_dim(dim1, nd, "diagonal"), norm_dim(dim2, nd, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    y = getitem(x, _diag_index(x._data.shape, offset, d1, d2))
    return movedim(y, min(d1, d2) if abs(d1 - d2) == 1 else 0, -1)


@op(
    OpMath(
        "y = zeros with the last dim of x on the diagonal (offset) of the new dims dim1, dim2",
        grads=("the diagonal of g",),
        note="Computed as diagonal_scatter into zeros.",
    )
)
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    x = as_tensor(input, "diag_embed")
    n = x._data.shape[-1] + abs(offset) if x._data.ndim else 1 + abs(offset)
    nd = x._data.ndim + 1
    d1, d2 = norm_dim(dim1, nd, "diag_embed"), norm_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    rest = list(x._data.shape[:-1])
    shape = []
    for i in range(nd):
        shape.append(n if i in (d1, d2) else rest.pop(0))
    zeros = Tensor._wrap(np.zeros(shape, dtype=x._data.dtype))
    return diagonal_scatter(zeros, x, offset, d1, d2)


@op(
    OpMath(
        "1-D x: y = the matrix with x on diagonal ``diagonal``; 2-D x: y = that diagonal of x",
        grads=("1-D: the diagonal of g; 2-D: zeros with g on the diagonal",),
        note="Computed as diag_embed or diagonal.",
    )
)
@with_out
def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: F811 - PyTorch's argument name
    x = as_tensor(input, "diag")
    if x._data.ndim == 1:
        return diag_embed(x, diagonal, 0, 1)
    if x._data.ndim == 2:
        return _diagonal(x, diagonal, 0, 1)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x._data.ndim}D")


_diagonal = diagonal


@op(
    OpMath(
        "y = the matrix with flatten(x) on diagonal ``offset``",
        grads=("the diagonal of g",),
        note="Computed as diag_embed.",
    )
)
def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    return diag_embed(reshape(as_tensor(input, "diagflat"), (-1,)), offset, 0, 1)


@op(OpMath("y = sum_i x_ii", grads=("g * I (g on the diagonal, 0 elsewhere)",), note="Computed as sum(diagonal(x))."))
def trace(input: Tensor) -> Tensor:
    x = as_tensor(input, "trace")
    if x._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x._data.ndim}")
    s = _sum(_diagonal(x))
    return s.to("int64") if x._data.dtype.kind in "biu" else s


def _triangle(input: Tensor, diagonal: int, lower: bool, name: str) -> Tensor:
    x = as_tensor(input, name)
    if x._data.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions, got shape {tuple(x._data.shape)}")
    r, c = x._data.shape[-2:]
    keep = np.tri(r, c, diagonal, dtype=bool) if lower else ~np.tri(r, c, diagonal - 1, dtype=bool)
    if x._data.dtype.kind != "f":
        return Tensor._wrap(np.where(keep, x._data, np.zeros((), x._data.dtype)))
    return where(const(keep), x, 0.0)


@op(
    OpMath(
        "y = x with the elements above diagonal ``diagonal`` set to 0 (last two dims)", grads=("g with the same zeros",)
    )
)
@with_out
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    return _triangle(input, diagonal, True, "tril")


@op(
    OpMath(
        "y = x with the elements below diagonal ``diagonal`` set to 0 (last two dims)", grads=("g with the same zeros",)
    )
)
@with_out
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    return _triangle(input, diagonal, False, "triu")


def _tri_indices(row: int, col: int, offset: int, lower: bool, dtype) -> Tensor:
    keep = np.tri(row, col, offset, dtype=bool) if lower else ~np.tri(row, col, offset - 1, dtype=bool)
    npd = np.int64 if dtype is None else _dtype.to_numpy_dtype(dtype)
    return Tensor._wrap(np.stack(np.nonzero(keep)).astype(npd).reshape(2, -1))


@op(OpMath("y = the (2, n) coordinates of the lower triangle of a row x col matrix", grads=None))
def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None) -> Tensor:
    return _tri_indices(row, col, offset, True, dtype)


@op(OpMath("y = the (2, n) coordinates of the upper triangle of a row x col matrix", grads=None))
def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None) -> Tensor:
    return _tri_indices(row, col, offset, False, dtype)


@op(
    OpMath(
        "y = the block diagonal matrix with x_1, ..., x_k on its diagonal",
        grads=("the block of g where x_j sits",),
        inputs=("x_j",),
        note="0-d and 1-D inputs are taken as 1x1 and 1xn matrices. Computed as pad and cat.",
    )
)
def block_diag(*tensors: Tensor) -> Tensor:
    if not tensors:
        return Tensor._wrap(np.zeros((1, 0), dtype=np.float32))
    ts = promote("block_diag", *tensors) if len({t.dtype for t in tensors}) > 1 else list(tensors)
    mats = []
    for t in ts:
        if t._data.ndim > 2:
            raise RuntimeError(
                f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input has {t._data.ndim} dimensions"
            )
        mats.append(reshape(t, (1, -1)) if t._data.ndim == 1 else reshape(t, (1, 1)) if t._data.ndim == 0 else t)
    width = sum(m._data.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        c = m._data.shape[1]
        rows.append(pad(m, (left, width - left - c)))
        left += c
    return cat(rows, 0)


def _cross(a: Tensor, b: Tensor, d: int) -> Tensor:
    def comp(x, i):
        return getitem(x, (slice(None),) * d + (i,))

    a0, a1, a2 = (comp(a, i) for i in range(3))
    b0, b1, b2 = (comp(b, i) for i in range(3))
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


_CROSS = OpMath(
    "y = a x b along dim (3-vectors): (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0)",
    grads=("b x g", "g x a"),
    inputs=("a", "b"),
    note="a and b broadcast. Computed with indexing, mul and stack.",
)


@op(_CROSS._replace(note=_CROSS.note + " dim defaults to the first dim of size 3."))
@with_out
def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    a, b = promote("cross", input, other)
    shape = np.broadcast_shapes(a._data.shape, b._data.shape)
    a, b = expand(a, *shape), expand(b, *shape)
    if dim is None:
        dims = [i for i, s in enumerate(shape) if s == 3]
        if not dims:
            raise RuntimeError(f"no dimension of size 3 in input of shape {tuple(shape)}")
        dim = dims[0]
    d = norm_dim(dim, len(shape), "cross")
    if shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got {shape[d]}")
    return _cross(a, b, d)
