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
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -(r * logp).sum(axis=1)

    def backward(self, g):
        z = self.inputs[0]
        r = self.r
        coef = const(r.sum(axis=1, keepdims=True))
        return unsqueeze(g, 1) * (softmax(z, 1) * coef - const(r))


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
