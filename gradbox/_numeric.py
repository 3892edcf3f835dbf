"""Numeric limits of dtypes and the thread count, with PyTorch's names."""

from __future__ import annotations

import os

import numpy as np

from gradbox import _dtype

_threads = [os.cpu_count() or 1]


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
    """Threads for matrix products (NumPy's BLAS), through threadpoolctl when it is installed;
    elsewhere set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS before starting Python."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    try:
        from threadpoolctl import threadpool_limits  # optional: deferred, and absent without scikit-learn
    except ImportError:
        pass
    else:
        threadpool_limits(n)
    _threads[0] = n


def get_num_threads() -> int:
    return _threads[0]
