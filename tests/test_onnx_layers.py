"""gb.onnx.export on every layer and functional op of gb.nn that ONNX can express: each case is
exported with a dynamic batch axis, checked by onnx.checker, and run by ONNX Runtime at the traced
batch size and another one; the outputs must equal gradbox's."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import gradbox as gb
import gradbox.nn.functional as F
from gradbox import nn
from gradbox.autograd.function import Function
from gradbox.onnx import ExportError

rng = np.random.default_rng(0)


def rand(*shape) -> gb.Tensor:
    return gb.tensor(rng.standard_normal(shape).astype(np.float32))


class Fn(nn.Module):
    """A module whose forward is ``fn`` (for functional ops)."""

    def __init__(self, fn, *layers: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        self.layers = nn.ModuleList(layers)

    def forward(self, *x):
        return self.fn(self, *x)


def bn_stats(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            n = m.num_features
            m.running_mean._data[...] = rng.normal(0, 0.5, n)
            m.running_var._data[...] = rng.uniform(0.5, 2, n)
            if m.weight is not None:
                m.weight._data[...] = rng.uniform(0.5, 1.5, n)
                m.bias._data[...] = rng.normal(0, 0.5, n)
    return model


def _mask():
    return gb.tensor(rng.random((5, 6)) > 0.5)


MASK = _mask()

# fmt: off
# name -> (model, input shape without the batch dim)
CASES = {
    "conv2d_groups_dilation_stride": (nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2), (4, 11, 12)),
    "conv2d_padding_same_even_kernel": (nn.Conv2d(3, 4, 4, padding="same", bias=False), (3, 9, 9)),
    "conv2d_depthwise": (nn.Conv2d(4, 8, 3, padding=1, groups=4), (4, 7, 7)),
    "conv1d": (nn.Conv1d(3, 4, 5, stride=2, padding=1), (3, 20)),
    "conv_transpose2d": (nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), (4, 5, 6)),
    "conv_transpose1d_dilation": (nn.ConvTranspose1d(3, 2, 3, stride=3, padding=2, dilation=2, bias=False), (3, 7)),
    "max_pool2d_ceil_padding_dilation": (nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True), (3, 12, 11)),
    "max_pool2d_ceil": (nn.MaxPool2d(3, stride=2, ceil_mode=True), (2, 10, 9)),
    "max_pool1d": (nn.MaxPool1d(2, stride=1, padding=1), (3, 9)),
    "avg_pool2d_ceil_padding": (nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 10, 9)),
    "avg_pool2d_exclude_pad": (nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 9, 8)),
    "avg_pool2d_divisor": (nn.AvgPool2d(2, divisor_override=3), (2, 8, 8)),
    "avg_pool1d": (nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True), (3, 10)),
    "adaptive_avg_pool2d": (nn.AdaptiveAvgPool2d((3, 5)), (2, 7, 9)),
    "adaptive_avg_pool2d_global": (nn.AdaptiveAvgPool2d(1), (3, 5, 5)),
    "adaptive_avg_pool1d": (nn.AdaptiveAvgPool1d(4), (3, 10)),
    "adaptive_max_pool2d": (nn.AdaptiveMaxPool2d((2, 3)), (2, 7, 8)),
    "adaptive_max_pool1d": (nn.AdaptiveMaxPool1d(3), (2, 10)),
    "batch_norm2d": (nn.BatchNorm2d(3), (3, 4, 5)),
    "batch_norm1d_features": (nn.BatchNorm1d(6), (6,)),
    "batch_norm1d_sequence_no_affine": (nn.BatchNorm1d(4, affine=False), (4, 7)),
    "layer_norm": (nn.LayerNorm((4, 5)), (3, 4, 5)),
    "group_norm": (nn.GroupNorm(2, 4), (4, 3, 3)),
    "activations": (
        nn.Sequential(
            nn.ReLU(), nn.LeakyReLU(0.2), nn.ELU(0.7), nn.GELU(), nn.GELU("tanh"), nn.SiLU(), nn.Sigmoid(),
            nn.Tanh(), nn.Softplus(beta=2, threshold=1), nn.Hardtanh(-0.5, 0.7), nn.ReLU6(), nn.Softmax(dim=1),
            nn.LogSoftmax(dim=-1),
        ),
        (5, 6),
    ),  # fmt: skip
    "more_activations": (
        nn.Sequential(
            nn.CELU(0.5), nn.Hardshrink(0.3), nn.Softshrink(0.2), nn.Threshold(0.1, 2.0), nn.PReLU(5, init=0.3),
            nn.Hardsigmoid(), nn.Hardswish(), nn.LogSigmoid(), nn.Mish(), nn.SELU(), nn.Softmin(dim=1), nn.Softsign(),
            nn.Tanhshrink(), nn.GLU(dim=-1), nn.Identity(),
        ),
        (5, 6),
    ),  # fmt: skip
    "prelu_one_slope_inplace_celu": (nn.Sequential(nn.PReLU(), nn.CELU(inplace=True), nn.Threshold(0.0, -1.0, inplace=True)), (4,)),
    "channel_shuffle": (nn.ChannelShuffle(2), (4, 3, 3)),
    "distances": (Fn(lambda s, x: s.layers[0](x, x * 2 + 1) + s.layers[1](x, 0.5 - x), nn.PairwiseDistance(p=1.5), nn.CosineSimilarity()), (6,)),
    "embedding_padding_idx": (nn.Embedding(20, 5, padding_idx=3), ("int", 7)),
    "conv3d": (nn.Conv3d(2, 4, 3, stride=(1, 2, 1), padding=1, groups=2), (2, 5, 6, 4)),
    "conv_transpose3d": (nn.ConvTranspose3d(2, 3, 2, stride=2, output_padding=1), (2, 3, 3, 2)),
    "pools3d": (nn.Sequential(nn.MaxPool3d(3, stride=2, padding=1, ceil_mode=True), nn.AvgPool3d(2, padding=1, count_include_pad=False)), (2, 7, 6, 5)),
    "adaptive_pools3d": (Fn(lambda s, x: s.layers[0](x) + s.layers[1](x), nn.AdaptiveAvgPool3d((2, 3, 2)), nn.AdaptiveMaxPool3d((2, 3, 2))), (2, 5, 6, 4)),
    "instance_norms": (
        Fn(lambda s, x: s.layers[0](x).sum() + s.layers[1](x.flatten(2)).sum() + s.layers[2](x.unsqueeze(2)).sum(),
           nn.InstanceNorm2d(3, affine=True), nn.InstanceNorm1d(3), nn.InstanceNorm3d(3, eps=1e-3)),
        (3, 4, 5),
    ),  # fmt: skip
    "local_response_rms_norm": (nn.Sequential(nn.LocalResponseNorm(3, alpha=1e-2, beta=0.7, k=2.0), nn.RMSNorm(5)), (5, 4, 5)),
    "pixel_shuffle": (nn.Sequential(nn.PixelShuffle(2), nn.PixelUnshuffle(2)), (8, 3, 3)),
    "unfold_fold": (nn.Sequential(nn.Unfold((2, 3), padding=1, stride=(2, 1)), nn.Fold((3, 6), (2, 3), padding=1, stride=(2, 1))), (3, 3, 6)),
    "upsample": (
        Fn(lambda s, x: s.layers[0](x).sum((2, 3)) + s.layers[1](x).mean((2, 3)) + s.layers[2](x).amax((2, 3)),
           nn.Upsample(scale_factor=2, mode="bilinear"), nn.UpsamplingNearest2d(size=(7, 9)), nn.UpsamplingBilinear2d(scale_factor=2)),
        (3, 4, 5),
    ),  # fmt: skip
    "multihead_attention": (Fn(lambda s, x: s.layers[0](x, x * 0.5, x)[0], nn.MultiheadAttention(8, 2, batch_first=True)), (5, 8)),
    "embedding_bag": (nn.EmbeddingBag(20, 3, mode="sum"), ("int", 4)),
    "inplace_activations": (nn.Sequential(nn.Linear(6, 6), nn.ReLU(inplace=True), nn.Linear(6, 3)), (6,)),
    "dropout_flatten_linear_unflatten": (
        nn.Sequential(nn.Dropout(0.5), nn.Dropout2d(0.3), nn.Flatten(), nn.Linear(12, 6), nn.Unflatten(1, (2, 3))),
        (3, 2, 2),
    ),
    "linear_on_sequences": (nn.Linear(5, 3), (4, 5)),
    "batch_folded_into_rows": (Fn(lambda s, x: (x.reshape(-1, 2) * 2).reshape(x.shape[0], 3, 2).sum(1)), (6,)),
    "bilinear": (Fn(lambda s, x: s.layers[0](x, x * 2)), (4,)),
    "embedding": (nn.Embedding(20, 5), ("int", 7)),
    "pad_modes": (
        Fn(lambda s, x: F.pad(x, (1, 2), value=0.5) + F.pad(x, (2, 1), mode="reflect") + F.pad(x, (1, 2), mode="replicate")
           + F.pad(x, (2, 1), mode="circular")),
        (3, 6),
    ),  # fmt: skip
    "pad_2d_and_crop": (Fn(lambda s, x: F.pad(x, (1, 1, 2, 0)) + 1, ), (2, 4, 5)),
    "interpolate_nearest": (Fn(lambda s, x: F.interpolate(x, scale_factor=2) + F.interpolate(x, size=(8, 12)).mean()), (2, 3, 4)),
    "shape_ops": (
        Fn(lambda s, x: gb.cat([x.transpose(1, 2).reshape(x.shape[0], -1), gb.stack([x[:, 0], x[:, 1]], 1).flatten(1)], 1)
           .unsqueeze(1).squeeze(1).permute(1, 0).t()),
        (3, 4),
    ),  # fmt: skip
    "split_chunk": (Fn(lambda s, x: sum(p.sum(1) for p in gb.split(x, [2, 3, 1], 1)) * gb.chunk(x, 2, 1)[1].mean(1)), (6,)),
    "indexing": (
        Fn(lambda s, x: x[:, 1:3, ::2].sum((1, 2)) + x[..., -1].mean(1) + x[:, None, 2, 1:].flatten(1).amax(1)
           + x[:, ::-1][:, 0, 0] + x[:, [0, 2, 2]].sum((1, 2))),
        (4, 5),
    ),  # fmt: skip
    "flip_expand_repeat": (Fn(lambda s, x: x.flip(1) + x[:, :1].expand(-1, 5) + x[:, :1].repeat(1, 5)), (5,)),
    "reductions": (
        Fn(lambda s, x: gb.stack([x.mean(1), x.sum(1), x.var(1), x.std(1, correction=0), x.amax(1), x.max(1).values,
                                  x.min(1).values, x.amin(1), gb.logsumexp(x, 1), x.prod(1)], 1)),
        (4,),
    ),  # fmt: skip
    "elementwise": (
        Fn(lambda s, x: gb.exp(x).log() + gb.sqrt(x.abs() + 1) + x ** 3 + x.clamp(-0.5, 0.5) + gb.maximum(x, x * 0.5)
           - gb.minimum(x, -x) + gb.sin(x) * gb.cos(x) + gb.erf(x) + gb.log1p(x.abs()) + x.square() + (x.abs() + 1).rsqrt()
           + (x.abs() + 1).reciprocal() - x / 3 + (-x) + gb.tanh(x) + gb.sigmoid(x) + x.clamp(min=0.1)
           + gb.pow(x.abs() + 1, x)),
        (3, 4),
    ),  # fmt: skip
    "math_ops": (
        Fn(lambda s, x: (lambda t, p: gb.stack([
            gb.atan(x), gb.asin(t), gb.acos(t), gb.asinh(x), gb.acosh(p + 1), gb.atanh(t), gb.cosh(x), gb.sinh(x),
            gb.tan(t), gb.erfc(x), gb.exp2(x), gb.expm1(x), gb.log10(p), gb.log2(p), gb.logaddexp(x, t),
            gb.logaddexp2(x, t), gb.logit(gb.sigmoid(x), eps=0.2), gb.logit(gb.sigmoid(x)), gb.hypot(x, t),
            gb.atan2(x, t), gb.copysign(p, x), gb.fmax(x, t), gb.fmin(x, t), gb.fmod(x * 3, p), gb.floor(x * 3),
            gb.ceil(x * 3), gb.trunc(x * 3), gb.round(x * 3), gb.round(x, decimals=1), gb.sinc(x), gb.lerp(x, t, p - 1),
            gb.xlogy(x, p), gb.nan_to_num(gb.log(x)), gb.cumsum(x, 1), gb.einsum("bi,bi->bi", x, t),
            gb.linalg.vector_norm(x, 3, dim=1, keepdim=True).expand(-1, 7),
        ], 1))(gb.tanh(x) * 0.9, x.abs() + 0.5)),
        (7,),
    ),  # fmt: skip
    "where_with_constant_mask": (Fn(lambda s, x: gb.where(MASK, x, -x) + x.masked_fill(MASK, 2.0)), (5, 6)),
    "remainder_by_a_parameter": (Fn(lambda s, x: x % s.scale + (x * -3) % s.scale), (3, 4)),  # (traced: scale needs grad)
    "matmul_and_cast": (Fn(lambda s, x: (x @ x.transpose(1, 2)).double().float() + gb.matmul(x, gb.ones(4, 3)).sum()), (3, 4)),
}
# fmt: on
CASES["bilinear"][0].layers.append(nn.Bilinear(4, 4, 3))
CASES["remainder_by_a_parameter"][0].scale = nn.Parameter(gb.tensor([0.7, 1.5, 2.0, 0.3]))


def _input(shape, batch: int):
    if shape[0] == "int":
        return gb.tensor(rng.integers(0, 20, (batch, *shape[1:])))
    return rand(batch, *shape)


def export_and_run(model, x, tmp_path, x2, **kw):
    model.eval()
    path = tmp_path / "m.onnx"
    with gb.no_grad():
        axes = {"x": {0: "n"}, "y": {0: "n"}} if model(x).ndim else {"x": {0: "n"}}  # (a scalar has no axis 0)
    gb.onnx.export(model, x, path, input_names=["x"], output_names=["y"], dynamic_axes=axes, **kw)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "n"
    sess = gb.onnx.session(path)
    for inp in (x, x2):
        with gb.no_grad():
            want = model(inp).numpy()
        got = gb.onnx.run(sess, inp)[0]
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    return proto


def _prob(*shape):
    return gb.tensor(rng.uniform(0.05, 0.95, shape).astype(np.float32))


def _pos(*shape):
    return gb.tensor(rng.uniform(0.2, 2.0, shape).astype(np.float32))


def _sign(*shape):
    return gb.tensor(np.where(rng.random(shape) > 0.5, 1.0, -1.0).astype(np.float32))


# losses with their inputs for batch n; exported as graphs of several inputs
LOSSES = {
    "MSELoss": (nn.MSELoss(), lambda n: (rand(n, 4), rand(n, 4))),
    "L1Loss": (nn.L1Loss(reduction="sum"), lambda n: (rand(n, 4), rand(n, 4))),
    "KLDivLoss": (nn.KLDivLoss(reduction="sum", log_target=True), lambda n: (rand(n, 4), rand(n, 4))),
    "PoissonNLLLoss": (nn.PoissonNLLLoss(), lambda n: (rand(n, 4), _pos(n, 4))),
    "BCELoss": (nn.BCELoss(), lambda n: (_prob(n, 3), _prob(n, 3))),
    "BCEWithLogitsLoss": (
        nn.BCEWithLogitsLoss(pos_weight=gb.tensor([1.0, 2.0, 0.5])),
        lambda n: (rand(n, 3), _prob(n, 3)),
    ),
    "SoftMarginLoss": (nn.SoftMarginLoss(), lambda n: (rand(n, 4), _sign(n, 4))),
    "MarginRankingLoss": (nn.MarginRankingLoss(margin=0.1), lambda n: (rand(n), rand(n), _sign(n))),
    "MultiLabelSoftMarginLoss": (nn.MultiLabelSoftMarginLoss(), lambda n: (rand(n, 4), _prob(n, 4).round())),
}
_TARGET_MASK = (
    "a loss that selects by class index or by a mask computed with NumPy from its inputs (a comparison is not an op, "
    "so a trace cannot see it): export the model and compute the loss outside the graph"
)
_UNPOOL = (
    "it scatters by the indices of a max pool, computed outside the graph; ONNX's MaxUnpool counts indices over the "
    "whole tensor, PyTorch's per plane (not mapped)"
)
NOT_EXPORTED = {
    name: _TARGET_MASK
    for name in (
        "CrossEntropyLoss", "NLLLoss", "MultiMarginLoss", "MultiLabelMarginLoss", "HuberLoss", "SmoothL1Loss",
        "HingeEmbeddingLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
    )
} | {
    "GaussianNLLLoss": "it builds a tensor sized from the input's shape outside gradbox's ops, which a trace freezes",
    "CTCLoss": "a loss whose alignment (dynamic programming over the input lengths) runs in NumPy",
    "MaxUnpool1d": _UNPOOL,
    "MaxUnpool2d": _UNPOOL,
    "MaxUnpool3d": _UNPOOL,
    "ModuleDict": "a container without a forward",
}  # fmt: skip


def test_every_layer_is_exported_or_listed_with_the_reason():
    builtins = {
        k for k, v in vars(nn).items() if isinstance(v, type) and issubclass(v, nn.Module) and v is not nn.Module
    }
    covered = {type(m).__name__ for model, _ in CASES.values() for m in model.modules()} | set(LOSSES)
    missing = builtins - covered - set(NOT_EXPORTED)
    assert not missing, (
        f"layers with no ONNX export case in {__file__} and no reason in NOT_EXPORTED: {sorted(missing)}"
    )
    assert not covered & set(NOT_EXPORTED)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_exports_with_several_inputs(name, tmp_path):
    loss, make = LOSSES[name]
    path = tmp_path / "loss.onnx"
    ins = make(3)
    gb.onnx.export(loss, ins, path, dynamic_axes={f"input_{i}": {0: "n"} for i in range(len(ins))})
    onnx.checker.check_model(onnx.load(path), full_check=True)
    for n in (3, 5):
        ins = make(n)
        with gb.no_grad():
            want = loss(*ins).numpy()
        np.testing.assert_allclose(gb.onnx.run(path, *ins)[0], want, rtol=1e-4, atol=1e-5)


def _special_args(name: str):
    """Inputs for the layers of NOT_EXPORTED that take more than (input, target)."""
    if name.startswith("MaxUnpool"):
        d = int(name[-2])
        y, idx = getattr(F, f"max_pool{d}d")(rand(4, 2, *([4] * d)), 2, return_indices=True)
        return getattr(nn, name)(2), (y, idx), {"input_0": [0], "input_1": {0: "input_0_dynamic_axes_1"}}
    if name == "CTCLoss":  # (batch on dim 1 of the log-probabilities)
        lp = gb.log_softmax(rand(6, 4, 5), -1)
        args = (lp, gb.tensor(rng.integers(1, 5, (4, 2))), gb.tensor([6, 5, 6, 4]), gb.tensor([2, 2, 1, 2]))
        return nn.CTCLoss(), args, {"input_0": {1: "n"}, "input_1": {0: "n"}, "input_2": {0: "n"}, "input_3": {0: "n"}}
    return None


@pytest.mark.parametrize("name", sorted(set(NOT_EXPORTED) - {"ModuleDict"}))
def test_a_layer_that_cannot_be_exported_says_why(name, tmp_path):
    special = _special_args(name)
    if special is not None:
        layer, args, axes = special
        with pytest.raises(ExportError, match=f"of type {name}"):
            gb.onnx.export(layer, args, tmp_path / "x.onnx", dynamic_axes=axes)
        return
    n = 4
    layer = getattr(nn, name)()
    x = rand(n, 3)
    target = {"CrossEntropyLoss": gb.tensor([0, 2, 1, 0]), "NLLLoss": gb.tensor([0, 2, 1, 0]), "MultiMarginLoss": gb.tensor([0, 2, 1, 0]),
              "MultiLabelMarginLoss": gb.tensor([[0, 2, -1], [1, -1, 0], [2, 0, -1], [0, -1, 1]]), "HingeEmbeddingLoss": _sign(n, 3),
              "GaussianNLLLoss": rand(n, 3)}.get(name, rand(n, 3))  # fmt: skip
    args = {"CosineEmbeddingLoss": (x, rand(n, 3), _sign(n)), "GaussianNLLLoss": (x, target, _pos(n, 3)),
            "TripletMarginLoss": (x, rand(n, 3), rand(n, 3)), "TripletMarginWithDistanceLoss": (x, rand(n, 3), rand(n, 3))}.get(name, (x, target))  # fmt: skip
    with pytest.raises(ExportError, match=f"of type {name}"):
        gb.onnx.export(
            layer, args, tmp_path / "x.onnx", dynamic_axes={f"input_{i}": {0: "n"} for i in range(len(args))}
        )


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # math_ops: log of negatives
@pytest.mark.parametrize("name", CASES)
def test_layer_exports_and_runs_in_onnxruntime(name, tmp_path):
    model, shape = CASES[name]
    bn_stats(model)
    export_and_run(model, _input(shape, 2), tmp_path, _input(shape, 3))


def test_batch_norm_and_layer_norm_export_as_one_node(tmp_path):
    model = bn_stats(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(1), nn.LayerNorm(36)))
    proto = export_and_run(model, rand(2, 3, 5, 5), tmp_path, rand(4, 3, 5, 5))
    ops = [n.op_type for n in proto.graph.node]
    assert ops == ["Conv", "BatchNormalization", "Relu", "Reshape", "LayerNormalization"], ops
    names = {i.name for i in proto.graph.initializer}
    assert {"0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "4.weight", "4.bias"} <= names


def test_opset_18_reductions_take_axes_as_inputs(tmp_path):
    model = CASES["reductions"][0]
    proto = export_and_run(model, rand(2, 4), tmp_path, rand(5, 4), opset_version=18)
    assert proto.opset_import[0].version == 18


def test_inplace_ops_in_a_forward(tmp_path):
    def fwd(s, x):
        y = x * 2
        y += 1
        y.relu_()
        z = F.relu(y - 1.5, inplace=True)
        return y * z

    export_and_run(Fn(fwd), rand(2, 3), tmp_path, rand(4, 3))


def test_several_inputs_and_outputs(tmp_path):
    model = Fn(lambda s, a, b: (a + b.sum(1, keepdim=True), (a * 2).mean(1)))
    a, b = rand(2, 3), rand(2, 4)
    path = tmp_path / "two.onnx"
    gb.onnx.export(model, (a, b), path, dynamic_axes={"input_0": {0: "batch"}, "input_1": {0: "batch"}})
    sess = gb.onnx.session(path)
    assert [i.name for i in sess.get_inputs()] == ["input_0", "input_1"]
    assert [o.name for o in sess.get_outputs()] == ["output_0", "output_1"]
    a2, b2 = rand(5, 3), rand(5, 4)
    for got, want in zip(gb.onnx.run(sess, a2, b2), model(a2, b2)):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)


def test_without_dynamic_axes_the_shapes_are_fixed(tmp_path):
    model = nn.Linear(3, 2)
    gb.onnx.export(model, rand(4, 3), tmp_path / "s.onnx")
    dims = onnx.load(tmp_path / "s.onnx").graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [4, 3]


def test_export_leaves_training_mode_and_statistics_alone(tmp_path):
    model = bn_stats(nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Dropout(0.5)))
    model.train()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    gb.onnx.export(model, rand(2, 2, 5, 5), tmp_path / "t.onnx")
    assert all(m.training for m in model.modules())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)


# ---- what cannot be exported fails, naming the op and the module ---------------------------


class Block(nn.Module):
    def forward(self, x):
        y = x.clone()
        y[:, 0] = 0.0  # an in-place assignment: IndexPut
        return y


def test_an_op_without_mapping_names_itself_and_the_module(tmp_path):
    model = nn.Sequential(nn.Linear(3, 3), Block())
    with pytest.raises(ExportError, match=r"op IndexPut \(called from module '1' of type Block\).*assignment"):
        gb.onnx.export(model, rand(2, 3), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


class Twice(Function):  # a user's own op: not in gradbox's registry
    def forward(self, x):
        return 2 * x

    def backward(self, g):
        return 2 * g


def test_a_users_op_has_no_mapping(tmp_path):
    with pytest.raises(ExportError, match="op Twice .*no ONNX mapping is registered"):
        gb.onnx.export(Fn(lambda s, x: Twice.apply(x)), rand(2, 3), tmp_path / "x.onnx")


def test_values_computed_outside_the_ops_are_refused(tmp_path):
    leaky = Fn(lambda s, x: gb.where(gb.tensor(x.numpy() > 0), x, x * 0.1))  # a mask made with NumPy
    with pytest.raises(ExportError, match=r"op Where .*\['cond'\] depend on the input"):
        gb.onnx.export(leaky, rand(2, 3), tmp_path / "x.onnx")
    sized = Fn(lambda s, x: x + gb.ones(x.shape[0], 1))  # a constant sized from the batch
    with pytest.raises(ExportError, match="depends on the input.*shape follows the batch size"):
        gb.onnx.export(sized, rand(2, 3), tmp_path / "x.onnx", dynamic_axes={"input": [0]})
    gb.onnx.export(sized, rand(2, 3), tmp_path / "static.onnx")  # fine with a fixed batch size
    branchy = Fn(lambda s, x: x * 2 if x.shape[0] < 3 else x.exp())
    with pytest.raises(ExportError, match="another path"):
        gb.onnx.export(branchy, rand(2, 3), tmp_path / "x.onnx", dynamic_axes={"input": [0]})
    plus_one = Fn(lambda s, x: gb.cat([x, gb.zeros(1, 3)]))  # a dim of batch + 1
    with pytest.raises(ExportError, match="not a dynamic axis or a multiple of one"):
        gb.onnx.export(plus_one, rand(2, 3), tmp_path / "x.onnx", dynamic_axes={"input": [0]})


def test_inputs_with_different_symbols_must_not_need_equal_sizes(tmp_path):
    with pytest.raises(ExportError, match=r"fails on a second input .*same symbol in dynamic_axes"):
        gb.onnx.export(
            nn.MSELoss(), (rand(2, 3), rand(2, 3)), tmp_path / "x.onnx", dynamic_axes={"input_0": [0], "input_1": [0]}
        )
