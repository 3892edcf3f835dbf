"""RMSprop, Adagrad and Adadelta: per-coordinate step sizes from squared-gradient statistics."""

from __future__ import annotations

import numpy as np

from gradbox.optim.optimizer import Optimizer
from gradbox.tensor import Tensor


def _state(opt: Optimizer, p: Tensor, **init) -> dict:
    st = opt.state.setdefault(p, {})
    if not st:
        st["step"] = 0
        for k, v in init.items():
            st[k] = Tensor._wrap(np.full_like(p._data, v))
    st["step"] += 1
    return st


def _nonneg(**values) -> None:
    for name, v in values.items():
        if v < 0.0:
            raise ValueError(f"Invalid learning rate: {v}" if name == "lr" else f"Invalid {name} value: {v}")


class RMSprop(Optimizer):
    r"""RMSprop (Hinton 2012). With g = grad (+ weight_decay * theta):

    s <- alpha s + (1 - alpha) g^2;   centered: gbar <- alpha gbar + (1 - alpha) g, s~ = s - gbar^2
    d = g / (sqrt(s or s~) + eps);   momentum b: buf <- b buf + d, theta <- theta - lr buf
    otherwise theta <- theta - lr d
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        capturable: bool = False,
        foreach=None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _nonneg(lr=lr, epsilon=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, alpha, eps, wd, mom = (
                group["lr"],
                group["alpha"],
                group["eps"],
                group["weight_decay"],
                group["momentum"],
            )
            for p, g in self._params_with_grad(group):
                init = {"square_avg": 0.0}
                if mom > 0:
                    init["momentum_buffer"] = 0.0
                if group["centered"]:
                    init["grad_avg"] = 0.0
                st = _state(self, p, **init)
                theta = p._data
                if wd:
                    g = g + wd * theta
                s = st["square_avg"]._data
                s *= alpha
                s += (1 - alpha) * g * g
                if group["centered"]:
                    ga = st["grad_avg"]._data
                    ga += (1 - alpha) * (g - ga)
                    avg = np.sqrt(s - ga * ga)
                else:
                    avg = np.sqrt(s)
                avg += eps
                if mom > 0:
                    buf = st["momentum_buffer"]._data
                    buf *= mom
                    buf += g / avg
                    theta -= lr * buf
                else:
                    theta -= lr * (g / avg)
        return loss


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al. 2011). With g = grad (+ weight_decay * theta) at step t:

    S <- S + g^2;   theta <- theta - lr / (1 + (t - 1) lr_decay) * g / (sqrt(S) + eps)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        foreach=None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused=None,
    ) -> None:
        _nonneg(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            epsilon=eps,
        )
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, decay, eps, wd = group["lr"], group["lr_decay"], group["eps"], group["weight_decay"]
            for p, g in self._params_with_grad(group):
                st = _state(self, p, sum=float(group["initial_accumulator_value"]))
                theta = p._data
                if wd:
                    g = g + wd * theta
                clr = lr / (1 + (st["step"] - 1) * decay)
                acc = st["sum"]._data
                acc += g * g
                theta -= clr * (g / (np.sqrt(acc) + eps))
        return loss


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012). With g = grad (+ weight_decay * theta):

    E[g^2] <- rho E[g^2] + (1 - rho) g^2
    dx = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g
    E[dx^2] <- rho E[dx^2] + (1 - rho) dx^2;   theta <- theta - lr dx
    """

    def __init__(
        self,
        params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        foreach=None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _nonneg(lr=lr, epsilon=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, rho, eps, wd = group["lr"], group["rho"], group["eps"], group["weight_decay"]
            for p, g in self._params_with_grad(group):
                st = _state(self, p, square_avg=0.0, acc_delta=0.0)
                theta = p._data
                if wd:
                    g = g + wd * theta
                sq, acc = st["square_avg"]._data, st["acc_delta"]._data
                sq *= rho
                sq += (1 - rho) * g * g
                delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * g
                acc *= rho
                acc += (1 - rho) * delta * delta
                theta -= lr * delta
        return loss
