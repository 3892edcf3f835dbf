"""The ops and layers added for PyTorch's operator breadth (issue 10), beyond their OpInfo samples:
every new nn module against torch's with the same state_dict, out=, 0-d tensors with dim=0,
unbatched inputs, interpolate's modes, second derivatives, and errors that name the op."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import gradbox as gb
import gradbox.nn.functional as F
from gradbox.testing.oracle import check, check_module

rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape)


# name -> (gradbox module, torch module, input arrays); each compared through state_dict (oracle.check_module)
MODULES = {
    "PReLU": (lambda: gb.nn.PReLU(3), lambda: torch.nn.PReLU(3), [randn(2, 3, 4)]),
    "SELU": (gb.nn.SELU, torch.nn.SELU, [randn(3, 4)]),
    # alpha a power of 2: PyTorch differentiates celu with 1/alpha rounded to float32
    "CELU": (lambda: gb.nn.CELU(0.5), lambda: torch.nn.CELU(0.5), [randn(3, 4)]),
    "GLU": (lambda: gb.nn.GLU(1), lambda: torch.nn.GLU(1), [randn(3, 4)]),
    "Hardshrink": (gb.nn.Hardshrink, torch.nn.Hardshrink, [randn(3, 4)]),
    "Softshrink": (gb.nn.Softshrink, torch.nn.Softshrink, [randn(3, 4)]),
    "Tanhshrink": (gb.nn.Tanhshrink, torch.nn.Tanhshrink, [randn(3, 4)]),
    # PyTorch's kernel multiplies by 1/6 rounded to float32 (1.0f / 6.0f): equal to 1e-7, not 1e-10
    "Hardsigmoid": (gb.nn.Hardsigmoid, torch.nn.Hardsigmoid, [4 * randn(3, 4)], dict(rtol=1e-7, atol=1e-9)),
    "Hardswish": (gb.nn.Hardswish, torch.nn.Hardswish, [4 * randn(3, 4)]),
    "Mish": (gb.nn.Mish, torch.nn.Mish, [randn(3, 4)]),
    "Softsign": (gb.nn.Softsign, torch.nn.Softsign, [randn(3, 4)]),
    "Softmin": (lambda: gb.nn.Softmin(1), lambda: torch.nn.Softmin(1), [randn(3, 4)]),
    "Threshold": (lambda: gb.nn.Threshold(0.1, 20.0), lambda: torch.nn.Threshold(0.1, 20.0), [randn(3, 4)]),
    "LogSigmoid": (gb.nn.LogSigmoid, torch.nn.LogSigmoid, [randn(3, 4)]),
    "Conv3d": (
        lambda: gb.nn.Conv3d(2, 3, 2, stride=(1, 2, 1), padding=1),
        lambda: torch.nn.Conv3d(2, 3, 2, stride=(1, 2, 1), padding=1),
        [randn(2, 2, 4, 5, 3)],
    ),
    "ConvTranspose3d": (
        lambda: gb.nn.ConvTranspose3d(2, 3, 2, stride=2),
        lambda: torch.nn.ConvTranspose3d(2, 3, 2, stride=2),
        [randn(1, 2, 2, 3, 2)],
    ),
    "MaxPool3d": (lambda: gb.nn.MaxPool3d(2), lambda: torch.nn.MaxPool3d(2), [randn(1, 2, 4, 4, 4)]),
    "AvgPool3d": (lambda: gb.nn.AvgPool3d(2, 1, 1), lambda: torch.nn.AvgPool3d(2, 1, 1), [randn(1, 2, 3, 4, 4)]),
    "AdaptiveAvgPool3d": (
        lambda: gb.nn.AdaptiveAvgPool3d(2),
        lambda: torch.nn.AdaptiveAvgPool3d(2),
        [randn(1, 2, 3, 5, 4)],
    ),
    "AdaptiveMaxPool3d": (
        lambda: gb.nn.AdaptiveMaxPool3d((2, 1, 3)),
        lambda: torch.nn.AdaptiveMaxPool3d((2, 1, 3)),
        [randn(1, 2, 3, 5, 4)],
    ),
    "PixelShuffle": (lambda: gb.nn.PixelShuffle(2), lambda: torch.nn.PixelShuffle(2), [randn(2, 8, 3, 3)]),
    "PixelUnshuffle": (lambda: gb.nn.PixelUnshuffle(2), lambda: torch.nn.PixelUnshuffle(2), [randn(2, 2, 4, 6)]),
    "Unfold": (
        lambda: gb.nn.Unfold(2, padding=1, stride=2),
        lambda: torch.nn.Unfold(2, padding=1, stride=2),
        [randn(2, 3, 5, 4)],
    ),
    "Fold": (lambda: gb.nn.Fold((4, 5), 2), lambda: torch.nn.Fold((4, 5), 2), [randn(2, 12, 12)]),
    "Upsample": (
        lambda: gb.nn.Upsample(scale_factor=1.5, mode="bicubic"),
        lambda: torch.nn.Upsample(scale_factor=1.5, mode="bicubic"),
        [randn(1, 2, 4, 3)],
    ),
    "UpsamplingBilinear2d": (
        lambda: gb.nn.UpsamplingBilinear2d(size=(5, 7)),
        lambda: torch.nn.UpsamplingBilinear2d(size=(5, 7)),
        [randn(1, 2, 3, 4)],
    ),
    "UpsamplingNearest2d": (
        lambda: gb.nn.UpsamplingNearest2d(scale_factor=2),
        lambda: torch.nn.UpsamplingNearest2d(scale_factor=2),
        [randn(1, 2, 3, 4)],
    ),
    "InstanceNorm2d": (
        lambda: gb.nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
        lambda: torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
        [randn(2, 3, 4, 5)],
    ),
    "InstanceNorm1d": (lambda: gb.nn.InstanceNorm1d(3), lambda: torch.nn.InstanceNorm1d(3), [randn(3, 6)]),
    "RMSNorm": (lambda: gb.nn.RMSNorm([4]), lambda: torch.nn.RMSNorm([4]), [randn(3, 4)]),
    "LocalResponseNorm": (
        lambda: gb.nn.LocalResponseNorm(3),
        lambda: torch.nn.LocalResponseNorm(3),
        [randn(2, 5, 3, 3)],
    ),
    "CosineSimilarity": (gb.nn.CosineSimilarity, torch.nn.CosineSimilarity, [randn(3, 4), randn(3, 4)]),
    "PairwiseDistance": (gb.nn.PairwiseDistance, torch.nn.PairwiseDistance, [randn(3, 4), randn(3, 4)]),
    "ChannelShuffle": (lambda: gb.nn.ChannelShuffle(2), lambda: torch.nn.ChannelShuffle(2), [randn(1, 4, 2, 2)]),
    "MarginRankingLoss": (
        lambda: gb.nn.MarginRankingLoss(0.3),
        lambda: torch.nn.MarginRankingLoss(0.3),
        [randn(5), randn(5), np.sign(randn(5))],
    ),
    "HingeEmbeddingLoss": (gb.nn.HingeEmbeddingLoss, torch.nn.HingeEmbeddingLoss, [randn(5), np.sign(randn(5))]),
    "SoftMarginLoss": (gb.nn.SoftMarginLoss, torch.nn.SoftMarginLoss, [randn(5), np.sign(randn(5))], "target"),
    "MultiLabelSoftMarginLoss": (
        gb.nn.MultiLabelSoftMarginLoss,
        torch.nn.MultiLabelSoftMarginLoss,
        [randn(3, 4), (randn(3, 4) > 0).astype(float)],
    ),
    "CosineEmbeddingLoss": (
        gb.nn.CosineEmbeddingLoss,
        torch.nn.CosineEmbeddingLoss,
        [randn(3, 4), randn(3, 4), np.sign(randn(3))],
    ),
    "PoissonNLLLoss": (
        lambda: gb.nn.PoissonNLLLoss(full=True),
        lambda: torch.nn.PoissonNLLLoss(full=True),
        [randn(6), 3 * np.abs(randn(6))],
    ),
    "GaussianNLLLoss": (
        gb.nn.GaussianNLLLoss,
        torch.nn.GaussianNLLLoss,
        [randn(4, 2), randn(4, 2), np.abs(randn(4, 2))],
    ),
    "TripletMarginLoss": (
        lambda: gb.nn.TripletMarginLoss(swap=True),
        lambda: torch.nn.TripletMarginLoss(swap=True),
        [randn(3, 4), randn(3, 4), randn(3, 4)],
    ),
    "TripletMarginWithDistanceLoss": (
        gb.nn.TripletMarginWithDistanceLoss,
        torch.nn.TripletMarginWithDistanceLoss,
        [randn(3, 4), randn(3, 4), randn(3, 4)],
    ),
    "MultiMarginLoss": (
        lambda: gb.nn.MultiMarginLoss(p=2),
        lambda: torch.nn.MultiMarginLoss(p=2),
        [randn(3, 4), np.array([0, 3, 1])],
    ),
    "MultiLabelMarginLoss": (
        gb.nn.MultiLabelMarginLoss,
        torch.nn.MultiLabelMarginLoss,
        [randn(2, 4), np.array([[3, 0, -1, 1], [1, 2, 3, -1]])],
    ),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_new_module_matches_torch(name):
    make_gb, make_torch, arrays, *extra = MODULES[name]
    tol = next((e for e in extra if isinstance(e, dict)), None)
    # a target torch does not differentiate (soft_margin_loss) is passed detached
    call = (lambda m, x, y: m(x, y.detach())) if "target" in extra else None
    gb.manual_seed(0)
    check_module(make_gb(), make_torch(), *arrays, tol=tol, call=call)


def test_multihead_attention_embedding_bag_and_ctc_loss_match_torch():
    gb.manual_seed(0)
    x = randn(5, 2, 4)
    mask = np.triu(np.ones((5, 5), dtype=bool), 1)
    check_module(
        gb.nn.MultiheadAttention(4, 2),
        torch.nn.MultiheadAttention(4, 2),
        x,
        x,
        x,
        call=lambda m, q, k, v: m(
            q, k, v, attn_mask=gb.tensor(mask) if isinstance(q, gb.Tensor) else torch.tensor(mask)
        )[0],
    )
    check_module(
        gb.nn.MultiheadAttention(4, 2, batch_first=True),
        torch.nn.MultiheadAttention(4, 2, batch_first=True),
        x,
        x,
        x,
        call=lambda m, q, k, v: m(q, k, v)[0],
    )
    idx = np.array([[1, 2, 0], [4, 4, 3]])
    check_module(gb.nn.EmbeddingBag(5, 3, mode="max"), torch.nn.EmbeddingBag(5, 3, mode="max"), idx)
    lp = torch.randn(6, 2, 4, dtype=torch.float64).log_softmax(2).numpy()
    targets, lengths = np.array([[1, 2, 2], [3, 1, 0]]), np.array([3, 2])
    check(
        lambda a: F.ctc_loss(a, gb.tensor(targets), [6, 5], [3, 2]),
        lambda a: TF.ctc_loss(a, torch.tensor(targets), [6, 5], [3, 2]),
        lp,
    )
    check(
        lambda a: F.ctc_loss(a, gb.tensor(targets), gb.tensor([6, 5]), gb.tensor(lengths), reduction="sum"),
        lambda a: TF.ctc_loss(a, torch.tensor(targets), torch.tensor([6, 5]), torch.tensor(lengths), reduction="sum"),
        lp,
    )


def test_out_writes_into_the_given_tensor_resizes_it_and_refuses_autograd():
    x = gb.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = gb.empty(2, 2)
    r = gb.cumsum(x, 0, out=out)
    assert r is out and out.tolist() == [[1.0, 2.0], [4.0, 6.0]] and out._version == 1
    wrong = gb.empty(0)
    gb.tan(x, out=wrong)
    assert tuple(wrong.shape) == (2, 2) and np.allclose(wrong.numpy(), np.tan(x.numpy()))
    v, i = gb.empty(2), gb.empty(2, dtype=gb.int64)
    res = gb.sort(gb.tensor([3.0, 1.0]), out=(v, i))
    assert res.values is v and v.tolist() == [1.0, 3.0] and i.tolist() == [1, 0]
    with pytest.raises(RuntimeError, match="out=.*automatic differentiation"):
        gb.atan2(gb.tensor([1.0], requires_grad=True), gb.tensor([2.0]), out=gb.empty(1))
    with pytest.raises(RuntimeError, match="can't be cast"):
        gb.floor(x, out=gb.empty(2, 2, dtype=gb.int64))


@pytest.mark.parametrize(
    "name,gbf,tf",
    [
        ("cumsum", lambda x: gb.cumsum(x, 0), lambda x: torch.cumsum(x, 0)),
        ("cumprod", lambda x: gb.cumprod(x, dim=0), lambda x: torch.cumprod(x, dim=0)),
        ("logcumsumexp", lambda x: gb.logcumsumexp(x, 0), lambda x: torch.logcumsumexp(x, 0)),
        ("cummax", lambda x: gb.cummax(x, 0), lambda x: torch.cummax(x, 0)),
        ("sort", lambda x: gb.sort(x, 0), lambda x: torch.sort(x, 0)),
        ("topk", lambda x: gb.topk(x, 1, 0), lambda x: torch.topk(x, 1, 0)),
        ("kthvalue", lambda x: gb.kthvalue(x, 1, 0), lambda x: torch.kthvalue(x, 1, 0)),
        ("median", lambda x: gb.median(x, 0), lambda x: torch.median(x, 0)),
        ("narrow", lambda x: gb.narrow(x.unsqueeze(0), 0, 0, 1), lambda x: torch.narrow(x.unsqueeze(0), 0, 0, 1)),
        ("diff", lambda x: gb.diff(x.reshape(1), dim=0), lambda x: torch.diff(x.reshape(1), dim=0)),
        (
            "index_add",
            lambda x: gb.index_add(x, 0, gb.tensor(0), x),
            lambda x: torch.index_add(x, 0, torch.tensor(0), x),
        ),
        (
            "scatter_add",
            lambda x: gb.scatter_add(x, 0, gb.tensor(0), x),
            lambda x: torch.scatter_add(x, 0, torch.tensor(0), x),
        ),
        ("quantile", lambda x: gb.quantile(x, 0.5, dim=0), lambda x: torch.quantile(x, 0.5, dim=0)),
    ],
)
def test_0d_tensors_take_dim_0_like_torch(name, gbf, tf):
    check(gbf, tf, np.array(1.5))


def test_unbatched_inputs_to_convolution_pooling_unfold_and_adaptive_max_pool_with_indices():
    w = randn(3, 2, 2, 2, 2)
    check(lambda x, w: F.conv3d(x, w, padding=1), lambda x, w: TF.conv3d(x, w, padding=1), randn(2, 3, 4, 3), w)
    check(lambda x: F.max_pool3d(x, 2, ()), lambda x: TF.max_pool3d(x, 2, ()), randn(2, 4, 4, 4))
    check(lambda x: F.unfold(x, 2), lambda x: TF.unfold(x, 2), randn(2, 3, 3))
    check(lambda x: F.fold(x, (3, 3), 2), lambda x: TF.fold(x, (3, 3), 2), randn(8, 4))
    check(
        lambda x: F.adaptive_max_pool2d(x, (2, 3), True),
        lambda x: TF.adaptive_max_pool2d(x, (2, 3), True),
        randn(2, 5, 7),
    )
    y, idx = F.adaptive_max_pool1d(gb.tensor(randn(2, 7)), 3, True)
    check(
        lambda x: F.max_unpool1d(x, idx, 2, output_size=(7,)),
        lambda x: TF.max_unpool1d(x, torch.tensor(idx.numpy()), 2, output_size=(7,)),
        y.numpy(),
    )


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear", "bicubic", "area"])
@pytest.mark.parametrize("align_corners", [None, False, True])
@pytest.mark.parametrize("size,scale", [((5, 3), None), (None, (1.7, 0.6)), (None, 2.0)])
def test_interpolate_2d_modes_match_torch(mode, align_corners, size, scale):
    if align_corners is not None and mode in ("nearest", "nearest-exact", "area"):
        with pytest.raises(ValueError, match="align_corners"):
            F.interpolate(gb.zeros(1, 1, 4, 4), size=(2, 2), mode=mode, align_corners=align_corners)
        return
    x = randn(2, 3, 4, 6)
    check(
        lambda t: F.interpolate(t, size, scale, mode, align_corners),
        lambda t: TF.interpolate(t, size, scale, mode, align_corners),
        x,
    )


def test_interpolate_says_what_it_leaves_out_and_checks_the_input_rank():
    x = gb.zeros(1, 1, 4, 4)
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True)
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D input"):
        F.interpolate(gb.zeros(1, 1, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(NotImplementedError, match="'lanczos'"):
        F.interpolate(x, scale_factor=2, mode="lanczos")


@pytest.mark.parametrize(
    "f",
    [
        lambda x, y: gb.tan(x) * gb.atan2(x, y),
        lambda x, y: gb.cumprod(x * y, 1),
        lambda x, y: gb.logcumsumexp(x - y, 0),
        lambda x, y: gb.einsum("ij,ij->i", x, y * y),
        lambda x, y: gb.sort(x * y, 1).values,
        lambda x, y: gb.lerp(x, y, gb.sigmoid(x)),
        lambda x, y: gb.hypot(x, y) + gb.logaddexp(x, y),
        lambda x, y: F.interpolate((x * y).reshape(1, 1, 3, 4), scale_factor=1.5, mode="bicubic"),
        lambda x, y: F.selu(x) * F.mish(y) + F.softmin(x, 1),
        lambda x, y: gb.cdist(x, y * 2),
    ],
)
def test_second_derivatives_of_the_new_ops_pass_gradgradcheck(f):
    x = gb.tensor(randn(3, 4), requires_grad=True)
    y = gb.tensor(randn(3, 4) + 3.0, requires_grad=True)
    assert gb.autograd.gradcheck(f, (x, y))
    assert gb.autograd.gradgradcheck(f, (x, y))


def test_help_shows_the_math_of_the_new_functional_ops():
    for f in (
        F.selu,
        F.hardswish,
        F.cosine_similarity,
        F.triplet_margin_loss,
        F.ctc_loss,
        F.grid_sample,
        F.instance_norm,
    ):
        assert f.__math__.forward in f.__doc__
    assert "dL/dx" in gb.cumsum.__doc__ and "suffix sum" in gb.cumsum.__doc__


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: gb.topk(gb.zeros(3), 5), "topk.*k \\(5\\) out of range"),
        (lambda: gb.einsum("ij,jk->ik", gb.zeros(2, 3), gb.zeros(4, 5)), "einsum.*subscript 'j'"),
        (lambda: gb.scatter(gb.zeros(3), 0, gb.tensor([0.5]), gb.zeros(1)), "scatter.*int64 for index"),
        (lambda: gb.narrow(gb.zeros(3), 0, 2, 5), "narrow.*exceeds"),
        (lambda: gb.tril(gb.zeros(3)), "tril.*at least 2 dimensions"),
        (lambda: gb.repeat_interleave(gb.zeros(3), gb.tensor([1, 2])), "repeat_interleave.*same size"),
        (lambda: F.pixel_shuffle(gb.zeros(1, 3, 2, 2), 2), "pixel_shuffle.*divisible"),
        (lambda: gb.kron(gb.zeros(2), "x"), "kron"),
    ],
)
def test_errors_name_the_op(call, match):
    with pytest.raises((RuntimeError, IndexError, ValueError, TypeError), match=match):
        call()


def test_tensor_methods_and_properties_added_for_torch_code():
    x = gb.tensor(randn(3, 4))
    t = torch.tensor(x.numpy())
    assert np.array_equal(x.H.numpy(), t.H.numpy()) and np.array_equal(x.mT.numpy(), t.mT.numpy())
    assert x.byte().dtype == gb.uint8 and x.char().dtype == gb.int8 and x.short(memory_format=None).dtype == gb.int16
    assert np.array_equal(x.unfold(1, 2, 1).numpy(), t.unfold(1, 2, 1).numpy())
    assert np.array_equal(x.sum_to_size(1, 4).numpy(), t.sum_to_size(1, 4).numpy())
    assert np.allclose(x.__rdiv__(2.0).numpy(), t.__rdiv__(2.0).numpy())
    assert (
        np.array_equal(x.cumsum(1).numpy(), t.cumsum(1).numpy())
        and x.topk(2).indices.tolist() == t.topk(2).indices.tolist()
    )
