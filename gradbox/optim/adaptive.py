"""RMSprop, Adagrad and Adadelta: per-coordinate step sizes from squared-gradient statistics.
The update functions ``rmsprop``, ``adagrad`` and ``adadelta`` and the classes that keep their state."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradbox.optim.optimizer import Optimizer, ParamsT, _defaults, _grad, _options, _with_rule


def rmsprop(
    params: list[np.ndarray],
    grads: list[np.ndarray],
    square_avgs: list[np.ndarray],
    momentum_buffers: list[np.ndarray],
    grad_avgs: list[np.ndarray],
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> None:
    r"""RMSprop (Hinton 2012). With g = grad (-grad if maximize) + weight_decay * theta:

    s <- alpha s + (1 - alpha) g^2;   centered: gbar <- alpha gbar + (1 - alpha) g, s~ = s - gbar^2
    d = g / (sqrt(s or s~) + eps);   momentum b: buf <- b buf + d, theta <- theta - lr buf
    otherwise theta <- theta - lr d

    One entry per parameter in each list (``momentum_buffers`` only used with momentum > 0,
    ``grad_avgs`` only if centered: otherwise they may be empty), all updated in place.
    """
    for i, (theta, g, s) in enumerate(zip(params, grads, square_avgs)):
        g = _grad(theta, g, weight_decay, maximize)
        s *= alpha
        s += (1 - alpha) * g * g
        if centered:
            ga = grad_avgs[i]
            ga += (1 - alpha) * (g - ga)
            avg = np.sqrt(s - ga * ga)
        else:
            avg = np.sqrt(s)
        avg += eps
        if momentum > 0:
            buf = momentum_buffers[i]
            buf *= momentum
            buf += g / avg
            theta -= lr * buf
        else:
            theta -= lr * (g / avg)


def adagrad(
    params: list[np.ndarray],
    grads: list[np.ndarray],
    state_sums: list[np.ndarray],
    steps: list[int],
    *,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
) -> None:
    r"""Adagrad (Duchi et al. 2011). With g = grad (-grad if maximize) + weight_decay * theta at step t:

    S <- S + g^2;   theta <- theta - lr / (1 + (t - 1) lr_decay) * g / (sqrt(S) + eps)

    One entry per parameter in each list; ``steps`` holds each one's t (1 on its first
    update). ``params`` and the sums S are updated in place.
    """
    for theta, g, acc, t in zip(params, grads, state_sums, steps):
        g = _grad(theta, g, weight_decay, maximize)
        clr = lr / (1 + (t - 1) * lr_decay)
        acc += g * g
        theta -= clr * (g / (np.sqrt(acc) + eps))


def adadelta(
    params: list[np.ndarray],
    grads: list[np.ndarray],
    square_avgs: list[np.ndarray],
    acc_deltas: list[np.ndarray],
    *,
    lr: float,
    rho: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    r"""Adadelta (Zeiler 2012). With g = grad (-grad if maximize) + weight_decay * theta:

    E[g^2] <- rho E[g^2] + (1 - rho) g^2
    dx = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g
    E[dx^2] <- rho E[dx^2] + (1 - rho) dx^2;   theta <- theta - lr dx

    One entry per parameter in each list (E[g^2] in ``square_avgs``, E[dx^2] in
    ``acc_deltas``), all updated in place.
    """
    for theta, g, sq, acc in zip(params, grads, square_avgs, acc_deltas):
        g = _grad(theta, g, weight_decay, maximize)
        sq *= rho
        sq += (1 - rho) * g * g
        delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * g
        acc *= rho
        acc += (1 - rho) * delta * delta
        theta -= lr * delta


@_with_rule(rmsprop)
class RMSprop(Optimizer):
    r"""RMSprop: steps scaled by a running root mean square of the gradient."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(params, _defaults(locals(), "lr", "eps", "momentum", "weight_decay", "alpha"))

    def _update(self, group: dict[str, Any]) -> None:
        momentum_buffer = 0.0 if group["momentum"] > 0 else None
        grad_avg = 0.0 if group["centered"] else None
        params, grads, _, buffers = self._gather(
            group, square_avg=0.0, momentum_buffer=momentum_buffer, grad_avg=grad_avg
        )
        rmsprop(params, grads, *buffers, **_options(group, rmsprop))


@_with_rule(adagrad)
class Adagrad(Optimizer):
    r"""Adagrad: per-coordinate learning rates that shrink with the sum of squared gradients."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params, _defaults(locals(), "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")
        )

    def _update(self, group: dict[str, Any]) -> None:
        params, grads, states, buffers = self._gather(group, sum=float(group["initial_accumulator_value"]))
        adagrad(params, grads, *buffers, [st["step"] for st in states], **_options(group, adagrad))


@_with_rule(adadelta)
class Adadelta(Optimizer):
    r"""Adadelta: steps whose units match the parameters', from running averages of squared
    gradients and squared updates."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(params, _defaults(locals(), "lr", "eps", "weight_decay", "rho"))

    def _update(self, group: dict[str, Any]) -> None:
        params, grads, _, buffers = self._gather(group, square_avg=0.0, acc_delta=0.0)
        adadelta(params, grads, *buffers, **_options(group, adadelta))
