"""Elementwise ops: forward and gradients equal PyTorch's (float64 to 1e-10, float32 to 1e-5),
with broadcasting, and every op passes a numerical gradient check."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import gradbox as gb
from gradbox.testing.oracle import arrays, broadcastable, check, shapes

# name -> (gradbox fn, torch fn, input domain (low, high, away_from_zero))
UNARY = {
    "neg": (lambda x: -x, lambda x: -x, (-2, 2, 0)),
    "exp": (gb.exp, torch.exp, (-2, 2, 0)),
    "log": (gb.log, torch.log, (0.1, 3, 0)),
    "sqrt": (gb.sqrt, torch.sqrt, (0.1, 3, 0)),
    "abs": (gb.abs, torch.abs, (-2, 2, 0.05)),
    "sin": (gb.sin, torch.sin, (-3, 3, 0)),
    "cos": (gb.cos, torch.cos, (-3, 3, 0)),
    "tanh": (gb.tanh, torch.tanh, (-3, 3, 0)),
    "sigmoid": (gb.sigmoid, torch.sigmoid, (-6, 6, 0)),
    "relu": (gb.relu, torch.relu, (-2, 2, 0.05)),
    "clamp": (lambda x: gb.clamp(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7), (-2, 2, 0)),
    "clamp_min": (lambda x: x.clamp(min=0.1), lambda x: x.clamp(min=0.1), (-2, 2, 0)),
    "square": (gb.square, torch.square, (-2, 2, 0)),
    "rsqrt": (gb.rsqrt, torch.rsqrt, (0.2, 3, 0)),
    "reciprocal": (gb.reciprocal, torch.reciprocal, (-2, 2, 0.2)),
    "pow_scalar": (lambda x: x**3, lambda x: x**3, (-2, 2, 0)),
    "pow_frac": (lambda x: x**1.5, lambda x: x**1.5, (0.1, 2, 0)),
    "pow_zero": (lambda x: x**0, lambda x: x**0, (-2, 2, 0)),
    "rpow": (lambda x: 2.0**x, lambda x: 2.0**x, (-2, 2, 0)),
    "scalar_arith": (lambda x: (3 - x) / 2 + 1.5 * x - 1 / x, lambda x: (3 - x) / 2 + 1.5 * x - 1 / x, (-2, 2, 0.2)),
}

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, (-2, 2, 0)),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, (-2, 2, 0)),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, (-2, 2, 0)),
    "div": (lambda a, b: a / b, lambda a, b: a / b, (-2, 2, 0.2)),
    "pow": (lambda a, b: a**b, lambda a, b: a**b, (0.2, 2, 0)),
    "maximum": (gb.maximum, torch.maximum, (-2, 2, 0)),
    "minimum": (gb.minimum, torch.minimum, (-2, 2, 0)),
    "add_alpha": (lambda a, b: gb.add(a, b, alpha=2.5), lambda a, b: torch.add(a, b, alpha=2.5), (-2, 2, 0)),
}


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
def test_unary_matches_torch(name, dtype, data):
    g, t, (lo, hi, away) = UNARY[name]
    (x,) = arrays(data.draw, [data.draw(shapes())], dtype, lo, hi, away)
    check(g, t, x)


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
def test_binary_broadcasting_matches_torch(name, dtype, data):
    g, t, (lo, hi, away) = BINARY[name]
    sa, sb = data.draw(broadcastable()).input_shapes
    a, b = arrays(data.draw, [sa, sb], dtype, lo, hi, away)
    check(g, t, a, b)


@given(data=st.data())
def test_where_and_masked_fill_match_torch(data):
    sc, sa, sb = data.draw(broadcastable(3)).input_shapes
    a, b, c = arrays(data.draw, [sa, sb, sc])
    cond = c > 0
    check(lambda a, b, c: gb.where(c, a, b), lambda a, b, c: torch.where(c, a, b), a, b, cond)
    out_shape = np.broadcast_shapes(sa, sc)
    x = np.broadcast_to(a, out_shape).copy()
    check(lambda x, c: x.masked_fill(c, -1.5), lambda x, c: x.masked_fill(c, -1.5), x, cond)


def test_maximum_ties_split_the_gradient_like_torch():
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 0.0, 3.0])
    check(gb.maximum, torch.maximum, a, b)
    check(gb.minimum, torch.minimum, a, b)


def test_relu_abs_clamp_at_their_kinks_match_torch():
    x = np.array([-1.0, 0.0, 1.0, -0.5, 0.7])
    check(gb.relu, torch.relu, x)
    check(gb.abs, torch.abs, x)
    check(lambda x: x.clamp(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7), x)


@pytest.mark.parametrize("n", [5, 400_000])  # one call, and split over the threads (> MIN_BYTES)
@pytest.mark.parametrize("create_graph", [False, True])
def test_relu_passes_the_gradient_through_nan_as_torch(n, create_graph):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    x[:3] = [np.nan, 0.0, -1.0]
    g = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    xt = gb.tensor(x, requires_grad=True)
    (gx,) = gb.autograd.grad(gb.relu(xt), xt, gb.tensor(g), create_graph=create_graph)
    tx = torch.tensor(x, requires_grad=True)
    (tgx,) = torch.autograd.grad(torch.relu(tx), tx, torch.tensor(g))
    np.testing.assert_array_equal(gx.detach().numpy(), tgx.numpy())
    assert gx.detach().numpy()[0] == g[0]  # NaN input: g passes, not 0


def test_pow_gradient_with_zero_base_matches_torch():
    a = np.array([0.0, 0.0, 1.5])
    b = np.array([2.0, 0.0, 0.5])
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** 0 and 0 ** -1 in the forward
        check(lambda a, b: a**b, lambda a, b: a**b, a, b)


def test_sigmoid_does_not_overflow():
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        check(gb.sigmoid, torch.sigmoid, x)


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_gradcheck(name):
    g, _, (lo, hi, away) = UNARY[name]
    x = np.random.default_rng(1).uniform(lo, hi, (2, 3))
    x = np.where(np.abs(x) < max(away, 1e-3), max(away, 1e-3), x)
    assert gb.autograd.gradcheck(g, [gb.tensor(x, requires_grad=True)])
    assert gb.autograd.gradgradcheck(g, [gb.tensor(x, requires_grad=True)])


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_gradcheck(name):
    g, _, (lo, hi, away) = BINARY[name]
    rng = np.random.default_rng(2)
    a = rng.uniform(lo, hi, (3, 1)) + 0.01
    b = rng.uniform(lo, hi, (1, 4)) + 0.02
    b = np.where(np.abs(b) < away, away, b)
    ins = [gb.tensor(a, requires_grad=True), gb.tensor(b, requires_grad=True)]
    assert gb.autograd.gradcheck(g, ins)
    assert gb.autograd.gradgradcheck(g, ins)


def test_comparisons_and_logic_match_torch():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 3, (4, 5)).astype(np.float64), rng.integers(0, 3, (5,)).astype(np.float64)
    for op in ["eq", "ne", "lt", "le", "gt", "ge"]:
        check(getattr(gb, op), getattr(torch, op), a, b)
    ga, gbb = gb.tensor(a), gb.tensor(b)
    ta, tb = torch.tensor(a), torch.tensor(b)
    np.testing.assert_array_equal(((ga > 0) & (gbb < 2))._data, ((ta > 0) & (tb < 2)).numpy())
    np.testing.assert_array_equal((~(ga > 0) | (gbb == 1))._data, (~(ta > 0) | (tb == 1)).numpy())


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.tensor([1, 2]) + 1.5,
        lambda m: m.tensor([1, 2]) / m.tensor([2, 2]),
        lambda m: m.tensor([1.0, 2.0]) * 2,
        lambda m: m.tensor([1.0, 2.0], dtype=m.float64) + m.tensor([1.0, 2.0]),
        lambda m: m.tensor([1, 2], dtype=m.int32) + m.tensor([1, 2]),
        lambda m: m.tensor([1, 2]) + m.tensor([1.0, 2.0]),
        lambda m: m.tensor([1, 2]) * m.tensor(2.5, dtype=m.float64),
        lambda m: m.tensor([1.0, 2.0]) * m.tensor(2.5, dtype=m.float64),
        lambda m: m.tensor([True, False]) + 1,
        lambda m: m.tensor([True, False]) * 1.5,
        lambda m: m.tensor([1, 2]) ** 2,
        lambda m: m.tensor([1.0, 2.0], dtype=m.float64) * np.float32(2),
        lambda m: m.tensor([1.0, 2.0]) + np.float64(2.0),
        lambda m: m.tensor([3, 7]) // 2,
        lambda m: m.tensor([3.0, -7.0]) % 2,
    ],
)
def test_type_promotion_matches_torch(make):
    g, t = make(gb), make(torch)
    assert str(g.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    np.testing.assert_allclose(g.numpy(), t.numpy())


def test_float32_stays_float32_through_forward_and_backward():
    x = gb.randn(3, 4, requires_grad=True)
    y = ((x * 2.5 + 1) / 3.0).exp().log().sigmoid().sum() * 0.5
    y.backward()
    assert y.dtype == gb.float32 and x.grad.dtype == gb.float32


def test_cast_backward_returns_to_source_dtype():
    check(lambda x: (x.float() * 2).double(), lambda x: (x.float() * 2).double(), np.array([1.0, 2.0]))
