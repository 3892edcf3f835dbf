"""Stochastic gradient descent with momentum."""

from __future__ import annotations

import numpy as np

from gradbox.optim.optimizer import Optimizer
from gradbox.tensor import Tensor


class SGD(Optimizer):
    r"""theta <- theta - lr * d, where with g = grad (+ weight_decay * theta):

    * no momentum: d = g;
    * momentum b, dampening t: v_1 = g_0, v_{k+1} = b v_k + (1 - t) g_k; d = v_{k+1}
      (nesterov: d = g_k + b v_{k+1}).

    Two textbook forms of momentum give the same iterates:

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
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach=None,
        differentiable: bool = False,
        fused=None,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, mom, damp, wd, nesterov = (
                group["lr"],
                group["momentum"],
                group["dampening"],
                group["weight_decay"],
                group["nesterov"],
            )
            for p, g in self._params_with_grad(group):
                if wd:
                    g = g + wd * p._data
                if mom:
                    st = self.state.setdefault(p, {})
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = Tensor._wrap(np.array(g, copy=True))
                    else:
                        b = buf._data
                        b *= mom
                        b += (1 - damp) * g
                    g = g + mom * buf._data if nesterov else buf._data
                p._data -= lr * g
        return loss
