"""Reverse-mode automatic differentiation: ``backward``, ``grad``, grad modes, checks."""

from __future__ import annotations

from gradbox.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from gradbox.autograd.custom import Function, FunctionCtx
from gradbox.autograd.engine import backward, grad
from gradbox.autograd.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from gradbox.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "set_detect_anomaly",
    "set_grad_enabled",
]
