"""PyTorch-style printing: ``tensor([1.0000, 2.5000], requires_grad=True)``."""

from __future__ import annotations

import numpy as np

_DEFAULT_DTYPES = {"float32", "int64", "bool"}


def _float_formatter(a: np.ndarray):
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return lambda v: str(v)
    if np.all(finite == np.round(finite)) and np.abs(finite).max(initial=0) < 1e8:
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
    mag = np.abs(finite[finite != 0])
    if mag.size and (mag.max() / mag.min() > 1000 or mag.max() > 1e8 or mag.min() < 1e-4):
        return lambda v: f"{v:.4e}"
    return lambda v: f"{v:.4f}" if np.isfinite(v) else str(v)


def array_body(a: np.ndarray, prefix: str) -> str:
    if a.dtype.kind == "f":
        fmt = {"float_kind": _float_formatter(a)}
    elif a.dtype.kind == "b":
        fmt = {"bool": lambda v: " True" if v else "False"}
    else:
        fmt = None
    if a.ndim == 0:
        return fmt["float_kind"](a.item()) if a.dtype.kind == "f" else (str(a.item()))
    return np.array2string(
        a, separator=", ", prefix=prefix, formatter=fmt, threshold=1000, edgeitems=3, max_line_width=80
    )


def tensor_repr(t) -> str:
    a = t._data
    prefix = "tensor("
    body = array_body(a, prefix)
    extras = []
    if a.size == 0 and a.ndim != 1:
        extras.append(f"size={tuple(a.shape)}")
    if t.dtype.name not in _DEFAULT_DTYPES or (a.dtype.kind == "f" and t.dtype.name != "float32"):
        extras.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn={t.grad_fn!r}")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    tail = "".join(", " + e for e in extras)
    return f"{prefix}{body}{tail})"
