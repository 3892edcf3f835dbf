"""The fused softmax cross-entropy op and the class-index target handling shared by
``cross_entropy`` and ``nll_loss`` (the other losses compose elementwise ops in
``gradbox.nn.functional``).

For logits z and a target distribution r (one-hot, smoothed or given, times any class
weights), loss_i = -sum_c r_ic log softmax(z_i)_c and

    dL/dz_ic = g_i (p_ic sum_c' r_ic' - r_ic),  p = softmax(z),

which for a one-hot target without weights is the familiar p - onehot(y).
"""

from __future__ import annotations

import numpy as np

from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath
from gradbox.ops._util import const
from gradbox.ops.reduce import softmax
from gradbox.ops.reduce import sum as sum_
from gradbox.ops.shape import movedim, reshape, unsqueeze
from gradbox.tensor import Tensor


class SoftmaxCrossEntropy(Function):
    math = OpMath(
        "loss_i = -sum_c r_ic log softmax(z_i)_c   (logits z (M, C), constant target coefficients r)",
        grads=("g_i (softmax(z_i) * sum_c r_ic - r_i)",),
        inputs=("z",),
        note="For a one-hot target r_i = onehot(y_i) this is g_i (p_i - onehot(y_i)), p = softmax(z).",
    )

    save_inputs = True

    def forward(self, z, r):
        self.r = r
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        self.p = e / s  # softmax(z), for the backward
        return -(r * (shifted - np.log(s))).sum(axis=1)

    def backward(self, g):
        return SoftmaxCrossEntropyGrad.apply(self.inputs[0], g, r=self.r, p=self.p)


class SoftmaxCrossEntropyGrad(Function):
    """The gradient of SoftmaxCrossEntropy as one op (one pass over the (M, C) logits, where
    composing it would take five ops), differentiable again in both z and g."""

    math = OpMath(
        "D_ic = g_i (p_ic c_i - r_ic),  p = softmax(z) along the classes, c_i = sum_c r_ic",
        grads=(
            "g_i c_i p_i * (H_i - sum_c H_ic p_ic)   (the softmax Jacobian applied to H = dL/dD)",
            "sum_c H_ic (p_ic c_i - r_ic)",
        ),
        inputs=("z", "g"),
        note="r: the constant target coefficients of SoftmaxCrossEntropy; p is the forward's softmax.",
    )

    save_inputs = True

    def forward(self, z, g, r, p):
        self.r = r
        c = r.sum(axis=1, keepdims=True)
        d = p * c
        d -= r
        d *= g[:, None]
        return d

    def backward(self, h):
        z, g = self.inputs
        r = self.r
        coef = const(r.sum(axis=1, keepdims=True))
        p = softmax(z, 1)
        gz = gg = None
        if z.requires_grad:
            gz = unsqueeze(g, 1) * coef * p * (h - sum_(h * p, 1, keepdim=True))
        if g.requires_grad:
            gg = sum_(h * (p * coef - const(r)), 1)
        return gz, gg


def class_last(x: Tensor) -> tuple[Tensor, tuple]:
    """(N, C, d1, ...) -> (N*d1*..., C), and the shape to give per-element losses back."""
    xs = x._data.shape
    if x._data.ndim == 2:
        return x, (xs[0],)
    if x._data.ndim == 1:
        return unsqueeze(x, 0), ()
    moved = movedim(x, 1, -1)
    return reshape(moved, (-1, xs[1])), (xs[0], *xs[2:])


def target_coefficients(target: np.ndarray, c: int, weight, ignore_index: int, smoothing: float, op: str):
    """r (M, C) for class-index targets, and each row's weight w[y_i] (0 where ignored)."""
    t = target.reshape(-1)
    if weight is None and not smoothing and t.size and not 0 <= ignore_index < c and 0 <= t.min() and t.max() < c:
        r = np.zeros((t.size, c))  # the common case: every target a class, none ignored
        r[np.arange(t.size), t] = 1.0
        return r, np.ones(t.size)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"{op}: target {int(t[bad][0])} is out of bounds for {c} classes")
    safe = np.where(valid, t, 0)
    w = np.ones(c) if weight is None else weight
    r = np.zeros((t.size, c))
    r[np.arange(t.size), safe] = (1.0 - smoothing) * w[safe]
    if smoothing:
        r += (smoothing / c) * w[None, :]
    r[~valid] = 0.0
    row_w = np.where(valid, w[safe], 0.0)
    return r, row_w


def index_target(input: Tensor, target, weight, ignore_index: int, smoothing: float, op: str):
    """Logits as (M, C) rows, the per-element output shape, and the coefficients r with the
    per-row target weights for class-index targets of shape (N,) or (N, d1, ...)."""
    xs = input._data.shape
    c = xs[1] if input._data.ndim >= 2 else xs[0]
    z, out_shape = class_last(input)
    t = target._data if isinstance(target, Tensor) else np.asarray(target)
    expected = (xs[0], *xs[2:]) if input._data.ndim >= 2 else ()
    if t.shape != expected:
        raise ValueError(f"{op}: expected target of shape {expected} for input of shape {tuple(xs)}, got {t.shape}")
    w = None if weight is None else weight._data.astype(np.float64)
    if w is not None and w.shape != (c,):
        raise RuntimeError(f"{op}: weight should have {c} elements (one per class), got shape {w.shape}")
    r, row_w = target_coefficients(t, c, w, ignore_index, smoothing, op)
    return z, out_shape, r.astype(input._data.dtype), row_w
