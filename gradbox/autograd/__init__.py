"""Reverse-mode automatic differentiation: ``backward``, ``grad``, grad modes, checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradbox.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from gradbox.autograd.function import Function
from gradbox.autograd.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from gradbox.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from gradbox.tensor import Tensor

__all__ = [
    "Function",
    "GradcheckError",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "set_detect_anomaly",
    "set_grad_enabled",
]


def _as_list(x) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, Sequence) and not isinstance(x, Tensor) else [x]


def _root_grads(outputs: list[Tensor], grad_outputs: list) -> list[Tensor]:
    if grad_outputs and len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad_outputs has {len(grad_outputs)} entries for {len(outputs)} outputs")
    grads = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"backward: expected Tensors as outputs, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        g = grad_outputs[i] if grad_outputs else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; output {i} has shape "
                    f"{tuple(out._data.shape)}: pass gradient= with that shape"
                )
            g = Tensor._wrap(np.ones_like(out._data))
        elif not isinstance(g, Tensor):
            g = Tensor._wrap(np.asarray(g, dtype=out._data.dtype))
        if g._data.shape != out._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(g._data.shape)} and "
                f"output[{i}] has a shape of {tuple(out._data.shape)}"
            )
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
    """Accumulate d(tensors)/d(leaf) into each leaf's ``.grad`` (vector-Jacobian products)."""
    from gradbox.autograd.engine import run_backward

    outs = _as_list(tensors)
    grads = _root_grads(outs, _as_list(grad_tensors))
    run_backward(
        outs, grads, retain_graph=create_graph if retain_graph is None else retain_graph, create_graph=create_graph
    )


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Return d(outputs)/d(inputs) without touching any ``.grad``.

    With ``create_graph=True`` the results carry a graph, so they can be differentiated again.
    """
    from gradbox.autograd.engine import run_backward

    outs = _as_list(outputs)
    ins = _as_list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    grads = _root_grads(outs, _as_list(grad_outputs))
    res = run_backward(
        outs,
        grads,
        retain_graph=create_graph if retain_graph is None else retain_graph,
        create_graph=create_graph,
        capture=ins,
    )
    assert res is not None
    for i, r in enumerate(res):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {tuple(ins[i]._data.shape)}) was not used in the graph of the "
                "outputs; pass allow_unused=True if this is intended"
            )
    return tuple(res)
