"""Every op states its math as data (``OpMath``), and its docstrings show that one description."""

import pydoc

import pytest

import gradbox as gb
from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op

PUBLIC = sorted(gb.ops.__all__)
OPS = sorted(Function.registry.items())


def test_the_registry_holds_every_op_class_of_gradbox():
    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    ours = {c for c in subclasses(Function) if c.__module__.startswith("gradbox.")}
    assert ours == set(Function.registry.values())
    assert len(ours) >= 55
    assert all(c.__module__.startswith("gradbox.ops.") for c in ours), "every op class lives in gradbox/ops/"


@pytest.mark.parametrize("name,cls", OPS, ids=[n for n, _ in OPS])
def test_every_op_class_has_its_math(name, cls):
    m = cls.__dict__.get("math")
    assert isinstance(m, OpMath), f"{cls.__module__}.{name} has no math = OpMath(...)"
    if m.grads is not None:
        assert len(m.grads) == len(m.inputs), f"{name}: one gradient per input"
    assert m.forward in cls.__doc__ and all(f"dL/d{i} = {g}" in cls.__doc__ for i, g in zip(m.inputs, m.grads or ()))


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_op_function_shows_its_math_in_help(name):
    f = getattr(gb, name)
    assert getattr(gb.ops, name) is f
    m = getattr(f, "__math__", None)
    assert isinstance(m, OpMath), f"gb.{name} has no math: decorate it with @op(...)"
    text = pydoc.render_doc(f, renderer=pydoc.plaintext)
    assert m.forward in text
    for line in m.lines()[1:]:
        assert line in text


def test_help_of_mul_shows_forward_and_both_gradients():
    text = pydoc.render_doc(gb.mul, renderer=pydoc.plaintext)
    assert "y = a * b" in text and "dL/da = g * b" in text and "dL/db = g * a" in text


def test_op_decorator_keeps_prose_and_reuses_a_class_math():
    @op(gb.ops.elementwise.Mul)
    def f(a, b):
        """Multiply.

        More words."""

    assert f.__math__ is gb.ops.elementwise.Mul.math
    assert f.__doc__.startswith("Multiply.") and f.__doc__.rstrip().endswith("More words.")
    assert f.__doc__.index("dL/da") < f.__doc__.index("More words.")


def test_ops_without_gradient_say_so():
    assert gb.argmax.__math__.grads is None and "not differentiable" in gb.argmax.__doc__
