"""Reductions and softmax-family ops: parity with PyTorch over random dims/keepdim, gradchecks,
and the course identities (the gradient of logsumexp is softmax)."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import gradbox as gb
from gradbox.testing.oracle import arrays, check, shapes


def _dim_args(draw, ndim, multi=True):
    if ndim == 0:
        return None
    choice = draw(st.sampled_from(["none", "one", "many"] if multi else ["one"]))
    if choice == "none":
        return None
    if choice == "one":
        return draw(st.integers(-ndim, ndim - 1))
    dims = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(dims)


REDUCTIONS = {
    "sum": (lambda m, x, d, k: m.sum(x, d, keepdim=k) if d is not None else m.sum(x)),
    "mean": (lambda m, x, d, k: m.mean(x, d, keepdim=k) if d is not None else m.mean(x)),
    "var": (lambda m, x, d, k: m.var(x, d, keepdim=k) if d is not None else m.var(x)),
    "var_biased": (lambda m, x, d, k: m.var(x, d, keepdim=k, correction=0)),
    "std": (lambda m, x, d, k: m.std(x, d, keepdim=k) if d is not None else m.std(x)),
    "logsumexp": (lambda m, x, d, k: m.logsumexp(x, d if d is not None else tuple(range(x.ndim)), keepdim=k)),
    "norm": (lambda m, x, d, k: m.norm(x, 2, d, keepdim=k) if d is not None else m.norm(x)),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@given(data=st.data())
def test_reductions_match_torch(name, data):
    shape = data.draw(shapes(min_dims=1, min_side=2))
    dim = _dim_args(data.draw, len(shape))
    keep = data.draw(st.booleans())
    (x,) = arrays(data.draw, [shape])
    f = REDUCTIONS[name]
    check(lambda x: f(gb, x, dim, keep), lambda x: f(torch, x, dim, keep), x)


@given(data=st.data())
def test_prod_matches_torch_with_and_without_zeros(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keep = data.draw(st.booleans())
    (x,) = arrays(data.draw, [shape], low=0.5, high=1.5)
    if data.draw(st.booleans()):
        x.reshape(-1)[data.draw(st.integers(0, x.size - 1))] = 0.0
    if dim is None:
        check(gb.prod, torch.prod, x)
    else:
        check(lambda x: gb.prod(x, dim, keep), lambda x: torch.prod(x, dim, keep), x)


@pytest.mark.parametrize("op", ["max", "min"])
@given(data=st.data())
def test_max_min_with_dim_return_values_and_indices_like_torch(op, data):
    shape = data.draw(shapes(min_dims=1))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    keep = data.draw(st.booleans())
    (x,) = arrays(data.draw, [shape])
    out = check(lambda x: tuple(getattr(gb, op)(x, dim, keep)), lambda x: tuple(getattr(torch, op)(x, dim, keep)), x)
    assert out[1].dtype == gb.int64
    check(lambda x: getattr(x, op)(), lambda x: getattr(x, op)(), x)
    check(lambda x: getattr(gb, "arg" + op)(x, dim, keep), lambda x: getattr(torch, "arg" + op)(x, dim, keep), x)


def test_max_of_all_shares_gradient_among_ties_like_torch():
    x = np.array([[1.0, 3.0], [3.0, 0.0]])
    check(lambda x: x.max(), lambda x: x.max(), x)
    check(lambda x: x.min(), lambda x: x.min(), x)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_family_matches_torch(op, data):
    shape = data.draw(shapes(min_dims=1))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    (x,) = arrays(data.draw, [shape], low=-5, high=5)
    check(lambda x: getattr(gb, op)(x, dim), lambda x: getattr(torch, op)(x, dim), x)
    check(lambda x: getattr(gb, op)(x, dim), lambda x: getattr(torch, op)(x, dim), x.astype(np.float32))


def test_softmax_family_is_stable_for_large_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]])
    for op in ["softmax", "log_softmax"]:
        check(lambda x, op=op: getattr(gb, op)(x, 1), lambda x, op=op: getattr(torch, op)(x, 1), x)
    check(lambda x: gb.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1), x)


def test_gradient_of_logsumexp_is_softmax():
    x = gb.randn(4, 7, dtype=gb.float64, requires_grad=True)
    gb.logsumexp(x, 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), gb.softmax(x.detach(), 1).numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.sum(1),
        lambda x: x.mean(0, keepdim=True),
        lambda x: x.var(1),
        lambda x: x.std(0),
        lambda x: x.prod(1),
        lambda x: x.max(1).values,
        lambda x: x.logsumexp(1),
        lambda x: x.softmax(1),
        lambda x: x.log_softmax(0),
        lambda x: x.norm(),
    ],
)
def test_reduction_gradchecks(fn):
    x = gb.tensor(np.random.default_rng(0).uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    assert gb.autograd.gradcheck(fn, [x])
    assert gb.autograd.gradgradcheck(fn, [x])


def test_sum_of_ints_and_bools_is_int64_like_torch():
    assert gb.tensor([True, True, False]).sum().item() == 2
    assert gb.tensor([True, False]).sum().dtype == gb.int64
    assert gb.tensor([1, 2], dtype=gb.int32).sum().dtype == gb.int64


@pytest.mark.parametrize("p", [1, 2, 3])
def test_norm_gradient_at_a_zero_vector_is_zero_like_torch(p):
    a = np.array([[1.0, -2.0, 0.0], [0.0, 0.0, 0.0]])
    check(lambda x: gb.norm(x, p, dim=1), lambda x: torch.norm(x, p, dim=1), a)
    x = gb.zeros(2, 3, requires_grad=True)
    gb.norm(x, p).backward()
    assert np.array_equal(x.grad.numpy(), np.zeros((2, 3)))


def test_amax_of_an_empty_tensor_over_a_nonempty_dim_is_empty_and_over_an_empty_dim_raises():
    assert gb.amax(gb.zeros(0, 3), 1).shape == (0,) == torch.amax(torch.zeros(0, 3), 1).shape
    with pytest.raises(RuntimeError, match=r"amax: cannot reduce over an empty dimension \(input shape \(0, 3\)\)"):
        gb.amax(gb.zeros(0, 3), 0)
