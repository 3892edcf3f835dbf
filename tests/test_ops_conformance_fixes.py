"""Regressions from the full OpInfo run: each case gave a wrong number, a missing gradient or a raw
Python error before its fix; each is compared with PyTorch (float64, values and gradients)."""

import numpy as np
import pytest
import torch

import gradbox as gb


def _both(fn_gb, fn_torch, *arrays):
    """Values and input gradients of sum(f(inputs) * w) in both frameworks (w fixed random)."""
    gx = [gb.tensor(a, requires_grad=True) for a in arrays]
    tx = [torch.tensor(a, requires_grad=True) for a in arrays]
    gy, ty = fn_gb(*gx), fn_torch(*tx)
    w = np.random.default_rng(0).standard_normal(ty.shape)
    (gy * gb.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, t in zip(gx, tx):
        want = np.zeros_like(t.detach().numpy()) if t.grad is None else t.grad.numpy()
        assert g.grad is not None, "gradient missing"
        np.testing.assert_allclose(g.grad.numpy(), want, rtol=1e-10, atol=1e-12)


def test_remainder_has_both_gradients():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(-9, 9, (4, 3)), rng.uniform(0.5, 3, (3,)) * rng.choice([-1, 1], 3)
    _both(gb.remainder, torch.remainder, a, b)
    _both(lambda x, y: x % y, lambda x, y: x % y, a, b)
    assert gb.remainder(gb.tensor([7, -7]), 3).tolist() == [1, 2]  # integers: Python's sign rule


@pytest.mark.parametrize("p", [0, 1, 2, 3.5, float("inf"), float("-inf"), "fro"])
@pytest.mark.parametrize("dim", [None, 1, (0, 1)])
def test_norm_every_p(p, dim):
    a = np.random.default_rng(2).standard_normal((4, 5))
    _both(lambda x: gb.norm(x, p, dim), lambda x: torch.norm(x, p, dim), a)


def test_norm_nuclear_and_bad_p():
    a = np.random.default_rng(3).standard_normal((3, 5, 4))
    _both(lambda x: gb.norm(x, "nuc", (1, 2)), lambda x: torch.norm(x, "nuc", (1, 2)), a)
    with pytest.raises(RuntimeError, match="norm: p must be a number, 'fro' or 'nuc', got 'max'"):
        gb.norm(gb.ones(3), "max")


def test_prod_dtype_and_scalar_backward():
    a = np.random.default_rng(4).standard_normal((3, 4))
    assert gb.prod(gb.tensor(a, dtype=gb.float32), 1, dtype=gb.float64).dtype == gb.float64
    _both(lambda x: gb.prod(x, 0), lambda x: torch.prod(x, 0), np.array(2.5))
    _both(lambda x: gb.prod(x, -1, keepdim=True), lambda x: torch.prod(x, -1, keepdim=True), np.array(0.0))


def test_gather_scalar_and_empty_index():
    _both(
        lambda x: gb.gather(x, 0, gb.tensor([0, 0])), lambda x: torch.gather(x, 0, torch.tensor([0, 0])), np.array(3.0)
    )
    _both(lambda x: gb.gather(x, 0, gb.tensor(0)), lambda x: torch.gather(x, 0, torch.tensor(0)), np.array(3.0))
    empty = gb.gather(gb.randn(5), 0, gb.zeros(2, 0, dtype=gb.int64))
    assert empty.shape == (2, 0)
    with pytest.raises(RuntimeError, match="gather: index tensor must have the same number of dimensions"):
        gb.gather(gb.randn(5), 0, gb.zeros(2, 1, dtype=gb.int64))


def test_masked_fill_broadcasts_out_of_place_only():
    mask = np.eye(5, dtype=bool)
    a = np.random.default_rng(5).standard_normal(5)
    _both(
        lambda x: x.masked_fill(gb.tensor(mask), 2.0),
        lambda x: x.masked_fill(torch.tensor(mask), 2.0),
        a,
    )
    with pytest.raises(RuntimeError, match="masked_fill_: output with shape"):
        gb.zeros(5).masked_fill_(gb.tensor(mask), 1.0)


@pytest.mark.parametrize("mode", ["circular", "replicate", "reflect"])
@pytest.mark.parametrize("pad", [(-1, 1, 0, 0), (-2, 0, 1, 1), (1, -2, 0, 2), (-1, -1, -1, -1), (2, -1, -2, 1)])
def test_pad_negative_amounts_crop_before_padding(mode, pad):
    a = np.random.default_rng(6).standard_normal((1, 2, 6, 5))
    _both(lambda x: gb.nn.functional.pad(x, pad, mode), lambda x: torch.nn.functional.pad(x, pad, mode), a)


def test_pad_replicate_may_crop_past_the_input():  # (-4, 5) on a dim of 4: every output position is x[-1]
    a = np.random.default_rng(7).standard_normal((2, 3, 4, 4))
    pad = (-4, 5, 2, -3)
    _both(
        lambda x: gb.nn.functional.pad(x, pad, "replicate"), lambda x: torch.nn.functional.pad(x, pad, "replicate"), a
    )
