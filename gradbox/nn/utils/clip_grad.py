"""Gradient clipping, in place on ``p.grad``."""

from __future__ import annotations

import numpy as np

from gradbox.tensor import Tensor


def _grads(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(
    parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None
) -> Tensor:
    """Scale all gradients by min(1, max_norm / (||g||_p + 1e-6)), ||g|| the norm of all of them
    together; returns that total norm."""
    grads = _grads(parameters)
    if not grads:
        return Tensor._wrap(np.zeros((), dtype=np.float32))
    norm_type = float(norm_type)
    if norm_type == np.inf:
        total = max(float(np.abs(g._data).max()) for g in grads)
    else:
        total = float(
            sum(float((np.abs(g._data.astype(np.float64)) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type)
        )
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be clipped"
        )
    coef = min(1.0, max_norm / (total + 1e-6))
    if coef < 1.0:
        for g in grads:
            g._data *= g._data.dtype.type(coef)
    return Tensor._wrap(np.asarray(total, dtype=grads[0]._data.dtype))


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value]."""
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)
