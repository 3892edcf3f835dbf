"""Losses against PyTorch for every reduction and option, and the softmax-cross-entropy seed
of a course: its gradient is p - onehot(y)."""

import numpy as np
import pytest
import torch

import gradbox as gb
from gradbox.testing.oracle import check

F, TF = gb.nn.functional, torch.nn.functional
REDUCTIONS = ["mean", "sum", "none"]


def _logits(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape) * 2


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 5), (4,)])
def test_cross_entropy_with_class_indices_matches_torch(reduction, smoothing, weighted, shape):
    rng = np.random.default_rng(1)
    c = shape[1] if len(shape) > 1 else shape[0]
    tshape = (shape[0], *shape[2:]) if len(shape) > 1 else ()
    y = rng.integers(0, c, tshape)
    if len(shape) > 1:
        y.reshape(-1)[0] = -100  # an ignored position
    w = rng.uniform(0.5, 2, c) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    check(
        lambda x: F.cross_entropy(x, gb.tensor(y), weight=None if w is None else gb.tensor(w), **kw),
        lambda x: TF.cross_entropy(x, torch.tensor(y), weight=None if w is None else torch.tensor(w), **kw),
        _logits(shape),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_with_probabilities_matches_torch(reduction, smoothing):
    p = np.random.default_rng(2).dirichlet(np.ones(5), size=(3,))
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    check(
        lambda x: F.cross_entropy(x, gb.tensor(p), **kw),
        lambda x: TF.cross_entropy(x, torch.tensor(p), **kw),
        _logits((3, 5)),
    )
    check(lambda x, t: F.cross_entropy(x, t, **kw), lambda x, t: TF.cross_entropy(x, t, **kw), _logits((3, 5)), p)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    z = gb.tensor(_logits((5, 7)), requires_grad=True)
    y = np.array([0, 3, 6, 2, 2])
    F.cross_entropy(z, gb.tensor(y), reduction="sum").backward()
    p = gb.softmax(z.detach(), 1).numpy()
    np.testing.assert_allclose(z.grad.numpy(), p - np.eye(7)[y], rtol=1e-12, atol=1e-15)
    assert gb.autograd.gradgradcheck(lambda z: F.cross_entropy(z, gb.tensor(y)), [z])


def test_cross_entropy_second_derivatives_with_weights_smoothing_and_ignored_rows():
    # the gradient op (SoftmaxCrossEntropyGrad) differentiated in the logits and in the upstream
    # gradient, whose rows differ under reduction="none"; the target coefficients sum to 1.2 per row
    rng = np.random.default_rng(4)
    z = gb.tensor(_logits((5, 4)), requires_grad=True)
    y, w = gb.tensor([0, 3, -100, 2, 1]), gb.tensor(rng.uniform(0.5, 2, 4))
    for reduction in ("none", "mean"):
        fn = lambda z, reduction=reduction: F.cross_entropy(z, y, weight=w, label_smoothing=0.2, reduction=reduction)  # noqa: E731
        assert gb.autograd.gradgradcheck(fn, [z])
    p = np.random.default_rng(5).dirichlet(np.ones(4), size=(5,)) * 1.2
    assert gb.autograd.gradgradcheck(lambda z: F.cross_entropy(z, gb.tensor(p), reduction="none"), [z])


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_cross_entropy_double_backward_matches_torch(reduction):
    # d/dz and d/dv of v . dL/dz (SoftmaxCrossEntropyGrad's backward) against PyTorch's double backward
    rng = np.random.default_rng(6)
    z0, y, w = _logits((5, 4)), np.array([0, 3, -100, 2, 1]), rng.uniform(0.5, 2, 4)
    out_shape = (5,) if reduction == "none" else ()
    v0, u0 = rng.standard_normal(out_shape), rng.standard_normal((5, 4))
    results = []
    for lib, F_ in ((gb, F), (torch, TF)):
        z, v = lib.tensor(z0, requires_grad=True), lib.tensor(v0, requires_grad=True)
        loss = F_.cross_entropy(z, lib.tensor(y), weight=lib.tensor(w), label_smoothing=0.2, reduction=reduction)
        (gz,) = (gb.autograd.grad if lib is gb else torch.autograd.grad)(loss, [z], v, create_graph=True)
        second = (gb.autograd.grad if lib is gb else torch.autograd.grad)((gz * lib.tensor(u0)).sum(), [z, v])
        results.append([t.detach().numpy() for t in (gz, *second)])
    for ours, ref in zip(*results):
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


def test_cross_entropy_plain_targets_check_bounds_and_honour_an_in_range_ignore_index():
    z = _logits((4, 3))
    for bad, shown in (([0, 1, 5, 0], 5), ([0, -1, 2, 0], -1)):
        with pytest.raises(IndexError, match=f"cross_entropy: target {shown} is out of bounds for 3 classes"):
            F.cross_entropy(gb.tensor(z), gb.tensor(bad))
    y = np.array([1, 0, 2, 1])
    check(
        lambda x: F.cross_entropy(x, gb.tensor(y), ignore_index=1),
        lambda x: TF.cross_entropy(x, torch.tensor(y), ignore_index=1),
        z,
    )


def test_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1000.0, -1000.0, 0.0], [-5e4, 5e4, 0.0]])
    check(lambda x: F.cross_entropy(x, gb.tensor([0, 0])), lambda x: TF.cross_entropy(x, torch.tensor([0, 0])), z)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(reduction):
    y = np.array([1, 0, -100, 3])
    w = np.array([1.0, 2.0, 0.5, 1.5])
    for weight in (None, w):
        check(
            lambda x, weight=weight: F.nll_loss(
                F.log_softmax(x, 1),
                gb.tensor(y),
                weight=None if weight is None else gb.tensor(weight),
                reduction=reduction,
            ),
            lambda x, weight=weight: TF.nll_loss(
                TF.log_softmax(x, 1),
                torch.tensor(y),
                weight=None if weight is None else torch.tensor(weight),
                reduction=reduction,
            ),
            _logits((4, 4)),
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "name,kw",
    [
        ("mse_loss", {}),
        ("l1_loss", {}),
        ("smooth_l1_loss", {"beta": 0.7}),
        ("smooth_l1_loss", {"beta": 0.0}),
        ("huber_loss", {"delta": 1.3}),
    ],
)
def test_regression_losses_match_torch(reduction, name, kw):
    a, b = _logits((4, 3)), _logits((4, 3), 1)
    check(
        lambda x, y: getattr(F, name)(x, y, reduction=reduction, **kw),
        lambda x, y: getattr(TF, name)(x, y, reduction=reduction, **kw),
        a,
        b,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_losses_match_torch(reduction):
    rng = np.random.default_rng(4)
    p, y = rng.uniform(0.05, 0.95, (4, 3)), rng.integers(0, 2, (4, 3)).astype(np.float64)
    w, pw = rng.uniform(0.5, 2, (3,)), rng.uniform(0.5, 3, (3,))
    check(
        lambda x: F.binary_cross_entropy(x, gb.tensor(y), reduction=reduction),
        lambda x: TF.binary_cross_entropy(x, torch.tensor(y), reduction=reduction),
        p,
    )
    check(
        lambda x: F.binary_cross_entropy(x, gb.tensor(y), weight=gb.tensor(w), reduction=reduction),
        lambda x: TF.binary_cross_entropy(x, torch.tensor(y), weight=torch.tensor(w), reduction=reduction),
        p,
    )
    z = _logits((4, 3)) * 10
    for kw_g, kw_t in [
        ({}, {}),
        (
            {"pos_weight": gb.tensor(pw), "weight": gb.tensor(w)},
            {"pos_weight": torch.tensor(pw), "weight": torch.tensor(w)},
        ),
    ]:
        check(
            lambda x, kw_g=kw_g: F.binary_cross_entropy_with_logits(x, gb.tensor(y), reduction=reduction, **kw_g),
            lambda x, kw_t=kw_t: TF.binary_cross_entropy_with_logits(x, torch.tensor(y), reduction=reduction, **kw_t),
            z,
        )


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    rng = np.random.default_rng(5)
    t = rng.dirichlet(np.ones(4), size=3)
    t[0, 0] = 0.0
    if log_target:
        t = np.log(t + 1e-3)
    g = lambda x, t: F.kl_div(F.log_softmax(x, 1), t, reduction=reduction, log_target=log_target)
    tt = lambda x, t: TF.kl_div(TF.log_softmax(x, 1), t, reduction=reduction, log_target=log_target)
    # d/dt of t log t is -inf at t = 0 (torch reports nan there): differentiate the target
    # only where it is positive.
    check(g, tt, _logits((3, 4)), t, diff=[True, log_target])
    check(g, tt, _logits((3, 4)), np.abs(t) + 0.1)


def test_loss_modules_and_errors():
    crit = gb.nn.CrossEntropyLoss(label_smoothing=0.1)
    assert repr(crit) == "CrossEntropyLoss()"
    z = gb.randn(4, 3)
    assert crit(z, gb.tensor([0, 1, 2, 0])).shape == ()
    with pytest.raises(IndexError, match="target 5 is out of bounds for 3 classes"):
        crit(z, gb.tensor([0, 1, 5, 0]))
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\) for input of shape \(4, 3\)"):
        crit(z, gb.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"MSELoss\(\): target size \(4, 2\) must be the same as input size \(4, 3\)"):
        gb.nn.MSELoss()(z, gb.zeros(4, 2))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        gb.nn.BCELoss()(z, gb.zeros(4, 3))
