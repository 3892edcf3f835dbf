"""``Module``: the base of every layer, holding parameters, buffers and submodules by name.

Registration happens in ``__setattr__``; names nest with dots (``features.0.weight``) in
``named_parameters()`` and ``state_dict()``, exactly as in PyTorch, so weights move between
the two frameworks by key.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from gradbox import _device, _dtype
from gradbox._inplace import bump_version
from gradbox.nn.parameter import Buffer, Parameter
from gradbox.tensor import Tensor


class _RemovableHandle:
    def __init__(self, hooks: dict, key: int) -> None:
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class IncompatibleKeys(tuple):
    """(missing_keys, unexpected_keys), as ``load_state_dict`` returns in PyTorch."""

    def __new__(cls, missing: list[str], unexpected: list[str]):
        return super().__new__(cls, (missing, unexpected))

    @property
    def missing_keys(self) -> list[str]:
        return self[0]

    @property
    def unexpected_keys(self) -> list[str]:
        return self[1]


_hook_id = iter(range(1 << 62))

# Errors a layer's forward raises get the layer's name, in one place (Module.__call__).
_NAMED_ERRORS = (RuntimeError, ValueError, IndexError, TypeError)
_OP_PREFIX = re.compile(r"[a-z][a-z0-9_]*: ")


def _name_layer(e: BaseException, module: Module) -> BaseException:
    """``e`` with the message prefixed by the module as its repr shows it, once (the innermost
    module that raised). A built-in layer's forward is one functional op, so the op's own
    prefix (``conv2d: ``) gives way to the layer's; a user's module keeps the op's name."""
    if type(e) not in _NAMED_ERRORS or getattr(e, "_gradbox_layer", False) or len(e.args) != 1:
        return e
    msg = str(e.args[0])
    if type(module).__module__.startswith("gradbox."):
        msg = _OP_PREFIX.sub("", msg, count=1) if _OP_PREFIX.match(msg) else msg
    named = type(e)(f"{module._short()}: {msg}").with_traceback(e.__traceback__)
    named._gradbox_layer = True
    return named


class Module:
    """Base class for all layers and models. Subclasses set attributes in ``__init__`` and
    define ``forward``; calling the module runs forward with its hooks."""

    training: bool
    _version = 1

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks.values()):
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        try:
            out = self.forward(*args, **kwargs)
        except _NAMED_ERRORS as e:
            named = _name_layer(e, self)
            if named is e:
                raise
            raise named from None
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                r = hook(self, args, out)
                if r is not None:
                    out = r
        return out

    # ---- registration -----------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            if isinstance(value, Parameter | Module):
                raise AttributeError("cannot assign parameters or modules before Module.__init__() call")
            object.__setattr__(self, name, value)
            return
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        if isinstance(value, Parameter):
            self._drop(name)
            params[name] = value
        elif isinstance(value, Module):
            self._drop(name)
            modules[name] = value
        elif isinstance(value, Buffer):
            self._drop(name)
            self.register_buffer(name, Tensor._wrap(value._data), persistent=value.persistent)
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' (gb.nn.Parameter or None expected)"
                )
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None expected)")
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' (Module or None expected)"
                )
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _drop(self, name: str) -> None:
        d = self.__dict__
        d.pop(name, None)
        for store in (d["_parameters"], d["_buffers"], d["_modules"]):
            store.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if name in d[store]:
                del d[store][name]
                d["_non_persistent"].discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' (gb.nn.Parameter or None required)"
            )
        if "." in name or not name:
            raise KeyError(f'parameter name can\'t contain "." or be empty, got {name!r}')
        self._drop(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor or None required)"
            )
        if "." in name or not name:
            raise KeyError(f'buffer name can\'t contain "." or be empty, got {name!r}')
        self._drop(name)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._drop(name)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        mod = self
        for part in target.split(".") if target else []:
            if part not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no submodule `{part}` (looking up {target!r})")
            mod = mod._modules[part]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter `{name}`")
        return mod._parameters[name]

    # ---- traversal --------------------------------------------------------------------
    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """Every module in the tree (this one first), depth first, each once."""
        memo = set() if memo is None else memo
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if remove_duplicate:
                if id(mod) in memo:
                    continue
                memo.add(id(mod))
            yield name, mod
            children = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for k, v in getattr(mod, store).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield (f"{mod_prefix}.{k}" if mod_prefix else k), v

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and bulk changes -------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad._data[...] = 0

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule (children first) and then on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply_to_tensors(self, convert: Callable[[np.ndarray], np.ndarray]) -> Module:
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p._data = convert(p._data)
                    if p.grad is not None:
                        p.grad._data = convert(p.grad._data)
            for b in m._buffers.values():
                if b is not None:
                    b._data = convert(b._data)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(dtype)`` converts floating point parameters and buffers; devices other than cpu raise."""
        npd = _dtype.parse_to_args(args, kwargs, like=Tensor)
        if npd is None:
            return self
        if npd.kind != "f":
            raise TypeError(f"Module.to only accepts floating point dtypes, got {npd}")
        return self._apply_to_tensors(lambda a: a.astype(npd) if a.dtype.kind == "f" else a)

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def half(self) -> Module:
        return self.to(np.float16)

    def cpu(self) -> Module:
        return self

    def cuda(self, device=None) -> Module:
        _device.check("cuda" if device is None else device, "Module.cuda")
        return self

    def type(self, dst_type) -> Module:
        return self.to(dst_type)

    # ---- hooks ------------------------------------------------------------------------
    def register_forward_hook(self, hook: Callable) -> _RemovableHandle:
        """``hook(module, inputs, output)`` after forward; a returned value replaces the output."""
        k = next(_hook_id)
        self._forward_hooks[k] = hook
        return _RemovableHandle(self._forward_hooks, k)

    def register_forward_pre_hook(self, hook: Callable) -> _RemovableHandle:
        """``hook(module, inputs)`` before forward; a returned value replaces the inputs."""
        k = next(_hook_id)
        self._forward_pre_hooks[k] = hook
        return _RemovableHandle(self._forward_pre_hooks, k)

    # ---- state dict -------------------------------------------------------------------
    def state_dict(self, destination: dict | None = None, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by dotted name (detached unless ``keep_vars``)."""
        out = OrderedDict() if destination is None else destination
        for mod_prefix, mod in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            p = f"{mod_prefix}." if mod_prefix else ""
            for k, v in mod._parameters.items():
                if v is not None:
                    out[p + k] = v if keep_vars else v.detach()
            for k, v in mod._buffers.items():
                if v is not None and k not in mod._non_persistent:
                    out[p + k] = v if keep_vars else v.detach()
        return out

    def load_state_dict(self, state_dict: dict, strict: bool = True, assign: bool = False) -> IncompatibleKeys:
        """Copy values by name. With ``strict`` any missing or unexpected key raises, listing them;
        a shape mismatch always raises, naming the key and both shapes."""
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            src = state_dict[k]
            a = src._data if isinstance(src, Tensor) else np.asarray(src)
            if a.shape != target._data.shape:
                errors.append(
                    f"size mismatch for {k}: copying a param with shape {tuple(a.shape)} from checkpoint, "
                    f"the shape in current model is {tuple(target._data.shape)}."
                )
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for k, target in own.items():
            if k in state_dict:
                src = state_dict[k]
                a = src._data if isinstance(src, Tensor) else np.asarray(src)
                if assign:
                    target._data = np.array(a)
                elif target._data.flags.writeable:
                    np.copyto(target._data, a, casting="unsafe")
                else:
                    target._data = np.array(a, dtype=target._data.dtype)
                bump_version(target)
        return IncompatibleKeys(missing, unexpected)

    # ---- printing ---------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def _short(self) -> str:
        """``Conv2d(3, 64, kernel_size=(3, 3))``: how errors name this layer."""
        return f"{type(self).__name__}({self.extra_repr()})"

    def __repr__(self) -> str:
        lines = [ln for ln in self.extra_repr().split("\n") if ln] if self.extra_repr() else []
        children = []
        for name, m in self._modules.items():
            r = repr(m).replace("\n", "\n  ")
            children.append(f"({name}): {r}")
        s = type(self).__name__ + "("
        if not lines and not children:
            return s + ")"
        if len(lines) == 1 and not children:
            return s + lines[0] + ")"
        return s + "\n  " + "\n  ".join(lines + children) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def __getstate__(self):
        return self.__dict__.copy()

    def __setstate__(self, state):
        self.__dict__.update(state)
