"""Switches for graph recording: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

Each works as a context manager and as a decorator, as in PyTorch. The state is a module
global read on every op, so reading it must stay a plain attribute lookup.
"""

from __future__ import annotations

import contextlib

enabled = True  # read by Function.apply; do not rebind from outside this module


def is_grad_enabled() -> bool:
    return enabled


class _GradMode(contextlib.ContextDecorator):
    _mode: bool

    def __enter__(self):
        global enabled
        self._prev = enabled
        enabled = self._mode
        return self

    def __exit__(self, *exc) -> bool:
        global enabled
        enabled = self._prev
        return False


class no_grad(_GradMode):  # noqa: N801 - PyTorch name
    """Record no graph: results of ops have ``requires_grad=False``."""

    _mode = False


class enable_grad(_GradMode):  # noqa: N801
    """Record the graph again inside a ``no_grad`` region."""

    _mode = True


class set_grad_enabled(contextlib.ContextDecorator):  # noqa: N801
    """``set_grad_enabled(False)`` switches recording off at once; as a context manager it
    restores the previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        global enabled
        self._prev = enabled
        enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        global enabled
        enabled = self._prev
        return False


class inference_mode(no_grad):  # noqa: N801
    """Alias of ``no_grad`` (gradbox has no separate inference tensors)."""

    def __init__(self, mode: bool = True) -> None:
        self._mode = not mode
