"""PyTorch habits that must work unchanged under ``import gradbox as torch``: devices, custom
autograd Functions written PyTorch's way, tensor formatting and conversions, the *_like and
new_* constructors, dtype names and limits."""

import numpy as np
import pytest
import torch

import gradbox as gb


def test_devices_are_cpu_and_other_devices_say_how_to_move_to_pytorch():
    d = gb.device("cpu")
    assert d.type == "cpu" and d.index is None and d == "cpu" and str(d) == "cpu" and repr(d) == repr(torch.device("cpu"))
    assert gb.device("cpu", 0) == gb.device("cpu:0") and repr(gb.device("cpu:0")) == repr(torch.device("cpu:0"))
    assert not gb.cuda.is_available() and gb.cuda.device_count() == 0
    assert not gb.backends.mps.is_available()
    assert not gb.accelerator.is_available() and gb.accelerator.current_accelerator() is None
    x = gb.zeros(2, device="cpu")
    assert x.device == gb.device("cpu") and x.device == "cpu" and not x.is_cuda and x.is_cpu
    assert x.to(gb.device("cpu")) is x and x.to("cpu", gb.float64).dtype == gb.float64 and x.cpu() is x
    for call in (
        lambda: x.to("cuda"),
        lambda: x.cuda(),
        lambda: x.to(gb.device("mps")),
        lambda: gb.zeros(2, device="cuda"),
        lambda: gb.randn(2, device="cuda:1"),
        lambda: gb.tensor([1.0], device="mps"),
        lambda: gb.set_default_device("cuda"),
        lambda: gb.nn.Linear(2, 2).to("cuda"),
        lambda: gb.nn.Linear(2, 2).cuda(),
    ):
        with pytest.raises(RuntimeError, match=r"is not available\. gradbox computes on the CPU only.*to_torch"):
            call()
    device = gb.device("cuda" if gb.cuda.is_available() else "cpu")  # the idiom of every PyTorch example
    assert gb.nn.Linear(2, 2).to(device)(gb.ones(1, 2).to(device)).shape == (1, 2)
    with pytest.raises(RuntimeError, match="expected one of"):
        gb.device("gpu")


class Exp(gb.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class ScaleShift(gb.autograd.Function):
    """Non-tensor arguments get None gradients; two outputs."""

    @staticmethod
    def forward(ctx, x, w, scale: float, shift=0.0):
        ctx.save_for_backward(x, w)
        ctx.scale = scale
        return x * w * scale + shift, (x * w).sum(0)

    @staticmethod
    def backward(ctx, g1, g2):
        x, w = ctx.saved_tensors
        gx = (g1 * ctx.scale + g2) * w if ctx.needs_input_grad[0] else None
        gw = ((g1 * ctx.scale + g2) * x).sum(0) if ctx.needs_input_grad[1] else None
        return gx, gw, None, None


def _torch_twin(cls):
    """The same Function class body, built under torch (PyTorch code with only the import changed)."""
    return type(cls.__name__, (torch.autograd.Function,), {"forward": cls.forward, "backward": cls.backward})


def test_a_custom_function_written_pytorchs_way_matches_torch():
    a = np.random.default_rng(0).standard_normal((3, 4))
    w0 = np.random.default_rng(1).standard_normal(4)
    results = {}
    for m, cls, cls2 in ((gb, Exp, ScaleShift), (torch, _torch_twin(Exp), _torch_twin(ScaleShift))):
        x, w = m.tensor(a, requires_grad=True), m.tensor(w0, requires_grad=True)
        y = cls.apply(x)
        y1, y2 = cls2.apply(x, w, 0.5, 2.0)
        (y.sum() + (y1 * y1).sum() + (y2 * 3).sum()).backward()
        results[m.__name__] = (y.detach().numpy(), y1.detach().numpy(), x.grad.numpy(), w.grad.numpy())
    for g, t in zip(results["gradbox"], results["torch"]):
        np.testing.assert_allclose(g, t, rtol=1e-10)
    assert type(Exp.apply(gb.ones(2, requires_grad=True)).grad_fn).__name__ == "CustomFunctionNode"
    assert Exp.apply(gb.ones(2, requires_grad=True)).grad_fn.name == "ExpBackward"


def test_custom_functions_pass_gradcheck_and_give_second_derivatives():
    x = gb.tensor(np.random.default_rng(2).standard_normal((2, 3)), requires_grad=True)
    w = gb.tensor(np.random.default_rng(3).standard_normal(3), requires_grad=True)
    assert gb.autograd.gradcheck(Exp.apply, [x])
    assert gb.autograd.gradcheck(lambda x, w: ScaleShift.apply(x, w, 1.5)[0], [x, w])
    assert gb.autograd.gradgradcheck(Exp.apply, [x])  # backward written in gradbox ops: create_graph works
    (g,) = gb.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    (gg,) = gb.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), np.exp(x.detach().numpy()), rtol=1e-12)


def test_ctx_features_needs_input_grad_non_differentiable_and_materialize():
    seen = {}

    class Sort(gb.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            idx = gb.tensor(np.argsort(x.detach().numpy()))
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            ctx.set_materialize_grads(False)
            seen["needs"] = ctx.needs_input_grad
            return x[idx], idx

        @staticmethod
        def backward(ctx, g, g_idx):
            seen["g_idx"] = g_idx
            (idx,) = ctx.saved_tensors
            out = gb.zeros(g.shape, dtype=g.dtype)
            out[idx] = g
            return out

    x = gb.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, idx = Sort.apply(x)
    assert seen["needs"] == (True,) and not idx.requires_grad and values.requires_grad
    (values * gb.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0] and seen["g_idx"] is None


def test_custom_function_errors_and_saved_tensor_versions():
    class WrongCount(gb.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match=r"WrongCountBackward returned an incorrect number of gradients \(expected 2, got 1\)"):
        WrongCount.apply(gb.ones(2, requires_grad=True), 3.0).sum().backward()
    x = gb.ones(2, requires_grad=True)
    y = x * 1
    z = Exp.apply(y)
    with gb.no_grad():
        z.mul_(2)  # the saved output changed
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    with pytest.raises(RuntimeError, match=r"call Exp.apply\(...\)"):
        Exp()


def test_a_function_returning_its_input_does_not_rewrite_the_inputs_history():
    class Identity(gb.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    x = gb.ones(3, requires_grad=True)
    y = Identity.apply(x)
    assert x.is_leaf and y is not x
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_format_array_and_conversions_like_torch():
    for m in (gb, torch):
        loss = m.tensor(0.123456)
        assert f"{loss:.4f}" == "0.1235" and f"{loss}" == str(loss.item()) and f"{m.tensor(2.5):>8.2f}" == "    2.50"
        assert f"{m.ones(2)}" == str(m.ones(2))
        for t in (m.ones(2), m.ones(1)):
            with pytest.raises(TypeError):
                f"{t:.2f}"
    x = gb.tensor([[1.0, 2.0]])
    assert np.asarray(x).shape == (1, 2) and x.tolist() == [[1.0, 2.0]] and x[0, 1].item() == 2.0


def test_like_and_new_constructors_take_device_and_dtype():
    x = gb.ones(2, 3)
    for f in (gb.zeros_like, gb.ones_like, gb.empty_like, gb.rand_like, gb.randn_like):
        y = f(x, dtype=gb.float64, device="cpu")
        assert y.shape == (2, 3) and y.dtype == gb.float64
    assert gb.full_like(x, 7, device=gb.device("cpu")).tolist()[0] == [7.0] * 3
    assert x.new_zeros((2,), device="cpu").dtype == gb.float32 and x.new_ones(3, dtype=gb.int64).dtype == gb.int64
    assert x.new_tensor([1, 2], dtype=gb.float64, device="cpu").dtype == gb.float64 and x.new_empty(4).shape == (4,)
    assert x.new_full((2,), 3.0, requires_grad=True).requires_grad


def test_size_dtypes_and_limits_read_like_torch():
    x = gb.zeros(2, 3)
    assert x.shape == (2, 3) and isinstance(x.shape, tuple) and x.size() == torch.zeros(2, 3).size()
    assert x.shape[1] == x.size(1) == 3 and x.shape.numel() == 6
    assert gb.float is gb.float32 and gb.long is gb.int64 and gb.double is gb.float64 and gb.int is gb.int32
    assert str(gb.float32) == "gradbox.float32" and gb.float32.is_floating_point
    assert gb.finfo(gb.float32).eps == torch.finfo(torch.float32).eps and gb.finfo().bits == 32
    assert gb.iinfo(gb.int64).max == torch.iinfo(torch.int64).max
    gb.set_num_threads(2)
    assert gb.get_num_threads() == 2
