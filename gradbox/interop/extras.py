"""The optional packages of ``pip install gradbox[interop]``, imported only when used."""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA = "interop"
PACKAGES = {"torch": "torch", "onnx": "onnx", "onnxruntime": "onnxruntime", "safetensors": "safetensors"}


def require(module: str, purpose: str) -> ModuleType:
    """``import module``, or an ImportError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        raise ImportError(
            f"{purpose} needs the {PACKAGES.get(top, top)} package, which is not installed ({e}): "
            f"pip install gradbox[{EXTRA}]"
        ) from None
