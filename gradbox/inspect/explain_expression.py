"""``explain_expression("(x*y)*z", {"x": -2, "y": 5, "z": 3})``: parse (never ``eval``), compute
with gradbox ops, and write the worked backward pass (``python -m gradbox explain``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from gradbox.creation import tensor as make_tensor
from gradbox.inspect.autograd_graph import draw_graph
from gradbox.inspect.explain_backward import BackwardExplanation, explain_backward, recording
from gradbox.inspect.explain_format import arr
from gradbox.inspect.expression import ExpressionError, evaluate, names_in, parse
from gradbox.tensor import Tensor


def _value_text(v: np.ndarray) -> str:
    return arr(v, 6, 12).replace("T{", "").replace("}", "")


def explain_expression(
    expr: str,
    values: Mapping[str, float | list | np.ndarray],
    fmt: str = "text",
    graph: str | Path | None = None,
    output: str = "f",
) -> BackwardExplanation:
    """The worked backward pass of the expression ``expr`` (the grammar of
    ``gradbox.inspect.expression``) at ``values`` (name -> number or nested list), its result
    named ``output``. ``graph``: also draw the autograd graph, with values and gradients, to
    this file (.svg, .png or .dot). Raises ExpressionError (with the offending token's
    position) for anything outside the grammar, before computing anything. The result's
    ``tensors`` maps each name in the solution (variables, intermediates t1, t2, ..., the
    output) to its tensor."""
    tree = parse(expr)
    used = names_in(tree)
    missing = [n for n in used if n not in values]
    if missing:
        raise ExpressionError(f"no value for {', '.join(missing)}: give it with --at {missing[0]}=...")
    if output in values:
        raise ExpressionError(f"{output!r} names the result; call the variable something else")
    if not used:
        raise ExpressionError("the expression has no variables: there is nothing to differentiate")
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    variables = {k: make_tensor(a, dtype=np.float64, requires_grad=True) for k, a in arrays.items() if k in used}
    with np.errstate(all="ignore"), recording() as rec:
        result = evaluate(tree, variables, expr)
    if not isinstance(result, Tensor) or result.grad_fn is None:
        raise ExpressionError(f"{expr!r} is just a variable: there is no op to differentiate")
    if result._data.size != 1:
        raise ExpressionError(
            f"the expression must give one number, but gives shape {tuple(result._data.shape)}: "
            f"reduce it, e.g. sum({expr})"
        )
    names: dict[str, Tensor] = dict(variables)
    k = 0
    for _, _, _, out in rec.entries:
        if out.grad_fn is not None and out is not result and all(out is not t for t in names.values()):
            k += 1
            while f"t{k}" in names or f"t{k}" == output:
                k += 1
            names[f"t{k}"] = out
    names[output] = result
    at = ", ".join(f"{n} = {_value_text(arrays[n])}" for n in used)
    title = f"{output} = {expr} at {at}"
    ex = explain_backward(result, [variables[n] for n in used], names, fmt, recording=rec, title=title)
    ex.tensors = names
    if graph is not None:
        for t in names.values():
            if t.grad_fn is not None:
                t.retain_grad()
        result.backward()
        draw_graph(result, params=names).save(str(graph))
    return ex
