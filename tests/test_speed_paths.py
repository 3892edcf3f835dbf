"""The fast paths of the convolution and linear ops against the plain NumPy path and PyTorch:
the chunked multi-threaded copies (gradbox/ops/_parallel.py, forced on for small arrays here)
must give bit-identical results to the serial path, and the long-K operand order of
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
            for s, p in zip(serial, _conv_step(x, w, b, padding, stride)):
                np.testing.assert_array_equal(p, s)
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
    """Large wide convolutions make their columns a block of samples at a time (conv.FOLD_BYTES),
    forced here on tiny arrays: the output and input gradient bit-identical to the whole-matrix
    path, the weight gradient (block products summed) equal to rounding, all equal to PyTorch."""
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
        for i in (0, 1, 3):
            np.testing.assert_array_equal(blocks[i], whole[i])
        np.testing.assert_allclose(blocks[2], whole[2], rtol=1e-13, atol=1e-13)
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
