"""Stochastic gradient descent with momentum: the update function ``sgd`` and the class ``SGD``."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradbox.optim.optimizer import Optimizer, ParamsT, _defaults, _grad, _options, _with_rule
from gradbox.tensor import Tensor


def sgd(
    params: list[np.ndarray],
    grads: list[np.ndarray],
    momentum_buffers: list[np.ndarray | None],
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
) -> None:
    r"""theta <- theta - lr * d, where with g = grad (-grad if maximize) + weight_decay * theta:

    * no momentum: d = g;
    * momentum b, dampening t: v_1 = g_0, v_{k+1} = b v_k + (1 - t) g_k; d = v_{k+1}
      (nesterov: d = g_k + b v_{k+1}).

    One entry per parameter in each list. ``params`` and the buffers are updated in place; a
    None buffer (the parameter's first step with momentum) is replaced in the list by the new
    buffer, v_1 (a copy, never the gradient array itself).
    """
    for i, (theta, g) in enumerate(zip(params, grads)):
        g = _grad(theta, g, weight_decay, maximize)
        if momentum:
            buf = momentum_buffers[i]
            if buf is None:
                buf = momentum_buffers[i] = np.array(g, copy=True)
            else:
                buf *= momentum
                buf += (1 - dampening) * g if dampening else g  # no scaled copy for the usual t = 0
            g = g + momentum * buf if nesterov else buf
        theta -= lr * g


@_with_rule(sgd)
class SGD(Optimizer):
    r"""Stochastic gradient descent, with momentum and Nesterov momentum.

    Two textbook forms of momentum (in the notation of the update rule below) give the same iterates:

    * velocity (this one, t = 0): v_{k+1} = g_k + b v_k,  theta_{k+1} = theta_k - a v_{k+1};
    * heavy ball (Polyak): theta_{k+1} = theta_k - a g_k + b (theta_k - theta_{k-1}).

    From the first, theta_{k+1} - theta_k = -a g_k - a b v_k = -a g_k + b (theta_k - theta_{k-1}),
    since theta_k - theta_{k-1} = -a v_k. The step only holds with the same a at step k and
    k-1 and t = 0: when the learning rate changes (a scheduler), the velocity form carries the
    old rate inside v, the heavy-ball form the new one, and the iterates differ.

    weight_decay lambda adds lambda theta to g, which is exactly the gradient of an extra
    loss term (lambda/2) ||theta||^2: for SGD, L2 regularisation and weight decay coincide.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(params, _defaults(locals(), "lr", "momentum", "weight_decay", "nesterov"))

    def _update(self, group: dict[str, Any]) -> None:
        momentum = bool(group["momentum"])
        params, grads, states, _ = self._gather(group, momentum, step=False)
        buffers = [st["momentum_buffer"]._data if "momentum_buffer" in st else None for st in states]
        sgd(params, grads, buffers, **_options(group, sgd))
        for st, buf in zip(states, buffers):
            if momentum and "momentum_buffer" not in st:
                st["momentum_buffer"] = Tensor._wrap(buf)
