"""Numeric limits of dtypes and the thread count, with PyTorch's names."""

from __future__ import annotations

import numpy as np

from gradbox import _dtype
from gradbox.ops import _parallel


def finfo(dtype=None) -> np.finfo:
    """Limits of a floating point dtype (``eps``, ``max``, ``min``, ``tiny``, ``bits``, ...)."""
    npd = _dtype.to_numpy_dtype(dtype if dtype is not None else _dtype.get_default_dtype())
    if npd.kind != "f":
        raise TypeError(f"finfo: expected a floating point dtype, got {dtype!r}")
    return np.finfo(npd)


def iinfo(dtype) -> np.iinfo:
    """Limits of an integer dtype (``max``, ``min``, ``bits``)."""
    npd = _dtype.to_numpy_dtype(dtype)
    if npd.kind not in "iu":
        raise TypeError(f"iinfo: expected an integer dtype, got {dtype!r}")
    return np.iinfo(npd)


def set_num_threads(n: int) -> None:
    """Threads for intra-op parallelism: the blocks a large op is split into, each with a
    single-threaded BLAS product (gradbox/ops/_parallel.py). The default is the number of CPUs
    (or ``GRADBOX_THREADS``)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    _parallel.set_threads(n)


def get_num_threads() -> int:
    return _parallel.threads
