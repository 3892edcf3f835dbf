"""Parity with PyTorch for the public ops that the other test files do not compare (or reach only
through an operator or an alias): forward values, dtypes and the gradient of every input equal
torch's (float64 to 1e-10, float32 to 1e-5) on hypothesis-drawn shapes.

Each op is one entry of a table keyed by its name, ``name -> (gradbox fn, torch fn, draw)``:
``draw(data.draw, ...)`` returns the input arrays and keyword arguments handed to both functions.
``tests/test_ops_coverage.py`` reads the keys: every public op must have a parity test.
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import gradbox as gb
from gradbox.testing.oracle import arrays, assert_same, broadcastable, check, shapes

# ---- drawing inputs -------------------------------------------------------------------------


def _x(draw, dtype, lo=-2.0, hi=2.0, **shape_kw):
    (x,) = arrays(draw, [draw(shapes(**shape_kw))], dtype, lo, hi)
    return x


def _maybe_ties(draw, x):
    """Values in {-1, 0, 1} (so that extremes tie) unless hypothesis draws True (rarer: it shrinks to False)."""
    return x if draw(st.booleans()) else np.sign(np.round(x))


def _dim(draw, ndim):
    n = max(ndim, 1)
    return draw(st.integers(-n, n - 1))


def _divisors(n):
    return [k for k in range(1, n + 1) if n % k == 0]


def _factorization(draw, n, max_parts=3):
    """A shape whose sizes multiply to n."""
    parts = []
    for _ in range(draw(st.integers(0, max_parts - 1))):
        d = draw(st.sampled_from(_divisors(n)))
        parts.append(d)
        n //= d
    parts.append(n)
    return tuple(draw(st.permutations(parts)))


def _broadcast_source(draw, max_side=3):
    """(small, big): ``small`` broadcasts to ``big`` (some sizes 1, maybe fewer dims)."""
    big = draw(shapes(max_side=max_side))
    small = tuple(1 if draw(st.booleans()) else s for s in big)
    return small[draw(st.integers(0, len(small))) :], big


def draw_amax(draw, dtype):
    """One dim, several dims (a tuple or a list), all dims (``()``); keepdim; mostly with ties."""
    x = _maybe_ties(draw, _x(draw, dtype))
    n = x.ndim
    choice = draw(st.sampled_from(["all", "one", "tuple", "list"]))
    if choice == "all":
        dim = ()
    elif choice == "one" or n == 0:
        dim = _dim(draw, n)
    else:
        dim = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=n, unique_by=lambda d: d % n))
        dim = tuple(dim) if choice == "tuple" else dim
    return [x], dict(dim=dim, keepdim=draw(st.booleans()))


def draw_matrices(batch, vec=False):
    def draw_mats(draw, dtype):
        side = st.integers(1, 4)
        b, n, k, m = draw(side), draw(side), draw(side), draw(side)
        sa, sb = ((k,), (k,)) if vec else ((n, k), (k, m))
        if batch:
            sa, sb = (b,) + sa, (b,) + sb
        return arrays(draw, [sa, sb], dtype), {}

    return draw_mats


def draw_outer(draw, dtype):
    return arrays(draw, [(draw(st.integers(1, 5)),), (draw(st.integers(1, 5)),)], dtype), {}


def draw_unary(lo, hi, **shape_kw):
    def draw_x(draw, dtype):
        return [_x(draw, dtype, lo, hi, **shape_kw)], {}

    return draw_x


def draw_expand_as(draw, dtype):
    small, big = _broadcast_source(draw)
    x, other = arrays(draw, [small, big], dtype)
    return [x, other], {}


def draw_broadcast_to(draw, dtype):
    small, big = _broadcast_source(draw)
    return arrays(draw, [small], dtype), dict(shape=big)


def draw_sum_to(draw, dtype):
    small, big = _broadcast_source(draw)
    return arrays(draw, [big], dtype), dict(shape=small)


def draw_view_as(draw, dtype):
    x = _x(draw, dtype)
    other = np.zeros(_factorization(draw, x.size), dtype)
    return [x, other], {}


def draw_swapaxes(draw, dtype):
    x = _x(draw, dtype)
    return [x], dict(d0=_dim(draw, x.ndim), d1=_dim(draw, x.ndim))


def draw_unflatten(draw, dtype):
    x = _x(draw, dtype, min_dims=1, max_side=6)
    dim = _dim(draw, x.ndim)
    sizes = list(_factorization(draw, x.shape[dim]))
    if draw(st.booleans()):  # PyTorch infers one size given as -1
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    return [x], dict(dim=dim, sizes=tuple(sizes))


def draw_clip(draw, dtype):
    x = _x(draw, dtype)
    lo, hi = sorted(draw(st.lists(st.sampled_from([-1.5, -0.5, 0.0, 0.25, 1.0]), min_size=2, max_size=2)))
    which = draw(st.sampled_from(["both", "min", "max"]))
    return [x], dict(lo=None if which == "max" else lo, hi=None if which == "min" else hi)


def draw_cast(draw, dtype):
    target = draw(st.sampled_from(["float64", "float32", "float16", "int64", "int32", "bool"]))
    return [_x(draw, dtype, -3, 3)], dict(dtype=target)


def draw_concatenate(draw, dtype):
    shape = draw(shapes(min_dims=1, max_side=4))
    dim = _dim(draw, len(shape))
    sizes = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 3)))]
    return arrays(draw, [shape[: dim % len(shape)] + (k,) + shape[dim % len(shape) + 1 :] for k in sizes], dtype), dict(
        dim=dim
    )


def draw_basic_index(draw, dtype):
    """A tuple of ints, slices (steps > 0, as PyTorch needs), None, Ellipsis and at most one list."""
    x = _x(draw, dtype, min_dims=1, max_dims=3)
    idx, listed = [], False
    dims = list(range(x.ndim))
    if draw(st.booleans()):
        dims = dims[: draw(st.integers(0, x.ndim))]
        idx_tail = [Ellipsis]
    else:
        idx_tail = []
    for d in dims:
        n = x.shape[d]
        kind = draw(st.sampled_from(["int", "slice", "full", "none", "list"]))
        if kind == "int":
            idx.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            idx.append(slice(draw(st.integers(-n, n)), draw(st.integers(-n, n)), draw(st.integers(1, 3))))
        elif kind == "none":
            idx += [None, slice(None)]
        elif kind == "list" and not listed:
            listed = True
            idx.append(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4)))
        else:
            idx.append(slice(None))
    return [x], dict(idx=tuple(idx + idx_tail))


# name -> (gradbox fn, torch fn, draw(data.draw, dtype) -> (arrays, kwargs)); gradients compared too
DIFFERENTIABLE = {
    "amax": (
        lambda x, dim, keepdim: gb.amax(x, dim, keepdim),
        lambda x, dim, keepdim: torch.amax(x, dim, keepdim),
        draw_amax,
    ),
    "amin": (
        lambda x, dim, keepdim: gb.amin(x, dim, keepdim),
        lambda x, dim, keepdim: torch.amin(x, dim, keepdim),
        draw_amax,
    ),
    "mm": (lambda a, b: gb.mm(a, b), torch.mm, draw_matrices(batch=False)),
    "bmm": (lambda a, b: gb.bmm(a, b), torch.bmm, draw_matrices(batch=True)),
    "dot": (lambda a, b: gb.dot(a, b), torch.dot, draw_matrices(batch=False, vec=True)),
    "outer": (lambda a, b: gb.outer(a, b), torch.outer, draw_outer),
    "erf": (lambda x: gb.erf(x), torch.erf, draw_unary(-3.0, 3.0)),
    "log1p": (lambda x: gb.log1p(x), torch.log1p, draw_unary(-0.9, 3.0)),
    "clip": (lambda x, lo, hi: gb.clip(x, lo, hi), lambda x, lo, hi: torch.clip(x, lo, hi), draw_clip),
    "cast": (
        lambda x, dtype: gb.cast(x, getattr(gb, dtype)),
        lambda x, dtype: x.to(getattr(torch, dtype)),
        draw_cast,
    ),
    "expand_as": (lambda x, o: gb.expand_as(x, o), lambda x, o: x.expand_as(o), draw_expand_as),
    "broadcast_to": (
        lambda x, shape: gb.broadcast_to(x, shape),
        lambda x, shape: torch.broadcast_to(x, shape),
        draw_broadcast_to,
    ),
    "sum_to": (lambda x, shape: gb.sum_to(x, shape), lambda x, shape: x.sum_to_size(shape), draw_sum_to),
    "view_as": (lambda x, o: gb.view_as(x, o), lambda x, o: x.view_as(o), draw_view_as),
    "reshape_as": (lambda x, o: gb.reshape_as(x, o), lambda x, o: x.reshape_as(o), draw_view_as),
    "swapaxes": (
        lambda x, d0, d1: gb.swapaxes(x, d0, d1),
        lambda x, d0, d1: torch.swapaxes(x, d0, d1),
        draw_swapaxes,
    ),
    "t": (lambda x: gb.t(x), torch.t, draw_unary(-2.0, 2.0, max_dims=2)),
    "unflatten": (
        lambda x, dim, sizes: gb.unflatten(x, dim, sizes),
        lambda x, dim, sizes: torch.unflatten(x, dim, sizes),
        draw_unflatten,
    ),
    "clone": (lambda x: gb.clone(x) * 1.5, lambda x: torch.clone(x) * 1.5, draw_unary(-2.0, 2.0)),
    "concatenate": (
        lambda *xs, dim: gb.concatenate(xs, dim),
        lambda *xs, dim: torch.concatenate(xs, dim),
        draw_concatenate,
    ),
    "getitem": (lambda x, idx: gb.getitem(x, idx), lambda x, idx: x[idx], draw_basic_index),
}


@pytest.mark.parametrize("name", list(DIFFERENTIABLE))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
def test_differentiable_ops_match_torch(name, dtype, data):
    g, t, draw = DIFFERENTIABLE[name]
    xs, kw = draw(data.draw, dtype)
    check(lambda *a: g(*a, **kw), lambda *a: t(*a, **kw), *xs)


# ---- ops without a gradient: values and dtypes ------------------------------------------------

NUMERIC = [np.float64, np.float32, np.int64, np.int32, np.bool_]


def _typed(draw, shape, dtypes=NUMERIC, lo=-3, hi=3):
    """Small integer-valued numbers (so that comparisons tie) in a drawn dtype, or uniform floats."""
    dtype = draw(st.sampled_from(dtypes))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind == "f" and draw(st.booleans()):
        return rng.uniform(lo, hi, shape).astype(dtype)
    return rng.integers(lo, hi + 1, shape).astype(dtype)


def draw_argmax(draw):
    """dim None (the flattened index) or a dim, keepdim with a dim; ties (first index wins) often."""
    x = _typed(draw, draw(shapes()), [np.float64, np.float32, np.int64])
    dim = draw(st.one_of(st.none(), st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1)))
    return [x], dict(dim=dim, keepdim=dim is not None and draw(st.booleans()))


def draw_with_nonfinite(draw):
    x = _typed(draw, draw(shapes()), [np.float64, np.float32, np.int64])
    if x.dtype.kind == "f" and x.size:
        flat = x.reshape(-1)
        for _ in range(draw(st.integers(1, 3))):
            flat[draw(st.integers(0, x.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf, -np.nan]))
    return [x], {}


def draw_sign(draw):
    return [_typed(draw, draw(shapes()), [np.float64, np.float32, np.int64, np.int32])], {}


def draw_binary(dtypes=NUMERIC, nonzero_b=False, same_dtype=False):
    def draw_ab(draw):
        sa, sb = draw(broadcastable()).input_shapes
        a = _typed(draw, sa, dtypes)
        b = _typed(draw, sb, [a.dtype.type] if same_dtype else dtypes)
        if nonzero_b:
            b = np.where(b == 0, b.dtype.type(2), b)
        return [a, b], {}

    return draw_ab


def draw_logical_not(draw):
    return [_typed(draw, draw(shapes()))], {}


def draw_bitwise(draw):
    a, b = draw_binary([np.int64, np.int32, np.bool_])(draw)[0]
    return [a, b], dict(fn=draw(st.sampled_from(["and", "or", "xor"])))


def draw_all_any(draw):
    x = _typed(draw, draw(shapes(max_side=3)), [np.float64, np.float32, np.int64, np.bool_], lo=0, hi=2)
    n = x.ndim
    if n == 0 or draw(st.booleans()):
        return [x], dict(dim=None, keepdim=False)
    dim = draw(st.one_of(st.integers(-n, n - 1), st.lists(st.integers(0, n - 1), min_size=1, unique=True).map(tuple)))
    return [x], dict(dim=dim, keepdim=draw(st.booleans()))


def _reduce_bool(m, name):
    return lambda x, dim, keepdim: getattr(m, name)(x) if dim is None else getattr(m, name)(x, dim, keepdim)


def _compare(name):
    return (lambda a, b: getattr(gb, name)(a, b), getattr(torch, name), draw_binary())


# name -> (gradbox fn, torch fn, draw(data.draw) -> (arrays, kwargs)); the arrays come in many dtypes
VALUES = {
    "argmax": (
        lambda x, dim, keepdim: gb.argmax(x, dim, keepdim),
        lambda x, dim, keepdim: torch.argmax(x, dim, keepdim),
        draw_argmax,
    ),
    "argmin": (
        lambda x, dim, keepdim: gb.argmin(x, dim, keepdim),
        lambda x, dim, keepdim: torch.argmin(x, dim, keepdim),
        draw_argmax,
    ),
    "isnan": (lambda x: gb.isnan(x), torch.isnan, draw_with_nonfinite),
    "isfinite": (lambda x: gb.isfinite(x), torch.isfinite, draw_with_nonfinite),
    "sign": (lambda x: gb.sign(x), torch.sign, draw_sign),
    "floor_divide": (
        lambda a, b: gb.floor_divide(a, b),
        torch.floor_divide,
        draw_binary([np.float64, np.float32, np.int64, np.int32], nonzero_b=True),
    ),
    "remainder": (
        lambda a, b: gb.remainder(a, b),
        torch.remainder,
        draw_binary([np.float64, np.float32, np.int64, np.int32], nonzero_b=True),
    ),
    "bitwise": (
        lambda a, b, fn: gb.bitwise(getattr(np, f"bitwise_{fn}"), a, b),
        lambda a, b, fn: getattr(torch, f"bitwise_{fn}")(a, b),
        draw_bitwise,
    ),
    "logical_and": (lambda a, b: gb.logical_and(a, b), torch.logical_and, draw_binary()),
    "logical_or": (lambda a, b: gb.logical_or(a, b), torch.logical_or, draw_binary()),
    "logical_xor": (lambda a, b: gb.logical_xor(a, b), torch.logical_xor, draw_binary()),
    "logical_not": (lambda x: gb.logical_not(x), torch.logical_not, draw_logical_not),
    "eq": _compare("eq"),
    "ne": _compare("ne"),
    "lt": _compare("lt"),
    "le": _compare("le"),
    "gt": _compare("gt"),
    "ge": _compare("ge"),
    "all": (_reduce_bool(gb, "all"), _reduce_bool(torch, "all"), draw_all_any),
    "any": (_reduce_bool(gb, "any"), _reduce_bool(torch, "any"), draw_all_any),
}


@pytest.mark.parametrize("name", list(VALUES))
@given(data=st.data())
def test_non_differentiable_ops_match_torch_values_and_dtypes(name, data):
    g, t, draw = VALUES[name]
    xs, kw = draw(data.draw)
    with np.errstate(invalid="ignore"):  # sign/compare of NaN
        check(lambda *a: g(*a, **kw), lambda *a: t(*a, **kw), *xs, diff=[False] * len(xs))


# ---- the cases worth spelling out ------------------------------------------------------------


def _grad(m, fn, x, up=None):
    xt = m.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    y = fn(m, xt)
    y.backward(m.ones_like(y) if up is None else m.tensor(np.asarray(up, dtype=np.float64)))
    return (xt.grad.numpy() if m is gb else xt.grad.detach().numpy()), y


@pytest.mark.parametrize(
    "fn,x,expected",
    [
        (lambda m, x: m.amax(x, 1), [[1.0, 3.0, 3.0]], [[0, 0.5, 0.5]]),
        (lambda m, x: m.amin(x, 1), [[1.0, 1.0, 3.0]], [[0.5, 0.5, 0]]),
        (lambda m, x: m.amax(x), [[1.0, 3.0], [3.0, 3.0]], [[0, 1 / 3], [1 / 3, 1 / 3]]),
        (lambda m, x: m.amax(x, (0, 1), keepdim=True), [[2.0, 0.0], [2.0, 1.0]], [[0.5, 0], [0.5, 0]]),
        (lambda m, x: m.amin(x, (0, 2)), [[[0.0, 0.0]], [[1.0, 0.0]]], [[[1 / 3, 1 / 3]], [[0, 1 / 3]]]),
        (lambda m, x: m.amax(x, -1), [[5.0, 5.0], [1.0, 2.0]], [[0.5, 0.5], [0, 1]]),
    ],
)
def test_amax_amin_share_the_gradient_evenly_among_ties_like_torch(fn, x, expected):
    g, gy = _grad(gb, fn, x)
    t, ty = _grad(torch, fn, x)
    assert_same(gy, ty)
    np.testing.assert_allclose(g, expected, rtol=1e-15)
    np.testing.assert_allclose(t, expected, rtol=1e-15)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin_return_the_first_of_tied_extremes_like_torch(op):
    x = np.array([[1.0, 3.0, 3.0, -1.0], [-1.0, 0.0, -1.0, 3.0]])
    for dim, keep in [(None, False), (0, False), (1, False), (1, True), (-1, True), (0, True)]:
        g = getattr(gb, op)(gb.tensor(x), dim, keep)
        assert_same(g, getattr(torch, op)(torch.tensor(x), dim, keep), f"{op}(dim={dim}, keepdim={keep})")
    assert gb.argmax(gb.tensor(x)).item() == 1 and gb.argmin(gb.tensor(x)).item() == 3
    assert gb.argmax(gb.tensor(x), 1).tolist() == [1, 3] and gb.argmin(gb.tensor(x), 1).tolist() == [3, 0]


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin_with_dim_none_and_keepdim_match_torch(op):
    x = np.array([[1.0, 3.0, 3.0], [-1.0, 0.0, 2.0]])
    assert_same(getattr(gb, op)(gb.tensor(x), None, True), getattr(torch, op)(torch.tensor(x), None, True))


def test_an_int_and_a_list_index_split_by_a_slice_match_torch():
    x = np.arange(24.0).reshape(2, 3, 4)
    check(lambda x: gb.getitem(x, (0, slice(None), [0, 1])), lambda x: x[0, :, [0, 1]], x)


def test_isnan_and_isfinite_flag_nan_and_inf_like_torch():
    x = np.array([[np.nan, 1.0, -np.inf], [np.inf, -0.0, np.nan]])
    for dtype in (np.float64, np.float32):
        for op in ("isnan", "isfinite"):
            g, t = getattr(gb, op)(gb.tensor(x.astype(dtype))), getattr(torch, op)(torch.tensor(x.astype(dtype)))
            assert_same(g, t, op)
    assert gb.isnan(gb.tensor(x)).tolist() == [[True, False, False], [False, False, True]]
    assert gb.isnan(gb.tensor([1, 2])).dtype == gb.bool and not gb.isnan(gb.tensor([1, 2])).any().item()


def test_sign_of_nan_matches_torch():
    x = np.array([np.nan, -1.5, 0.0, 2.0])
    with np.errstate(invalid="ignore"):
        assert_same(gb.sign(gb.tensor(x)), torch.sign(torch.tensor(x)))


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_cast_to_a_non_float_dtype_leaves_the_graph_like_torch(dtype):
    g = gb.cast(gb.ones(2, requires_grad=True), getattr(gb, dtype))
    t = torch.ones(2, requires_grad=True).to(getattr(torch, dtype))
    assert g.requires_grad == t.requires_grad


def test_log1p_is_accurate_near_zero_and_erf_saturates_like_torch():
    x = np.array([1e-300, -1e-17, 1e-12, -1e-8, 0.0, 1e-3, -0.999, 30.0])
    check(gb.log1p, torch.log1p, x)
    check(gb.erf, torch.erf, np.array([-30.0, -6.0, -1e-9, 0.0, 1e-12, 0.5, 6.0, 30.0]))


@pytest.mark.parametrize("op", ["erf", "log1p"])
def test_erf_log1p_of_integers_give_the_default_float_like_torch(op):
    assert_same(getattr(gb, op)(gb.tensor([0, 1, 2])), getattr(torch, op)(torch.tensor([0, 1, 2])), op)


@pytest.mark.parametrize(
    "op,sa,sb",
    [("mm", (2, 3), (3, 4)), ("bmm", (2, 3, 1), (2, 1, 2)), ("dot", (4,), (4,)), ("outer", (3,), (2,))],
)
@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_matrix_products_of_integers_match_torch(op, sa, sb, dtype):
    rng = np.random.default_rng(0)
    a, b = rng.integers(-5, 6, sa).astype(dtype), rng.integers(-5, 6, sb).astype(dtype)
    check(getattr(gb, op), getattr(torch, op), a, b)


def test_clone_copies_the_data_and_passes_the_gradient_like_torch():
    x = np.array([[1.0, -2.0], [3.0, 0.5]])
    g, t = gb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gc, tc = gb.clone(g), torch.clone(t)
    assert gc.requires_grad and gc.grad_fn is not None and tc.requires_grad
    assert not np.shares_memory(gc._data, g._data)
    with gb.no_grad(), torch.no_grad():
        gc.detach()[0, 0] = 9.0
        tc.detach()[0, 0] = 9.0
    assert_same(g, t)
    check(lambda x: (gb.clone(x) * x).sum(), lambda x: (torch.clone(x) * x).sum(), x)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.as_tensor([1.0, 2.5]),
        lambda m: m.as_tensor([1, 2]),
        lambda m: m.as_tensor([True, False]),
        lambda m: m.as_tensor(3.5),
        lambda m: m.as_tensor(7),
        lambda m: m.as_tensor([[1, 2.5]]),
        lambda m: m.as_tensor([1, 2], dtype=m.float64),
        lambda m: m.as_tensor(np.arange(4.0)),
        lambda m: m.as_tensor(np.arange(4, dtype=np.int32)),
        lambda m: m.as_tensor(np.arange(4.0), dtype=m.float32),
        lambda m: m.as_tensor(m.tensor([1.0, 2.0]), dtype=m.float64),
    ],
)
def test_as_tensor_values_and_dtypes_match_torch(make):
    assert_same(make(gb), make(torch))


def test_as_tensor_shares_memory_with_arrays_and_tensors_like_torch():
    a = np.arange(3.0)
    g, t = gb.as_tensor(a), torch.as_tensor(a)
    a[0] = 5.0
    assert g[0].item() == t[0].item() == 5.0
    x = gb.tensor([1.0, 2.0])
    assert gb.as_tensor(x) is x and gb.as_tensor(x, dtype=gb.float32) is x
