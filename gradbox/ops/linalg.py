"""Matrix products.

Y = A B for matrices (and batches of them, with broadcast batch dims):
dL/dA = G B^T and dL/dB = A^T G.
"""

from __future__ import annotations

import numpy as np

from gradbox._dtype import from_numpy_dtype
from gradbox.autograd import grad_mode
from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._kernels import gemm
from gradbox.ops._util import as_tensor, check_broadcast, fresh
from gradbox.ops.reduce import sum as sum_
from gradbox.ops.shape import reshape, transpose
from gradbox.tensor import Tensor


class Matmul(Function):
    math = OpMath(
        "Y = A @ B",
        grads=("G @ B^T", "A^T @ G"),
        inputs=("A", "B"),
        note="G = dL/dY; ^T swaps the last two dims. A and B have ndim >= 2; their batch dims broadcast, "
        "and the gradients' batch dims are summed back by the engine.",
    )

    save_inputs = True

    def forward(self, a, b):
        if a.ndim == 2 and b.ndim == 2:
            return np.ascontiguousarray(gemm(a, b))  # split when large (ops/_kernels.py); C order, as np.matmul
        return np.matmul(a, b)

    def backward(self, g):
        a, b = self.inputs
        ga = Matmul.apply(g, transpose(b, -1, -2)) if a.requires_grad else None
        gb = Matmul.apply(transpose(a, -1, -2), g) if b.requires_grad else None
        return ga, gb


@op(Matmul, summary="Matrix product with PyTorch's rules for 1-D operands (a vector is promoted, then squeezed).")
def matmul(a, b) -> Tensor:
    a, b = as_tensor(a, "matmul"), as_tensor(b, "matmul")
    sa, sb = a._data.shape, b._data.shape
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            f"matmul: expected both operands to have the same dtype, got {from_numpy_dtype(a._data.dtype)} "
            f"and {from_numpy_dtype(b._data.dtype)} (shapes {sa} @ {sb})"
        )
    if not sa or not sb:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got {sa} @ {sb}")
    k_a = sa[-1]
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if k_a != k_b:
        raise RuntimeError(f"matmul: {sa} @ {sb}: inner dimensions {k_a} and {k_b} differ")
    if len(sa) > 2 or len(sb) > 2:
        check_broadcast("matmul (batch dims)", sa[:-2], sb[:-2] if len(sb) > 1 else ())
    va, vb = len(sa) == 1, len(sb) == 1
    if va:
        a = reshape(a, (1, sa[0]))
    if vb:
        b = reshape(b, (sb[0], 1))
    y = Matmul.apply(a, b)
    if va and vb:
        return reshape(y, ())
    if va:
        return reshape(y, y._data.shape[:-2] + y._data.shape[-1:])
    if vb:
        return reshape(y, y._data.shape[:-1])
    return y


@op(Matmul, summary="Matrix product of two 2-D tensors.")
def mm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: expects 2-D tensors, got {a.shape} and {b.shape}")
    return matmul(a, b)


@op(Matmul, summary="Batched matrix product of two 3-D tensors with the same batch size.")
def bmm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: expects 3-D tensors with the same batch size, got {a.shape} and {b.shape}")
    return matmul(a, b)


@op(
    OpMath("y = sum_i a_i b_i", grads=("g * b", "g * a"), inputs=("a", "b"), note="Computed as matmul."),
    summary="Inner product of two 1-D tensors.",
)
def dot(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"dot: expects 1-D tensors, got {a.shape} and {b.shape}")
    return matmul(a, b)


@op(
    OpMath(
        "Y_ij = a_i b_j",
        grads=("G @ b  (sum_j G_ij b_j)", "G^T @ a  (sum_i G_ij a_i)"),
        inputs=("a", "b"),
        note="G = dL/dY. Computed as the broadcast product a[:, None] * b[None, :].",
    ),
    summary="Outer product of two vectors.",
)
def outer(a: Tensor, b: Tensor) -> Tensor:
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


class Linear(Function):
    math = OpMath(
        "y = x W^T + b",
        grads=("g W", "g^T x", "sum over rows of g"),
        inputs=("x", "W", "b"),
        note="x (M, in), W (out, in), b (out,); b is optional.",
    )

    save_inputs = True

    def forward(self, x, w, b=None):
        y = np.ascontiguousarray(gemm(x, w.T))  # long-K operand order: see ops/_kernels.py
        if b is not None:
            y += b
        return y

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        want_b = len(self.inputs) == 3 and self.inputs[2].requires_grad
        if not grad_mode.is_grad_enabled():  # a plain backward: the same products on the arrays, 3 ops fewer
            ga = g._data
            gx = fresh(np.ascontiguousarray(gemm(ga, w._data))) if x.requires_grad else None
            gw = fresh(np.ascontiguousarray(gemm(ga.T, x._data))) if w.requires_grad else None
            gb = fresh(ga.sum(axis=0)) if want_b else None
        else:  # create_graph: in gradbox ops, differentiable again
            gx = matmul(g, w) if x.requires_grad else None
            gw = matmul(transpose(g, 0, 1), x) if w.requires_grad else None
            gb = sum_(g, 0) if want_b else None
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, gb)


@op(Linear, summary="Affine map of the last dim of ``input``: x W^T + b (leading dims are flattened into rows).")
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    in_features = weight._data.shape[-1]
    if input._data.ndim == 0 or input._data.shape[-1] != in_features:
        raise RuntimeError(
            f"linear: expected input with {in_features} features in its last dimension, "
            f"got shape {tuple(input._data.shape)}"
        )
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(
            f"linear: input dtype {input.dtype} does not match the weight dtype {weight.dtype}"
        )
    shape = input._data.shape
    x = input if input._data.ndim == 2 else reshape(input, (int(np.prod(shape[:-1])), in_features))
    args = (x, weight) if bias is None else (x, weight, bias)
    y = Linear.apply(*args)
    return y if input._data.ndim == 2 else reshape(y, (*shape[:-1], weight._data.shape[0]))
