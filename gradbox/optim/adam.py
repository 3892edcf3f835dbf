"""Adam, AdamW and NAdam: moment estimates with bias correction. The update functions ``adam``,
``adamw`` and ``nadam`` and the classes that keep their state."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradbox.optim.optimizer import Optimizer, ParamsT, _defaults, _grad, _options, _with_rule


def _moments(
    theta: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    betas: tuple[float, float],
    weight_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> np.ndarray:
    """The part Adam and NAdam share: weight decay (decoupled: theta <- theta (1 - lr lambda);
    else L2: g <- g + lambda theta), then m <- b1 m + (1 - b1) g and v <- b2 v + (1 - b2) g^2
    in place. Returns g."""
    b1, b2 = betas
    if weight_decay and decoupled_weight_decay:
        theta *= 1 - lr * weight_decay
    g = _grad(theta, g, 0.0 if decoupled_weight_decay else weight_decay, maximize)
    m += (1 - b1) * (g - m)  # lerp to g: (1 - b1) m + b1 g, the exponential moving average
    v *= b2
    v += (1 - b2) * g * g
    return g


def adam(
    params: list[np.ndarray],
    grads: list[np.ndarray],
    exp_avgs: list[np.ndarray],
    exp_avg_sqs: list[np.ndarray],
    max_exp_avg_sqs: list[np.ndarray],
    steps: list[int],
    *,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> None:
    r"""Adam (Kingma & Ba 2015). With g = grad (-grad if maximize) at step t = 1, 2, ...:

        m_t = b1 m_{t-1} + (1 - b1) g,      v_t = b2 v_{t-1} + (1 - b2) g^2
        theta <- theta - lr / (1 - b1^t) * m_t / (sqrt(v_t) / sqrt(1 - b2^t) + eps)

    (amsgrad: v_t replaced by the running maximum of v_t, kept in ``max_exp_avg_sqs``, which
    is otherwise unused and may be empty.) weight_decay lambda: L2, g + lambda theta in place
    of g; decoupled (AdamW): theta <- theta (1 - lr lambda) first, then the step on g.

    One entry per parameter in each list; ``steps`` holds each one's t (1 on its first update).
    ``params`` and the moment arrays are updated in place.
    """
    b1, b2 = betas
    for i, (theta, g, m, v, t) in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs, steps)):
        g = _moments(theta, g, m, v, lr, betas, weight_decay, decoupled_weight_decay, maximize)
        step_size = lr / (1 - b1**t)
        bc2_sqrt = math.sqrt(1 - b2**t)
        if amsgrad:
            vmax = max_exp_avg_sqs[i]
            np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(vmax) / bc2_sqrt + eps
        else:
            denom = np.sqrt(v) / bc2_sqrt + eps
        theta -= step_size * (m / denom)


def adamw(
    params: list[np.ndarray],
    grads: list[np.ndarray],
    exp_avgs: list[np.ndarray],
    exp_avg_sqs: list[np.ndarray],
    max_exp_avg_sqs: list[np.ndarray],
    steps: list[int],
    **options: Any,
) -> None:
    r"""AdamW (Loshchilov & Hutter 2019): ``adam`` with decoupled weight decay,

    theta <- theta (1 - lr lambda),  then the Adam step on the gradient of the loss alone.

    ``options`` are ``adam``'s keyword arguments but decoupled_weight_decay.
    """
    adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, decoupled_weight_decay=True, **options)


def nadam(
    params: list[np.ndarray],
    grads: list[np.ndarray],
    exp_avgs: list[np.ndarray],
    exp_avg_sqs: list[np.ndarray],
    mu_products: list[float],
    steps: list[int],
    *,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
    momentum_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
) -> None:
    r"""Adam with Nesterov momentum (Dozat 2016). With momentum schedule
    mu_t = b1 (1 - 0.5 * 0.96^(t psi)) (psi the momentum_decay) and prod_t = mu_1 ... mu_t:

        m_t = b1 m + (1 - b1) g,   v_t = b2 v + (1 - b2) g^2,   d = sqrt(v_t / (1 - b2^t)) + eps
        theta <- theta - lr (1 - mu_t) / (1 - prod_t) * g / d - lr mu_{t+1} / (1 - prod_t mu_{t+1}) * m_t / d

    g and weight decay as in ``adam``. One entry per parameter in each list; ``steps`` holds
    each one's t, ``mu_products`` each one's prod_{t-1} (1 before the first update), replaced
    in the list by prod_t; ``params`` and the moment arrays are updated in place.
    """
    b1, b2 = betas
    for i, (theta, g, m, v, t) in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs, steps)):
        g = _moments(theta, g, m, v, lr, betas, weight_decay, decoupled_weight_decay, maximize)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_products[i] *= mu
        prod = mu_products[i]
        denom = np.sqrt(v / (1 - b2**t)) + eps
        theta += (-lr * (1.0 - mu) / (1.0 - prod)) * (g / denom)
        theta += (-lr * mu_next / (1.0 - prod * mu_next)) * (m / denom)


@_with_rule(adam)
class Adam(Optimizer):
    r"""Adam, and AdamW with ``decoupled_weight_decay=True``.

    weight_decay lambda adds lambda theta to g before the moments: L2 regularisation. Unlike
    in SGD it is *not* weight decay, because the added term is rescaled by 1/sqrt(v) like the
    rest of the gradient, so weights with large gradients are decayed less. AdamW decouples
    it: theta <- theta (1 - lr lambda), then the Adam step on the plain gradient.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        super().__init__(params, _defaults(locals(), "lr", "eps", "betas", "weight_decay"))

    def _update(self, group: dict[str, Any]) -> None:
        vmax = 0.0 if group["amsgrad"] else None
        params, grads, states, buffers = self._gather(group, exp_avg=0.0, exp_avg_sq=0.0, max_exp_avg_sq=vmax)
        adam(params, grads, *buffers, [st["step"] for st in states], **_options(group, adam))


@_with_rule(adamw)
class AdamW(Adam):
    r"""Adam with decoupled weight decay (Adam's update rule is ``help(gradbox.optim.Adam)``)."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True)


@_with_rule(nadam)
class NAdam(Optimizer):
    r"""NAdam: Adam whose step looks ahead with Nesterov momentum."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(params, _defaults(locals(), "lr", "eps", "betas", "weight_decay", "momentum_decay"))

    def _update(self, group: dict[str, Any]) -> None:
        scalars = {"mu_product": 1.0}
        params, grads, states, buffers = self._gather(group, scalars=scalars, exp_avg=0.0, exp_avg_sq=0.0)
        mu_products = [st["mu_product"] for st in states]
        nadam(params, grads, *buffers, mu_products, [st["step"] for st in states], **_options(group, nadam))
        for st, prod in zip(states, mu_products):
            st["mu_product"] = prod
