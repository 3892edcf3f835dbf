"""Shape ops, indexing and matmul: parity with PyTorch on random shapes, gradchecks, errors."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import gradbox as gb
from gradbox.testing.oracle import arrays, check, shapes


@given(data=st.data())
def test_reshape_view_flatten_match_torch(data):
    shape = data.draw(shapes(min_dims=1))
    (x,) = arrays(data.draw, [shape])
    n = x.size
    check(lambda x: x.reshape(n), lambda x: x.reshape(n), x)
    check(lambda x: x.view(-1, shape[-1]), lambda x: x.view(-1, shape[-1]), x)
    sd = data.draw(st.integers(0, len(shape) - 1))
    ed = data.draw(st.integers(sd, len(shape) - 1))
    check(lambda x: x.flatten(sd, ed), lambda x: x.flatten(sd, ed), x)


@given(data=st.data())
def test_permute_transpose_T_match_torch(data):
    shape = data.draw(shapes(min_dims=2))
    (x,) = arrays(data.draw, [shape])
    perm = data.draw(st.permutations(range(len(shape))))
    check(lambda x: x.permute(*perm), lambda x: x.permute(*perm), x)
    d0, d1 = data.draw(st.integers(-len(shape), len(shape) - 1)), data.draw(st.integers(0, len(shape) - 1))
    check(lambda x: x.transpose(d0, d1), lambda x: x.transpose(d0, d1), x)
    check(lambda x: x.mT, lambda x: x.mT, x)
    check(lambda x: x.movedim(d0, d1), lambda x: x.movedim(d0, d1), x)


@given(data=st.data())
def test_expand_squeeze_unsqueeze_repeat_match_torch(data):
    shape = data.draw(shapes(min_dims=1, max_side=3))
    ones = tuple(1 if data.draw(st.booleans()) else s for s in shape)
    (x,) = arrays(data.draw, [ones])
    target = (2,) + tuple(s if o == 1 else -1 for s, o in zip(shape, ones))
    check(lambda x: x.expand(*target), lambda x: x.expand(*target), x)
    check(lambda x: x.squeeze(), lambda x: x.squeeze(), x)
    d = data.draw(st.integers(-len(ones) - 1, len(ones)))
    check(lambda x: x.unsqueeze(d), lambda x: x.unsqueeze(d), x)
    check(lambda x: x.squeeze(0), lambda x: x.squeeze(0), x)
    reps = tuple(data.draw(st.integers(1, 3)) for _ in range(len(ones) + 1))
    check(lambda x: x.repeat(*reps), lambda x: x.repeat(*reps), x)


@given(data=st.data())
def test_flip_and_pad_match_torch(data):
    shape = data.draw(shapes(min_dims=1, min_side=2))
    (x,) = arrays(data.draw, [shape])
    dims = data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True))
    check(lambda x: x.flip(dims), lambda x: x.flip(dims), x)
    npad = data.draw(st.integers(1, len(shape)))
    pads = [data.draw(st.integers(-1, 2)) for _ in range(2 * npad)]
    value = data.draw(st.sampled_from([0.0, 1.5]))
    check(lambda x: gb.pad(x, pads, value=value), lambda x: torch.nn.functional.pad(x, pads, value=value), x)


@given(data=st.data())
def test_cat_stack_split_chunk_match_torch(data):
    shape = data.draw(shapes(min_dims=1, max_side=4))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = [data.draw(st.integers(1, 3)) for _ in range(data.draw(st.integers(1, 3)))]
    shp = [tuple(s if i != dim % len(shape) else k for i, s in enumerate(shape)) for k in sizes]
    xs = arrays(data.draw, shp)
    check(lambda *xs: gb.cat(xs, dim), lambda *xs: torch.cat(xs, dim), *xs)
    same = arrays(data.draw, [shape] * len(sizes))
    sd = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check(lambda *xs: gb.stack(xs, sd), lambda *xs: torch.stack(xs, sd), *same)
    x = same[0]
    k = data.draw(st.integers(1, 4))
    check(lambda x: x.split(k, dim), lambda x: x.split(k, dim), x)
    check(lambda x: x.chunk(k, dim), lambda x: x.chunk(k, dim), x)
    n = x.shape[dim]
    cut = data.draw(st.integers(0, n))
    check(lambda x: gb.split(x, [cut, n - cut], dim), lambda x: torch.split(x, [cut, n - cut], dim), x)


BASIC_INDICES = [
    (0,),
    (slice(1, None),),
    (slice(None, None, 2), 1),
    (Ellipsis, 0),
    (None, slice(0, 2)),
    (-1, slice(None), None),
]


@pytest.mark.parametrize("idx", BASIC_INDICES)
def test_basic_indexing_matches_torch(idx):
    x = np.random.default_rng(0).standard_normal((4, 3, 2))
    check(lambda x: x[idx], lambda x: x[idx], x)


def test_advanced_indexing_scatter_adds_repeated_indices_like_torch():
    x = np.random.default_rng(0).standard_normal((5, 3))
    check(lambda x: x[[0, 0, 2, 4, 0]], lambda x: x[[0, 0, 2, 4, 0]], x)
    ig, it = gb.tensor([[1, 1], [3, 0]]), torch.tensor([[1, 1], [3, 0]])
    check(lambda x: x[ig, 2], lambda x: x[it, 2], x)
    check(lambda x: x[:, [2, 2, 0]], lambda x: x[:, [2, 2, 0]], x)
    check(
        lambda x: x[gb.tensor([0, 1, 1]), gb.tensor([2, 2, 0])],
        lambda x: x[torch.tensor([0, 1, 1]), torch.tensor([2, 2, 0])],
        x,
    )
    mask = x > 0
    check(lambda x: x[gb.tensor(mask)], lambda x: x[torch.tensor(mask)], x)
    check(
        lambda x: gb.gather(x, 1, gb.tensor([[0, 0], [1, 2], [2, 2], [0, 1], [1, 1]])),
        lambda x: torch.gather(x, 1, torch.tensor([[0, 0], [1, 2], [2, 2], [0, 1], [1, 1]])),
        x,
    )
    check(lambda x: x.index_select(0, gb.tensor([4, 4, 1])), lambda x: x.index_select(0, torch.tensor([4, 4, 1])), x)


def test_indexing_gradients_pass_gradcheck_and_gradgradcheck():
    x = gb.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    for f in [lambda x: x[[0, 0, 3]] ** 2, lambda x: x[1:, ::2] ** 2, lambda x: gb.cat([x, x * 2], 1)[:, 1:5] ** 2]:
        assert gb.autograd.gradcheck(f, [x])
        assert gb.autograd.gradgradcheck(f, [x])


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matmul_matches_torch_including_vectors_and_batches(sa, sb, dtype):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    check(lambda a, b: a @ b, lambda a, b: a @ b, a, b)


def test_matmul_gradcheck_and_second_derivative():
    rng = np.random.default_rng(1)
    a = gb.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    b = gb.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    assert gb.autograd.gradcheck(lambda a, b: (a @ b).tanh(), [a, b])
    assert gb.autograd.gradgradcheck(lambda a, b: (a @ b).tanh(), [a, b])


def test_shape_gradchecks():
    x = gb.tensor(np.random.default_rng(2).standard_normal((2, 3, 2)), requires_grad=True)
    for f in [
        lambda x: x.permute(2, 0, 1).reshape(4, 3) ** 2,
        lambda x: x[:, :1].expand(2, 3, 2) * x,
        lambda x: gb.pad(x, (1, 2, -1, 0), value=3.0) ** 2,
        lambda x: x.flip(1).repeat(2, 1, 1) ** 2,
        lambda x: gb.stack([x, x.exp()], 1).sum(2),
        lambda x: x.flatten(1).unsqueeze(0).squeeze(0) ** 2,
        lambda x: x.split([1, 2], 1)[1] * x.chunk(2, 1)[1],
        lambda x: gb.where(x > 0, x * x, -x).masked_fill(x < -1, 0.5),
        lambda x: x.transpose(0, 2).t() ** 2 if x.ndim == 2 else x.transpose(0, 2) ** 2,
    ]:
        assert gb.autograd.gradcheck(f, [x])
        assert gb.autograd.gradgradcheck(f, [x])


def test_shape_errors_name_the_op_and_shapes():
    x = gb.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"matmul: \(3, 4\) @ \(5, 2\)"):
        x @ gb.zeros(5, 2)
    with pytest.raises(RuntimeError, match=r"add: shapes \(3, 4\) and \(5,\) cannot be broadcast: size 4 vs 5"):
        x + gb.zeros(5)
    with pytest.raises(RuntimeError, match=r"reshape: shape \[5, 5\] is invalid for input of size 12"):
        x.reshape(5, 5)
    with pytest.raises(RuntimeError, match=r"expand: the expanded size 2 must match the existing size 4"):
        x.expand(3, 2)
    with pytest.raises(RuntimeError, match=r"cat: tensor 1 has shape \(3, 5\)"):
        gb.cat([x, gb.zeros(3, 5)], 0)
    with pytest.raises(
        IndexError, match=r"sum: dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"
    ):
        x.sum(2)
    with pytest.raises(
        RuntimeError,
        match=r"matmul: expected both operands to have the same dtype, got gradbox.float32 and gradbox.float64",
    ):
        x @ gb.zeros(4, 2, dtype=gb.float64)
    with pytest.raises(IndexError, match=r"index: .*out of bounds.*\(tensor shape \(3, 4\)\)"):
        x[5]
