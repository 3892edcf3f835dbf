"""Adam, AdamW and NAdam: moment estimates with bias correction."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from gradbox.optim.optimizer import Optimizer, check_betas
from gradbox.tensor import Tensor


def _zeros_like(p: Tensor) -> Tensor:
    return Tensor._wrap(np.zeros_like(p._data))


def _lerp(m: np.ndarray, g: np.ndarray, w: float) -> None:
    """m <- m + w (g - m) in place (= (1 - w) m + w g), the exponential moving average."""
    m += w * (g - m)


def _moments(opt: Optimizer, p: Tensor, g: np.ndarray, group: dict, **extra_state: Callable[[Tensor], object]):
    """The part Adam and NAdam share: count the step, apply weight decay (decoupled: shrink
    theta; else L2: add lambda theta to g) and update m_t = b1 m + (1 - b1) g,
    v_t = b2 v + (1 - b2) g^2 in place. ``extra_state`` makes further state on the first step.
    Returns (state, step t, g, m_t, v_t)."""
    st = opt.state.setdefault(p, {})
    if not st:
        st["step"] = 0
        st["exp_avg"], st["exp_avg_sq"] = _zeros_like(p), _zeros_like(p)
        st.update({k: make(p) for k, make in extra_state.items()})
    st["step"] += 1
    lr, wd, (b1, b2) = group["lr"], group["weight_decay"], group["betas"]
    if wd:
        if group["decoupled_weight_decay"]:
            p._data *= 1 - lr * wd
        else:
            g = g + wd * p._data
    m, v = st["exp_avg"]._data, st["exp_avg_sq"]._data
    _lerp(m, g, 1 - b1)
    v *= b2
    v += (1 - b2) * g * g
    return st, st["step"], g, m, v


def _check(lr, eps, betas, weight_decay) -> None:
    if lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if eps < 0.0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    check_betas(betas)
    if weight_decay < 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015). With g = grad at step t = 1, 2, ...:

        m_t = b1 m_{t-1} + (1 - b1) g,      v_t = b2 v_{t-1} + (1 - b2) g^2
        theta <- theta - lr / (1 - b1^t) * m_t / (sqrt(v_t) / sqrt(1 - b2^t) + eps)

    (amsgrad: v_t replaced by the running maximum of v_t.)

    weight_decay lambda adds lambda theta to g before the moments: L2 regularisation. Unlike
    in SGD it is *not* weight decay, because the added term is rescaled by 1/sqrt(v) like the
    rest of the gradient, so weights with large gradients are decayed less. AdamW decouples
    it: theta <- theta (1 - lr lambda), then the Adam step on the plain gradient.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        foreach=None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused=None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check(lr, eps, betas, weight_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            extra = {"max_exp_avg_sq": _zeros_like} if group["amsgrad"] else {}
            for p, g in self._params_with_grad(group):
                st, t, g, m, v = _moments(self, p, g, group, **extra)
                step_size = lr / (1 - b1**t)
                bc2_sqrt = math.sqrt(1 - b2**t)
                if group["amsgrad"]:
                    vmax = st["max_exp_avg_sq"]._data
                    np.maximum(vmax, v, out=vmax)
                    denom = np.sqrt(vmax) / bc2_sqrt + eps
                else:
                    denom = np.sqrt(v) / bc2_sqrt + eps
                p._data -= step_size * (m / denom)
        return loss


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019):

    theta <- theta (1 - lr lambda),  then the Adam step on the gradient of the loss alone.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach=None,
        capturable: bool = False,
        differentiable: bool = False,
        fused=None,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True)


class NAdam(Optimizer):
    r"""Adam with Nesterov momentum (Dozat 2016). With momentum schedule
    mu_t = b1 (1 - 0.5 * 0.96^(t psi)) (psi the momentum_decay) and prod_t = mu_1 ... mu_t:

        m_t = b1 m + (1 - b1) g,   v_t = b2 v + (1 - b2) g^2,   d = sqrt(v_t / (1 - b2^t)) + eps
        theta <- theta - lr (1 - mu_t) / (1 - prod_t) * g / d - lr mu_{t+1} / (1 - prod_t mu_{t+1}) * m_t / d
    """

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach=None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check(lr, eps, betas, weight_decay)
        if momentum_decay < 0.0:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, (b1, b2), eps, psi = group["lr"], group["betas"], group["eps"], group["momentum_decay"]
            for p, g in self._params_with_grad(group):
                st, t, g, m, v = _moments(self, p, g, group, mu_product=lambda p: 1.0)
                theta = p._data
                mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
                mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
                st["mu_product"] *= mu
                prod = st["mu_product"]
                denom = np.sqrt(v / (1 - b2**t)) + eps
                theta += (-lr * (1.0 - mu) / (1.0 - prod)) * (g / denom)
                theta += (-lr * mu_next / (1.0 - prod * mu_next)) * (m / denom)
        return loss
