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


def run(model: str | os.PathLike | bytes | Any, *inputs: Any) -> list[np.ndarray]:
    """The model's outputs for ``inputs`` (tensors or arrays, in the graph's input order)."""
    sess = model if hasattr(model, "get_inputs") else session(model)
    names = [i.name for i in sess.get_inputs()]
    if len(names) != len(inputs):
        raise ValueError(f"the ONNX model takes {len(names)} inputs ({', '.join(names)}), got {len(inputs)}")
    feed = {n: (x._data if isinstance(x, Tensor) else np.asarray(x)) for n, x in zip(names, inputs)}
    return sess.run(None, feed)


def metadata(model: str | os.PathLike) -> dict[str, str]:
    """The model's metadata_props (what ``export(..., metadata=...)`` stored)."""
    onnx = require("onnx", "reading an ONNX model")
    proto = onnx.load(os.fspath(model), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}
