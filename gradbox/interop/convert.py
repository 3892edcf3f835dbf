"""Module trees between gradbox and PyTorch: the same classes, arguments, names and weights.

Each module converts by its class:

* a built-in layer (``gb.nn.Conv2d`` <-> ``torch.nn.Conv2d``, containers included) is built
  with the other framework's own constructor, its arguments read from the layer's attributes
  (both frameworks keep them under the constructor's names), then given the same parameters
  and buffers;
* a zoo class (``ResNet``, ``BasicBlock``, ...) becomes its twin (``torch_models.py``): the
  same class name, attributes and children, and a forward written in the other framework;
* anything else raises, naming the module: a custom module is written once in PyTorch style
  and built under either import (README, "The way out").
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradbox import nn as gnn
from gradbox.tensor import Tensor

_SKIP_ARGS = {"self", "device", "dtype", "size_average", "reduce", "_weight", "_freeze", "min_value", "max_value"}
# constructor arguments that both frameworks keep under another attribute name
_ATTRIBUTE_OF = {("PairwiseDistance", "p"): "norm"}
# built-in layers whose children are the constructor's arguments (the others build their own)
_CONTAINERS = {"Sequential", "ModuleList", "ModuleDict"}


@dataclass
class Side:
    """What conversion needs to know about one framework."""

    name: str
    module_cls: type
    builtins: dict[str, type]  # class name -> the library's own layer class
    twins: dict[type, type]  # this side's zoo classes -> the other side's twins
    internals: frozenset[str]  # a Module's own bookkeeping attributes
    is_tensor: Callable[[Any], bool]
    array: Callable[[Any], np.ndarray]
    parameter: Callable[[np.ndarray, bool], Any]
    buffer: Callable[[np.ndarray], Any]


def gradbox_side(twins: dict[type, type]) -> Side:
    builtins = {
        k: v for k, v in vars(gnn).items() if isinstance(v, type) and issubclass(v, gnn.Module) and v is not gnn.Module
    }
    return Side(
        "gradbox",
        gnn.Module,
        builtins,
        twins,
        frozenset(gnn.Module().__dict__),
        lambda x: isinstance(x, Tensor),
        lambda t: t._data,
        lambda a, rg: gnn.Parameter(Tensor._wrap(a), requires_grad=rg),
        Tensor._wrap,
    )


def torch_side(torch: Any, twins: dict[type, type]) -> Side:
    builtins = {
        k: v
        for k, v in vars(torch.nn).items()
        if isinstance(v, type) and issubclass(v, torch.nn.Module) and v is not torch.nn.Module
    }

    def array(t) -> np.ndarray:
        try:
            return t.detach().cpu().numpy()
        except TypeError as e:  # bfloat16 and other types NumPy lacks
            raise TypeError(f"a tensor of dtype {t.dtype} has no NumPy (gradbox) counterpart: {e}") from None

    return Side(
        "PyTorch",
        torch.nn.Module,
        builtins,
        twins,
        frozenset(torch.nn.Module().__dict__),
        lambda x: isinstance(x, torch.Tensor),
        array,
        lambda a, rg: torch.nn.Parameter(torch.from_numpy(a), requires_grad=rg),
        torch.from_numpy,
    )


def convert(module: Any, src: Side, dst: Side, path: str = "") -> Any:
    """``module`` (of framework ``src``) as a module of framework ``dst``."""
    cls = type(module)
    where = f"module {path!r}" if path else "the model"
    if cls in src.twins:
        out = _shell(src.twins[cls], dst)
        for k, v in vars(module).items():
            if k not in src.internals:
                out.__dict__[k] = _value(v, src, dst)
    elif src.builtins.get(cls.__name__) is cls and cls.__name__ in dst.builtins:
        out = _build(dst.builtins[cls.__name__], module, src, dst, where)
    else:
        raise TypeError(
            f"{where} is a {cls.__module__}.{cls.__qualname__}, which has no {dst.name} counterpart: gradbox's built-in "
            "layers and zoo models convert; write your own module once in PyTorch style, build it under either "
            "framework and pass the weights through safetensors (README: 'The way out')"
        )
    built_in = cls.__name__ not in _CONTAINERS and cls not in src.twins
    for k, child in module._modules.items():
        if built_in and k not in out._modules:
            continue  # a layer's own helper (PyTorch's TripletMarginWithDistanceLoss.distance_function)
        out._modules[k] = None if child is None else convert(child, src, dst, f"{path}.{k}" if path else k)
    _copy_tensors(module, out, src, dst, where)
    out.training = module.training
    return out


def _shell(cls: type, dst: Side) -> Any:
    """An instance of ``cls`` with only the base Module initialised (attributes come from the source)."""
    obj = cls.__new__(cls)
    dst.module_cls.__init__(obj)
    return obj


def _value(v: Any, src: Side, dst: Side) -> Any:
    if src.is_tensor(v):
        return dst.buffer(np.array(src.array(v)))
    if isinstance(v, list | tuple) and any(src.is_tensor(x) for x in v):
        return type(v)(_value(x, src, dst) for x in v)
    return v


def _source_attr(module: Any, name: str) -> tuple[bool, Any]:
    for store in (vars(module), module._parameters, module._buffers):
        if name in store:
            return True, store[name]
    return False, None


def _build(cls: type, module: Any, src: Side, dst: Side, where: str) -> Any:
    """``cls(...)`` with the arguments read from ``module``'s attributes of the same names."""
    kwargs: dict[str, Any] = {}
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name in _SKIP_ARGS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        found, v = _source_attr(module, _ATTRIBUTE_OF.get((cls.__name__, p.name), p.name))
        if not found:
            if p.default is p.empty:
                raise TypeError(f"{where}: {type(module).__name__} has no attribute {p.name!r} to build {cls.__name__}")
            continue
        if isinstance(p.default, bool) and (v is None or src.is_tensor(v)):
            v = v is not None  # bias=True/False from the bias parameter
        kwargs[p.name] = _value(v, src, dst)
    if "device" in inspect.signature(cls.__init__).parameters and dst.name == "PyTorch":
        kwargs["device"] = "meta"  # no memory, no initialisation: every tensor is replaced by the source's
    return cls(**kwargs)


def _copy_tensors(module: Any, out: Any, src: Side, dst: Side, where: str) -> None:
    if type(out) in dst.builtins.values():
        for store in ("_parameters", "_buffers"):
            mine = {k for k, v in getattr(module, store).items() if v is not None}
            theirs = {k for k, v in getattr(out, store).items() if v is not None}
            if theirs - mine:  # (extra ones the user registered on the source are copied below)
                raise TypeError(
                    f"{where}: {type(module).__name__} has {store[1:]} {sorted(mine)}, "
                    f"its {dst.name} counterpart {sorted(theirs)}"
                )
    for k, p in module._parameters.items():
        out._parameters[k] = None if p is None else dst.parameter(np.array(src.array(p)), bool(p.requires_grad))
    persistent = _persistent(module, src)
    for k, b in module._buffers.items():
        if b is None:
            out._buffers[k] = None
            continue
        out._buffers[k] = dst.buffer(np.array(src.array(b)))
        _set_persistent(out, k, k in persistent, dst)


def _persistent(module: Any, side: Side) -> set[str]:
    hidden = getattr(module, "_non_persistent", None)
    if hidden is None:
        hidden = getattr(module, "_non_persistent_buffers_set", set())
    return set(module._buffers) - set(hidden)


def _set_persistent(module: Any, name: str, persistent: bool, side: Side) -> None:
    store = "_non_persistent" if side.name == "gradbox" else "_non_persistent_buffers_set"
    hidden = module.__dict__[store]
    if persistent:
        hidden.discard(name)
    else:
        hidden.add(name)
