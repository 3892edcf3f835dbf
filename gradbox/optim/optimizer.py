"""``Optimizer``: parameter groups, per-parameter state, and their (de)serialisation.

Updates work in place on the parameters' arrays, which is what ``torch.no_grad()`` +
in-place ops amount to in PyTorch. Hyperparameters live per group, so each group may have
its own ``lr``; schedulers change ``group["lr"]`` between steps.

Each optimizer is two pieces, as in ``torch.optim``: a module-level update function (``sgd``,
``adam``, ...) that applies the rule to lists of arrays, one entry per parameter, and a class
whose ``__init__`` declares the hyperparameters (``_defaults`` validates them) and whose
``_update`` gathers a group's arrays, gradients and state (``_gather``, ``_state``) and calls
the function with the group's options (``_options``).
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from gradbox._inplace import bump_version
from gradbox.autograd.grad_mode import enable_grad
from gradbox.tensor import Tensor


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]  # tensors, or parameter groups (dicts with "params")


# PyTorch's implementation switches: accepted by every optimizer, and ignored (one NumPy path).
_IGNORED_ARGUMENTS = frozenset({"self", "params", "foreach", "capturable", "differentiable", "fused", "__class__"})


def _validate(hyper: dict[str, Any], names: Iterable[str]) -> None:
    """Raise PyTorch's ValueError for the first invalid one of ``names`` (checked in that order,
    which is PyTorch's for each optimizer): each beta in [0, 1), rho in [0, 1], nesterov only
    with momentum > 0 and no dampening, any other value not negative."""
    for name in names:
        v = hyper[name]
        if name == "betas":
            for i, b in enumerate(v):
                if not 0.0 <= b < 1.0:
                    raise ValueError(f"Invalid beta parameter at index {i}: {b} (betas must lie in [0, 1))")
        elif name == "rho":
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"Invalid rho value: {v}")
        elif name == "nesterov":
            if v and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
                raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        elif v < 0.0 and name == "lr":
            raise ValueError(f"Invalid learning rate: {v}")
        elif v < 0.0:
            raise ValueError(f"Invalid {'epsilon' if name == 'eps' else name} value: {v}")


def _defaults(arguments: dict[str, Any], *checked: str) -> dict[str, Any]:
    """An optimizer's defaults from its ``__init__`` arguments (``locals()`` on entry), so each
    hyperparameter is named once, in the signature: all but self, params and PyTorch's
    implementation switches, betas as a tuple. ``checked`` are validated first (``_validate``)."""
    defaults = {k: tuple(v) if k == "betas" else v for k, v in arguments.items() if k not in _IGNORED_ARGUMENTS}
    _validate(defaults, checked)
    return defaults


@functools.cache
def _option_names(rule: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(n for n, p in inspect.signature(rule).parameters.items() if p.kind is p.KEYWORD_ONLY)


def _options(group: dict[str, Any], rule: Callable[..., Any]) -> dict[str, Any]:
    """The group's values of the update function's keyword-only parameters: the functions name
    their hyperparameters as the groups do, so a class passes its group as it is."""
    return {k: group[k] for k in _option_names(rule)}


def _grad(theta: np.ndarray, g: np.ndarray, weight_decay: float, maximize: bool) -> np.ndarray:
    """The gradient an update follows: -g when maximizing, plus weight_decay * theta (the
    gradient of (weight_decay / 2) ||theta||^2, L2 regularisation). Never changes g in place."""
    g = -g if maximize else g
    return g + weight_decay * theta if weight_decay else g


def _with_rule(rule: Callable[..., Any]) -> Callable[[type], type]:
    """Class decorator: append the update function's docstring (the math) to the class's, so
    ``help(Class)`` shows the rule that is written once, on the function."""

    def decorate(cls: type) -> type:
        name = f"{rule.__module__}.{rule.__name__}"
        cls.__doc__ = (
            f"{inspect.cleandoc(cls.__doc__ or '')}\n\nUpdate rule ({name}):\n\n{inspect.cleandoc(rule.__doc__ or '')}"
        )
        return cls

    return decorate


class Optimizer:
    """Base class: ``param_groups`` (dicts of params and options), ``state`` (per parameter),
    ``zero_grad``, ``step``, ``add_param_group``, ``state_dict`` / ``load_state_dict``."""

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, but got a Tensor"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        seen: set[int] = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
            if id(p) in seen:
                raise ValueError(
                    f"a parameter group contains the same parameter twice (at index {i}); pass each parameter once"
                )
            seen.add(id(p))
        group = dict(param_group, params=params)
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {k}")
            group.setdefault(k, v)
        for other in self.param_groups:
            if seen & {id(p) for p in other["params"]}:
                raise ValueError("some parameters appear in more than one parameter group")
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's hyperparameters (subclasses raise PyTorch's ValueErrors)."""
        if "lr" in group and not group["lr"] >= 0.0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad._data[...] = 0

    def _state(
        self, p: Tensor, *, step: bool = True, scalars: dict[str, float] | None = None, **fill: float
    ) -> dict[str, Any]:
        """``p``'s state, made on its first update: ``"step"`` = 0 (with ``step``), an array of
        p's shape and dtype filled with the value for each name in ``fill``, then ``scalars``.
        With ``step`` the count is advanced, so ``"step"`` is the number of this update."""
        st = self.state.setdefault(p, {})
        if not st:
            if step:
                st["step"] = 0
            st.update({k: Tensor._wrap(np.full_like(p._data, v)) for k, v in fill.items()})
            st.update(scalars or {})
        if step:
            st["step"] += 1
        return st

    def _gather(
        self,
        group: dict[str, Any],
        stateful: bool = True,
        *,
        step: bool = True,
        scalars: dict[str, float] | None = None,
        **fill: float | None,
    ) -> tuple[list[np.ndarray], list[np.ndarray], list[dict[str, Any]], list[list[np.ndarray]]]:
        """What an update function takes, for the group's parameters that have a gradient: their
        arrays (made writeable: the update works in place), their gradients, their states
        (``_state``; throwaway empty dicts if not ``stateful``) and, for each name in ``fill``
        in order, the list of those state arrays. A name given None is a buffer the group's
        options leave unused: it is not made, and its list is empty."""
        made = {k: v for k, v in fill.items() if v is not None}
        params, grads, states = [], [], []
        for p in group["params"]:
            if p.grad is not None:
                if not p._data.flags.writeable:
                    p._data = np.array(p._data)
                params.append(p._data)
                grads.append(p.grad._data)
                states.append(self._state(p, step=step, scalars=scalars, **made) if stateful else {})
        buffers = [[st[k]._data for st in states] if v is not None else [] for k, v in fill.items()]
        return params, grads, states, buffers

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient, group by group (``_update``).
        ``closure``, which re-evaluates the loss, is called first (with grad enabled) and its
        result returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update(group)
            for p in group["params"]:
                if p.grad is not None:  # updated in place: a graph that saved p must not reuse it
                    bump_version(p)
        return loss

    def _update(self, group: dict[str, Any]) -> None:
        """Gather the group's parameters, gradients and state; apply the update function."""
        raise NotImplementedError

    # ---- (de)serialisation -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {name: value}}, 'param_groups': [{options..., 'params': [indices]}]},
        indices counting the parameters across groups in order, as in PyTorch."""
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: (Tensor._wrap(v._data.copy()) if isinstance(v, Tensor) else copy.deepcopy(v))
                        for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has a different number of parameter groups ({len(groups)}) than the optimizer ({len(self.param_groups)})"
            )
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group that doesn't match the size of optimizer's group: "
                    f"group {i} has {len(saved['params'])} parameters in the state dict, {len(own['params'])} in the optimizer"
                )
        by_index = {}
        for saved, own in zip(groups, self.param_groups):
            for idx, p in zip(saved["params"], own["params"]):
                by_index[idx] = p
        self.state = {}
        for idx, st in state_dict["state"].items():
            p = by_index[int(idx)]
            new = {}
            for k, v in st.items():
                if isinstance(v, Tensor | np.ndarray):
                    a = v._data if isinstance(v, Tensor) else v
                    if a.shape != p._data.shape and a.ndim:
                        raise ValueError(
                            f"optimizer state '{k}' has shape {a.shape}, but its parameter has shape {p._data.shape}"
                        )
                    a = np.array(a, dtype=p._data.dtype if a.dtype.kind == "f" and k != "step" else a.dtype)
                    new[k] = Tensor._wrap(a)
                else:
                    new[k] = copy.deepcopy(v)
            self.state[p] = new
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = copy.deepcopy(v)
