"""``detect_anomaly``: name the op that first produced a NaN or Inf, forward or backward."""

from __future__ import annotations

import contextlib

import numpy as np

enabled = False  # read by Function.apply and the engine


def _has_nonfinite(a: np.ndarray) -> bool:
    return a.dtype.kind == "f" and not np.isfinite(a).all()


def check_forward(op: str, out: np.ndarray) -> None:
    if _has_nonfinite(out):
        raise RuntimeError(f"detect_anomaly: Function '{op}' produced NaN or Inf in its forward output")


def check_backward(node, i: int, grad: np.ndarray) -> None:
    if _has_nonfinite(grad):
        where = ""
        if node._trace:
            where = "\nThe forward call that created this node:\n" + "".join(node._trace[-6:])
        raise RuntimeError(
            f"detect_anomaly: Function '{node.name}' returned NaN or Inf values in its {i}th output{where}"
        )


class detect_anomaly(contextlib.ContextDecorator):  # noqa: N801 - PyTorch name
    """Check every forward output and every backward gradient for NaN/Inf while active.

    Nodes created inside record the stack of their forward call, which the backward error shows.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self):
        global enabled
        self._prev = enabled
        enabled = self.check_nan
        return self

    def __exit__(self, *exc) -> bool:
        global enabled
        enabled = self._prev
        return False


def set_detect_anomaly(mode: bool) -> None:
    global enabled
    enabled = bool(mode)


def is_anomaly_enabled() -> bool:
    return enabled
