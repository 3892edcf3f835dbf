"""Recording one forward pass as a list of op applications, for export.

``record(model, inputs, module_maps)`` runs ``model(*inputs)`` under ``no_grad`` with a tracer
(``gradbox.autograd.function.tracing``) and forward hooks on every submodule. Every tensor the
ops see becomes a :class:`Value`: a graph input, a parameter or buffer (named as in
``state_dict``), a constant made inside the forward, or the output of a recorded :class:`Node`.
Each node remembers the module that called it, so errors can name it.

Tensors are followed by identity and version: an in-place op (``relu_``, ``x += y``,
``ReLU(inplace=True)``) computes its out-of-place op, then copies the result into the tensor
and bumps its version; when a tensor is used again at a newer version, it is rebound to the
value of the op whose result it now holds.

A module whose class has a module-level mapping (batch norm in eval mode) is recorded as one
node; the ops inside it are not. So is a call of a ``gradbox.nn.functional`` function that has a
function-level mapping (``F.celu``, ``F.normalize``, ...): while recording, the function is
replaced, in ``gradbox.nn.functional`` and in the module that defines it, by a wrapper that
records the call (its tensor arguments as inputs, the others as params) as a node ``F.<name>``.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradbox.autograd.function import tracing
from gradbox.autograd.grad_mode import no_grad
from gradbox.nn import Module, functional
from gradbox.tensor import Tensor

TENSOR_ARGS = "_tensor_args"  # a whole functional call's params: the names of its tensor arguments, in input order


class ExportError(RuntimeError):
    """The model cannot be exported as it is; the message names the op and the module."""


class ForwardError(Exception):
    """The model's forward raised ``error`` while being recorded, in module ``where``."""

    def __init__(self, where: str, error: Exception) -> None:
        super().__init__(f"{where}: {type(error).__name__}: {error}")
        self.where, self.error = where, error


@dataclass
class Value:
    kind: str  # "input", "param", "const" or "op"
    shape: tuple[int, ...]
    dtype: np.dtype
    name: str = ""  # the input's or the parameter's name
    data: np.ndarray | None = None  # params and constants: the values
    node: int = -1  # for "op": the producing node


@dataclass
class Node:
    op: str  # the op class name, the module class name for a module-level node, or F.<name> for a function
    inputs: list[int]  # value indices
    params: dict[str, Any]
    output: int
    module: str  # qualified name of the calling module ("" for the model itself)
    module_type: str
    module_obj: Module | None = None  # for module-level nodes
    linked: dict[int, int] = field(default_factory=dict)  # id(array in params) -> value index


def version(t: Tensor) -> int:
    return t._vc[0] if t._vc is not None else 0


def arrays_in(obj: Any) -> list[np.ndarray]:
    """The ndarrays inside an op's params (index tuples, masks)."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, tuple | list):
        return [a for o in obj for a in arrays_in(o)]
    if isinstance(obj, dict):
        return [a for o in obj.values() for a in arrays_in(o)]
    return []


class Recording:
    """The values and nodes of one forward pass."""

    def __init__(self, model: Module, names: dict[int, str]) -> None:
        self.model = model
        self.names = names  # id(parameter or buffer) -> state_dict name
        self.values: list[Value] = []
        self.nodes: list[Node] = []
        self.outputs: list[int] = []
        self._bound: dict[int, tuple[Tensor, int, int, int]] = {}  # id -> (tensor, version, value, node count)
        self._by_array: dict[int, int] = {}  # id(t._data) -> value, for arrays an op receives as a param
        self._keep: list[Any] = []  # every tensor seen stays alive, so ids are never reused
        self._tensor_of: dict[int, Tensor] = {}  # op-output value -> its tensor
        self.stack: list[tuple[str, Module]] = []
        self.hidden = 0  # > 0 inside a module recorded as one node
        self.pending: list[list[int]] = []  # inputs of the module being recorded as one node

    # ---- values -------------------------------------------------------------------------
    def _new(self, t: Tensor, value: Value) -> int:
        self.values.append(value)
        v = len(self.values) - 1
        self._bind(t, v)
        return v

    def _bind(self, t: Tensor, v: int) -> None:
        self._keep.append((t, t._data))
        self._bound[id(t)] = (t, version(t), v, len(self.nodes))
        self._by_array[id(t._data)] = v

    def add_input(self, t: Tensor, name: str) -> int:
        return self._new(t, Value("input", tuple(t._data.shape), t._data.dtype, name=name))

    def value_of(self, t: Tensor) -> int:
        rec = self._bound.get(id(t))
        if rec is not None and rec[0] is t:
            if rec[1] == version(t):
                return rec[2]
            v = self._inplace_result(t, rec[3])
            self._bind(t, v)
            return v
        a = t._data
        name = self.names.get(id(t))
        if name is not None:
            return self._new(t, Value("param", tuple(a.shape), a.dtype, name=name, data=a))
        return self._new(t, Value("const", tuple(a.shape), a.dtype, data=np.array(a)))

    def _inplace_result(self, t: Tensor, since: int) -> int:
        """The value whose result an in-place op copied into ``t``: the latest op output, recorded
        after ``t`` was bound, holding exactly ``t``'s data."""
        a = t._data
        for node in reversed(self.nodes[since:]):
            out = self._tensor_of.get(node.output)
            if out is not None and out._data.shape == a.shape and out._data.dtype == a.dtype:
                if np.array_equal(out._data, a, equal_nan=a.dtype.kind == "f"):
                    return node.output
        raise ExportError(
            f"a tensor of shape {tuple(a.shape)} was changed in place by code outside gradbox's ops "
            f"(in {self.where()}); it cannot be exported: use an out-of-place op"
        )

    # ---- the module stack ---------------------------------------------------------------
    def where(self) -> str:
        name, mod = self.stack[-1] if self.stack else ("", self.model)
        return f"module {name or '(the model)'!r} of type {type(mod).__name__}"

    def current(self) -> tuple[str, str]:
        name, mod = self.stack[-1] if self.stack else ("", self.model)
        return name, type(mod).__name__

    # ---- recording ----------------------------------------------------------------------
    def on_op(self, cls: type, inputs: tuple, params: dict, out: Tensor) -> None:
        if self.hidden:
            return
        ins = [self.value_of(t) for t in inputs]
        linked = {id(a): self._by_array[id(a)] for a in arrays_in(params) if id(a) in self._by_array}
        self._add_node(cls.__name__, ins, dict(params), out, linked=linked)

    def _add_node(self, op: str, ins: list[int], params: dict, out: Tensor, module_obj=None, linked=None) -> None:
        name, typ = self.current()
        v = len(self.values)
        self.values.append(Value("op", tuple(out._data.shape), out._data.dtype, node=len(self.nodes)))
        self.nodes.append(Node(op, ins, params, v, name, typ, module_obj, linked or {}))
        self._tensor_of[v] = out
        self._bind(out, v)

    def record_module(self, module: Module, ins: list[int], out: Tensor) -> None:
        self._add_node(type(module).__name__, ins, {}, out, module_obj=module)

    def set_outputs(self, out: Any) -> None:
        flat = flatten_outputs(out)
        self.outputs = [self.value_of(t) for t in flat]


def flatten_outputs(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, tuple | list):
        return [t for o in out for t in flatten_outputs(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in flatten_outputs(o)]
    raise ExportError(
        f"the model returned a {type(out).__name__}; export needs tensors (or tuples, lists, dicts of them)"
    )


def record(
    model: Module,
    inputs: list[Tensor],
    input_names: list[str],
    module_maps: dict[str, Callable[[Module], bool]],
    function_maps: dict[str, Callable[[dict], bool]] | None = None,
) -> Recording:
    """Run ``model(*inputs)`` once and record it. ``module_maps``: module class name -> a
    predicate saying whether that module instance is recorded as one node; ``function_maps``:
    the same for a call of a ``gradbox.nn.functional`` function (given its arguments by name)."""
    names = {id(t): k for k, t in model.state_dict(keep_vars=True).items()}
    for k, t in list(model.named_parameters()) + list(model.named_buffers()):
        names.setdefault(id(t), k)
    rec = Recording(model, names)
    for t, name in zip(inputs, input_names):
        rec.add_input(t, name)
    handles = []
    for qual, mod in model.named_modules():
        whole = type(mod).__name__ in module_maps and module_maps[type(mod).__name__](mod)
        handles.append(mod.register_forward_pre_hook(_pre_hook(rec, qual, whole)))
        handles.append(mod.register_forward_hook(_post_hook(rec, whole)))
    patches = _patch_functions(rec, function_maps or {})
    try:
        with no_grad(), tracing(rec.on_op):
            try:
                out = model(*inputs)
            except ExportError:
                raise
            except Exception as e:
                raise ForwardError(rec.where(), e) from e
        rec.set_outputs(out)
    finally:
        for h in handles:
            h.remove()
        for mod, name, orig in reversed(patches):
            setattr(mod, name, orig)
    return rec


def _patch_functions(rec: Recording, function_maps: dict[str, Callable[[dict], bool]]) -> list[tuple[Any, str, Any]]:
    patches = []
    for name, when in function_maps.items():
        orig = getattr(functional, name)
        wrapper = _function_hook(rec, name, orig, when)
        for mod in (functional, sys.modules.get(orig.__module__)):
            if mod is not None and getattr(mod, name, None) is orig:
                patches.append((mod, name, orig))
                setattr(mod, name, wrapper)
    return patches


def _function_hook(rec: Recording, name: str, orig: Callable, when: Callable[[dict], bool]) -> Callable:
    sig = inspect.signature(orig)
    owner = threading.get_ident()

    @functools.wraps(orig)
    def wrapper(*args, **kwargs):
        if rec.hidden or threading.get_ident() != owner:
            return orig(*args, **kwargs)
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            return orig(*args, **kwargs)  # (its own error)
        bound.apply_defaults()
        call = dict(bound.arguments)
        if not when(call):
            return orig(*args, **kwargs)
        tensors = [k for k, v in call.items() if isinstance(v, Tensor)]
        ins = [rec.value_of(call[k]) for k in tensors]
        rec.hidden += 1
        try:
            out = orig(*args, **kwargs)
        finally:
            rec.hidden -= 1
        if not isinstance(out, Tensor):
            why = (
                " (return_indices=True: the indices are computed outside the graph)"
                if call.get("return_indices")
                else ""
            )
            raise ExportError(
                f"F.{name} (called from {rec.where()}) returned a {type(out).__name__}{why}; only a tensor result "
                "can be exported"
            )
        params = {k: v for k, v in call.items() if k not in tensors}
        params[TENSOR_ARGS] = tuple(tensors)
        rec._add_node(f"F.{name}", ins, params, out)
        return out

    return wrapper


def _pre_hook(rec: Recording, qual: str, whole: bool):
    def hook(module, args):
        if whole and not rec.hidden:
            rec.pending.append([rec.value_of(a) for a in args if isinstance(a, Tensor)])
        rec.stack.append((qual, module))
        if whole:
            rec.hidden += 1

    return hook


def _post_hook(rec: Recording, whole: bool):
    def hook(module, args, out):
        if whole:
            rec.hidden -= 1
            if not rec.hidden:
                rec.record_module(module, rec.pending.pop(), out)
        rec.stack.pop()

    return hook
