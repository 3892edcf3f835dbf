"""The expression grammar of `python -m gradbox explain`: what it computes, what it rejects (with the
offending token's position, before anything is computed), and the command line."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradbox as gb
from gradbox.autograd.function import tracing
from gradbox.cli import main
from gradbox.inspect import expression as E


def value(text: str, **at) -> float:
    variables = {k: gb.tensor(float(v), dtype=gb.float64, requires_grad=True) for k, v in at.items()}
    out = E.evaluate(E.parse(text), variables, text)
    return out.item() if isinstance(out, gb.Tensor) else out


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("2 - 3 - 4", -5.0),  # left-associative
        ("24 / 4 / 3", 2.0),
        ("2 ** 3 ** 2", 512.0),  # right-associative
        ("-2 ** 2", -4.0),  # ** binds tighter than unary minus
        ("2 ** -1", 0.5),
        ("--3", 3.0),
        ("x * y - x / y", 2.0 * 4.0 - 2.0 / 4.0),
        ("-x ** 2 + 1e1", -4.0 + 10.0),
        ("exp(x) + log(y) + sqrt(y)", math.exp(2) + math.log(4) + 2.0),
        ("sigmoid(x) * tanh(y) + relu(-x)", 1 / (1 + math.exp(-2)) * math.tanh(4)),
        ("max(x, y) + max(y, x) + sum(x) + logsumexp(x)", 4 + 4 + 2 + 2),
        ("softmax(x)", 1.0),
        (".5 + 1.", 1.5),
    ],
)
def test_grammar_computes_what_it_says(text, expected):
    assert value(text, x=2, y=4) == pytest.approx(expected, rel=1e-12)


HOSTILE = [
    ("__import__('os').system('ls')", 0, "'__'"),
    ("x.__class__", 1, "attribute access"),
    ("x.real", 1, "attribute access"),
    ("lambda: 1", 0, "keyword"),
    ("(lambda q: q)(x)", 1, "keyword"),
    ("open('f')", 0, "unknown function 'open'"),
    ("eval('1')", 0, "unknown function 'eval'"),
    ("x if x else y", 2, "unexpected 'if'"),
    ("x + 'a'", 4, "strings are not allowed"),
    ("[x for x in y]", 0, "lists and indexing"),
    ("x[0]", 1, "lists and indexing"),
    ("x @ x", 2, "'@' is not part of the grammar"),
    ("x ^ 2", 2, "write powers as **"),
    ("x; y", 1, "';'"),
    ("x = 1", 2, "'='"),
    ("x(1)", 0, "unknown function 'x'"),
    ("(x)(x)", 3, "only the functions can be called"),
    ("2 ** 10 ** 10", 2, "exponent 1e+10 is too large"),
    ("x ** 1000", 2, "exponent 1000 is too large"),
    ("x ** (10 * 10)", 2, "exponent 100 is too large"),
    ("x ** -(2 ** 7)", 2, "exponent -128 is too large"),
    ("1e400 * x", 0, "too large"),
    ("99999999999999999 * x", 0, "too large"),
    ("exp(x", 5, "expected ')'"),
    ("exp", 0, "is a function"),
    ("max(x, x, x)", 0, "takes 1 or 2 arguments"),
    ("x +", 3, "ends too early"),
    ("x y", 2, "expected an operator"),
    ("", 0, "empty"),
    ("+x", 0, "unexpected '+'"),
]


@pytest.mark.parametrize("text, pos, message", HOSTILE)
def test_malformed_or_hostile_expressions_fail_before_anything_runs(text, pos, message, monkeypatch):
    ops = []
    monkeypatch.setattr(E, "evaluate", lambda *a, **k: pytest.fail("evaluated a rejected expression"))
    with tracing(lambda *a: ops.append(a[0])), pytest.raises(gb.inspect.ExpressionError) as err:
        gb.inspect.explain_expression(text, {"x": 1.0, "y": 2.0})
    assert message in str(err.value)
    assert err.value.position == pos
    assert f"(at position {pos + 1})" in str(err.value)
    assert not ops  # nothing was computed


def test_caps_on_length_depth_and_variable_exponents():
    with pytest.raises(E.ExpressionError, match="too long"):
        E.parse("x + " * 600 + "x")
    with pytest.raises(E.ExpressionError, match="nested too deeply"):
        E.parse("(" * 100 + "x" + ")" * 100)
    with pytest.raises(E.ExpressionError, match="nested too deeply"):
        E.parse("-" * 100 + "x")
    ops = []
    with (
        tracing(lambda cls, *a: ops.append(cls.__name__)),
        pytest.raises(E.ExpressionError, match="exponent too large"),
    ):
        gb.inspect.explain_expression("x ** y", {"x": 2.0, "y": 1e6})
    assert "Pow" not in ops  # checked before the power is taken


def test_values_and_their_errors():
    got = E.parse_assignments(["x=-2", "v=[1, 2.5, -3]", "W=[[1,2],[3,4]]"])
    assert got["x"].shape == () and got["x"] == -2
    np.testing.assert_array_equal(got["v"], [1, 2.5, -3])
    assert got["W"].shape == (2, 2)
    for bad, msg in [
        (["x"], "NAME=VALUE"),
        (["x=[1,[2]]"], "differ in length"),
        (["x=[1,2"], "expected ',' or ']'"),
        (["x=1e999"], "too large"),
        (["exp=1"], "cannot be a variable name"),
        (["x=1", "x=2"], "given twice"),
        (["x=abc"], "expected a number"),
        (["x=__import__('os')"], "expected a number"),
    ]:
        with pytest.raises(E.ExpressionError, match=msg):
            E.parse_assignments(bad)
    with pytest.raises(E.ExpressionError, match="no value for y"):
        gb.inspect.explain_expression("x * y", {"x": 1})
    with pytest.raises(E.ExpressionError, match="must give one number"):
        gb.inspect.explain_expression("x * 2", {"x": [1, 2]})
    with pytest.raises(E.ExpressionError, match="no variables"):
        gb.inspect.explain_expression("2 * 3", {})


def test_cli_explain(tmp_path, capsys):
    assert main(["explain", "(x*y)*z", "--at", "x=-2", "y=5", "z=3"]) == 0
    out = capsys.readouterr().out
    assert "f = (x*y)*z at x = -2, y = 5, z = 3" in out
    assert "df/dx = df/dt1 * ∂t1/∂x = df/dt1 * y = 3 * 5 = 15" in out
    assert "df/dy = df/dt1 * ∂t1/∂y = df/dt1 * x = 3 * (-2) = -6" in out
    assert main(["explain", "logsumexp(z)", "--at", "z=[1,2,3]", "--markdown"]) == 0
    assert r"$\frac{df}{dz} = " in capsys.readouterr().out
    assert main(["explain", "x*x", "--at", "x=3", "--latex"]) == 0
    assert r"\begin{align*}" in capsys.readouterr().out
    dot = tmp_path / "g.dot"
    assert main(["explain", "(x*y)*z", "--at", "x=-2", "y=5", "z=3", "--graph", str(dot)]) == 0
    assert "digraph" in dot.read_text() and "grad 15" in dot.read_text()
    capsys.readouterr()
    assert main(["explain", "x.__class__", "--at", "x=1"]) == 2
    err = capsys.readouterr().err
    assert "attribute access" in err and "position 2" in err
    assert main(["explain", "x*y", "--at", "x=1", "y=[1,"]) == 2
    assert "the value of y" in capsys.readouterr().err
