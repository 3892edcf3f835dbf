"""gb.onnx.export on every function of gb.nn.functional: each is called in a forward, exported with a
dynamic batch axis, checked by onnx.checker and run by ONNX Runtime at two batch sizes (equal to
gradbox's outputs), or listed in NOT_EXPORTED with the reason. The functions whose forward picks
values with a NumPy mask are recorded whole (gradbox/onnx/functions.py); with an op-by-op trace
they were refused."""

from __future__ import annotations

import inspect

import numpy as np
import onnx
import pytest

import gradbox as gb
import gradbox.nn.functional as F
from gradbox import nn
from gradbox.onnx import ExportError
from gradbox.onnx.functions import FUNCTION_MAPPINGS

rng = np.random.default_rng(1)


def const(*shape, low=None) -> gb.Tensor:
    a = rng.standard_normal(shape) if low is None else rng.uniform(low, 1.5, shape)
    return gb.tensor(a.astype(np.float32))


W = {
    "w35": const(3, 5),
    "b3": const(3),
    "bil": const(3, 4, 4),
    "c1": const(4, 3, 3),
    "c2": const(6, 2, 3, 3),
    "c3": const(4, 1, 3, 3, 3),
    "t1": const(3, 2, 3),
    "t2": const(4, 3, 3, 3),
    "t3": const(2, 3, 2, 2, 2),
    "emb": const(10, 5),
    "mean4": const(4),
    "var4": const(4, low=0.5),
    "gamma4": const(4, low=0.5),
    "inw": const(24, 8),
    "inb": const(24),
    "outw": const(8, 8),
    "outb": const(8),
    "mask55": const(5, 5),
    "slope": gb.tensor(np.array([0.1, 0.2, 0.3], np.float32)),
    "pw": gb.tensor(np.array([1.0, 2.0, 0.5], np.float32)),
}


def sign(x):
    return x / (x.abs() + 1e-3)  # ~ +-1, computed by ops (a comparison is not traced)


# function -> (forward(*inputs), input kinds: "f" float, "p" in (0, 1), "i" integer in [0, 10), shapes
# without the batch dim). The forwards call the functions through F, as models do.
CASES = {
    "adaptive_avg_pool1d": (lambda x: F.adaptive_avg_pool1d(x, 4), [("f", 3, 10)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (3, 5)), [("f", 2, 7, 9)]),
    "adaptive_avg_pool3d": (lambda x: F.adaptive_avg_pool3d(x, (2, 3, 2)), [("f", 2, 5, 6, 4)]),
    "adaptive_max_pool1d": (lambda x: F.adaptive_max_pool1d(x, 3), [("f", 2, 10)]),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, (2, None)), [("f", 2, 7, 8)]),
    "adaptive_max_pool3d": (lambda x: F.adaptive_max_pool3d(x, (2, 3, 2)), [("f", 2, 5, 6, 4)]),
    "avg_pool1d": (lambda x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True), [("f", 3, 10)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [("f", 2, 9, 8)]),
    "avg_pool3d": (lambda x: F.avg_pool3d(x, 2, padding=1, count_include_pad=False), [("f", 2, 7, 6, 5)]),
    "batch_norm": (lambda x: F.batch_norm(x, W["mean4"], W["var4"], W["gamma4"], W["mean4"], eps=1e-3), [("f", 4, 5)]),
    "bilinear": (lambda x: F.bilinear(x, x * 2, W["bil"], W["b3"]), [("f", 4)]),
    "binary_cross_entropy": (lambda p, t: F.binary_cross_entropy(p, t, reduction="sum"), [("p", 3), ("p", 3)]),
    "binary_cross_entropy_with_logits": (
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=W["pw"]),
        [("f", 3), ("p", 3)],
    ),
    "celu": (lambda x: F.celu(x, 0.5) + F.celu(x * 2, inplace=True), [("f", 6)]),
    "channel_shuffle": (lambda x: F.channel_shuffle(x, 2), [("f", 4, 3, 3)]),
    "conv1d": (lambda x: F.conv1d(x, W["c1"], W["b3"][:1].expand(4), stride=2), [("f", 3, 12)]),
    "conv2d": (lambda x: F.conv2d(x, W["c2"], None, 1, 1, 2, 2), [("f", 4, 9, 9)]),
    "conv3d": (lambda x: F.conv3d(x, W["c3"], padding=1, groups=2), [("f", 2, 5, 6, 4)]),
    "conv_transpose1d": (lambda x: F.conv_transpose1d(x, W["t1"], stride=2, output_padding=1), [("f", 3, 7)]),
    "conv_transpose2d": (
        lambda x: F.conv_transpose2d(x, W["t2"], stride=2, padding=1, output_padding=1, groups=2),
        [("f", 4, 5, 6)],
    ),
    "conv_transpose3d": (lambda x: F.conv_transpose3d(x, W["t3"], stride=2), [("f", 2, 3, 3, 2)]),
    "cosine_similarity": (
        lambda x: F.cosine_similarity(x, x * 2 + 1) + F.cosine_similarity(x, x[:1], eps=0.1),
        [("f", 6)],
    ),
    "dropout": (lambda x: F.dropout(x, 0.5, training=False), [("f", 4)]),
    "dropout2d": (lambda x: F.dropout2d(x, 0.3, training=False), [("f", 3, 4, 4)]),
    "elu": (lambda x: F.elu(x, 0.7), [("f", 6)]),
    "embedding": (lambda i: F.embedding(i, W["emb"], padding_idx=3), [("i", 7)]),
    "embedding_bag": (lambda i: F.embedding_bag(i, W["emb"], mode="mean"), [("i", 4)]),
    "flatten": (lambda x: F.flatten(x, 1), [("f", 3, 4)]),
    "fold": (lambda x: F.fold(x, (4, 5), (2, 2)), [("f", 12, 12)]),
    "gelu": (lambda x: F.gelu(x) + F.gelu(x, approximate="tanh"), [("f", 6)]),
    "glu": (lambda x: F.glu(x, 1), [("f", 6)]),
    "grid_sample": (
        lambda x: (
            F.grid_sample(x, gb.tanh(x[:, :2].permute(0, 2, 3, 1)) * 1.2, align_corners=False)
            + F.grid_sample(x, gb.tanh(x[:, 1:3].permute(0, 2, 3, 1)) * 1.2, mode="nearest", padding_mode="border")
            + F.grid_sample(x, gb.tanh(x[:, :2].permute(0, 2, 3, 1)), padding_mode="reflection", align_corners=True)
        ),
        [("f", 3, 4, 5)],
    ),
    "group_norm": (lambda x: F.group_norm(x, 2, W["gamma4"], W["mean4"]), [("f", 4, 3, 3)]),
    "hardshrink": (lambda x: F.hardshrink(x, 0.3), [("f", 6)]),
    "hardsigmoid": (lambda x: F.hardsigmoid(x * 4), [("f", 6)]),
    "hardswish": (lambda x: F.hardswish(x * 4), [("f", 6)]),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 0.7), [("f", 6)]),
    "instance_norm": (lambda x: F.instance_norm(x, weight=W["b3"], bias=W["b3"]), [("f", 3, 4, 5)]),
    "interpolate": (
        lambda x: (
            F.interpolate(x, scale_factor=2, mode="bilinear").mean((2, 3))
            + F.interpolate(x, size=(5, 7), mode="bicubic", align_corners=True).mean((2, 3))
            + F.interpolate(x, size=(7, 9)).amax((2, 3))
        ),
        [("f", 3, 4, 5)],
    ),
    "kl_div": (lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True), [("f", 4), ("f", 4)]),
    "l1_loss": (lambda x, t: F.l1_loss(x, t, reduction="none"), [("f", 4), ("f", 4)]),
    "layer_norm": (lambda x: F.layer_norm(x, (4,), W["gamma4"], W["mean4"]), [("f", 3, 4)]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), [("f", 6)]),
    "linear": (lambda x: F.linear(x, W["w35"], W["b3"]), [("f", 2, 5)]),
    "local_response_norm": (lambda x: F.local_response_norm(x, 3, alpha=1e-2, beta=0.7, k=2.0), [("f", 5, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=1), [("f", 6)]),
    "logsigmoid": (lambda x: F.logsigmoid(x), [("f", 6)]),
    "max_pool1d": (lambda x: F.max_pool1d(x, 2, 1, 1), [("f", 3, 9)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, 1, dilation=2, ceil_mode=True), [("f", 3, 12, 11)]),
    "max_pool3d": (lambda x: F.max_pool3d(x, 3, 2, 1, ceil_mode=True), [("f", 2, 7, 6, 5)]),
    "mish": (lambda x: F.mish(x), [("f", 6)]),
    "mse_loss": (lambda x, t: F.mse_loss(x, t), [("f", 4), ("f", 4)]),
    "multi_head_attention_forward": (  # (sequence, batch, embed): the dynamic axis is the sequence
        lambda q: F.multi_head_attention_forward(
            q, q * 0.5, q, 8, 2, W["inw"], W["inb"], None, None, False, 0.0, W["outw"], W["outb"], training=False
        )[0],
        [("f", 2, 8)],
    ),
    "multilabel_soft_margin_loss": (lambda x, t: F.multilabel_soft_margin_loss(x, t), [("f", 4), ("p", 4)]),
    "normalize": (lambda x: F.normalize(x) + F.normalize(x, p=1.5, dim=0) + F.normalize(x, p=float("inf")), [("f", 6)]),
    "one_hot": (lambda i: F.one_hot(i, 10), [("i", 4)]),
    "pad": (
        lambda x: F.pad(x, (1, 2), value=0.5) + F.pad(x, (2, 1), mode="reflect") + F.pad(x, (1, 2), mode="replicate"),
        [("f", 3, 6)],
    ),
    "pairwise_distance": (
        lambda x: F.pairwise_distance(x, x * 2 + 1, p=1.5) + F.pairwise_distance(x, 0.5 - x, p=float("inf")),
        [("f", 6)],
    ),
    "pdist": (lambda x: F.pdist(x.t()), [("f", 4)]),  # over the 4 rows of x.t(): a fixed number of pairs
    "pixel_shuffle": (lambda x: F.pixel_shuffle(x, 2), [("f", 8, 3, 3)]),
    "pixel_unshuffle": (lambda x: F.pixel_unshuffle(x, 2), [("f", 2, 4, 6)]),
    "poisson_nll_loss": (lambda x, t: F.poisson_nll_loss(x, t, eps=1e-6), [("f", 4), ("p", 4)]),
    "prelu": (lambda x: F.prelu(x, W["slope"]) + F.prelu(x, W["slope"][:1]), [("f", 3, 4)]),
    "relu": (lambda x: F.relu(x - 0.2) + F.relu(x, inplace=True), [("f", 6)]),
    "relu6": (lambda x: F.relu6(x * 5), [("f", 6)]),
    "rms_norm": (lambda x: F.rms_norm(x, (4,), W["gamma4"], eps=1e-5), [("f", 3, 4)]),
    "scaled_dot_product_attention": (
        lambda x: (
            F.scaled_dot_product_attention(x, x * 0.5, x, is_causal=True)
            + F.scaled_dot_product_attention(x, x, x * 2, attn_mask=W["mask55"], scale=0.3)
        ),
        [("f", 5, 4)],
    ),
    "selu": (lambda x: F.selu(x), [("f", 6)]),
    "sigmoid": (lambda x: F.sigmoid(x), [("f", 6)]),
    "silu": (lambda x: F.silu(x), [("f", 6)]),
    "soft_margin_loss": (lambda x, t: F.soft_margin_loss(x, sign(t)), [("f", 4), ("f", 4)]),
    "softmax": (lambda x: F.softmax(x, dim=-1), [("f", 6)]),
    "softmin": (lambda x: F.softmin(x, dim=1), [("f", 6)]),
    "softplus": (lambda x: F.softplus(x, beta=2, threshold=1), [("f", 6)]),
    "softshrink": (lambda x: F.softshrink(x, 0.2), [("f", 6)]),
    "softsign": (lambda x: F.softsign(x), [("f", 6)]),
    "tanh": (lambda x: F.tanh(x), [("f", 6)]),
    "tanhshrink": (lambda x: F.tanhshrink(x), [("f", 6)]),
    "threshold": (lambda x: F.threshold(x, 0.1, 2.0) + F.threshold(x * 3, -0.2, -1.0, inplace=True), [("f", 6)]),
    "unflatten": (lambda x: F.unflatten(x, 1, (2, 3)), [("f", 6)]),
    "unfold": (lambda x: F.unfold(x, (2, 3), padding=1, stride=(2, 1)), [("f", 3, 5, 6)]),
    "upsample": (lambda x: F.upsample(x, scale_factor=2, mode="nearest"), [("f", 3, 4, 5)]),
    "upsample_bilinear": (lambda x: F.upsample_bilinear(x, size=(5, 7)), [("f", 3, 4, 5)]),
    "upsample_nearest": (lambda x: F.upsample_nearest(x, scale_factor=2), [("f", 3, 4, 5)]),
}

_TARGET_MASK = (
    "a loss that selects by class index or by a mask computed with NumPy from its inputs (a comparison is not an op, "
    "so a trace cannot see it): export the model and compute the loss outside the graph"
)
NOT_EXPORTED = {
    name: _TARGET_MASK
    for name in (
        "cross_entropy", "nll_loss", "linear_cross_entropy", "multi_margin_loss", "multilabel_margin_loss",
        "huber_loss", "smooth_l1_loss", "hinge_embedding_loss", "cosine_embedding_loss", "margin_ranking_loss",
        "triplet_margin_loss", "triplet_margin_with_distance_loss",
    )
} | {
    "gaussian_nll_loss": "it builds a tensor sized from the input's shape outside gradbox's ops, which a trace freezes",
    "ctc_loss": "a loss whose alignment (dynamic programming over the input lengths) runs in NumPy",
    "max_unpool1d": "it scatters by the indices of a max pool (ONNX's MaxUnpool counts them over the whole tensor)",
    "max_unpool2d": "it scatters by the indices of a max pool (ONNX's MaxUnpool counts them over the whole tensor)",
    "max_unpool3d": "it scatters by the indices of a max pool (ONNX's MaxUnpool counts them over the whole tensor)",
}  # fmt: skip
# (exported with the arguments of CASES, refused with others, as test_refusals_name_the_reason checks:
# dropout with training=True draws random numbers, pdist over a dynamic number of rows has n(n-1)/2 pairs)


def _functions() -> set[str]:
    return {n for n, v in vars(F).items() if inspect.isfunction(v) and not n.startswith("_")}


def _make(kind: str, shape: tuple[int, ...], n: int) -> gb.Tensor:
    if kind == "i":
        return gb.tensor(rng.integers(0, 10, (n, *shape)))
    if kind == "p":
        return gb.tensor(rng.uniform(0.05, 0.95, (n, *shape)).astype(np.float32))
    return gb.tensor(rng.standard_normal((n, *shape)).astype(np.float32))


class Fn(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *x):
        return self.fn(*x)


def test_every_function_is_exported_or_listed_with_the_reason():
    missing = _functions() - set(CASES) - set(NOT_EXPORTED)
    assert not missing, (
        f"functions with no ONNX export case in {__file__} and no reason in NOT_EXPORTED: {sorted(missing)}"
    )
    assert not set(CASES) & set(NOT_EXPORTED)
    assert set(CASES) <= _functions() and set(NOT_EXPORTED) <= _functions()
    assert set(FUNCTION_MAPPINGS) <= set(CASES), "every function mapping is exercised"


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:`nn.functional.upsample.* is deprecated:UserWarning")  # (as PyTorch)
@pytest.mark.parametrize("name", sorted(CASES))
def test_function_exports_and_runs_in_onnxruntime(name, tmp_path):
    fn, kinds = CASES[name]
    model = Fn(fn)
    names = [f"input_{i}" for i in range(len(kinds))]
    ins = [_make(k[0], k[1:], 2) for k in kinds]
    path = tmp_path / "f.onnx"
    gb.onnx.export(model, tuple(ins), path, input_names=names, dynamic_axes={n: {0: "n"} for n in names})
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert all(i.type.tensor_type.shape.dim[0].dim_param == "n" for i in proto.graph.input)
    if name in FUNCTION_MAPPINGS:  # recorded whole: the call is a few nodes, not the ops of its forward
        assert not any(n.op_type == "Where" for n in proto.graph.node) or name == "threshold"
    sess = gb.onnx.session(path)
    for n in (2, 5):
        ins = ins if n == 2 else [_make(k[0], k[1:], n) for k in kinds]
        with gb.no_grad():
            want = model(*ins).numpy()
        got = gb.onnx.run(sess, *ins)[0]
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"{name}, batch {n}")


def test_a_layer_and_its_function_give_the_same_graph(tmp_path):
    """nn.CELU is recorded as a module, F.celu as a function; both become one Celu node."""
    for model in (nn.CELU(0.5), Fn(lambda x: F.celu(x, 0.5))):
        gb.onnx.export(model, _make("f", (4,), 2), tmp_path / "c.onnx", dynamic_axes={"input": [0]})
        assert [n.op_type for n in onnx.load(tmp_path / "c.onnx").graph.node] == ["Celu"]


def test_functions_are_restored_after_export(tmp_path):
    before = {n: getattr(F, n) for n in FUNCTION_MAPPINGS}
    with pytest.raises(ExportError):  # also when the export fails
        gb.onnx.export(Fn(lambda x: F.celu(x)[gb.tensor(x.numpy() > 0)]), _make("f", (4,), 2), tmp_path / "x.onnx")
    gb.onnx.export(Fn(lambda x: F.celu(x)), _make("f", (4,), 2), tmp_path / "x.onnx")
    assert all(getattr(F, n) is f for n, f in before.items())
    assert F.celu.__module__ == "gradbox.nn.functional.extra_activation"


def test_refusals_name_the_reason(tmp_path):
    x = _make("f", (4,), 2)
    cases = [
        (Fn(lambda x: F.dropout(x, 0.5)), "depends on the input"),  # training=True: a random mask
        (Fn(lambda x: F.pdist(x)), "not a dynamic axis or a multiple of one"),  # n(n-1)/2 pairs
        (Fn(lambda x: F.one_hot((x.abs() * 3).long())), "depends on the input"),  # .long() of floats: not an op
        (Fn(lambda x: F.adaptive_max_pool1d(x[:, None], 2, return_indices=True)[0]), "return_indices"),
    ]
    for model, match in cases:
        with pytest.raises(ExportError, match=match):
            gb.onnx.export(model, x, tmp_path / "x.onnx", dynamic_axes={"input": [0]})
    i = _make("i", (4,), 2)
    with pytest.raises(ExportError, match=r"F\.one_hot .*num_classes=-1.*pass num_classes"):
        gb.onnx.export(Fn(lambda i: F.one_hot(i)), i, tmp_path / "x.onnx")
    img = _make("f", (3, 4, 5), 2)
    grid = Fn(lambda x: F.grid_sample(x, gb.tanh(x[:, :2].permute(0, 2, 3, 1))))
    with pytest.raises(ExportError, match="grid_sample of a 4-D input needs opset_version >= 16, got 15"):
        gb.onnx.export(grid, img, tmp_path / "x.onnx", opset_version=15)
