"""Numerical gradient checks by central differences in float64.

For each input element x_k: (f(x + eps e_k) - f(x - eps e_k)) / (2 eps) approximates the
column dF/dx_k of the Jacobian; backward with one-hot upstream gradients gives its rows.
The two must agree within atol + rtol * |numerical|.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gradbox.autograd.engine import grad
from gradbox.tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised when an analytical gradient disagrees with the numerical one."""


def _index(flat: int, shape: tuple) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def _outputs(fn, inputs) -> list[Tensor]:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, tuple | list) else [out]
    return [o for o in outs if isinstance(o, Tensor)]


def _prepare(inputs) -> tuple[list, list[int]]:
    ins = list(inputs) if isinstance(inputs, tuple | list) else [inputs]
    prepared, diff = [], []
    for i, x in enumerate(ins):
        if isinstance(x, Tensor) and x.requires_grad:
            t = Tensor._wrap(np.array(x._data, dtype=np.float64))
            t.requires_grad_(True)
            prepared.append(t)
            diff.append(i)
        elif isinstance(x, Tensor) and x._data.dtype.kind == "f":
            prepared.append(Tensor._wrap(np.array(x._data, dtype=np.float64)))
        else:
            prepared.append(x)
    return prepared, diff


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare the gradients of ``fn`` at ``inputs`` (those with requires_grad) with finite differences.

    Inputs are copied to float64. Returns True, or raises :class:`GradcheckError` naming the
    input, the element, and both values (returns False instead with ``raise_exception=False``).
    """
    ins, diff = _prepare(inputs)
    if not diff:
        raise ValueError("gradcheck: no input has requires_grad=True")
    outs = _outputs(fn, ins)
    for oi, out in enumerate(outs):
        if not out.requires_grad:
            continue
        # analytical: one backward per output element (row of the Jacobian)
        n_out = out._data.size
        analytic = [np.zeros((x._data.size, n_out)) for x in (ins[i] for i in diff)]
        for j in range(n_out):
            g = np.zeros(out._data.shape)
            g.reshape(-1)[j] = 1.0
            gs = grad([out], [ins[i] for i in diff], [Tensor._wrap(g)], retain_graph=True, allow_unused=True)
            for k, gk in enumerate(gs):
                if gk is not None:
                    analytic[k][:, j] = gk._data.reshape(-1)
        # numerical: central differences, one input element at a time
        for k, i in enumerate(diff):
            x = ins[i]._data
            flat = x.reshape(-1)
            for e in range(flat.size):
                orig = flat[e]
                flat[e] = orig + eps  # fn may differentiate inside (gradgradcheck): keep grad mode
                plus = _outputs(fn, ins)[oi]._data.reshape(-1).astype(np.float64)
                flat[e] = orig - eps
                minus = _outputs(fn, ins)[oi]._data.reshape(-1).astype(np.float64)
                flat[e] = orig
                numeric = (plus - minus) / (2 * eps)
                bad = np.abs(analytic[k][e] - numeric) > atol + rtol * np.abs(numeric)
                if bad.any():
                    j = int(np.argmax(bad))
                    msg = (
                        f"gradcheck: Jacobian mismatch for output {oi} with respect to input {i}, "
                        f"element {_index(e, x.shape)}, output element {_index(j, out._data.shape)}: "
                        f"numerical {numeric[j]:.10g}, analytical {analytic[k][e, j]:.10g}"
                    )
                    if raise_exception:
                        raise GradcheckError(msg)
                    return False
    return True


def gradgradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence | Tensor,
    grad_outputs: Sequence | Tensor | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: gradcheck of the map (inputs, v) -> v^T J(inputs).

    ``v`` (the upstream gradient) is random unless given, and is itself differentiated.
    """
    ins, diff = _prepare(inputs)
    outs = _outputs(fn, ins)
    rng = np.random.default_rng(0)
    if grad_outputs is None:
        vs = [Tensor._wrap(rng.standard_normal(o._data.shape)).requires_grad_() for o in outs]
    else:
        gos = grad_outputs if isinstance(grad_outputs, tuple | list) else [grad_outputs]
        vs = [Tensor._wrap(np.array(g._data, dtype=np.float64)).requires_grad_() for g in gos]
    n = len(ins)

    def first_derivatives(*args):
        xs, v = list(args[:n]), list(args[n:])
        gs = grad(_outputs(fn, xs), [xs[i] for i in diff], v, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivatives, (*ins, *vs), eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
