"""Fused training-mode batch normalisation (the other normalisations compose elementwise and
reduction ops in ``gradbox.nn.functional``)."""

from __future__ import annotations

import numpy as np

from gradbox.autograd import grad_mode
from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath
from gradbox.ops import _compiled, _kernels, _parallel
from gradbox.ops._util import const
from gradbox.ops.elementwise import sqrt
from gradbox.ops.reduce import mean
from gradbox.ops.reduce import sum as sum_


class BatchNormTrain(Function):
    """Training-mode batch norm of x (N, C, ...), fused: the statistics once, the closed-form backward.

    The backward works on arrays from the saved centred x and 1/std; under ``create_graph`` it
    is written in gradbox ops on an x^ recomputed from x, so second derivatives stay exact."""

    math = OpMath(
        "y = gamma x^ + beta,  x^ = (x - mu) / sqrt(s2 + eps)   (mu, s2: mean and biased variance per channel)",
        grads=(
            "gamma / (M sqrt(s2 + eps)) * (M g - sum g - x^ sum g x^)",
            "sum of g x^ per channel",
            "sum of g per channel",
        ),
        inputs=("x", "gamma", "beta"),
        note="Sums run over the batch and spatial dims of a channel; M values per channel.",
    )

    save_inputs = True

    def forward(self, x, weight=None, bias=None, *, eps, has_weight, has_bias, stats):
        axes = (0, *range(2, x.ndim))
        shape = [1, -1] + [1] * (x.ndim - 2)
        self.axes, self.shape, self.eps, self.has_weight, self.has_bias = axes, shape, eps, has_weight, has_bias
        n, c = x.shape[:2]
        r = x.reshape(n, c, int(np.prod(x.shape[2:], dtype=np.int64)))
        m = r.shape[0] * r.shape[2]
        if x.dtype not in _kernels.BLAS_DTYPES or m == 0:
            return self._forward_plain(x, weight, bias, stats)
        # (C,) statistics from per-(sample, channel) BLAS dot products (sum: x @ ones; centred sum
        # of squares: xc . xc), then y = xc (gamma/std) + beta in two passes, keeping xc (not x^):
        # 4 passes over the activation instead of 7: forward 3.8/1.6/1.0 -> 2.6/1.0/0.7 ms on
        # (64, C, H, W) float32 with C, H = 32, 32 / 64, 16 / 128, 8; the error against a float64
        # reference as NumPy's reductions' (~3e-7 relative).
        # Channels split over the threads (gradbox/ops/_parallel.py), each block its own passes.
        dt = x.dtype
        xc, y = np.empty_like(r), np.empty_like(r)
        mean, var, invstd = np.empty(c, dt), np.empty(c, dt), np.empty(c, dt)
        kern = _compiled.kernels()
        if kern is not None:  # the same passes as one compiled loop per channel (ops/_compiled.py)
            r = np.ascontiguousarray(r)
            w = weight if has_weight else np.ones(c, dt)
            b = bias if has_bias else np.zeros(c, dt)
            _parallel.chunked(lambda lo, hi: kern.batch_norm_forward(r, w, b, eps, lo, hi, xc, y, mean, var, invstd), c, 3 * r.nbytes)
            stats["mean"], stats["var"] = mean, var
            self.xc, self.invstd = xc, invstd
            return y.reshape(x.shape)

        def block(lo: int, hi: int) -> None:
            rb, xb = r[:, lo:hi], xc[:, lo:hi]
            mean[lo:hi] = _channel_sum(rb, None) / m
            np.subtract(rb, mean[lo:hi, None], out=xb)
            var[lo:hi] = _channel_sum(xb, xb) / m  # biased, for normalising
            invstd[lo:hi] = 1.0 / np.sqrt(var[lo:hi] + dt.type(eps))
            scale = invstd[lo:hi] * weight[lo:hi] if has_weight else invstd[lo:hi]
            np.multiply(xb, scale[:, None], out=y[:, lo:hi])
            if has_bias:
                y[:, lo:hi] += bias[lo:hi, None]

        _parallel.chunked(block, c, 3 * r.nbytes)
        stats["mean"], stats["var"] = mean, var  # for the running averages
        self.xc, self.invstd = xc, invstd
        return y.reshape(x.shape)

    def _forward_plain(self, x, weight, bias, stats):
        axes, shape = self.axes, self.shape
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = np.mean(xc * xc, axis=axes, keepdims=True)  # biased, for normalising
        stats["mean"], stats["var"] = mean.reshape(-1), var.reshape(-1)  # for the running averages
        invstd = (1.0 / np.sqrt(var + x.dtype.type(self.eps))).reshape(-1)
        y = xc * (invstd * weight if self.has_weight else invstd).reshape(shape)
        if self.has_bias:
            y += bias.reshape(shape)
        self.xc, self.invstd = xc.reshape(*x.shape[:2], int(np.prod(x.shape[2:], dtype=np.int64))), invstd
        return y

    def backward(self, g):
        x = self.inputs[0]
        axes, shape = self.axes, self.shape
        m = float(np.prod([x._data.shape[a] for a in axes]))
        if not grad_mode.is_grad_enabled():
            return self._backward_arrays(g._data, m)
        # create_graph: x^ and 1/std as functions of x
        mu = mean(x, axes, keepdim=True)
        xc = x - mu
        invstd = 1.0 / sqrt(mean(xc * xc, axes, keepdim=True) + self.eps)
        xhat = xc * invstd
        gamma = self.inputs[1].reshape(shape) if self.has_weight else None
        gxhat = g * gamma if gamma is not None else g
        sum_g = sum_(gxhat, axes, keepdim=True)
        sum_gx = sum_(gxhat * xhat, axes, keepdim=True)
        gx = (invstd / m) * (gxhat * m - sum_g - xhat * sum_gx)
        grads = [gx]
        if self.has_weight:
            grads.append(sum_(g * xhat, axes) if self.inputs[1].requires_grad else None)
        if self.has_bias:
            grads.append(sum_(g, axes) if self.inputs[-1].requires_grad else None)
        return tuple(grads)

    def _backward_arrays(self, g, m: float):
        """The same closed form on arrays, with the per-channel sums folded into per-channel
        coefficients: gx = k1 (g - a xc - b), the sums as BLAS dot products
        (as in the forward); used when no graph of the backward is needed."""
        xc, invstd = self.xc, self.invstd
        gr = g.reshape(xc.shape)
        c = xc.shape[1]
        sum_g, sum_gx = np.empty(c, xc.dtype), np.empty(c, xc.dtype)
        weight = self.inputs[1]._data if self.has_weight else None
        gx = np.empty_like(xc)
        kern = _compiled.kernels()
        if kern is not None and xc.dtype in _kernels.BLAS_DTYPES and g.dtype == xc.dtype and xc.size:
            gr = np.ascontiguousarray(gr)
            w = weight if weight is not None else np.ones(c, xc.dtype)
            _parallel.chunked(lambda lo, hi: kern.batch_norm_backward(gr, xc, invstd, w, lo, hi, gx, sum_g, sum_gx), c, 3 * xc.nbytes)
        else:
            _parallel.chunked(lambda lo, hi: self._backward_block(gr, xc, invstd, weight, m, lo, hi, gx, sum_g, sum_gx), c, 3 * xc.nbytes)
        grads = [const(gx.reshape(g.shape))]
        if self.has_weight:
            grads.append(const(sum_gx) if self.inputs[1].requires_grad else None)
        if self.has_bias:
            grads.append(const(sum_g) if self.inputs[-1].requires_grad else None)
        return tuple(grads)

    @staticmethod
    def _backward_block(gr, xc, invstd, weight, m, lo, hi, gx, sum_g, sum_gx) -> None:
        gb, xb, out, inv = gr[:, lo:hi], xc[:, lo:hi], gx[:, lo:hi], invstd[lo:hi]
        sum_g[lo:hi] = _channel_sum(gb, None)
        sum_gx[lo:hi] = _channel_sum(gb, xb) * inv  # sum of g x^ per channel
        k1 = inv * weight[lo:hi] if weight is not None else inv
        np.multiply(xb, (sum_gx[lo:hi] * inv / m)[:, None], out=out)  # gx = k1 (g - a xc - b): one buffer
        out += (sum_g[lo:hi] / m)[:, None]
        np.subtract(gb, out, out=out)
        out *= k1[:, None]


def _channel_sum(a, b):
    """(C,) sums over dims 0 and 2 of a (N, C, L), or of a * b: one dot product per (sample,
    channel) row (x @ ones for BLAS dtypes), then a sum over the samples."""
    if b is None:
        return _kernels.channel_sum(a)
    if a.dtype in _kernels.BLAS_DTYPES and a.dtype == b.dtype:
        return np.matmul(a[:, :, None, :], b[:, :, :, None])[:, :, 0, 0].sum(axis=0)
    return (a * b).sum(axis=(0, 2))
