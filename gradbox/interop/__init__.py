"""``gb.interop``: the same model in PyTorch, for GPUs, several machines and DDP.

``to_torch(module)`` builds the equivalent ``torch.nn`` module of any tree of gradbox's
built-in layers and zoo models (same class names, arguments, parameter names and weights);
``from_torch(module)`` the reverse; ``torch_model(name, **kwargs)`` a zoo model built directly
in PyTorch. Weights also cross as files: ``gb.save(model.state_dict(), "m.safetensors")`` is
read by ``safetensors.torch.load_file``, and ``gb.load`` reads what
``safetensors.torch.save_file`` wrote. Needs PyTorch (``pip install gradbox[interop]``);
importing this package does not import it.
"""

from __future__ import annotations

import importlib
from typing import Any

from gradbox.interop.convert import convert, gradbox_side, torch_side
from gradbox.interop.extras import require
from gradbox.nn import Module
from gradbox.vision.models import get_model

__all__ = ["from_torch", "to_torch", "torch_model"]


def _sides() -> tuple[Any, Any]:
    torch = require("torch", "gb.interop")
    torch_models = importlib.import_module("gradbox.interop.torch_models")  # on first use: it imports torch

    back = {v: k for k, v in torch_models.TWINS.items()}
    return gradbox_side(torch_models.TWINS), torch_side(torch, back)


def to_torch(module: Module) -> Any:
    """The ``torch.nn.Module`` equivalent of ``module``: same classes, arguments, names, weights,
    dtypes, ``requires_grad`` flags and train/eval mode."""
    g, t = _sides()
    return convert(module, g, t)


def from_torch(module: Any) -> Module:
    """The gradbox equivalent of a ``torch.nn.Module`` tree of built-in layers and zoo twins."""
    g, t = _sides()
    return convert(module, t, g)


def torch_model(name: str, **kwargs: Any) -> Any:
    """Zoo model ``name`` (``gb.vision.models.get_model``'s names and arguments) as a PyTorch module."""
    return to_torch(get_model(name, **kwargs))
