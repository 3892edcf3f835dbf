"""Switches for graph recording: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

Each works as a context manager and as a decorator, as in PyTorch. As in PyTorch the mode
belongs to a thread: ``no_grad`` in a background thread (an evaluation loop, say) leaves
recording on in the others, and every new thread starts with recording on. Every op reads the
mode, so the read is one attribute lookup on a ``threading.local`` whose class attribute holds
the default (38 ns a read, against 9 for a module global: ~3 us a LeNet-5 step).
"""

from __future__ import annotations

import contextlib
import threading


class _Mode(threading.local):
    enabled = True  # the default of every thread (a class attribute: no per-thread setup)


_state = _Mode()


def is_grad_enabled() -> bool:
    return _state.enabled


def set_enabled(mode: bool) -> None:
    """Set this thread's mode (the engine switches it for a backward pass)."""
    _state.enabled = mode


class _GradMode(contextlib.ContextDecorator):
    _mode: bool

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = self._mode
        return self

    def __exit__(self, *exc) -> bool:
        _state.enabled = self._prev
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
        self._prev = _state.enabled
        _state.enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        _state.enabled = self._prev
        return False


class inference_mode(no_grad):  # noqa: N801
    """Alias of ``no_grad`` (gradbox has no separate inference tensors)."""

    def __init__(self, mode: bool = True) -> None:
        self._mode = not mode
