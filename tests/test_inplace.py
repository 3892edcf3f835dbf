"""In-place ops, version counters and views behave as in PyTorch: never a silently wrong gradient."""

import numpy as np
import pytest
import torch

import gradbox as gb

VERSION_ERROR = "modified by an inplace operation"


def both(a, requires_grad=True):
    return gb.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


def test_a_saved_input_changed_under_no_grad_makes_backward_raise_like_torch():
    for m in (gb, torch):
        x, w = m.tensor([1.0, 2.0], requires_grad=True), m.tensor([3.0, 4.0], requires_grad=True)
        y = x * 1
        z = y * w  # Mul saves y
        with m.no_grad():
            y.mul_(10)
        with pytest.raises(RuntimeError, match=VERSION_ERROR):
            z.sum().backward()


def test_the_error_names_the_op_the_tensor_and_the_versions():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # Exp saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"the output of ExpBackward \(a gradbox.float32 tensor of shape \(2,\)\) is at version 1; expected version 0"):
        y.sum().backward()


def test_optimizer_step_between_two_retain_graph_backwards_raises():
    for m in (gb, torch):
        w = m.tensor([1.0, -2.0], requires_grad=True)
        loss = (w * w).sum()  # Mul saves w
        loss.backward(retain_graph=True)
        m.optim.SGD([w], lr=0.1).step()
        with pytest.raises(RuntimeError, match=VERSION_ERROR):
            loss.backward()


def test_mul_in_place_on_a_tensor_saved_for_backward_raises_and_on_an_unsaved_one_is_differentiated():
    x, xt = both([1.0, 2.0, 3.0])
    y, yt = x * 1, xt * 1
    z, zt = y.sigmoid(), yt.sigmoid()  # Sigmoid saves its output z, not y
    y.mul_(3)
    yt.mul_(3)
    (y.sum() + z.sum()).backward(retain_graph=True)
    (yt.sum() + zt.sum()).backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6)
    z.mul_(2)  # now the Sigmoid node's saved output has changed
    zt.mul_(2)
    for out in (z, zt):
        with pytest.raises(RuntimeError, match=VERSION_ERROR):
            out.sum().backward()


@pytest.mark.parametrize(
    "name,make",
    [
        ("relu", lambda m: m.nn.ReLU(inplace=True)),
        ("relu6", lambda m: m.nn.ReLU6(inplace=True)),
        ("leaky_relu", lambda m: m.nn.LeakyReLU(0.2, inplace=True)),
        ("elu", lambda m: m.nn.ELU(inplace=True)),
        ("hardtanh", lambda m: m.nn.Hardtanh(-0.5, 0.5, inplace=True)),
        ("silu", lambda m: m.nn.SiLU(inplace=True)),
    ],
)
def test_inplace_activations_overwrite_their_input_and_differentiate_like_torch(name, make):
    a = np.random.default_rng(0).standard_normal((3, 4))
    x, xt = both(a)
    y, yt = x * 2, xt * 2
    out, outt = make(gb)(y), make(torch)(yt)
    assert out is y and outt is yt
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-6)
    (out * out).sum().backward()
    (outt * outt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_functional_relu_inplace_changes_the_tensor_and_every_view_of_it():
    y = gb.tensor([[-1.0, 2.0], [3.0, -4.0]])
    row = y[1]
    arr = y._data
    out = gb.nn.functional.relu(y, inplace=True)
    assert out is y and y._data is arr
    assert y.tolist() == [[0.0, 2.0], [3.0, 0.0]] and row.tolist() == [3.0, 0.0]


def test_dropout_inplace_overwrites_its_input():
    gb.manual_seed(0)
    x = gb.ones(1000)
    out = gb.nn.functional.dropout(x, 0.5, training=True, inplace=True)
    assert out is x and set(np.unique(x.numpy())) <= {0.0, 2.0} and 0 < (x.numpy() == 0).sum() < 1000


def test_view_of_a_non_contiguous_tensor_raises_and_reshape_copies_like_torch():
    x, xt = gb.arange(12.0).reshape(3, 4), torch.arange(12.0).reshape(3, 4)
    with pytest.raises(RuntimeError, match=r"view size is not compatible.*Use .reshape\(...\) instead"):
        x.t().view(12)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        xt.t().view(12)
    np.testing.assert_array_equal(x.t().reshape(12).numpy(), xt.t().reshape(12).numpy())
    v = x.view(2, 6)  # a real view: writes through it are seen by x
    v[0, 0] = 100.0
    assert x[0, 0].item() == 100.0
    assert x.view(-1).shape == (12,)


def test_views_share_memory_and_the_version_counter_with_their_base():
    x = gb.zeros(2, 3)
    row, t, flat = x[0], x.t(), x.reshape(6)
    row.add_(1)
    assert x.tolist()[0] == [1.0, 1.0, 1.0] and t[0, 0].item() == 1.0 and flat[2].item() == 1.0
    assert x._version == row._version == t._version == flat._version == 1
    d = x.detach()
    d.zero_()
    assert x.sum().item() == 0.0 and x._version == 2


def test_in_place_on_a_view_of_a_leaf_that_requires_grad_raises_in_grad_mode_and_works_under_no_grad():
    w = gb.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad|view"):
        w[0].mul_(2)
    with gb.no_grad():
        w[0].mul_(2)
    assert w.detach().tolist() == [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]


def test_setitem_inside_the_graph_differentiates_like_torch():
    a = np.arange(6.0).reshape(2, 3)
    (x, xt), (v, vt) = both(a), both([7.0, 8.0, 9.0])
    y, yt = x * 2, xt * 2
    y[1] = v
    yt[1] = vt
    y[0, 1] = 0.0
    yt[0, 1] = 0.0
    w = np.random.default_rng(1).standard_normal((2, 3))
    (y * gb.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
    np.testing.assert_allclose(v.grad.numpy(), vt.grad.numpy())


def test_augmented_assignment_is_in_place_with_torch_semantics():
    x, xt = both([1.0, 2.0])
    y, yt = x * 3, xt * 3
    same, same_t = y, yt
    y += 1
    yt += 1
    y *= x
    yt *= xt
    assert y is same and yt is same_t
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
    w = gb.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w += 1


def test_in_place_dtype_and_shape_rules_follow_torch():
    i = gb.tensor([1, 2])
    with pytest.raises(RuntimeError, match=r"add_: result type gradbox.float32 can't be cast to the desired output type gradbox.int64"):
        i.add_(1.5)
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError, match=r"add_: output with shape \(3,\) doesn't match the broadcast shape \(2, 3\)"):
        gb.zeros(3).add_(gb.ones(2, 3))
    with pytest.raises(RuntimeError, match="expanded view"):
        gb.zeros(3).expand(2, 3).add_(1)
    i.copy_(gb.tensor([3.7, -1.2]))  # copy_ casts, as in PyTorch
    assert i.tolist() == torch.tensor([1, 2]).copy_(torch.tensor([3.7, -1.2])).tolist()


def test_inplace_random_fills_and_init_bump_versions():
    x = gb.zeros(3)
    x.uniform_(0, 1)
    x.normal_()
    x.fill_(2.0)
    x.zero_()
    assert x._version == 4
    lin = gb.nn.Linear(2, 2)
    v = lin.weight._version
    lin.load_state_dict(lin.state_dict())
    assert lin.weight._version == v + 1
