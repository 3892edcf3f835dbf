"""gradbox/ops/_compiled.py: the numba kernels against the NumPy paths they replace (same
numbers, bit for bit) and against PyTorch; the NumPy paths when numba is off or missing."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import gradbox as gb
import gradbox.nn.functional as F
from gradbox.ops import _compiled, _parallel
from gradbox.testing.oracle import assert_same

pytest.importorskip("numba")


@pytest.fixture
def compiled_state():
    was = _compiled.set_enabled(True)
    yield
    _compiled.set_enabled(was)


def _count_calls(monkeypatch, *names) -> list:
    """The names of the kernels called from now on (each kernel wrapped to record its call)."""
    calls = []
    kern = _compiled.kernels()
    for name in names:
        fn = getattr(kern, name)
        monkeypatch.setattr(kern, name, lambda *a, _f=fn, _n=name: (calls.append(_n), _f(*a))[1])
    return calls


def _pool_step(x, padding, ceil_mode, g):
    xt = gb.tensor(x, requires_grad=True)
    y, idx = F.max_pool2d(xt, 2, padding=padding, ceil_mode=ceil_mode, return_indices=True)
    y.backward(gb.tensor(g))
    return y.detach().numpy(), idx.numpy(), xt.grad.numpy()


def _awkward(rng, shape, dtype):
    """Random values with ties, NaNs (one, two and a whole window) and infinities."""
    x = rng.standard_normal(shape)
    x[0, 0, 0, :4] = 1.0  # ties: the first maximum takes the index
    x[0, 0, 2, 1] = np.nan
    x[-1, -1, 0, 0] = x[-1, -1, 1, 1] = np.nan  # two NaNs in a window: the last one
    x[-1, 0, :2, :2] = np.nan
    x[0, -1, 2:4, 2:4] = -np.inf
    x[0, -1, 0, 2] = np.inf
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape,padding,ceil_mode", [((3, 4, 8, 6), 0, False), ((2, 3, 7, 9), 0, False), ((2, 3, 7, 9), 0, True), ((2, 3, 6, 5), 1, False)]
)
def test_compiled_max_pool_equals_the_numpy_path(compiled_state, monkeypatch, dtype, shape, padding, ceil_mode):
    rng = np.random.default_rng(sum(shape))
    x = _awkward(rng, shape, dtype)
    out_shape = F.max_pool2d(gb.tensor(x), 2, padding=padding, ceil_mode=ceil_mode).shape
    g = rng.standard_normal(out_shape).astype(dtype)
    calls = _count_calls(monkeypatch, "max_pool_2x2", "max_unpool_2x2")
    fast = _pool_step(x, padding, ceil_mode, g)
    assert sorted(set(calls)) == ["max_pool_2x2", "max_unpool_2x2"]  # the kernels ran, no silent fallback
    _compiled.set_enabled(False)
    plain = _pool_step(x, padding, ceil_mode, g)
    for a, b in zip(fast, plain):
        np.testing.assert_array_equal(a, b)
    ty, tidx = torch.nn.functional.max_pool2d(
        torch.tensor(x), 2, padding=padding, ceil_mode=ceil_mode, return_indices=True
    )
    np.testing.assert_array_equal(fast[0], ty.numpy())
    np.testing.assert_array_equal(fast[1], tidx.numpy())


def test_compiled_max_pool_split_over_threads_matches_serial(compiled_state, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 8, 8))
    g = rng.standard_normal((5, 3, 4, 4))
    old = _parallel.set_threads(1)
    try:
        serial = _pool_step(x, 0, False, g)
        monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
        _parallel.set_threads(2)
        split = _pool_step(x, 0, False, g)
    finally:
        _parallel.set_threads(old)
    for a, b in zip(split, serial):
        np.testing.assert_array_equal(a, b)


def test_other_pools_and_layouts_keep_the_numpy_path(compiled_state, monkeypatch):
    """3x3, stride 1, dilation 2, integer and non-contiguous inputs: no kernel call, PyTorch's numbers."""
    kern = _compiled.kernels()
    monkeypatch.setattr(kern, "max_pool_2x2", lambda *a: pytest.fail("kernel used outside 2x2 stride 2"))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 9))
    for kwargs in ({"kernel_size": 3, "stride": 2}, {"kernel_size": 2, "stride": 1}, {"kernel_size": 2, "dilation": 2}):
        ours = F.max_pool2d(gb.tensor(x), **kwargs).numpy()
        np.testing.assert_array_equal(ours, torch.nn.functional.max_pool2d(torch.tensor(x), **kwargs).numpy())
    xt = np.ascontiguousarray(x.transpose(0, 1, 3, 2))
    ours = F.max_pool2d(gb.tensor(x).transpose(2, 3), 2).numpy()
    np.testing.assert_array_equal(ours, torch.nn.functional.max_pool2d(torch.tensor(xt), 2).numpy())


def test_numba_missing_means_the_numpy_path(monkeypatch):
    was = _compiled.kernels() is not None
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba -> ImportError
    monkeypatch.delitem(sys.modules, "gradbox.ops._numba_kernels", raising=False)
    monkeypatch.setattr(_compiled, "_tried", False)
    monkeypatch.setattr(_compiled, "_kernels", None)
    assert _compiled.kernels() is None
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 6))
    ours = F.max_pool2d(gb.tensor(x), 2).numpy()
    np.testing.assert_array_equal(ours, torch.nn.functional.max_pool2d(torch.tensor(x), 2).numpy())
    monkeypatch.undo()
    _compiled.set_enabled(was)  # as before the test (off when the suite runs with GRADBOX_COMPILED=0)


def test_environment_switch_turns_the_kernels_off_and_import_does_not_load_numba():
    code = (
        "import sys, gradbox as gb; assert 'numba' not in sys.modules, 'imported with gradbox'; "
        "from gradbox.ops import _compiled; print(_compiled.kernels() is None)"
    )
    for env, expect in (("0", "True"), ("1", "False")):
        out = subprocess.run(
            [sys.executable, "-c", code], env={**os.environ, "GRADBOX_COMPILED": env}, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expect, out.stderr


def _bn_step(x, affine, g, momentum=0.1):
    bn = gb.nn.BatchNorm1d(x.shape[1], affine=affine, momentum=momentum) if x.ndim < 4 else gb.nn.BatchNorm2d(x.shape[1], affine=affine)
    bn = bn.to(dtype=gb.float64) if x.dtype == np.float64 else bn
    if affine:
        rng = np.random.default_rng(7)
        with gb.no_grad():
            bn.weight.copy_(gb.tensor(rng.standard_normal(x.shape[1]).astype(x.dtype)))
            bn.bias.copy_(gb.tensor(rng.standard_normal(x.shape[1]).astype(x.dtype)))
    xt = gb.tensor(x, requires_grad=True)
    y = bn(xt)
    y.backward(gb.tensor(g))
    out = [y.detach().numpy(), xt.grad.numpy(), bn.running_mean.numpy(), bn.running_var.numpy()]
    if affine:
        out += [bn.weight.grad.numpy(), bn.bias.grad.numpy()]
    return out


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 2e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 7), (3, 4, 5, 6)])
@pytest.mark.parametrize("affine", [True, False])
def test_compiled_batch_norm_matches_the_numpy_path_and_torch(compiled_state, monkeypatch, dtype, rtol, shape, affine):
    rng = np.random.default_rng(len(shape))
    x = (3 + 2 * rng.standard_normal(shape)).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    calls = _count_calls(monkeypatch, "batch_norm_forward", "batch_norm_backward")
    fast = _bn_step(x, affine, g)
    assert sorted(set(calls)) == ["batch_norm_backward", "batch_norm_forward"]
    _compiled.set_enabled(False)
    plain = _bn_step(x, affine, g)
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    tbn = (torch.nn.BatchNorm1d if len(shape) < 4 else torch.nn.BatchNorm2d)(shape[1], affine=affine).to(torch.float64)
    if affine:
        r = np.random.default_rng(7)
        with torch.no_grad():
            tbn.weight.copy_(torch.tensor(r.standard_normal(shape[1]).astype(dtype)))
            tbn.bias.copy_(torch.tensor(r.standard_normal(shape[1]).astype(dtype)))
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = tbn(tx)
    ty.backward(torch.tensor(g.astype(np.float64)))
    ref = [ty.detach().numpy(), tx.grad.numpy(), tbn.running_mean.numpy(), tbn.running_var.numpy()]
    if affine:
        ref += [tbn.weight.grad.numpy(), tbn.bias.grad.numpy()]
    tol = 1e-10 if dtype == np.float64 else 1e-5
    for a, b in zip(fast, ref):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


GEOMETRIES = [  # (x shape, kernel, stride, padding, dilation)
    ((3, 2, 9, 8), (3, 3), 1, 1, 1),
    ((2, 3, 10, 11), (5, 5), 1, 2, 1),  # LeNet-5's first
    ((2, 2, 11, 9), (3, 2), 2, (1, 0), 1),  # stride 2, odd sizes
    ((2, 2, 12, 12), (3, 3), (2, 3), 3, 2),  # padding past the kernel's reach, dilation
    ((1, 1, 4, 4), (3, 3), 1, 0, 1),
    ((2, 2, 7, 7), (3, 3), 1, "same", 1),
    ((0, 2, 6, 6), (3, 3), 1, 1, 1),  # an empty batch
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kernel,stride,padding,dilation", GEOMETRIES)
def test_compiled_im2col_and_fold_match_the_numpy_path_and_torch(compiled_state, monkeypatch, dtype, shape, kernel, stride, padding, dilation):
    """The convolution's forward bit for bit (the same columns into the same product); the
    input gradient to rounding (the NumPy path may fold the wide layout, summing in another order)."""
    from gradbox.ops import winograd

    monkeypatch.setattr(winograd, "DTYPES", ())  # im2col for every convolution here
    rng = np.random.default_rng(shape[2] * shape[3])
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((4, shape[1], *kernel)).astype(dtype)
    kw = dict(stride=stride, padding=padding, dilation=dilation)

    def step():
        xt, wt = gb.tensor(x, requires_grad=True), gb.tensor(w, requires_grad=True)
        y = F.conv2d(xt, wt, **kw)
        (y * y).sum().backward()
        return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()

    calls = _count_calls(monkeypatch, "im2col_2d", "col2im_2d")
    fast = step()
    assert sorted(set(calls)) == (["col2im_2d", "im2col_2d"] if shape[0] else [])
    _compiled.set_enabled(False)
    plain = step()
    np.testing.assert_array_equal(fast[0], plain[0])
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    for a, b in zip(fast[1:], plain[1:]):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, np.abs(b).max(initial=0)))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, **kw)
    (ty * ty).sum().backward()
    for ours, ref, what in zip(fast, (ty, tx.grad, tw.grad), ("output", "input grad", "weight grad")):
        assert_same(ours, ref, what)


@pytest.mark.parametrize("shape,kernel,stride,padding,dilation", GEOMETRIES[:4])
def test_compiled_fold_adds_in_the_numpy_folds_order(compiled_state, monkeypatch, shape, kernel, stride, padding, dilation):
    """col2im bit for bit against the NumPy path's plain fold (kernel offsets added in order)."""
    from gradbox.ops import conv
    from gradbox.ops.window import Geometry

    pad = (padding, padding) if isinstance(padding, int) else padding
    st = (stride, stride) if isinstance(stride, int) else stride
    geo = Geometry((st, tuple((p, p) for p in pad), (dilation, dilation), 1))
    out = tuple((s + 2 * p - dilation * (k - 1) - 1) // t + 1 for s, p, k, t in zip(shape[2:], pad, kernel, st))
    rng = np.random.default_rng(1)
    cols = rng.standard_normal((shape[1] * kernel[0] * kernel[1], shape[0] * out[0] * out[1])).astype(np.float32)
    x = rng.standard_normal(shape).astype(np.float32)
    fast = conv.col2im(cols, shape, kernel, geo, out), conv.im2col(x, kernel, geo, out)
    _compiled.set_enabled(False)
    monkeypatch.setattr(conv, "is_wide", lambda *a: False)
    plain = conv.col2im(cols, shape, kernel, geo, out), conv.im2col(x, kernel, geo, out)
    np.testing.assert_array_equal(fast[0], plain[0])
    np.testing.assert_array_equal(fast[1], plain[1])


def test_compiled_batch_norm_propagates_nan(compiled_state):
    x = np.random.default_rng(3).standard_normal((6, 2, 4)).astype(np.float32)
    x[2, 1, 3] = np.nan
    y, gx = _bn_step(x, True, np.ones_like(x))[:2]
    assert np.isnan(y[:, 1]).all() and np.isfinite(y[:, 0]).all()
    assert np.isnan(gx[:, 1]).all() and np.isfinite(gx[:, 0]).all()


def test_load_compiles_every_kernel_for_both_float_dtypes(compiled_state, monkeypatch):
    assert _compiled.load() is True
    kern = _compiled.kernels()
    names = ("max_pool_2x2", "max_unpool_2x2", "batch_norm_forward", "batch_norm_backward")
    names += ("winograd_tiles", "winograd_output", "winograd_grad_tiles", "im2col_2d", "col2im_2d")
    for name in names:
        dtypes = {str(sig[0].dtype) for sig in getattr(kern, name).signatures}
        assert {"float32", "float64"} <= dtypes, (name, dtypes)
    # the argument layouts the ops pass: a training step compiles nothing more after load()
    dispatchers = {name: getattr(kern, name) for name in names}
    before = {name: len(d.signatures) for name, d in dispatchers.items()}
    calls = _count_calls(monkeypatch, *names)
    model = gb.nn.Sequential(
        gb.nn.Conv2d(64, 64, 3, padding=1), gb.nn.BatchNorm2d(64), gb.nn.MaxPool2d(2), gb.nn.Conv2d(64, 4, 3, stride=2)
    )
    model(gb.randn(2, 64, 6, 6)).sum().backward()
    assert set(calls) == set(names)
    assert {name: len(d.signatures) for name, d in dispatchers.items()} == before
    _compiled.set_enabled(False)
    assert _compiled.load() is False

