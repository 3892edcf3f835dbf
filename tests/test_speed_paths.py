"""The fast paths of the convolution and linear ops against the plain NumPy path and PyTorch:
the blocks of samples run in parallel (gradbox/ops/_parallel.py, forced on for small arrays
here) must give the serial path's outputs and gradients to rounding (BLAS may round a block's
product differently from the whole one's: a narrower matrix can take another edge kernel; the
weight gradient is a sum of the blocks' products), and the long-K operand order of
``gemm`` (gradbox/ops/_kernels.py) the same products as ``a @ b``."""

import numpy as np
import pytest
import torch

import gradbox as gb
import gradbox.nn.functional as F
from gradbox.ops import _parallel
from gradbox.ops._kernels import gemm


def _conv_step(x, w, b, padding, stride):
    xt = gb.tensor(x, requires_grad=True)
    wt = gb.tensor(w, requires_grad=True)
    bt = gb.tensor(b, requires_grad=True)
    y = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
    (y * y).sum().backward()
    return [a.detach().numpy() for a in (y, xt.grad, wt.grad, bt.grad)]


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 1)])
@pytest.mark.parametrize("n", [1, 3, 8])
def test_chunked_conv_paths_match_serial_and_torch(monkeypatch, n, stride, padding):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 3, 9, 8)).astype(np.float64)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float64)
    b = rng.standard_normal(4).astype(np.float64)
    old = _parallel.set_threads(1)
    try:
        serial = _conv_step(x, w, b, padding, stride)
        monkeypatch.setattr(_parallel, "MIN_BYTES", 0)  # force the threaded split on tiny arrays
        for threads in (2, 3):
            _parallel.set_threads(threads)
            split = _conv_step(x, w, b, padding, stride)
            for p, s in zip(split, serial):  # the bias gradient too: its upstream 2y carries y's rounding
                np.testing.assert_allclose(p, s, rtol=1e-13, atol=1e-13)
    finally:
        _parallel.set_threads(old)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding)
    (y * y).sum().backward()
    for ours, ref in zip(serial, (y, xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(ours, ref.detach().numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("padding,dilation", [(0, 1), (1, 1), (2, 2)])
@pytest.mark.parametrize("n", [1, 5])
def test_conv_sample_blocks_match_whole_matrix_and_torch(monkeypatch, n, padding, dilation):
    """Large convolutions make their columns a block of samples at a time (conv.FOLD_BYTES),
    forced here on tiny arrays: equal to the whole-matrix path to rounding (a narrower product
    may take another BLAS edge kernel; the weight gradient sums the blocks' products), and
    equal to PyTorch."""
    from gradbox.ops import conv

    rng = np.random.default_rng(n + 10 * padding)
    x = rng.standard_normal((n, 3, 9, 8))
    w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)

    def step():
        xt, wt, bt = (gb.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv2d(xt, wt, bt, padding=padding, dilation=dilation)
        (y * y).sum().backward()
        return [a.detach().numpy() for a in (y, xt.grad, wt.grad, bt.grad)]

    whole = step()
    monkeypatch.setattr(conv, "COLS_CACHE_BYTES", 0)
    for fold in (1, 2 * 27 * 8 * 9 * 8):  # one sample per block; two samples per block
        monkeypatch.setattr(conv, "FOLD_BYTES", fold)
        blocks = step()
        for b_, w_ in zip(blocks, whole):
            np.testing.assert_allclose(b_, w_, rtol=1e-13, atol=1e-13)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = torch.nn.functional.conv2d(xt, wt, bt, padding=padding, dilation=dilation)
    (y * y).sum().backward()
    for ours, ref in zip(blocks, (y, xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(ours, ref.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_chunked_calls_cover_the_range_once():
    seen = []
    old = _parallel.set_threads(3)
    try:
        _parallel.chunked(lambda lo, hi: seen.append((lo, hi)), 10, 1 << 30)
    finally:
        _parallel.set_threads(old)
    assert sorted(seen) == [(0, 4), (4, 7), (7, 10)]
    assert _parallel.bounds(2, 3) == [(0, 1), (1, 2)]


@pytest.mark.parametrize("m,k,n", [(4, 50, 9), (9, 50, 4), (6, 5, 7), (3, 100, 3)])
def test_gemm_operand_order_gives_the_same_product(m, k, n):
    rng = np.random.default_rng(m * n)
    a = rng.standard_normal((m, k))
    b = rng.standard_normal((n, k)).T  # a transposed view, as in the weight gradients
    np.testing.assert_allclose(gemm(a, b), a @ b, rtol=1e-12, atol=1e-12)
    assert gemm(a, b).shape == (m, n)


@pytest.mark.parametrize("m,k,n,kind", [(3, 4, 101, "columns"), (4, 103, 3, "depth"), (6, 25, 25088, "columns"), (32, 21632, 9, "depth")])
def test_small_float32_products_in_pieces_match_one_product(monkeypatch, m, k, n, kind):
    """Float32 products with two small sides run as pieces along the long side (OpenBLAS's
    small-matrix kernel); each piece's bounds, the last ragged one included, must be covered
    exactly once: equal to the float64 product to float32 rounding."""
    from gradbox.ops import _kernels

    if m * n * k < 10**6:  # tiny shapes: cut them into many ragged pieces
        monkeypatch.setattr(_kernels, "SMALL_MACS", 50)
    calls = {"columns": 0, "depth": 0}
    for name in calls:
        fn = getattr(_kernels, f"_pieces_of_{name}")
        monkeypatch.setattr(_kernels, f"_pieces_of_{name}", lambda a, b, s, fn=fn, name=name: calls.__setitem__(name, calls[name] + 1) or fn(a, b, s))
    rng = np.random.default_rng(m + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k)).astype(np.float32).T if kind == "depth" else rng.standard_normal((k, n)).astype(np.float32)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    got = gemm(a, b)
    assert calls[kind] >= 1 and sum(calls.values()) == calls[kind]  # once per thread's block of rows
    assert got.dtype == np.float32 and got.shape == (m, n)
    np.testing.assert_allclose(got, exact, rtol=1e-4, atol=1e-5 * np.sqrt(k))
    calls[kind] = 0
    gemm(a.astype(np.float64), b.astype(np.float64))  # float64 is not cut
    assert sum(calls.values()) == 0


def test_linear_with_long_reduction_matches_torch():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 300)), rng.standard_normal((16, 300)), rng.standard_normal(16)
    xt, wt = gb.tensor(x, requires_grad=True), gb.tensor(w, requires_grad=True)
    y = F.linear(xt, wt, gb.tensor(b))
    assert y.detach().numpy().flags.c_contiguous
    (y * y).sum().backward()
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.linear(tx, tw, torch.tensor(b))
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(wt.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_array_backward_matches_graph_backward_and_torch(affine):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3, 4, 6))
    up = rng.standard_normal((5, 3, 4, 6))
    bn = gb.nn.BatchNorm2d(3, affine=affine).double()
    grads = []
    for create_graph in (False, True):  # the array fast path, then the gradbox-op path
        xt = gb.tensor(x, requires_grad=True)
        gx, *gw = gb.autograd.grad((bn(xt) * gb.tensor(up)).sum(), [xt, *bn.parameters()], create_graph=create_graph)
        grads.append([a.detach().numpy() for a in (gx, *gw)])
    for fast, graph in zip(*grads):
        np.testing.assert_allclose(fast, graph, rtol=1e-12, atol=1e-12)
    tbn = torch.nn.BatchNorm2d(3, affine=affine).double()
    tx = torch.tensor(x, requires_grad=True)
    ref = torch.autograd.grad((tbn(tx) * torch.tensor(up)).sum(), [tx, *tbn.parameters()])
    for ours, r in zip(grads[0], ref):
        np.testing.assert_allclose(ours, r.numpy(), rtol=1e-10, atol=1e-10)


def _bn_step(x, up, affine):
    bn = gb.nn.BatchNorm2d(x.shape[1], affine=affine)
    if x.dtype == np.float64:
        bn = bn.double()
    xt = gb.tensor(x, requires_grad=True)
    y = bn(xt)
    gx, *gw = gb.autograd.grad((y * gb.tensor(up)).sum(), [xt, *bn.parameters()])
    return [a.detach().numpy() for a in (y, gx, *gw, bn.running_mean, bn.running_var)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_blas_statistics_match_plain_reductions_and_torch(monkeypatch, dtype, affine):
    """BatchNormTrain's per-channel sums as BLAS dot products (gradbox/ops/normalization.py) against
    the plain NumPy reductions (forced by emptying _kernels.BLAS_DTYPES) and PyTorch, on an input with a
    large offset (the variance is centred, not E[x^2] - mean^2) and a 3-D input."""
    from gradbox.ops import _kernels

    rng = np.random.default_rng(7)
    tol = 1e-10 if dtype == np.float64 else 2e-4
    for shape in ((6, 3, 5, 7), (4, 3, 9)):
        x = (rng.standard_normal(shape) * 0.5 + 300.0).astype(dtype)
        up = rng.standard_normal(shape).astype(dtype)
        if len(shape) == 3:
            x, up = x[..., None], up[..., None]  # BatchNorm2d on (N, C, L, 1)
        fast = _bn_step(x, up, affine)
        with monkeypatch.context() as m:
            m.setattr(_kernels, "BLAS_DTYPES", ())
            plain = _bn_step(x, up, affine)
        for f, p in zip(fast, plain):
            assert f.dtype == p.dtype
            np.testing.assert_allclose(f, p, rtol=tol, atol=tol)
        tbn = torch.nn.BatchNorm2d(shape[1], affine=affine).to(torch.float64 if dtype == np.float64 else torch.float32)
        tx = torch.tensor(x, requires_grad=True)
        ty = tbn(tx)
        ref = torch.autograd.grad((ty * torch.tensor(up)).sum(), [tx, *tbn.parameters()])
        for ours, r in zip(fast, (ty, *ref, tbn.running_mean, tbn.running_var)):
            np.testing.assert_allclose(ours, r.detach().numpy(), rtol=tol, atol=tol)


def _pool_step(x, up, kernel, stride, padding, dilation):
    xt = gb.tensor(x, requires_grad=True)
    y, idx = F.max_pool2d(xt, kernel, stride, padding, dilation, return_indices=True)
    (y * gb.tensor(up)).sum().backward()
    return [y.detach().numpy(), idx.numpy(), xt.grad.numpy()]


@pytest.mark.parametrize(
    "kernel,stride,padding,dilation", [(2, 2, 0, 1), (3, 2, 1, 1), (2, 3, 1, 1), (3, 3, 0, 2), ((2, 3), (2, 1), (1, 0), 1)]
)
def test_maxpool_window_stack_matches_strided_views_and_torch(monkeypatch, kernel, stride, padding, dilation):
    """MaxPool's contiguous window stack (gradbox/ops/pool.py, STACK_FACTOR) against the strided
    per-offset views (forced by STACK_FACTOR = 0) and PyTorch: values, return_indices and the
    gradient, on small integers (many ties: the first maximum wins), with and without NaNs (the
    last NaN of a window wins)."""
    from gradbox.ops import pool

    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, (3, 4, 9, 11)).astype(np.float64)
    xn = x.copy()
    xn[0, 0, 0, :4] = np.nan
    xn[1, 2, 3:7, 5] = np.nan
    for data in (x, xn):
        ty, tidx = torch.nn.functional.max_pool2d(
            torch.tensor(data, requires_grad=True), kernel, stride, padding, dilation, return_indices=True
        )
        up = rng.standard_normal(ty.shape)
        tx = torch.tensor(data, requires_grad=True)
        ty = torch.nn.functional.max_pool2d(tx, kernel, stride, padding, dilation)
        (ty * torch.tensor(up)).sum().backward()
        stacked = _pool_step(data, up, kernel, stride, padding, dilation)
        with monkeypatch.context() as m:
            m.setattr(pool, "STACK_FACTOR", 0)
            strided = _pool_step(data, up, kernel, stride, padding, dilation)
        for a, b in zip(stacked, strided):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(stacked[0], ty.detach().numpy())
        # indices and gradient as PyTorch's, NaN windows included (there the last NaN takes them)
        np.testing.assert_array_equal(stacked[1], tidx.numpy())
        np.testing.assert_allclose(stacked[2], tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def _layer_step(layer, x, up, grad_of_params=True):
    xt = gb.tensor(x, requires_grad=True)
    params = list(layer.parameters()) if grad_of_params else []
    out = layer(xt)
    grads = gb.autograd.grad((out * gb.tensor(up)).sum(), [xt, *params])
    return [out.detach().numpy(), *(g.numpy() for g in grads)]


def _torch_layer(name):
    return {
        "relu": torch.nn.ReLU(),
        "bn": torch.nn.BatchNorm2d(5).double(),
        "pool2": torch.nn.MaxPool2d(2),
        "pool3": torch.nn.MaxPool2d(3, stride=2, padding=1),
    }[name]


@pytest.mark.parametrize("name", ["relu", "bn", "pool2", "pool3"])
@pytest.mark.parametrize("threads", [2, 3])
def test_split_elementwise_batchnorm_and_pool_match_serial_and_torch(monkeypatch, name, threads):
    """ReLU, batch norm (channels split) and max-pool (samples split) over the threads, forced
    on for small arrays: equal to the serial pass and to PyTorch, forward and backward."""
    layer = {
        "relu": gb.nn.ReLU(),
        "bn": gb.nn.BatchNorm2d(5).double(),
        "pool2": gb.nn.MaxPool2d(2),
        "pool3": gb.nn.MaxPool2d(3, stride=2, padding=1),
    }[name]
    rng = np.random.default_rng(threads)
    x = rng.standard_normal((7, 5, 6, 8))
    x[0, 0, :2, :2] = 1.5  # a tie inside a pooling window: the first maximum takes the gradient
    up = rng.standard_normal(layer(gb.tensor(x)).shape)
    old = _parallel.set_threads(1)
    try:
        serial = _layer_step(layer, x, up)
        monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
        _parallel.set_threads(threads)
        splits, real_run = [], _parallel.run
        monkeypatch.setattr(_parallel, "run", lambda fn, blocks: (splits.append(len(blocks)), real_run(fn, blocks)))
        split = _layer_step(layer, x, up)
    finally:
        _parallel.set_threads(old)
    assert sum(n > 1 for n in splits) >= 2  # the forward and the backward both split
    for s, p in zip(serial, split):
        if name == "bn":  # per-channel sums by BLAS over a block of channels: equal to rounding
            np.testing.assert_allclose(p, s, rtol=1e-13, atol=1e-13)
        else:  # element-wise per sample: the same operations on the same values
            np.testing.assert_array_equal(p, s)
    tl = _torch_layer(name)
    tx = torch.tensor(x, requires_grad=True)
    ty = tl(tx)
    ref = [ty, *torch.autograd.grad((ty * torch.tensor(up)).sum(), [tx, *tl.parameters()])]
    for ours, r in zip(split, ref):
        np.testing.assert_allclose(ours, r.detach().numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("m,k,n", [(9, 40, 5), (3, 40, 11), (64, 300, 64)])
def test_gemm_split_over_threads_gives_the_same_product(monkeypatch, m, k, n):
    from gradbox.ops import _kernels

    rng = np.random.default_rng(m)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((n, k)).T
    monkeypatch.setattr(_kernels, "SPLIT_MACS", 0)
    monkeypatch.setattr(_kernels, "BLAS_MACS", 0)
    seen = []
    real_run = _parallel.run
    monkeypatch.setattr(_parallel, "run", lambda fn, blocks: (seen.append(blocks), real_run(fn, blocks)))
    old = _parallel.set_threads(2)
    try:
        np.testing.assert_allclose(gemm(a, b), a @ b, rtol=1e-13, atol=1e-13)
    finally:
        _parallel.set_threads(old)
    assert seen and len(seen[0]) == 2  # it did split (rows, or columns when there are few rows)


def test_mid_size_products_go_to_openblas_threads_only_until_an_op_splits(monkeypatch):
    from gradbox.ops import _kernels

    a, b = np.ones((40, 30)), np.ones((30, 20))
    monkeypatch.setattr(_kernels, "SPLIT_MACS", 0)
    monkeypatch.setattr(_kernels, "BLAS_MACS", 1 << 40)
    held = []
    monkeypatch.setattr(_parallel, "hold_blas", lambda n=1: held.append(n))
    splits, real_run = [], _parallel.run
    monkeypatch.setattr(_parallel, "run", lambda fn, blocks: (splits.append(len(blocks)), real_run(fn, blocks)))
    old = _parallel.threads
    _parallel.threads = 2
    try:
        monkeypatch.setattr(_parallel, "_split_seen", False)  # nothing split yet: one product, OpenBLAS's threads
        np.testing.assert_array_equal(gemm(a, b), a @ b)
        assert held == [] and splits == []
        _parallel.run(lambda lo, hi: None, [(0, 1), (1, 2)])  # the first split holds BLAS at one thread
        assert held == [1] and _parallel.split_seen()
        held.clear()
        splits.clear()
        np.testing.assert_array_equal(gemm(a, b), a @ b)  # from then on: gradbox's blocks
        assert held == [] and splits == [2]
    finally:
        _parallel.threads = old


def test_a_split_inside_a_block_runs_inline_and_errors_reach_the_caller():
    old = _parallel.set_threads(2)
    try:
        inner = []
        _parallel.run(lambda lo, hi: inner.append(_parallel.spans(8, 1 << 30)), [(0, 1), (1, 2)])
        assert inner == [[(0, 8)], [(0, 8)]]  # nested: one block, no second hand-off

        def boom(lo, hi):
            if lo == 1:
                raise ValueError("block 1 failed")

        with pytest.raises(ValueError, match="block 1 failed"):
            _parallel.run(boom, [(0, 1), (1, 2)])
    finally:
        _parallel.set_threads(old)


def test_blas_is_held_at_one_thread_only_when_gradbox_splits():
    """With several threads gradbox holds NumPy's OpenBLAS at one from the first op it splits on
    (its splits run single-threaded products), not at import; GRADBOX_THREADS=1 leaves BLAS as
    it was."""
    import subprocess
    import sys

    code = (
        "import numpy, threadpoolctl, gradbox as gb\n"
        "def blas(): return [i['num_threads'] for i in threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas']\n"
        "print(blas())\n"
        "gb.relu(gb.ones(64, 8192))\n"  # 2 MiB: split in two
        "print(blas())"
    )
    out = {}
    for env_threads in ("2", "1"):
        env = {**__import__("os").environ, "GRADBOX_THREADS": env_threads, "OPENBLAS_NUM_THREADS": "2"}
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        out[env_threads] = run.stdout.split()
    assert out["2"] == ["[2]", "[1]"]
    assert out["1"] == ["[2]", "[2]"]


def test_set_num_threads_sets_the_split_and_rejects_bad_counts():
    old = gb.get_num_threads()
    try:
        gb.set_num_threads(3)
        assert gb.get_num_threads() == 3 and _parallel.threads == 3
    finally:
        gb.set_num_threads(old)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="set_num_threads"):
            gb.set_num_threads(bad)


@pytest.mark.parametrize("wide", [True, False])
@pytest.mark.parametrize(
    "padding,dilation,kernel",
    [(0, 1, (3, 3)), (1, 1, (3, 3)), (2, 2, (3, 3)), (1, (2, 1), (2, 5)), (0, (1, 3), (4, 2)), (1, 1, (1, 3)), (2, 1, (3, 1))],
)
def test_input_gradient_layouts_match_torch(monkeypatch, wide, padding, dilation, kernel):
    """col2im's wide layout (stride 1; its strided sums read back across the rows of samples,
    kernel rows and columns) and the plain scatter, each forced: both equal to PyTorch, for
    non-square kernels and dilations too. The NumPy path's layouts: the compiled fold is off here."""
    from gradbox.ops import conv

    monkeypatch.setattr(conv, "_compiled_2d", lambda *a: None)
    monkeypatch.setattr(conv, "WIDE_WASTE", 100.0 if wide else -1.0)
    monkeypatch.setattr(conv, "WIDE_DEPTH", 10**9 if wide else -1)
    dil = (dilation,) * 2 if isinstance(dilation, int) else dilation
    assert conv.is_wide(kernel, conv.Geometry(((1, 1), ((padding,) * 2,) * 2, dil, 1)), 8, 27) is wide
    rng = np.random.default_rng(padding)
    x, w, b = rng.standard_normal((3, 3, 9, 8)), rng.standard_normal((4, 3, *kernel)), rng.standard_normal(4)
    xt, wt, bt = (gb.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, padding=padding, dilation=dilation)
    (y * y).sum().backward()
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=padding, dilation=dilation)
    (ty * ty).sum().backward()
    for ours, ref in ((y.detach(), ty.detach()), (xt.grad, tx.grad), (wt.grad, tw.grad), (bt.grad, tb.grad)):
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork is POSIX-only")
def test_a_forked_child_can_split_after_the_parent_did(monkeypatch):
    """DataLoader workers are forked: the parent's pool threads do not exist in the child, so
    a split there must start its own (it would wait forever on the parent's)."""
    import multiprocessing as mp

    monkeypatch.setattr(_parallel, "MIN_BYTES", 0)
    old = _parallel.set_threads(2)
    try:
        x = np.arange(-8.0, 8.0).reshape(4, 4)
        F.relu(gb.tensor(x))  # the parent's pool is started
        ctx = mp.get_context("fork")
        with ctx.Pool(1) as pool:
            out = pool.apply_async(_relu_in_child, (x,)).get(timeout=60)
    finally:
        _parallel.set_threads(old)
    np.testing.assert_array_equal(out, np.maximum(x, 0))


def _relu_in_child(x):
    _parallel.MIN_BYTES = 0
    _parallel.set_threads(2)
    return F.relu(gb.tensor(x)).numpy()


@pytest.mark.parametrize("threads", [1, 2])
def test_convolution_weight_gradient_of_an_empty_batch_is_zero(threads):
    old = _parallel.set_threads(threads)
    try:
        x = gb.tensor(np.zeros((0, 4, 6, 7)), requires_grad=True)
        w = gb.tensor(np.ones((6, 4, 3, 3)), requires_grad=True)
        F.conv2d(x, w, padding=1).sum().backward()
        xt = gb.tensor(np.zeros((0, 6, 5)), requires_grad=True)
        wt = gb.tensor(np.ones((6, 3, 3)), requires_grad=True)
        F.conv_transpose1d(xt, wt).sum().backward()
    finally:
        _parallel.set_threads(old)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((6, 4, 3, 3)))
    np.testing.assert_array_equal(wt.grad.numpy(), np.zeros((6, 3, 3)))
    assert x.grad.shape == (0, 4, 6, 7)


def test_a_matrix_product_is_c_ordered_so_view_works():
    """The long-K operand order computes (b^T a^T)^T; the result must still be C-ordered, as
    PyTorch's (view needs it)."""
    y = gb.tensor(np.ones((2, 10))) @ gb.tensor(np.ones((10, 5)))
    assert y.view(-1).shape == (10,)


def test_run_returns_or_raises_only_after_every_block_finished():
    import time

    log = []

    def fn(lo, hi):
        if lo == 1:
            raise ValueError("block 1")
        if lo == 2:
            time.sleep(0.3)
            log.append("block 2 finished")

    old = _parallel.set_threads(3)
    try:
        with pytest.raises(ValueError, match="block 1"):
            _parallel.run(fn, [(0, 1), (1, 2), (2, 3)])
    finally:
        _parallel.set_threads(old)
    assert log == ["block 2 finished"]


@pytest.mark.parametrize("value", ["abc", "0", "-2"])
def test_a_bad_gradbox_threads_value_is_refused_by_name(value):
    import os
    import subprocess
    import sys

    env = {**os.environ, "GRADBOX_THREADS": value}
    run = subprocess.run([sys.executable, "-c", "import gradbox"], capture_output=True, text=True, env=env)
    assert run.returncode != 0
    assert "GRADBOX_THREADS must be a positive integer" in run.stderr and repr(value) in run.stderr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_per_channel_sum_as_a_blas_product_matches_numpy_and_torch(monkeypatch, dtype):
    """Sum over dims (0, 2, ...) (a convolution's bias gradient) runs as (N C, L) @ ones
    (_kernels.channel_sum): against NumPy's own sum (forced by emptying BLAS_DTYPES), PyTorch, the
    other dtypes and layouts that keep NumPy's sum, and keepdim."""
    from gradbox.ops import _kernels

    rng = np.random.default_rng(3)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    for shape in ((5, 3, 7, 6), (4, 2, 3), (3, 4, 2, 5, 3), (64, 16, 10, 10), (0, 4, 6, 6), (3, 2, 0, 5)):
        x = (rng.standard_normal(shape) + 2.0).astype(dtype)
        dims = (0, *range(2, len(shape)))
        for keepdim in (False, True):
            fast = gb.tensor(x).sum(dims, keepdim=keepdim).numpy()
            with monkeypatch.context() as m:
                m.setattr(_kernels, "BLAS_DTYPES", ())
                plain = gb.tensor(x).sum(dims, keepdim=keepdim).numpy()
            ref = torch.tensor(x).sum(dims, keepdim=keepdim).numpy()
            assert fast.shape == plain.shape == ref.shape and fast.dtype == ref.dtype
            np.testing.assert_allclose(fast, plain, rtol=tol)
            np.testing.assert_allclose(fast, ref, rtol=tol)
    x = rng.standard_normal((4, 3, 5, 6)).astype(dtype)
    for other in (x.transpose(0, 1, 3, 2), x.astype(np.int64), x > 0):  # not C-contiguous; not BLAS dtypes
        ours, ref = gb.tensor(other).sum((0, 2, 3)), torch.tensor(other).sum((0, 2, 3))
        assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=tol)
