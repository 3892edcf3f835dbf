"""Every layer against PyTorch with weights copied through state_dict, float64 to 1e-9 (the
oracle's 1e-10), on randomized configurations: stride, padding, dilation, groups, ceil_mode,
odd sizes, batch 1; train and eval modes."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import gradbox as gb
import gradbox.nn as nn
from gradbox.testing.oracle import check_module


def _x(shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


@given(data=st.data())
def test_conv2d_matches_torch_on_random_configurations(data):
    groups = data.draw(st.sampled_from([1, 2, 3]))
    cin = groups * data.draw(st.integers(1, 2))
    cout = groups * data.draw(st.integers(1, 3))
    kh, kw = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    stride = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    dilation = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    padding = data.draw(st.sampled_from([0, 1, (2, 0), "valid"] + (["same"] if stride == (1, 1) else [])))
    bias = data.draw(st.booleans())
    mode = (
        data.draw(st.sampled_from(["zeros", "zeros", "reflect", "circular", "replicate"]))
        if not isinstance(padding, str) and padding != 0
        else "zeros"
    )
    eff_h, eff_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    h = data.draw(st.integers(max(eff_h, 3), eff_h + 6))
    w = data.draw(st.integers(max(eff_w, 3), eff_w + 6))
    n = data.draw(st.integers(1, 3))
    kw_ = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias, padding_mode=mode)
    check_module(
        nn.Conv2d(cin, cout, (kh, kw), **kw_),
        torch.nn.Conv2d(cin, cout, (kh, kw), **kw_),
        _x((n, cin, h, w), data.draw(st.integers(0, 99))),
    )


@given(data=st.data())
def test_conv1d_matches_torch(data):
    groups = data.draw(st.sampled_from([1, 2]))
    cin, cout = 2 * groups, 3 * groups
    k = data.draw(st.integers(1, 5))
    kw_ = dict(
        stride=data.draw(st.integers(1, 3)),
        padding=data.draw(st.integers(0, 2)),
        dilation=data.draw(st.integers(1, 2)),
        groups=groups,
    )
    length = data.draw(st.integers(kw_["dilation"] * (k - 1) + 1, 12))
    check_module(nn.Conv1d(cin, cout, k, **kw_), torch.nn.Conv1d(cin, cout, k, **kw_), _x((2, cin, length)))


@given(data=st.data())
def test_conv_transpose2d_matches_torch(data):
    groups = data.draw(st.sampled_from([1, 2]))
    cin, cout = 2 * groups, groups * data.draw(st.integers(1, 2))
    k = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3)))
    stride = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2)))
    dilation = (data.draw(st.integers(1, 2)), 1)
    output_padding = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    padding = (data.draw(st.integers(0, 1)), 0)
    kw_ = dict(
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        groups=groups,
        dilation=dilation,
        bias=data.draw(st.booleans()),
    )
    x = _x((data.draw(st.integers(1, 2)), cin, data.draw(st.integers(2, 5)), data.draw(st.integers(2, 5))))
    size = [
        (i - 1) * s - 2 * p + d * (kk - 1) + o + 1
        for i, s, p, d, kk, o in zip(x.shape[2:], stride, padding, dilation, k, output_padding)
    ]
    assume(min(size) > 0)  # torch refuses these too (test_conv_transpose_errors)
    check_module(nn.ConvTranspose2d(cin, cout, k, **kw_), torch.nn.ConvTranspose2d(cin, cout, k, **kw_), x)


def test_conv_transpose_with_output_size_and_conv_transpose1d():
    x = _x((1, 2, 4, 4))
    check_module(
        nn.ConvTranspose2d(2, 3, 3, stride=2),
        torch.nn.ConvTranspose2d(2, 3, 3, stride=2),
        x,
        call=lambda m, x: m(x, output_size=[10, 10]),
    )
    check_module(
        nn.ConvTranspose1d(2, 4, 3, stride=2, padding=1),
        torch.nn.ConvTranspose1d(2, 4, 3, stride=2, padding=1),
        _x((2, 2, 5)),
    )


def test_conv_transpose_errors_on_empty_output_like_torch():
    with pytest.raises(RuntimeError, match=r"ConvTranspose2d\(2, 1.*\): computed output size \(0, 2\) is too small"):
        nn.ConvTranspose2d(2, 1, 1, padding=(1, 0))(gb.zeros(1, 2, 2, 2))
    with pytest.raises(RuntimeError):
        torch.nn.ConvTranspose2d(2, 1, 1, padding=(1, 0))(torch.zeros(1, 2, 2, 2))


def test_conv_transpose_with_output_padding_beyond_stride_has_exact_double_backward():
    F = gb.nn.functional
    x = gb.tensor(_x((1, 2, 2, 2)), requires_grad=True)
    w = gb.tensor(_x((2, 1, 1, 1), 3), requires_grad=True)
    f = lambda x, w: F.conv_transpose2d(x, w, dilation=2, output_padding=1)
    assert gb.autograd.gradcheck(f, [x, w]) and gb.autograd.gradgradcheck(f, [x, w])


def test_conv_gradients_pass_gradcheck_and_gradgradcheck():
    F = gb.nn.functional
    x = gb.tensor(_x((1, 2, 5, 4)), requires_grad=True)
    w = gb.tensor(_x((4, 1, 2, 3), 1), requires_grad=True)
    f = lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    assert gb.autograd.gradcheck(f, [x, w])
    assert gb.autograd.gradgradcheck(f, [x, w])
    wt = gb.tensor(_x((2, 3, 3, 2), 2), requires_grad=True)
    g = lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
    assert gb.autograd.gradgradcheck(g, [x, wt])


@given(data=st.data())
def test_max_pool2d_matches_torch(data):
    k = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    stride = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    dilation = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    padding = tuple(data.draw(st.integers(0, kk // 2)) for kk in k)
    ceil = data.draw(st.booleans())
    eff = [d * (kk - 1) + 1 for kk, d in zip(k, dilation)]
    x = _x(
        (data.draw(st.integers(1, 2)), 2, data.draw(st.integers(eff[0], 9)), data.draw(st.integers(eff[1], 9))),
        data.draw(st.integers(0, 99)),
    )
    kw_ = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil)
    check_module(nn.MaxPool2d(k, **kw_), torch.nn.MaxPool2d(k, **kw_), x)
    gi = gb.nn.functional.max_pool2d(gb.tensor(x), k, return_indices=True, **kw_)[1]
    ti = torch.nn.functional.max_pool2d(torch.tensor(x), k, return_indices=True, **kw_)[1]
    np.testing.assert_array_equal(gi.numpy(), ti.numpy())


def test_pool_gradients_pass_gradcheck_and_gradgradcheck():
    F = gb.nn.functional
    x = gb.tensor(_x((1, 2, 6, 5), 4), requires_grad=True)
    for f in [
        lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),  # overlapping windows
        lambda x: F.max_pool2d(x, (2, 1), dilation=(2, 1)),
        lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
        lambda x: F.adaptive_max_pool2d(x, (4, 3)),
        lambda x: F.adaptive_avg_pool2d(x, (4, 3)),
    ]:
        assert gb.autograd.gradcheck(f, [x]) and gb.autograd.gradgradcheck(f, [x])


@given(data=st.data())
def test_avg_pool2d_matches_torch(data):
    k = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3)))
    stride = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    padding = tuple(data.draw(st.integers(0, kk // 2)) for kk in k)
    kw_ = dict(
        stride=stride, padding=padding, ceil_mode=data.draw(st.booleans()), count_include_pad=data.draw(st.booleans())
    )
    if data.draw(st.booleans()):
        kw_["divisor_override"] = data.draw(st.integers(1, 5))
    x = _x((1, 3, data.draw(st.integers(k[0], 9)), data.draw(st.integers(k[1], 9))), data.draw(st.integers(0, 99)))
    check_module(nn.AvgPool2d(k, **kw_), torch.nn.AvgPool2d(k, **kw_), x)


def test_pool1d_layers_match_torch():
    x = _x((2, 3, 11))
    check_module(nn.MaxPool1d(3, 2, padding=1, ceil_mode=True), torch.nn.MaxPool1d(3, 2, padding=1, ceil_mode=True), x)
    check_module(
        nn.AvgPool1d(4, 3, padding=2, count_include_pad=False),
        torch.nn.AvgPool1d(4, 3, padding=2, count_include_pad=False),
        x,
    )
    check_module(nn.AdaptiveAvgPool1d(4), torch.nn.AdaptiveAvgPool1d(4), x)
    check_module(nn.AdaptiveMaxPool1d(4), torch.nn.AdaptiveMaxPool1d(4), x)


@pytest.mark.parametrize("out", [1, (1, 1), (3, 2), (5, 7), (2, None)])
def test_adaptive_pools_match_torch(out):
    x = _x((2, 2, 7, 9))
    check_module(nn.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out), x)
    check_module(nn.AdaptiveMaxPool2d(out), torch.nn.AdaptiveMaxPool2d(out), x)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_and_bilinear_match_torch(bias):
    check_module(nn.Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias), _x((4, 5)))
    check_module(nn.Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias), _x((2, 4, 5)))
    check_module(nn.Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias), _x((5,)))
    check_module(nn.Bilinear(3, 4, 2, bias=bias), torch.nn.Bilinear(3, 4, 2, bias=bias), _x((5, 3)), _x((5, 4), 1))
    x, w = gb.tensor(_x((3, 4)), requires_grad=True), gb.tensor(_x((2, 4), 1), requires_grad=True)
    ins = [x, w] + ([gb.tensor(_x((2,), 2), requires_grad=True)] if bias else [])
    f = lambda *a: gb.nn.functional.linear(*a).tanh()
    assert gb.autograd.gradcheck(f, ins) and gb.autograd.gradgradcheck(f, ins)
    # a plain backward takes Linear's array path, create_graph its gradbox-op path: same products
    plain = [g.numpy() for g in gb.autograd.grad(f(*ins).sum(), ins)]
    graph = [g.detach().numpy() for g in gb.autograd.grad(f(*ins).sum(), ins, create_graph=True)]
    for p, q in zip(plain, graph):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_matches_torch_in_train_and_eval_with_running_stats(train, momentum):
    for g, t, shape in [
        (nn.BatchNorm2d(3, momentum=momentum), torch.nn.BatchNorm2d(3, momentum=momentum), (4, 3, 5, 2)),
        (nn.BatchNorm1d(3, momentum=momentum), torch.nn.BatchNorm1d(3, momentum=momentum), (6, 3)),
        (nn.BatchNorm1d(3, affine=False), torch.nn.BatchNorm1d(3, affine=False), (4, 3, 5)),
        (
            nn.BatchNorm2d(3, track_running_stats=False),
            torch.nn.BatchNorm2d(3, track_running_stats=False),
            (2, 3, 2, 2),
        ),
    ]:
        g.train(train), t.train(train)
        if g.running_mean is not None:  # nontrivial running statistics for eval mode
            g.running_mean._data[...] = [0.1, -0.2, 0.3]
            g.running_var._data[...] = [0.5, 1.5, 2.0]
        for step in range(3):  # running averages over several steps
            check_module(g, t, _x(shape, step, -2, 3), seed=step)


def test_layernorm_groupnorm_embedding_match_torch():
    check_module(nn.LayerNorm(5), torch.nn.LayerNorm(5), _x((3, 4, 5)))
    check_module(
        nn.LayerNorm((4, 5), elementwise_affine=False),
        torch.nn.LayerNorm((4, 5), elementwise_affine=False),
        _x((3, 4, 5)),
    )
    check_module(nn.GroupNorm(2, 6), torch.nn.GroupNorm(2, 6), _x((3, 6, 4, 2)))
    check_module(nn.GroupNorm(1, 2), torch.nn.GroupNorm(1, 2), _x((0, 2)))  # an empty batch (reshape cannot infer -1)
    with pytest.raises(RuntimeError, match=r"group_norm: expected weight of shape \(4,\) \(one per channel\), got \(3,\)"):
        gb.nn.functional.group_norm(gb.zeros(3, 4, 5), 2, gb.ones(3))
    idx = np.array([[1, 2, 0], [9, 2, 2]])
    check_module(nn.Embedding(10, 3), torch.nn.Embedding(10, 3), idx)
    check_module(nn.Embedding(10, 3, padding_idx=2), torch.nn.Embedding(10, 3, padding_idx=2), idx)


ACTIVATIONS = [
    ("ReLU", ()),
    ("ReLU6", ()),
    ("LeakyReLU", (0.2,)),
    ("ELU", (0.7,)),
    ("GELU", ()),
    ("GELU", ("tanh",)),
    ("SiLU", ()),
    ("Sigmoid", ()),
    ("Tanh", ()),
    ("Softmax", (1,)),
    ("LogSoftmax", (-1,)),
    ("Softplus", (2.0, 3.0)),
    ("Hardtanh", (-0.5, 0.8)),
]


@pytest.mark.parametrize("name,args", ACTIVATIONS)
def test_activation_modules_match_torch(name, args):
    x = _x((4, 5), 3, -8, 8)
    check_module(getattr(nn, name)(*args), getattr(torch.nn, name)(*args), x)
    x[0, :3] = [0.0, 6.0, -0.5]  # kinks of relu / relu6 / hardtanh
    check_module(getattr(nn, name)(*args), getattr(torch.nn, name)(*args), x)


@pytest.mark.parametrize("name,args", ACTIVATIONS)
def test_activation_gradgradcheck(name, args):
    x = gb.tensor(_x((2, 3), 5, -2, 2) + 0.013, requires_grad=True)
    f = getattr(nn, name)(*args)
    assert gb.autograd.gradcheck(f, [x]) and gb.autograd.gradgradcheck(f, [x])


def test_dropout_is_inverted_and_identity_in_eval():
    gb.manual_seed(0)
    d = nn.Dropout(0.25)
    x = gb.ones(200, 500, requires_grad=True)
    y = d(x)
    kept = y.detach().numpy() != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.75)
    assert d.eval()(x) is x
    d2 = nn.Dropout2d(0.5)
    z = d2(gb.ones(8, 16, 3, 3)).numpy()
    assert set(np.unique(z.reshape(8, 16, 9).std(axis=2))) == {0.0}  # whole channels kept or dropped
    assert 0.3 < (z[:, :, 0, 0] != 0).mean() < 0.7


def test_interpolate_pad_modes_one_hot_match_torch():
    F, TF = gb.nn.functional, torch.nn.functional
    from gradbox.testing.oracle import check

    x = _x((1, 2, 3, 5))
    for kw in [dict(scale_factor=2), dict(size=(4, 7)), dict(size=(2, 3)), dict(scale_factor=1.5)]:
        check(lambda x, kw=kw: F.interpolate(x, **kw), lambda x, kw=kw: TF.interpolate(x, **kw), x)
    for mode in ["reflect", "replicate", "circular"]:
        check(lambda x, m=mode: F.pad(x, (2, 1, 1, 2), mode=m), lambda x, m=mode: TF.pad(x, (2, 1, 1, 2), mode=m), x)
    t = np.array([0, 3, 1])
    np.testing.assert_array_equal(F.one_hot(gb.tensor(t), 5).numpy(), TF.one_hot(torch.tensor(t), 5).numpy())


def test_fused_batch_norm_has_exact_first_and_second_derivatives():
    F = gb.nn.functional
    x = gb.tensor(_x((3, 2, 2, 2), 6), requires_grad=True)
    w = gb.tensor([1.5, -0.5], dtype=gb.float64, requires_grad=True)
    b = gb.tensor([0.1, 0.2], dtype=gb.float64, requires_grad=True)
    f = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True) ** 2
    assert gb.autograd.gradcheck(f, [x, w, b]) and gb.autograd.gradgradcheck(f, [x, w, b])
    g = lambda x: F.batch_norm(x, None, None, training=True).exp()  # no affine parameters
    assert gb.autograd.gradgradcheck(g, [x])
