"""Winograd F(2x2, 3x3) (gradbox/ops/winograd.py) against the im2col path and PyTorch: the
same convolution, input gradient and weight gradient, to float64 rounding when forced on for
float64 and any depth; float32 to float32 rounding on ResNet-like shapes, where it is used by
default; never used where it does not apply. Each with the tile transforms compiled
(ops/_compiled.py) and as NumPy products."""

import numpy as np
import pytest
import torch

import gradbox as gb
import gradbox.nn.functional as F
from gradbox.ops import _compiled, _parallel, winograd
from gradbox.testing.oracle import assert_same

KERNELS = ("winograd_tiles", "winograd_output", "winograd_grad_tiles")


@pytest.fixture(params=["compiled", "numpy"])
def transforms(request, monkeypatch):
    """The tile transforms as compiled kernels or as NumPy products; yields the names of the
    kernels called (the compiled ones must run: no silent fallback)."""
    if request.param == "compiled":
        pytest.importorskip("numba")
    was = _compiled.set_enabled(request.param == "compiled")
    calls: list = []
    kern = _compiled.kernels()
    for name in KERNELS if kern is not None else ():
        fn = getattr(kern, name)
        monkeypatch.setattr(kern, name, lambda *a, _f=fn, _n=name: (calls.append(_n), _f(*a))[1])
    yield calls
    _compiled.set_enabled(was)


@pytest.fixture
def spy(monkeypatch):
    """Counts the Winograd forward/input-gradient correlations and weight gradients run."""
    calls = {"correlate": 0, "weight_grad": 0}
    for name in calls:
        fn = getattr(winograd, name)

        def counted(*a, fn=fn, name=name, **k):
            calls[name] += 1
            return fn(*a, **k)

        monkeypatch.setattr(winograd, name, counted)
    return calls


def _forced(monkeypatch, on: bool):
    monkeypatch.setattr(winograd, "DTYPES", (np.dtype(np.float64), np.dtype(np.float32)) if on else ())
    monkeypatch.setattr(winograd, "MIN_DEPTH", 1)
    monkeypatch.setattr(winograd, "MIN_DEPTH_COMPILED", 1)


def _step(x, w, b, transpose=False, **kw):
    xt, wt = gb.tensor(x, requires_grad=True), gb.tensor(w, requires_grad=True)
    bt = None if b is None else gb.tensor(b, requires_grad=True)
    y = (F.conv_transpose2d if transpose else F.conv2d)(xt, wt, bt, **kw)
    (y * y).sum().backward()
    out = [y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()]
    return out + ([bt.grad.numpy()] if b is not None else [])


CASES = [  # (n, c, o, h, w, padding)
    (3, 2, 5, 7, 6, 1),  # odd output rows: the last tile row is cropped
    (1, 4, 3, 4, 4, 0),
    (2, 3, 2, 5, 9, 2),  # padding 2: the input gradient's front padding is 0
    (2, 1, 4, 3, 3, (2, 0)),
    (2, 3, 3, 6, 5, "same"),
    (0, 3, 4, 6, 6, 1),  # an empty batch
]


@pytest.mark.parametrize("n,c,o,h,w,padding", CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_forced_winograd_equals_im2col_in_float64(monkeypatch, spy, transforms, n, c, o, h, w, padding, bias):
    rng = np.random.default_rng(h * w + c)
    x, wt, b = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, 3, 3)), rng.standard_normal(o)
    _forced(monkeypatch, False)
    ref = _step(x, wt, b if bias else None, padding=padding)
    assert spy == {"correlate": 0, "weight_grad": 0}
    _forced(monkeypatch, True)
    got = _step(x, wt, b if bias else None, padding=padding)
    assert spy["correlate"] >= (2 if n else 0)  # the forward and the input gradient
    assert spy["weight_grad"] >= (1 if n else 0)
    assert sorted(set(transforms)) == (sorted(KERNELS) if _compiled.kernels() is not None and n else [])
    for r, g in zip(ref, got):
        assert r.shape == g.shape
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(r).max(initial=0)))


@pytest.mark.parametrize("padding", [0, 1])
def test_forced_winograd_transposed_convolution_equals_im2col(monkeypatch, spy, transforms, padding):
    rng = np.random.default_rng(padding)
    x, w, b = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((3, 4, 3, 3)), rng.standard_normal(4)
    _forced(monkeypatch, False)
    ref = _step(x, w, b, transpose=True, padding=padding)
    _forced(monkeypatch, True)
    got = _step(x, w, b, transpose=True, padding=padding)
    assert spy["correlate"] >= 2
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(r).max(initial=0)))


def test_forced_winograd_passes_gradcheck_and_gradgradcheck(monkeypatch, spy):
    _forced(monkeypatch, True)
    rng = np.random.default_rng(0)
    x = gb.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True)
    w = gb.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    f = lambda x, w: F.conv2d(x, w, padding=1)
    assert gb.autograd.gradcheck(f, [x, w])
    assert gb.autograd.gradgradcheck(f, [x, w])
    assert spy["correlate"] > 0 and spy["weight_grad"] > 0


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("c,o,size", [(128, 128, 8), (256, 128, 4), (128, 64, 5), (64, 64, 9)])
def test_float32_resnet_shapes_use_winograd_and_match_torch(monkeypatch, spy, transforms, threads, c, o, size):
    """By default float32 3x3 stride-1 convolutions with >= MIN_DEPTH channels (64 with the
    compiled transforms, 128 without) take this path; equal to PyTorch within the float32
    parity tolerance (measured 4-9e-7 of the largest value; im2col's 4-8e-7), split over
    threads or not."""
    compiled = _compiled.kernels() is not None
    if c < 128 and not compiled:
        pytest.skip("below MIN_DEPTH: im2col without the compiled transforms (test_winograd_depth_thresholds)")
    monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
    old = _parallel.set_threads(threads)
    try:
        rng = np.random.default_rng(c + size)
        x = rng.standard_normal((5, c, size, size)).astype(np.float32)
        w = (rng.standard_normal((o, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
        b = rng.standard_normal(o).astype(np.float32)
        got = _step(x, w, b, padding=1)
    finally:
        _parallel.set_threads(old)
    assert spy["correlate"] >= (2 if o >= (64 if compiled else 128) else 1) and spy["weight_grad"] >= 1
    assert sorted(set(transforms)) == (sorted(KERNELS) if compiled else [])
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=1)
    (ty * ty).sum().backward()
    for ours, ref, what in zip(got, (ty, tx.grad, tw.grad, tb.grad), ("output", "input grad", "weight grad", "bias grad")):
        assert_same(ours, ref, what)  # the float32 parity tolerance: rtol 1e-5, atol 1e-6 of the scale


@pytest.mark.parametrize(
    "kw,shape",
    [
        (dict(stride=2, padding=1), (128, 128, 3, 3)),
        (dict(dilation=2, padding=2), (128, 128, 3, 3)),
        (dict(groups=2, padding=1), (128, 64, 3, 3)),
        (dict(padding=1), (128, 128, 5, 5)),
        (dict(padding=1), (32, 32, 3, 3)),  # too shallow to pay
        (dict(padding=3), (128, 128, 3, 3)),  # the input gradient would need negative padding
    ],
)
def test_winograd_is_not_used_where_it_does_not_apply(spy, kw, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, shape[1] * kw.get("groups", 1), 8, 8)).astype(np.float32)
    _step(x, rng.standard_normal(shape).astype(np.float32), None, **kw)
    assert spy == {"correlate": 0, "weight_grad": 0}
    x64 = rng.standard_normal((2, 128, 8, 8))
    _step(x64, rng.standard_normal((128, 128, 3, 3)), None, padding=1)  # float64: the exact path
    assert spy == {"correlate": 0, "weight_grad": 0}


@pytest.mark.parametrize("c,o", [(64, 64), (128, 32), (32, 128)])
def test_winograd_depth_thresholds(spy, transforms, c, o):
    """The forward and weight gradient need c >= the threshold, the input gradient o >= it:
    64 with the compiled transforms, 128 with NumPy's."""
    rng = np.random.default_rng(c)
    x = rng.standard_normal((2, c, 6, 6)).astype(np.float32)
    _step(x, rng.standard_normal((o, c, 3, 3)).astype(np.float32), None, padding=1)
    depth = 64 if _compiled.kernels() is not None else 128
    assert spy["weight_grad"] == (c >= depth)
    assert spy["correlate"] == (c >= depth) + (o >= depth)


def test_planes_start_a_cache_line_apart_and_hold_whole_rows():
    v = winograd._planes(64, 4096, np.float32)  # 1 MiB planes: a multiple of 4 KiB
    assert v.shape == (16, 64, 4096) and v.strides[1:] == (4096 * 4, 4)
    assert v.strides[0] % 4096 == 64
    assert all(v[i].flags.c_contiguous for i in range(16))  # each plane is one BLAS operand


@pytest.mark.parametrize("threads", [1, 2])
def test_weight_transform_is_g_w_gt_split_or_not(monkeypatch, threads):
    """U[4r + s, o, c] = (G w[o, c] G^T)[r, s], whichever output channels each thread takes."""
    monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
    old = _parallel.set_threads(threads)
    try:
        w = np.random.default_rng(threads).standard_normal((5, 3, 3, 3))
        u = winograd.transform_weight(w)
    finally:
        _parallel.set_threads(old)
    ref = np.einsum("ri,ocij,sj->rsoc", winograd._G, w, winograd._G).reshape(16, 5, 3)
    np.testing.assert_allclose(u, ref, rtol=1e-14, atol=1e-14)
