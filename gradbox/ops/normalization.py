"""Fused training-mode batch normalisation (the other normalisations compose elementwise and
reduction ops in ``gradbox.nn.functional``)."""

from __future__ import annotations

import numpy as np

from gradbox.autograd import grad_mode
from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath
from gradbox.ops._util import const
from gradbox.ops.elementwise import sqrt
from gradbox.ops.reduce import mean
from gradbox.ops.reduce import sum as sum_


class BatchNormTrain(Function):
    """Training-mode batch norm of x (N, C, ...), fused: the statistics once, the closed-form backward.

    The backward is written in gradbox ops on the saved x^; under ``create_graph`` it uses an
    x^ recomputed from x with gradbox ops, so second derivatives stay exact."""

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
        mean = x.mean(axis=axes, keepdims=True)
        xhat = x - mean
        var = np.mean(xhat * xhat, axis=axes, keepdims=True)  # biased, for normalising
        stats["mean"], stats["var"] = mean.reshape(-1), var.reshape(-1)  # for the running averages
        invstd = 1.0 / np.sqrt(var + x.dtype.type(eps))
        xhat *= invstd
        self.xhat, self.invstd, self.axes, self.shape, self.eps = xhat, invstd, axes, shape, eps
        self.has_weight, self.has_bias = has_weight, has_bias
        y = xhat * weight.reshape(shape) if has_weight else xhat.copy()
        if has_bias:
            y += bias.reshape(shape)
        return y

    def backward(self, g):
        x = self.inputs[0]
        axes, shape = self.axes, self.shape
        m = float(np.prod([x._data.shape[a] for a in axes]))
        if not grad_mode.enabled:
            return self._backward_arrays(g._data, m)
        if grad_mode.enabled:  # create_graph: x^ and 1/std as functions of x
            mu = mean(x, axes, keepdim=True)
            xc = x - mu
            invstd = 1.0 / sqrt(mean(xc * xc, axes, keepdim=True) + self.eps)
            xhat = xc * invstd
        else:
            xhat, invstd = const(self.xhat), const(self.invstd)
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
        coefficients: gx = k1 g + k2 x^ + k3 (4 passes over the activation instead of ~10
        gradbox ops); used when no graph of the backward is needed."""
        axes, shape, xhat = self.axes, self.shape, self.xhat
        sum_g = g.sum(axis=axes, keepdims=True)
        t = g * xhat
        sum_gx = t.sum(axis=axes, keepdims=True)
        k1 = self.invstd * self.inputs[1]._data.reshape(shape) if self.has_weight else self.invstd
        gx = g * k1
        np.multiply(xhat, -k1 * sum_gx / m, out=t)
        gx += t
        gx += -k1 * sum_g / m
        grads = [const(gx)]
        if self.has_weight:
            grads.append(const(sum_gx.reshape(-1)) if self.inputs[1].requires_grad else None)
        if self.has_bias:
            grads.append(const(sum_g.reshape(-1)) if self.inputs[-1].requires_grad else None)
        return tuple(grads)
