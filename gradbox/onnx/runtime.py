"""Running an exported model with ONNX Runtime (CPU)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from gradbox.interop.extras import require
from gradbox.tensor import Tensor


def session(model: str | os.PathLike | bytes) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU for a model file (or its bytes)."""
    ort = require("onnxruntime", "running an ONNX model")
    src = model if isinstance(model, bytes) else os.fspath(model)
    return ort.InferenceSession(src, providers=["CPUExecutionProvider"])


# ONNX Runtime's type names -> NumPy dtypes
_ORT_TYPES = {
    f"tensor({k})": np.dtype(v)
    for k, v in {
        "float": "float32", "double": "float64", "float16": "float16", "int64": "int64", "int32": "int32",
        "int16": "int16", "int8": "int8", "uint8": "uint8", "uint16": "uint16", "uint32": "uint32",
        "uint64": "uint64", "bool": "bool",
    }.items()
}  # fmt: skip


def _check(arg: Any, x: np.ndarray) -> None:
    """``x`` fits graph input ``arg`` (dtype, rank and fixed dims), else a ValueError naming both."""
    want = _ORT_TYPES.get(arg.type)
    dims = list(arg.shape) if arg.shape is not None else None
    fits_dims = dims is None or (
        len(dims) == x.ndim and all(not isinstance(d, int) or d == s for d, s in zip(dims, x.shape))
    )
    if (want is not None and x.dtype != want) or not fits_dims:
        shape = "?" if dims is None else "(" + ", ".join(str(d) if d is not None else "?" for d in dims) + ")"
        raise ValueError(
            f"gb.onnx.run: input {arg.name!r} of the ONNX model takes {want or arg.type} of shape {shape}, "
            f"got {x.dtype} of shape {tuple(x.shape)}"
        )


def run(model: str | os.PathLike | bytes | Any, *inputs: Any) -> list[np.ndarray]:
    """The model's outputs for ``inputs`` (tensors or arrays, in the graph's input order). An input
    of another dtype or shape than the graph's raises a ValueError naming both."""
    sess = model if hasattr(model, "get_inputs") else session(model)
    args = sess.get_inputs()
    if len(args) != len(inputs):
        names = ", ".join(a.name for a in args)
        raise ValueError(f"gb.onnx.run: the ONNX model takes {len(args)} inputs ({names}), got {len(inputs)}")
    feed = {}
    for arg, x in zip(args, inputs):
        a = x._data if isinstance(x, Tensor) else np.asarray(x)
        _check(arg, a)
        feed[arg.name] = a
    return sess.run(None, feed)


def metadata(model: str | os.PathLike) -> dict[str, str]:
    """The model's metadata_props (what ``export(..., metadata=...)`` stored)."""
    onnx = require("onnx", "reading an ONNX model")
    proto = onnx.load(os.fspath(model), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}
