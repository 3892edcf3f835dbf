"""Tensor creation, dtypes, attributes, printing and seeding behave as in PyTorch."""

import numpy as np
import pytest
import torch

import gradbox as gb


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.tensor([1.0, 2.0]),
        lambda m: m.tensor(3.5),
        lambda m: m.tensor([1, 2]),
        lambda m: m.tensor([True, False]),
        lambda m: m.tensor([[1, 2.5]]),
        lambda m: m.tensor(np.array([1.0], dtype=np.float64)),
        lambda m: m.tensor(np.array([1], dtype=np.int32)),
        lambda m: m.tensor([1, 2], dtype=m.float64),
        lambda m: m.zeros(2, 3),
        lambda m: m.ones((2, 3), dtype=m.int64),
        lambda m: m.full((2,), 7),
        lambda m: m.full((2,), 7.0),
        lambda m: m.arange(5),
        lambda m: m.arange(0, 1, 0.25),
        lambda m: m.linspace(0, 1, 5),
        lambda m: m.linspace(-3.7, 9.2, 7, dtype=m.int64),
        lambda m: m.linspace(2, 2, 1),
        lambda m: m.linspace(0, 1, 0),
        lambda m: m.eye(3),
        lambda m: m.eye(2, 3, dtype=m.float64),
        lambda m: m.zeros_like(m.tensor([1, 2])),
        lambda m: m.ones_like(m.tensor([1.0], dtype=m.float64)),
        lambda m: m.from_numpy(np.arange(3, dtype=np.float64)),
    ],
)
def test_creation_values_and_dtypes_match_torch(make):
    g, t = make(gb), make(torch)
    assert g.shape == tuple(t.shape)
    assert g.dtype.name == str(t.dtype).split(".")[1]
    np.testing.assert_allclose(g.numpy(), t.numpy())


def test_linspace_with_tensor_endpoints_computes_in_the_requested_dtype():
    """A float32 0-d start with dtype float64 (torch's tensor overload): the range is not
    computed in float32 (it was: off by 5e-7), and both endpoints come out exact."""
    start = np.float32(3.3)
    for steps in (2, 7, 50, 51):
        g = gb.linspace(gb.tensor(start), -3, steps, dtype=gb.float64).numpy()
        t = torch.linspace(torch.tensor(start), -3, steps, dtype=torch.float64).numpy()
        np.testing.assert_allclose(g, t, rtol=1e-14, atol=1e-14)
        assert g[0] == float(start) and g[-1] == -3.0
    with pytest.raises(RuntimeError, match="linspace: expected a 0-dimensional start tensor, got shape \\(2,\\)"):
        gb.linspace(gb.zeros(2), 1, 5)
    with pytest.raises(RuntimeError, match="linspace: expected a non-negative integer number of steps, got -1"):
        gb.linspace(0, 1, -1)
    with pytest.raises(RuntimeError, match="logspace: expected a 0-dimensional end tensor, got shape \\(3,\\)"):
        gb.logspace(0, gb.ones(3), 5)


def test_random_creation_shapes_dtypes_and_seeding():
    gb.manual_seed(0)
    a = gb.randn(1000, 3)
    gb.manual_seed(0)
    b = gb.randn(1000, 3)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == gb.float32 and a.shape == (1000, 3)
    assert abs(float(a.mean())) < 0.1 and abs(float(a.std()) - 1) < 0.1
    u = gb.rand(10000)
    assert 0 <= float(u.min()) and float(u.max()) < 1 and abs(float(u.mean()) - 0.5) < 0.02
    r = gb.randint(0, 10, (2000,))
    assert r.dtype == gb.int64 and set(np.unique(r.numpy())) == set(range(10))
    assert gb.randn_like(gb.zeros(2, dtype=gb.float64)).dtype == gb.float64
    g = gb.Generator().manual_seed(5)
    assert not np.array_equal(gb.rand(4, generator=g).numpy(), gb.rand(4).numpy())


def test_attributes_like_torch():
    x = gb.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert x.shape == (2, 3) and x.size() == (2, 3) and x.size(-1) == 3 and x.ndim == 2 and x.dim() == 2
    assert x.numel() == 6 and x.is_leaf and x.grad_fn is None and x.device == "cpu"
    assert x.T.shape == (3, 2) and x.t().shape == (3, 2)
    assert x[0, 1].item() == 2.0 and x.tolist() == [[1, 2, 3], [4, 5, 6]]
    y = x * 2
    assert not y.is_leaf and y.grad_fn.name == "MulBackward"
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    with pytest.raises(RuntimeError, match="Use tensor.detach\\(\\).numpy\\(\\)"):
        x.numpy()
    assert repr(x.shape) == "gradbox.Size([2, 3])"
    assert x.float() is x and x.double().dtype == gb.float64 and x.long().dtype == gb.int64
    assert x.to(gb.float64).dtype == gb.float64 and x.to("cpu") is x
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")


def test_repr_follows_torch_format():
    assert repr(gb.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"
    assert repr(gb.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(gb.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(gb.tensor(3.0, dtype=gb.float64)) == "tensor(3., dtype=gradbox.float64)"
    assert repr(gb.tensor([True, False])) == "tensor([ True, False])"
    x = gb.tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward>)"
    assert repr(gb.tensor([[1.5, 2.0], [3.0, 4.0]])) == "tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])"


def test_setitem_and_inplace_fills():
    x = gb.zeros(3, 4)
    x[1] = 2.0
    x[:, 0] = gb.tensor([7.0, 8.0, 9.0])
    x.masked_fill_(x > 7.5, -1.0)
    t = torch.zeros(3, 4)
    t[1] = 2.0
    t[:, 0] = torch.tensor([7.0, 8.0, 9.0])
    t.masked_fill_(t > 7.5, -1.0)
    np.testing.assert_array_equal(x.numpy(), t.numpy())


def test_python_conversions():
    x = gb.tensor([2.5])
    assert float(x) == 2.5 and int(gb.tensor(3)) == 3 and bool(gb.tensor(True))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(gb.tensor([1.0, 2.0]))
    assert len(gb.zeros(4, 2)) == 4 and [t.shape for t in gb.zeros(2, 3)] == [(3,), (3,)]
    assert np.asarray(gb.tensor([1.0, 2.0])).dtype == np.float32
