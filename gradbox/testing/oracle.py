"""PyTorch as a test-time oracle: run the same function in gradbox and torch, compare
forward values, dtypes and the gradients of every input (float64: 1e-10 relative)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradbox as gb

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


def assert_same(g, t, what: str = "value", tol: dict | None = None) -> None:
    """gradbox tensor ``g`` equals torch tensor ``t``: same shape, dtype and values."""
    ga = g._data if isinstance(g, gb.Tensor) else np.asarray(g)
    ta = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    assert ga.shape == ta.shape, f"{what}: shape {ga.shape} != torch {ta.shape}"
    assert str(ga.dtype) == str(ta.dtype), f"{what}: dtype {ga.dtype} != torch {ta.dtype}"
    if ga.dtype.kind == "f":
        t_ = tol or TOL.get(ga.dtype.type, TOL[np.float32])
        scale = max(1.0, float(np.abs(ta).max(initial=0)))
        np.testing.assert_allclose(ga, ta, rtol=t_["rtol"], atol=t_["atol"] * scale, err_msg=what)
    else:
        np.testing.assert_array_equal(ga, ta, err_msg=what)


def _outs(y):
    return list(y) if isinstance(y, tuple | list) else [y]


def check(gb_fn, torch_fn, *arrays: np.ndarray, diff=None, seed: int = 0, tol: dict | None = None):
    """Forward and backward parity of ``gb_fn`` vs ``torch_fn`` on copies of ``arrays``.

    Float inputs require grad (unless ``diff`` says otherwise); each float output gets a
    random upstream gradient and all input gradients are compared.
    """
    diff = [a.dtype.kind == "f" for a in arrays] if diff is None else diff
    gin = [gb.tensor(a, requires_grad=d) for a, d in zip(arrays, diff)]
    tin = [torch.tensor(a, requires_grad=d) for a, d in zip(arrays, diff)]
    gout, tout = _outs(gb_fn(*gin)), _outs(torch_fn(*tin))
    assert len(gout) == len(tout)
    for i, (go, to) in enumerate(zip(gout, tout)):
        assert_same(go, to, f"output {i}", tol)
    rng = np.random.default_rng(seed)
    pairs = [(go, to) for go, to in zip(gout, tout) if isinstance(to, torch.Tensor) and to.requires_grad]
    if not pairs:
        return gout
    ups = [rng.standard_normal(to.shape).astype(to.detach().numpy().dtype) for _, to in pairs]
    gb.autograd.backward([go for go, _ in pairs], [gb.tensor(u) for u in ups])
    torch.autograd.backward([to for _, to in pairs], [torch.tensor(u) for u in ups])
    for i, (gi, ti, d) in enumerate(zip(gin, tin, diff)):
        if d:
            assert (gi.grad is None) == (ti.grad is None), f"grad of input {i}: {gi.grad} vs torch {ti.grad}"
            if ti.grad is not None:
                assert_same(gi.grad, ti.grad, f"grad of input {i}", tol)
    return gout


def arrays(draw, shapes, dtype=np.float64, low=-2.0, high=2.0, away_from_zero: float = 0.0):
    """Random arrays for hypothesis-drawn shapes (values drawn from a seeded NumPy generator)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        a = rng.uniform(low, high, s)
        if away_from_zero:
            a = np.where(np.abs(a) < away_from_zero, np.sign(a + 1e-300) * away_from_zero, a)
        out.append(a.astype(dtype))
    return out


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable(n=2, min_dims=0, max_dims=4, max_side=4):
    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=min_dims, max_dims=max_dims, max_side=max_side)


def check_module(gm, tm, *arrays: np.ndarray, seed: int = 0, tol: dict | None = None, call=None):
    """Parity of a gradbox module and a torch module with gradbox's weights copied into torch
    through state_dict: outputs, input gradients, parameter gradients and buffers."""
    gm.double()
    tm.double()
    missing, unexpected = tm.load_state_dict(
        {k: torch.tensor(v.numpy()) for k, v in gm.state_dict().items()}, strict=True
    )
    assert not missing and not unexpected
    assert [k for k, _ in gm.named_parameters()] == [k for k, _ in tm.named_parameters()]
    call = call or (lambda m, *xs: m(*xs))
    gin = [gb.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    tin = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    gout, tout = call(gm, *gin), call(tm, *tin)
    assert_same(gout, tout, "output", tol)
    rng = np.random.default_rng(seed)
    up = rng.standard_normal(tuple(tout.shape))
    gout.backward(gb.tensor(up))
    tout.backward(torch.tensor(up))
    for i, (gi, ti) in enumerate(zip(gin, tin)):
        if ti.grad is not None:
            assert_same(gi.grad, ti.grad, f"grad of input {i}", tol)
    tparams = dict(tm.named_parameters())
    for name, p in gm.named_parameters():
        tp = tparams[name]
        assert (p.grad is None) == (tp.grad is None), f"grad of {name}: {p.grad} vs torch {tp.grad}"
        if tp.grad is not None:
            assert_same(p.grad, tp.grad, f"grad of {name}", tol)
    tbufs = dict(tm.named_buffers())
    for name, b in gm.named_buffers():
        assert_same(b, tbufs[name], f"buffer {name}", tol)
    return gout
