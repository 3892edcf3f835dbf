"""gb.interop: to_torch / from_torch give the same modules (classes, arguments, names, weights) with
equal outputs and gradients; a model written once in PyTorch style runs under both frameworks with
weights crossing through safetensors; the extras are imported only when used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

import gradbox as gb
from gradbox import nn
from gradbox.interop import from_torch, to_torch, torch_model
from gradbox.interop.checks import DEFAULT_ZOO, SLOW_ZOO, zoo_case

torch.set_num_threads(2)
ROOT = Path(__file__).resolve().parent.parent
rng = np.random.default_rng(0)


def arr(*shape, dtype=np.float32) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def sign(*shape) -> np.ndarray:
    return np.where(rng.random(shape) > 0.5, 1.0, -1.0).astype(np.float32)


def pos(*shape) -> np.ndarray:
    return rng.uniform(0.2, 2.0, shape).astype(np.float32)


def _log_probs(t: int, n: int, c: int) -> np.ndarray:
    z = arr(t, n, c)
    return (z - np.log(np.exp(z).sum(-1, keepdims=True))).astype(np.float32)


def both(model_g, model_t, *inputs: np.ndarray):
    """Outputs of the gradbox and torch modules on the same inputs (as arrays; the first of a tuple)."""
    yg = model_g(*[gb.tensor(a) for a in inputs])
    yt = model_t(*[torch.from_numpy(a.copy()) for a in inputs])
    if isinstance(yg, tuple):
        yg, yt = yg[0], yt[0]
    return yg.detach().numpy(), yt.detach().numpy()


def _no_dropout(model):
    for m in model.modules():
        if isinstance(m, nn.Dropout | nn.Dropout2d):
            m.p = 0.0
    return model


def _zoo(name: str) -> None:
    """Training mode (batch statistics, running-stat updates), dropout off, float64 (so that batch norm
    over few values per channel does not magnify float32 rounding): outputs, input and parameter
    gradients, and the updated running statistics agree; from_torch gives the model back."""
    model, x = zoo_case(name, batch=2)
    model = _no_dropout(model).double().train()
    x = x.numpy().astype(np.float64)
    tm = to_torch(model)
    assert type(tm).__name__ == type(model).__name__ and repr(tm) == repr(model)
    assert list(tm.state_dict()) == list(model.state_dict())
    xg = gb.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yg, yt = model(xg), tm(xt)
    w = arr(*yg.shape).astype(np.float64)
    (yg * gb.tensor(w)).sum().backward()
    (yt * torch.from_numpy(w)).sum().backward()

    def close(a, b, what):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9 * max(1.0, float(np.abs(b).max())), err_msg=what)

    close(yg.detach().numpy(), yt.detach().numpy(), "output")
    close(xg.grad.numpy(), xt.grad.numpy(), "input gradient")
    tp = dict(tm.named_parameters())
    for k, p in model.named_parameters():
        close(p.grad.numpy(), tp[k].grad.numpy(), k)
    ts = tm.state_dict()
    for k, v in model.state_dict().items():
        close(v.numpy(), ts[k].numpy(), k)  # running statistics too
    back = from_torch(tm)
    assert type(back) is type(model) and repr(back) == repr(model)
    assert list(back.state_dict()) == list(model.state_dict())
    # from_torch's model against PyTorch's, in eval mode (with the running statistics the training forwards
    # updated): outputs, input and parameter gradients
    back.eval(), tm.eval(), tm.zero_grad()
    xg, xt = gb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yg, yt = back(xg), tm(xt)
    (yg * gb.tensor(w)).sum().backward()
    (yt * torch.from_numpy(w)).sum().backward()
    close(yg.detach().numpy(), yt.detach().numpy(), "output after from_torch")
    close(xg.grad.numpy(), xt.grad.numpy(), "input gradient after from_torch")
    tp = dict(tm.named_parameters())
    for k, p in back.named_parameters():
        close(p.grad.numpy(), tp[k].grad.numpy(), f"{k} after from_torch")


@pytest.mark.parametrize("name", DEFAULT_ZOO)
def test_zoo_to_torch_and_back(name):
    _zoo(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_ZOO)
def test_zoo_to_torch_and_back_big(name):
    _zoo(name)


@pytest.mark.parametrize("name", ["lenet5", "resnet18"])
def test_float64_models_agree_to_rounding(name):
    model, x = zoo_case(name)
    model = model.double().train()
    tm = to_torch(model)
    assert next(tm.parameters()).dtype == torch.float64
    yg, yt = both(model, tm, x.numpy().astype(np.float64))
    np.testing.assert_allclose(yg, yt, rtol=1e-10, atol=1e-10)


def test_torch_model_builds_a_zoo_model_in_pytorch():
    tm = torch_model("resnet18", num_classes=7, small_input=True)
    assert isinstance(tm, torch.nn.Module) and type(tm).__name__ == "ResNet" and tm.fc.out_features == 7
    assert tm(torch.zeros(2, 3, 16, 16)).shape == (2, 7)


# ---- every built-in layer, with arguments that differ from the defaults ----------------------


def _layers():
    w3 = gb.tensor([0.5, 1.0, 2.0])
    lin = nn.Linear(4, 2)
    # fmt: off
    return {
        "AdaptiveAvgPool1d": (nn.AdaptiveAvgPool1d(3), [arr(3, 2, 7)]),
        "AdaptiveAvgPool2d": (nn.AdaptiveAvgPool2d((2, 3)), [arr(3, 2, 5, 7)]),
        "AdaptiveMaxPool1d": (nn.AdaptiveMaxPool1d(3), [arr(3, 2, 7)]),
        "AdaptiveMaxPool2d": (nn.AdaptiveMaxPool2d((2, 2)), [arr(3, 2, 5, 5)]),
        "AvgPool1d": (nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), [arr(3, 2, 8)]),
        "AvgPool2d": (nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, divisor_override=4), [arr(3, 2, 7, 8)]),
        "BCELoss": (nn.BCELoss(weight=w3, reduction="sum"), [rng.random((2, 3), np.float32), rng.random((2, 3), np.float32)]),
        "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss(pos_weight=w3), [arr(2, 3), rng.random((2, 3), np.float32)]),
        "BatchNorm1d": (nn.BatchNorm1d(4, eps=1e-3, momentum=0.2, affine=False), [arr(5, 4)]),
        "BatchNorm2d": (nn.BatchNorm2d(3, momentum=None), [arr(2, 3, 4, 4)]),
        "Bilinear": (nn.Bilinear(3, 4, 2, bias=False), [arr(5, 3), arr(5, 4)]),
        "Conv1d": (nn.Conv1d(2, 4, 3, stride=2, padding=1, groups=2, bias=False), [arr(3, 2, 9)]),
        "Conv2d": (nn.Conv2d(4, 6, 3, stride=(2, 1), padding=(1, 2), dilation=2, groups=2, padding_mode="reflect"), [arr(2, 4, 9, 8)]),
        "ConvTranspose1d": (nn.ConvTranspose1d(2, 4, 3, stride=2, padding=1, output_padding=1, dilation=2), [arr(3, 2, 5)]),
        "ConvTranspose2d": (nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, groups=2, bias=False), [arr(2, 4, 3, 4)]),
        "CrossEntropyLoss": (nn.CrossEntropyLoss(weight=w3, ignore_index=1, label_smoothing=0.1), [arr(4, 3), np.array([0, 1, 2, 2])]),
        "Dropout": (nn.Dropout(0.3), [arr(3, 4)]),
        "Dropout2d": (nn.Dropout2d(0.2, inplace=True), [arr(2, 3, 4, 4)]),
        "ELU": (nn.ELU(0.5), [arr(3, 4)]),
        "Embedding": (nn.Embedding(10, 4, padding_idx=2), [np.array([[1, 2, 9], [0, 2, 3]])]),
        "Flatten": (nn.Flatten(0, 1), [arr(2, 3, 4)]),
        "GELU": (nn.GELU("tanh"), [arr(3, 4)]),
        "GroupNorm": (nn.GroupNorm(2, 4, eps=1e-3, affine=False), [arr(2, 4, 3)]),
        "Hardtanh": (nn.Hardtanh(-2.0, 0.5), [arr(3, 4)]),
        "HuberLoss": (nn.HuberLoss(reduction="sum", delta=0.5), [arr(3, 4), arr(3, 4)]),
        "Identity": (nn.Identity(3, unused=True), [arr(2, 2)]),
        "KLDivLoss": (nn.KLDivLoss(reduction="batchmean", log_target=True), [arr(3, 4), arr(3, 4)]),
        "L1Loss": (nn.L1Loss(reduction="none"), [arr(3, 4), arr(3, 4)]),
        "LayerNorm": (nn.LayerNorm((3, 4), eps=1e-4, bias=False), [arr(2, 3, 4)]),
        "LeakyReLU": (nn.LeakyReLU(0.3), [arr(3, 4)]),
        "Linear": (nn.Linear(4, 2, bias=False), [arr(3, 4)]),
        "LogSoftmax": (nn.LogSoftmax(dim=0), [arr(3, 4)]),
        "MSELoss": (nn.MSELoss(reduction="sum"), [arr(3, 4), arr(3, 4)]),
        "MaxPool1d": (nn.MaxPool1d(2, ceil_mode=True), [arr(2, 3, 7)]),
        "MaxPool2d": (nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True), [arr(2, 3, 9, 8)]),
        "ModuleDict": (nn.ModuleDict({"lin": lin, "act": nn.Tanh()}), None),
        "ModuleList": (nn.ModuleList([nn.Linear(2, 3), None, nn.ReLU()]), None),
        "NLLLoss": (nn.NLLLoss(ignore_index=0, reduction="sum"), [arr(4, 3), np.array([0, 1, 2, 2])]),
        "ReLU": (nn.ReLU(inplace=True), [arr(3, 4)]),
        "ReLU6": (nn.ReLU6(), [arr(3, 4) * 5]),
        "Sequential": (nn.Sequential(nn.Linear(4, 3), nn.SiLU(), nn.Linear(3, 2)), [arr(3, 4)]),
        "SiLU": (nn.SiLU(), [arr(3, 4)]),
        "Sigmoid": (nn.Sigmoid(), [arr(3, 4)]),
        "SmoothL1Loss": (nn.SmoothL1Loss(beta=0.5), [arr(3, 4), arr(3, 4)]),
        "Softmax": (nn.Softmax(dim=1), [arr(3, 4)]),
        "Softplus": (nn.Softplus(beta=2, threshold=1), [arr(3, 4)]),
        "Tanh": (nn.Tanh(), [arr(3, 4)]),
        "Unflatten": (nn.Unflatten(1, (2, 2)), [arr(3, 4)]),
        "CELU": (nn.CELU(0.5), [arr(3, 4)]),
        "ChannelShuffle": (nn.ChannelShuffle(2), [arr(2, 4, 3, 3)]),
        "CosineEmbeddingLoss": (nn.CosineEmbeddingLoss(margin=0.2), [arr(3, 4), arr(3, 4), sign(3)]),
        "CosineSimilarity": (nn.CosineSimilarity(dim=0, eps=1e-6), [arr(3, 4), arr(3, 4)]),
        "GLU": (nn.GLU(dim=0), [arr(4, 3)]),
        "GaussianNLLLoss": (nn.GaussianNLLLoss(full=True, eps=1e-5), [arr(3, 4), arr(3, 4), pos(3, 4)]),
        "Hardshrink": (nn.Hardshrink(0.3), [arr(3, 4)]),
        "Hardsigmoid": (nn.Hardsigmoid(), [arr(3, 4) * 4]),
        "Hardswish": (nn.Hardswish(), [arr(3, 4) * 4]),
        "HingeEmbeddingLoss": (nn.HingeEmbeddingLoss(margin=0.5, reduction="sum"), [arr(3, 4), sign(3, 4)]),
        "LogSigmoid": (nn.LogSigmoid(), [arr(3, 4)]),
        "MarginRankingLoss": (nn.MarginRankingLoss(margin=0.1), [arr(5), arr(5), sign(5)]),
        "Mish": (nn.Mish(), [arr(3, 4)]),
        "MultiLabelMarginLoss": (nn.MultiLabelMarginLoss(), [arr(2, 4), np.array([[3, 0, -1, 1], [1, 2, 3, -1]])]),
        "MultiLabelSoftMarginLoss": (nn.MultiLabelSoftMarginLoss(weight=gb.tensor([1.0, 2.0, 0.5, 1.0])), [arr(3, 4), (pos(3, 4) > 1).astype(np.float32)]),
        "MultiMarginLoss": (nn.MultiMarginLoss(p=2, margin=0.5), [arr(3, 4), np.array([0, 3, 1])]),
        "PReLU": (nn.PReLU(3, init=0.2), [arr(2, 3, 4)]),
        "PairwiseDistance": (nn.PairwiseDistance(p=1.5, keepdim=True), [arr(3, 4), arr(3, 4)]),
        "PoissonNLLLoss": (nn.PoissonNLLLoss(log_input=False, full=True), [pos(3, 4), pos(3, 4) * 3]),
        "SELU": (nn.SELU(), [arr(3, 4)]),
        "SoftMarginLoss": (nn.SoftMarginLoss(reduction="none"), [arr(3, 4), sign(3, 4)]),
        "Softmin": (nn.Softmin(dim=1), [arr(3, 4)]),
        "Softshrink": (nn.Softshrink(0.4), [arr(3, 4)]),
        "Softsign": (nn.Softsign(), [arr(3, 4)]),
        "Tanhshrink": (nn.Tanhshrink(), [arr(3, 4)]),
        "Threshold": (nn.Threshold(0.1, 20.0), [arr(3, 4)]),
        "TripletMarginLoss": (nn.TripletMarginLoss(margin=0.5, p=1.5, swap=True), [arr(3, 4), arr(3, 4), arr(3, 4)]),
        "TripletMarginWithDistanceLoss": (nn.TripletMarginWithDistanceLoss(margin=0.5, swap=True), [arr(3, 4), arr(3, 4), arr(3, 4)]),
        "AdaptiveAvgPool3d": (nn.AdaptiveAvgPool3d((2, 3, 2)), [arr(2, 2, 5, 6, 4)]),
        "AdaptiveMaxPool3d": (nn.AdaptiveMaxPool3d((2, 2, 3)), [arr(2, 2, 5, 6, 4)]),
        "AvgPool3d": (nn.AvgPool3d(2, stride=(1, 2, 2), padding=1, ceil_mode=True, count_include_pad=False), [arr(2, 2, 5, 6, 4)]),
        "MaxPool3d": (nn.MaxPool3d(3, stride=2, padding=1, ceil_mode=True), [arr(2, 2, 5, 6, 7)]),
        "Conv3d": (nn.Conv3d(2, 4, 3, stride=(1, 2, 1), padding=1, groups=2), [arr(2, 2, 5, 6, 4)]),
        "ConvTranspose3d": (nn.ConvTranspose3d(2, 3, 2, stride=2, output_padding=1), [arr(2, 2, 3, 3, 2)]),
        "InstanceNorm1d": (nn.InstanceNorm1d(3, affine=True), [arr(2, 3, 7)]),
        "InstanceNorm2d": (nn.InstanceNorm2d(3, track_running_stats=True), [arr(2, 3, 5, 4)]),
        "InstanceNorm3d": (nn.InstanceNorm3d(2, eps=1e-3), [arr(2, 2, 3, 4, 3)]),
        "LocalResponseNorm": (nn.LocalResponseNorm(3, alpha=1e-3, beta=0.7, k=2.0), [arr(2, 5, 4, 4)]),
        "PixelShuffle": (nn.PixelShuffle(2), [arr(2, 8, 3, 3)]),
        "PixelUnshuffle": (nn.PixelUnshuffle(2), [arr(2, 2, 4, 6)]),
        "RMSNorm": (nn.RMSNorm((3, 4), eps=1e-5), [arr(2, 3, 4)]),
        "Unfold": (nn.Unfold((2, 3), padding=1, stride=(2, 1)), [arr(2, 3, 5, 6)]),
        "Fold": (nn.Fold((4, 5), (2, 2)), [arr(2, 12, 12)]),
        "Upsample": (nn.Upsample(scale_factor=2, mode="bilinear"), [arr(2, 3, 4, 5)]),
        "UpsamplingNearest2d": (nn.UpsamplingNearest2d(size=(7, 9)), [arr(2, 3, 4, 5)]),
        "UpsamplingBilinear2d": (nn.UpsamplingBilinear2d(scale_factor=2), [arr(2, 3, 4, 5)]),
        "MultiheadAttention": (nn.MultiheadAttention(8, 2, batch_first=True), [arr(2, 5, 8), arr(2, 6, 8), arr(2, 6, 8)]),
        "EmbeddingBag": (nn.EmbeddingBag(10, 3, mode="max"), [np.array([[1, 2, 4], [4, 3, 2]])]),
        "MaxUnpool1d": (nn.MaxUnpool1d(2), [arr(2, 3, 4), np.array([[[0, 3, 5, 6]] * 3] * 2)]),
        "MaxUnpool2d": (nn.MaxUnpool2d(2), [arr(1, 2, 2, 2), np.array([[[[0, 3], [9, 14]]] * 2])]),
        "MaxUnpool3d": (nn.MaxUnpool3d(2), [arr(1, 1, 1, 1, 2), np.array([[[[[0, 7]]]]])]),
        "CTCLoss": (nn.CTCLoss(blank=0, zero_infinity=True), [_log_probs(6, 2, 4), np.array([[1, 2], [3, 3]]), np.array([6, 5]), np.array([2, 2])]),
    }
    # fmt: on


LAYERS = _layers()


def test_the_catalog_covers_every_built_in_layer():
    builtins = {
        k for k, v in vars(nn).items() if isinstance(v, type) and issubclass(v, nn.Module) and v is not nn.Module
    }
    assert builtins == set(LAYERS), f"add these layers to the catalog: {sorted(builtins - set(LAYERS))}"


# layers whose repr differs between gradbox and PyTorch 2.13 (the conversion is still checked below)
_BIAS = "gradbox's repr leaves out bias= (PyTorch prints bias=False when affine=False, bias=True otherwise)"
_TUPLES = "gradbox's repr shows the int arguments as given, PyTorch as tuples"
REPR_DIFFERS = {
    "BatchNorm1d": _BIAS,
    "GroupNorm": _BIAS,
    "InstanceNorm1d": _BIAS,
    "InstanceNorm2d": _BIAS,
    "InstanceNorm3d": _BIAS,
    "MaxUnpool1d": _TUPLES,
    "MaxUnpool2d": _TUPLES,
    "MaxUnpool3d": _TUPLES,
    "TripletMarginWithDistanceLoss": "PyTorch makes a default PairwiseDistance child; gradbox keeps None",
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_built_in_layer_converts_both_ways(name):
    layer, inputs = LAYERS[name]
    if name.startswith("Dropout"):
        layer.eval()
    tm = to_torch(layer)
    assert type(tm) is getattr(torch.nn, name)
    if name in REPR_DIFFERS:  # a known difference: this fails once it is gone, to update the list
        assert repr(tm) != repr(layer), f"{name}: the repr now matches; remove it from REPR_DIFFERS"
    else:
        assert repr(tm) == repr(layer)
    assert tm.training == layer.training
    for k, v in layer.state_dict().items():
        assert tm.state_dict()[k].dtype == torch.from_numpy(v.numpy()).dtype
        np.testing.assert_array_equal(tm.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    assert list(tm.state_dict()) == list(layer.state_dict())
    back = from_torch(tm)
    assert type(back) is type(layer) and (name in REPR_DIFFERS or repr(back) == repr(layer))
    if inputs is not None:
        ints = [a.astype(np.int64) if a.dtype.kind in "iu" else a for a in inputs]
        yg, yt = both(layer, tm, *ints)
        np.testing.assert_allclose(yg, yt, rtol=1e-5, atol=1e-6)
        yb, _ = both(back, tm, *ints)
        np.testing.assert_allclose(yb, yt, rtol=1e-5, atol=1e-6)


def test_non_persistent_buffers_and_requires_grad_flags_cross():
    m = nn.Linear(2, 2)
    m.weight.requires_grad_(False)
    m.register_buffer("scratch", gb.ones(3), persistent=False)
    tm = to_torch(m)
    assert not tm.weight.requires_grad and tm.bias.requires_grad
    assert "scratch" in dict(tm.named_buffers()) and "scratch" not in tm.state_dict()
    back = from_torch(tm)
    assert "scratch" not in back.state_dict() and not back.weight.requires_grad


class Custom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 2))

    def forward(self, x):
        return self.body(x) * 2


def test_a_custom_module_is_named_with_the_way_out():
    with pytest.raises(
        TypeError, match=r"module 'blocks.1' is a .*Custom, which has no PyTorch counterpart.*write your own"
    ):
        to_torch(nn.ModuleDict({"blocks": nn.Sequential(nn.ReLU(), Custom())}))

    class Mine(torch.nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="the model is a .*Mine, which has no gradbox counterpart"):
        from_torch(Mine())


# ---- a model written once, in PyTorch style ---------------------------------------------


def _net_module():
    sys.path.insert(0, str(ROOT / "examples" / "ddp"))
    try:
        import net
    finally:
        sys.path.pop(0)
    return net


def test_a_model_written_once_runs_under_both_and_weights_cross_both_ways(tmp_path):
    net = _net_module()
    gb.manual_seed(0)
    g = net.make_net(gb)(num_classes=10)
    torch.manual_seed(1)
    t = net.make_net(torch)(num_classes=10)
    assert type(g).__name__ == type(t).__name__ == "SmallNet" and list(g.state_dict()) == list(t.state_dict())
    gb.save(g.state_dict(), tmp_path / "g.safetensors")  # gradbox -> PyTorch
    t.load_state_dict(safetensors.torch.load_file(tmp_path / "g.safetensors"))
    x = arr(3, 1, 28, 28)
    yg, yt = both(g, t, x)
    np.testing.assert_allclose(yg, yt, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        for p in t.parameters():
            p.mul_(0.5)  # PyTorch -> gradbox
    safetensors.torch.save_file(t.state_dict(), tmp_path / "t.safetensors")
    g.load_state_dict(gb.load(tmp_path / "t.safetensors"))
    yg, yt = both(g, t, x)
    np.testing.assert_allclose(yg, yt, rtol=1e-4, atol=1e-5)


# ---- the extras are optional ------------------------------------------------------------


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


def test_gb_onnx_and_gb_interop_load_no_extra_until_used():
    r = _run(
        "import sys, gradbox as gb; gb.onnx.export; gb.interop.to_torch; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx', 'onnxruntime', 'safetensors')))"
    )
    assert r.stdout.strip() == "[]", r.stderr


MISSING = [
    ("torch", "gb.interop.to_torch(gb.nn.ReLU())"),
    ("torch", "gb.interop.torch_model('lenet5')"),
    ("onnx", "gb.onnx.export(gb.nn.ReLU(), gb.zeros(1), 'x.onnx')"),
    ("onnxruntime", "gb.onnx.run('x.onnx', gb.zeros(1))"),
    ("onnx", "from gradbox.cli import main; sys.exit(main(['predict', 'x.onnx', 'digit.png']))"),  # the CLI: exit 1
]


@pytest.mark.parametrize("blocked,call", MISSING)
def test_a_missing_extra_names_it(blocked, call):
    r = _run(f"import sys; sys.modules[{blocked!r}] = None\nimport gradbox as gb\n{call}")
    assert (
        r.returncode != 0 and f"needs the {blocked} package" in r.stderr and "pip install gradbox[interop]" in r.stderr
    )
