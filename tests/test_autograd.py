"""The engine: accumulation, retain_graph, freed graphs, deep chains, grad modes, autograd.grad,
higher-order derivatives against PyTorch, gradcheck itself, hooks and anomaly detection."""

import threading

import numpy as np
import pytest
import torch

import gradbox as gb


def test_gradients_accumulate_in_leaves_across_backward_calls():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_a_node_used_twice_receives_the_sum_of_both_paths():
    x = gb.tensor(3.0, requires_grad=True)
    y = x * x  # dy/dx = 2x
    z = y + y * x  # x^2 + x^3 -> 2x + 3x^2
    z.backward()
    assert x.grad.item() == pytest.approx(2 * 3 + 3 * 9)


def test_backward_through_a_freed_graph_raises_and_retain_graph_allows_it():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp([1, 2]) * (1 + np.array([1, 2]))))


def test_a_100000_op_chain_backpropagates_without_recursion():
    x = gb.tensor(1.0, dtype=gb.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    assert x.grad.item() == pytest.approx(1.00001**100_000, rel=1e-9)


def test_no_grad_records_nothing_and_works_as_decorator_and_set_grad_enabled():
    x = gb.ones(2, requires_grad=True)
    with gb.no_grad():
        y = x * 2
        with gb.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad

    @gb.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and gb.is_grad_enabled()
    with gb.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert gb.is_grad_enabled()
    gb.set_grad_enabled(False)
    assert not gb.is_grad_enabled()
    gb.set_grad_enabled(True)


def test_grad_mode_is_per_thread_as_in_pytorch():
    """no_grad in one thread must not switch recording off in another (PyTorch's grad mode is
    thread-local), and a new thread starts with recording on whatever its creator's mode."""
    inside, release, seen = threading.Event(), threading.Event(), {}

    def evaluate():  # e.g. a validation loop in a background thread
        with gb.no_grad():
            seen["off_there"] = not gb.is_grad_enabled()
            inside.set()
            release.wait(10)

    t = threading.Thread(target=evaluate)
    t.start()
    try:
        assert inside.wait(10)
        x = gb.ones(3, requires_grad=True)
        y = (x * 2).sum()
        assert gb.is_grad_enabled() and y.requires_grad
        y.backward()
        assert np.array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
    finally:
        release.set()
        t.join()
    assert seen["off_there"]

    with gb.no_grad():
        child = threading.Thread(target=lambda: seen.__setitem__("child", gb.is_grad_enabled()))
        child.start()
        child.join()
    assert seen["child"] is True


def test_non_scalar_backward_needs_a_gradient_and_int_tensors_cannot_require_grad():
    x = gb.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar outputs.*\(3,\)"):
        (x * 2).backward()
    with pytest.raises(
        RuntimeError, match="only Tensors of floating point dtype can require gradients, got gradbox.int64"
    ):
        gb.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        gb.ones(2).sum().backward()
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of \(2,\)"):
        (x * 2).backward(gb.ones(2))


def test_retain_grad_keeps_non_leaf_gradients_and_hooks_can_rewrite_them():
    x = gb.tensor([1.0, -2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.detach().numpy())
    np.testing.assert_allclose(seen[0], 2 * h.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), 10 * 3 * 2 * h.detach().numpy())


def test_autograd_grad_returns_gradients_without_touching_dot_grad():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    w = gb.tensor([3.0, 4.0], requires_grad=True)
    u = gb.tensor([1.0], requires_grad=True)
    y = (x * w).sum()
    gx, gw = gb.autograd.grad(y, [x, w], retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), [3, 4])
    np.testing.assert_allclose(gw.numpy(), [1, 2])
    assert x.grad is None and w.grad is None
    with pytest.raises(RuntimeError, match="input 1 .* was not used in the graph"):
        gb.autograd.grad(y, [x, u], retain_graph=True)
    assert gb.autograd.grad(y, [x, u], allow_unused=True)[1] is None
    h = x * 2
    (gh,) = gb.autograd.grad((h * h).sum(), [h])
    np.testing.assert_allclose(gh.numpy(), 2 * h.detach().numpy())


SECOND_ORDER = [
    lambda m, x, w: (m.tanh(x @ w) ** 2).sum(),
    lambda m, x, w: (m.softmax(x @ w, 1) * m.log_softmax(x @ w, 1)).sum(),
    lambda m, x, w: m.logsumexp(x * w.sum(), 1).sum() + (x.exp() / (1 + x * x)).mean(),
    lambda m, x, w: (m.sigmoid(x).var(0) * w.std()).sum() + (x @ w).relu().pow(3).sum(),
]


@pytest.mark.parametrize("f", SECOND_ORDER)
def test_second_derivatives_match_torch(f):
    rng = np.random.default_rng(0)
    xa, wa, va = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((3, 4))
    res = []
    for m in (gb, torch):
        x, w = m.tensor(xa, requires_grad=True), m.tensor(wa, requires_grad=True)
        y = f(m, x, w)
        gx, gw = m.autograd.grad(y, [x, w], create_graph=True)
        hv = m.autograd.grad((gx * m.tensor(va)).sum(), [x, w])  # Hessian-vector product
        res.append([gx, gw, *hv])
    for g, t in zip(*res):
        np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_gradient_of_quadratic_form_wrt_matrix_is_outer_product():
    x = gb.tensor(np.random.default_rng(3).standard_normal(4))
    w = gb.tensor(np.random.default_rng(4).standard_normal((4, 4)), requires_grad=True)
    (x @ w @ x).backward()
    np.testing.assert_allclose(w.grad.numpy(), np.outer(x.numpy(), x.numpy()), rtol=1e-6)


def test_gradcheck_catches_a_wrong_backward_and_names_input_and_element():
    class BadSquare(gb.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x * 3  # wrong: should be 2x

    x = gb.tensor([[1.0, 2.0]], requires_grad=True)
    with pytest.raises(gb.autograd.GradcheckError, match=r"input 0, element \(0, 0\).*numerical 2, analytical 3"):
        gb.autograd.gradcheck(BadSquare.apply, [x])
    assert gb.autograd.gradcheck(BadSquare.apply, [x], raise_exception=False) is False


def test_detect_anomaly_names_the_op_in_forward_and_backward():
    x = gb.tensor([-1.0, 1.0], requires_grad=True)
    with gb.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="Function 'Log' produced NaN"):
        with np.errstate(invalid="ignore"):
            gb.log(x)
    y = gb.tensor([0.0, 1.0], requires_grad=True)
    with gb.autograd.detect_anomaly():
        z = gb.sqrt(y).sum()
        with pytest.raises(RuntimeError, match="Function 'SqrtBackward' returned NaN or Inf values in its 0th output"):
            with np.errstate(divide="ignore"):
                z.backward()


def test_inplace_on_leaf_requiring_grad_needs_no_grad():
    w = gb.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad is being used in an in-place operation"):
        w.add_(1.0)
    with gb.no_grad():
        w.sub_(gb.tensor([1.0, 2.0, 3.0]), alpha=0.5)
    np.testing.assert_allclose(w.detach().numpy(), [0.5, 0.0, -0.5])
    h = w * 2
    h.mul_(3)  # in place on a tensor inside the graph: its history is rebased, as in PyTorch
    h.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [6.0, 6.0, 6.0])


def test_leaf_grads_do_not_alias_each_other():
    a = gb.ones(2, requires_grad=True)
    b = gb.ones(2, requires_grad=True)
    (a + b).sum().backward()
    a.grad.zero_()
    np.testing.assert_allclose(b.grad.numpy(), [1, 1])


def test_a_fresh_gradient_is_kept_by_one_leaf_only():
    # Linear's plain backward makes its gradients as fresh arrays (ops/_util.fresh), which a leaf
    # keeps without a copy; here Add hands the one fresh input gradient to both a and b
    a, b = gb.ones(4, 3, requires_grad=True), gb.ones(4, 3, requires_grad=True)
    w = gb.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), requires_grad=True)
    gb.nn.functional.linear(a + b, w).sum().backward()
    expected = np.tile(w.detach().numpy().sum(axis=0), (4, 1))
    a.grad.mul_(2)
    np.testing.assert_allclose(b.grad.numpy(), expected)
    np.testing.assert_allclose(a.grad.numpy(), 2 * expected)
    # a weight shared by two layers: the second contribution is added onto the kept first one
    x = gb.ones(4, 3)
    w.grad = None
    (gb.nn.functional.linear(x, w).sum() + gb.nn.functional.linear(2 * x, w).sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), np.full((2, 3), 12.0))


def test_backward_of_a_leaf_itself_and_create_graph_gives_grad_with_graph():
    x = gb.tensor(2.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0
    x.grad = None
    (x**3).backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = gb.autograd.grad(x.grad, [x])
    assert g2.item() == pytest.approx(12.0)


def test_augmented_assignment_is_in_place_off_graph_and_differentiable_on_graph():
    w = gb.ones(2, requires_grad=True)
    buf = w.data
    with gb.no_grad():
        w -= 0.5
    assert w.requires_grad and np.shares_memory(w._data, buf._data)
    np.testing.assert_allclose(w.detach().numpy(), [0.5, 0.5])
    out = w * 3
    out += w  # ResNet-style `out += identity` inside a forward pass
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [4.0, 4.0])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w += 1


def test_tracing_sees_every_op_with_its_inputs_params_and_output_even_under_no_grad():
    from gradbox.autograd.function import tracers, tracing

    seen = []
    x = gb.randn(2, 3)
    w = gb.randn(4, 3, requires_grad=True)
    with gb.no_grad(), tracing(lambda cls, ins, params, out: seen.append((cls.__name__, ins, params, out))):
        y = gb.relu(x @ w.t()).sum(1)
    assert [s[0] for s in seen] == ["Permute", "Matmul", "Relu", "Sum"]
    assert seen[1][1][0] is x and seen[-1][3] is y and seen[-1][2] == {"dims": (1,), "keepdim": False}
    assert tracers == []
