"""Worked backward passes (gb.inspect.explain_backward / explain_expression): the text is pinned as
golden files, and every number in it is checked against gradbox's autograd (and, for the
expressions, PyTorch's).

Golden files live in tests/golden/explain/. After an intended change of the wording, regenerate
them with

    GRADBOX_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_inspect_explain_backward.py

then read the diff (git diff tests/golden) before committing: the numbers are checked separately
by the tests below, the wording only by review.
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import torch
from golden_files import golden  # tests/golden_files.py

import gradbox as gb
from gradbox.inspect import explain_rules, expression
from gradbox.nn import functional as F

EXPRESSIONS = {
    "product": ("(x*y)*z", {"x": -2, "y": 5, "z": 3}),
    "shared_input": ("x*y + x*z", {"x": 3, "y": -1, "z": 2}),
    "square": ("x*x + 3*x", {"x": 1.5}),
    "sigmoid": ("sigmoid(w*x + b)", {"w": 0.5, "x": 2, "b": -1}),
    "logsumexp": ("logsumexp(z)", {"z": [1, 2, 3]}),
    "softmax": ("sum(softmax(z) * y)", {"z": [1, 2, 3], "y": [0, 1, 0]}),
    "cross_entropy_expression": ("logsumexp(z) - sum(y*z)", {"z": [2, 1, 0.1], "y": [1, 0, 0]}),
    "tanh_quotient": ("tanh(x) / (1 + x**2)", {"x": 0.5}),
    "softplus_sqrt": ("log(1 + exp(x)) + sqrt(y)", {"x": 0, "y": 4}),
    "max_relu": ("max(x, y) + relu(x - y) + max(z)", {"x": 2, "y": 1, "z": [1, 3, 2]}),
    "broadcast": ("sum(w*x + b)", {"w": [1, -2, 3], "x": [0.5, 1, 2], "b": 0.5}),
}


# ---- reading numbers back from the text -----------------------------------------------------


def parse_value(s: str):
    """A value as written by the solution: a number, nested brackets, or [shape (..), norm N]."""
    s = s.strip()
    mo = re.fullmatch(r"\[shape \(([\d, ]*)\), norm (\S+)\]", s)
    if mo:
        return ("norm", float(mo.group(2)))
    return np.array(json.loads(s.replace("nan", "NaN").replace("inf", "Infinity")), dtype=np.float64)


def result_of(line: str) -> str:
    """The last '= ...' of a line, without a trailing '   (...)' remark."""
    tail = line[line.rfind(" = ") + 3 :]
    return tail.split("   (")[0]


def same(parsed, ref: np.ndarray) -> None:
    ref = np.asarray(ref, dtype=np.float64)
    if isinstance(parsed, tuple):
        assert parsed[1] == pytest.approx(float(np.linalg.norm(ref)), rel=1e-5)
    else:
        assert parsed.shape == ref.shape or parsed.size == ref.size == 1, (parsed, ref)
        scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
        np.testing.assert_allclose(parsed.reshape(ref.shape), ref, rtol=1e-5, atol=1e-7 * scale)


def check_arithmetic(body: str) -> int:
    """A scalar line's numbers put in ('= 3 * (-2) = -6'): the numbers-only expression before the
    result, computed by the safe expression evaluator, equals the result."""
    parts = body.split("   (")[0].split(" = ")
    if len(parts) < 3:
        return 0
    try:
        value = expression.evaluate(expression.parse(parts[-2]), {})
        value = value.item() if isinstance(value, gb.Tensor) else value
        result = float(parts[-1])
    except (gb.inspect.ExpressionError, ValueError):
        return 0  # not numbers only (names, brackets, arrays)
    assert value == pytest.approx(result, rel=1e-5, abs=1e-9), body
    return 1


def check_numbers(text: str, out: str, grads: dict[str, np.ndarray], values: dict[str, np.ndarray]) -> int:
    """Forward lines 'NAME = ... = V': V equals values[NAME]. Backward: the first line under each op
    (its upstream gradient d{out}/dNAME) and every line of the inputs' section equal grads[NAME];
    the lines after it are one path's share each, and the shares of each tensor sum to its
    gradient. Scalar lines' arithmetic is recomputed. Returns the number of lines checked."""
    checked = 0
    section = ""
    first = False
    shares: dict[str, np.ndarray] = {}
    for line in text.splitlines():
        if line and not line.startswith(" "):
            section = line
            continue
        body = line.strip()
        if section.startswith("Backward") and line.startswith("  ") and not line.startswith("    "):
            first = True  # an op's header: its upstream gradient comes next
            continue
        mo = re.match(rf"d{re.escape(out)}/d(\S+) = ", body)
        if mo and mo.group(1) in grads:
            v = parse_value(result_of(body))
            checked += check_arithmetic(body)
            if section.startswith("Backward") and not first:
                if not isinstance(v, tuple):
                    shares[mo.group(1)] = shares.get(mo.group(1), 0) + v.reshape(np.shape(grads[mo.group(1)]))
            else:
                same(v, grads[mo.group(1)])
                checked += 1
            first = False
            continue
        mo = re.match(r"([\w.]+) = ", body)
        if section.startswith("Forward") and mo and mo.group(1) in values and " = " in body:
            same(parse_value(result_of(body)), values[mo.group(1)])
            checked += check_arithmetic(body) + 1
    for name, total in shares.items():
        same(total, grads[name])
        checked += 1
    return checked


# ---- expressions ------------------------------------------------------------------------------


def torch_eval(node, env):
    """The same expression in PyTorch (an independent oracle), from the parsed tree."""
    if isinstance(node, expression.Num):
        return torch.tensor(node.value, dtype=torch.float64)
    if isinstance(node, expression.Name):
        return env[node.id]
    if isinstance(node, expression.Unary):
        return -torch_eval(node.operand, env)
    if isinstance(node, expression.Binary):
        a, b = torch_eval(node.left, env), torch_eval(node.right, env)
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b, "**": a**b}[node.op]
    args = [torch_eval(a, env) for a in node.args]
    x = args[0]
    if node.func == "max":
        return torch.maximum(x, args[1]) if len(args) == 2 else x.max()
    if node.func in ("sum", "logsumexp"):
        return x.sum() if node.func == "sum" else torch.logsumexp(x.reshape(-1), 0)
    if node.func == "softmax":
        return torch.softmax(x, -1)
    return getattr(torch, node.func)(x)


@pytest.mark.parametrize("case", sorted(EXPRESSIONS))
def test_expression_golden_and_numbers(case):
    expr, at = EXPRESSIONS[case]
    ex = gb.inspect.explain_expression(expr, at)
    text = str(ex)
    golden(f"{case}.txt", text)
    tensors = ex.tensors
    names = list(tensors)
    out = tensors["f"]
    grads = gb.autograd.grad(out, [tensors[n] for n in names], retain_graph=True, allow_unused=True)
    ref = {n: g.numpy() for n, g in zip(names, grads) if g is not None}
    ref["f"] = np.ones(())
    values = {n: t.detach().numpy() for n, t in tensors.items()}
    n = check_numbers(text, "f", ref, values)
    assert n >= 2 * len(names)  # every tensor's value and gradient was found and checked
    # the inputs' gradients also equal PyTorch's
    env = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for k, v in at.items()}
    torch_eval(expression.parse(expr), env).backward()
    for k, t in env.items():
        np.testing.assert_allclose(ex.gradients[k], t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_markdown_and_latex_golden():
    ex = gb.inspect.explain_expression("(x*y)*z", {"x": -2, "y": 5, "z": 3}, fmt="markdown")
    golden("product.md", str(ex))
    assert ex._repr_markdown_() == str(ex)  # Jupyter renders the Markdown (math in $...$)
    assert r"$\frac{df}{dx} = \frac{df}{dt_{1}} \cdot \frac{\partial t_{1}}{\partial x}" in str(ex)
    golden("product.tex", ex.latex())
    assert ex.latex().count(r"\begin{align*}") == 3
    z = gb.tensor([[2.0, 1.0, 0.1]], dtype=gb.float64, requires_grad=True)
    ce = gb.inspect.explain_backward(F.cross_entropy(z, gb.tensor([0])), names={"z": z}, fmt="latex")
    golden("softmax_cross_entropy.tex", str(ce))


# ---- the Python API ---------------------------------------------------------------------------


def test_softmax_cross_entropy_golden():
    z = gb.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], dtype=gb.float64, requires_grad=True)
    loss = F.cross_entropy(z, gb.tensor([0, 2]))
    ex = gb.inspect.explain_backward(loss, names={"z": z})
    text = str(ex)
    golden("softmax_cross_entropy.txt", text)
    assert "dL/dt1 * (p - r)   per row, p = softmax(z), r = onehot(y), the target class" in text
    (gz,) = gb.autograd.grad(loss, [z], retain_graph=True)
    p = np.exp(z.detach().numpy()) / np.exp(z.detach().numpy()).sum(1, keepdims=True)
    np.testing.assert_allclose(gz.numpy(), (p - np.eye(3)[[0, 2]]) / 2, rtol=1e-12)
    assert check_numbers(text, "L", {**ex.autograd, "z": gz.numpy()}, {"z": z.detach().numpy()}) >= 5


def test_two_layer_relu_network_with_squared_loss_golden():
    gb.manual_seed(0)
    net = gb.nn.Sequential(gb.nn.Linear(4, 2), gb.nn.ReLU(), gb.nn.Linear(2, 1)).double()
    x = gb.randn(3, 4, dtype=gb.float64)
    y = gb.randn(3, 1, dtype=gb.float64)
    with gb.inspect.recording() as rec:
        loss = ((net(x) - y) ** 2).mean()
    ex = gb.inspect.explain_backward(loss, names={"net": net, "X": x, "Y": y}, recording=rec)
    text = str(ex)
    golden("two_layer_relu_mse.txt", text)
    assert "dL/dnet.0.weight = (dL/dt1)^T X   (3, 2)^T (3, 4) -> (2, 4) = " in text
    assert "dL/dnet.0.bias = column sums of dL/dt1   (3, 2) -> (2,) = " in text
    assert "Y = [[" in text  # the recording knows the target the graph drops
    params = dict(net.named_parameters())
    grads = gb.autograd.grad(loss, list(params.values()), retain_graph=True)
    ref = {**ex.autograd, **{f"net.{k}": g.numpy() for k, g in zip(params, grads)}}
    assert (
        check_numbers(text, "L", ref, {"X": x.detach().numpy(), "Y": y.detach().numpy(), "L": loss.detach().numpy()})
        >= 12
    )
    assert set(ex.inputs) == {f"net.{k}" for k in params}


def test_quadratic_form_golden():
    x = gb.tensor([1.0, 2.0], dtype=gb.float64, requires_grad=True)
    w = gb.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=gb.float64, requires_grad=True)
    f = x @ w @ x
    ex = gb.inspect.explain_backward(f, names={"x": x, "W": w, "f": f})
    text = str(ex)
    golden("quadratic_form.txt", text)
    gx, gw = gb.autograd.grad(f, [x, w], retain_graph=True)
    np.testing.assert_allclose(
        gx.numpy(), (w.detach().numpy() + w.detach().numpy().T) @ x.detach().numpy()
    )  # (W + W^T) x
    np.testing.assert_allclose(gw.numpy(), np.outer(x.detach().numpy(), x.detach().numpy()))  # x x^T
    assert "df/dx = [5, 11] + [7, 10] = [12, 21]   (sum over its 2 uses: t1, t5)" in text
    assert check_numbers(text, "f", {**ex.autograd, "x": gx.numpy(), "W": gw.numpy()}, {"f": f.detach().numpy()}) >= 10


def test_float32_model_with_large_tensors_and_ops_without_a_rule():
    gb.manual_seed(1)
    net = gb.nn.Sequential(gb.nn.Conv2d(1, 2, 3), gb.nn.ReLU(), gb.nn.MaxPool2d(2), gb.nn.Flatten(), gb.nn.Linear(8, 3))
    x = gb.randn(2, 1, 6, 6)
    loss = F.cross_entropy(net(x), gb.tensor([0, 2]))
    ex = gb.inspect.explain_backward(loss, names=net)
    text = str(ex)
    assert "(by Conv's backward)" in text and "(by MaxPool's backward)" in text
    assert re.search(r"dL/d0\.weight = .* = \[shape \(2, 1, 3, 3\), norm [\d.e-]+\]", text)
    params = dict(net.named_parameters())
    grads = gb.autograd.grad(loss, list(params.values()), retain_graph=True)
    ref = {**ex.autograd, **{k: g.numpy() for k, g in zip(params, grads)}}
    assert check_numbers(text, "L", ref, {}) >= 10


def test_a_wrong_rule_is_caught(monkeypatch):
    """The solution's arithmetic is its own: a wrong local derivative cannot pass the autograd check."""
    bad = dataclasses.replace(explain_rules.ELEMENTWISE["Mul"], local=(lambda v: v["b"] + 1, lambda v: v["a"]))
    monkeypatch.setitem(explain_rules.ELEMENTWISE, "Mul", bad)
    with pytest.raises(gb.inspect.ExplanationMismatchError, match="autograd computes"):
        gb.inspect.explain_expression("(x*y)*z", {"x": -2, "y": 5, "z": 3})


def test_inputs_names_and_errors():
    x, y = (gb.tensor(v, dtype=gb.float64, requires_grad=True) for v in (2.0, 3.0))
    u = gb.tensor(1.0, requires_grad=True)
    f = x * y
    ex = gb.inspect.explain_backward(f, inputs=[x, u], names={"x": x, "y": y, "u": u})
    assert "dL/dx = 3   (from L)" in str(ex) and "dL/du = 0   (u does not reach L)" in str(ex)
    assert "dL/dy" not in str(ex).split("Gradients of the inputs")[1]
    unnamed = str(gb.inspect.explain_backward(x * y + x))
    assert "v1 = 2" in unnamed and "t1 = v1 * v2 = 2 * 3 = 6" in unnamed
    with pytest.raises(ValueError, match="must be a scalar"):
        gb.inspect.explain_backward(x * gb.ones(3))
    with pytest.raises(ValueError, match="fmt must be"):
        gb.inspect.explain_backward(f, fmt="html")
    g = x * y
    g.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        gb.inspect.explain_backward(g)
