"""gb.inspect.summary against PyTorch: parameters, multiply-accumulates and output shapes.

The PyTorch side is the same architecture built in torch.nn: a converter rebuilds a gradbox
module tree layer by layer from the layers' hyperparameters (torch allocates and counts its
own parameters), and the zoo's blocks with a custom forward (ResNet blocks, Inception,
MobileNet's inverted residual, ...) get torch forwards written here. Models are built on
PyTorch's meta device: shapes and hooks without arithmetic. Counts on the torch side: forward
hooks per module (parameters, output shapes, conv/linear MACs the standard way) and a
TorchFunctionMode that sees every conv/linear/matmul call, functional ones included.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF
from torch.overrides import TorchFunctionMode

import gradbox as gb
from gradbox import nn
from gradbox.inspect.costs import cost_table_markdown
from gradbox.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent

# ---- gradbox module tree -> torch.nn ---------------------------------------------------------

LAYERS = {
    "Conv2d": lambda m: tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups, m.bias is not None, m.padding_mode),
    "Conv1d": lambda m: tnn.Conv1d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups, m.bias is not None),
    "Linear": lambda m: tnn.Linear(m.in_features, m.out_features, m.bias is not None),
    "BatchNorm2d": lambda m: tnn.BatchNorm2d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats),
    "BatchNorm1d": lambda m: tnn.BatchNorm1d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats),
    "ReLU": lambda m: tnn.ReLU(m.inplace),
    "ReLU6": lambda m: tnn.ReLU6(m.inplace),
    "Tanh": lambda m: tnn.Tanh(),
    "Sigmoid": lambda m: tnn.Sigmoid(),
    "MaxPool2d": lambda m: tnn.MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation, m.return_indices, m.ceil_mode),
    "AvgPool2d": lambda m: tnn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override),
    "AdaptiveAvgPool2d": lambda m: tnn.AdaptiveAvgPool2d(m.output_size),
    "Dropout": lambda m: tnn.Dropout(m.p, m.inplace),
    "Flatten": lambda m: tnn.Flatten(m.start_dim, m.end_dim),
    "Identity": lambda m: tnn.Identity(),
}  # fmt: skip


def _res_block(t, x):
    identity = x if t.downsample is None else t.downsample(x)
    out = t.relu(t.bn1(t.conv1(x)))
    if hasattr(t, "conv3"):  # Bottleneck
        out = t.relu(t.bn2(t.conv2(out)))
        out = t.bn3(t.conv3(out))
    else:
        out = t.bn2(t.conv2(out))
    out += identity
    return t.relu(out)


def _resnet(t, x):
    x = t.maxpool(t.relu(t.bn1(t.conv1(x))))
    x = t.layer4(t.layer3(t.layer2(t.layer1(x))))
    return t.fc(torch.flatten(t.avgpool(x), 1))


def _googlenet(t, x):
    x = t.maxpool1(t.conv1(x))
    x = t.maxpool2(t.conv3(t.conv2(x)))
    x = t.maxpool3(t.inception3b(t.inception3a(x)))
    x = t.inception4d(t.inception4c(t.inception4b(t.inception4a(x))))
    x = t.maxpool4(t.inception4e(x))
    x = t.inception5b(t.inception5a(x))
    return t.fc(t.dropout(torch.flatten(t.avgpool(x), 1)))


FORWARDS = {  # torch forwards of the zoo's blocks, written from the architectures
    "LeNet5": lambda t, x: t.classifier(t.features(x)),
    "AlexNet": lambda t, x: t.classifier(torch.flatten(t.avgpool(t.features(x)), 1)),
    "VGG": lambda t, x: t.classifier(torch.flatten(t.avgpool(t.features(x)), 1)),
    "ResNet": _resnet,
    "BasicBlock": _res_block,
    "Bottleneck": _res_block,
    "GoogLeNet": _googlenet,
    "BasicConv2d": lambda t, x: TF.relu(t.bn(t.conv(x))),
    "Inception": lambda t, x: torch.cat([t.branch1(x), t.branch2(x), t.branch3(x), t.branch4(x)], 1),
    "MobileNetV2": lambda t, x: t.classifier(t.features(x).mean((2, 3))),
    "InvertedResidual": lambda t, x: x + t.conv(x) if t.use_res_connect else t.conv(x),
}  # fmt: skip


class Mirror(tnn.Module):
    """A torch module with the gradbox module's children (same names) and a forward from FORWARDS."""

    def __init__(self, m: nn.Module) -> None:
        super().__init__()
        self.kind = type(m).__name__
        self.use_res_connect = getattr(m, "use_res_connect", False)
        for name, child in m.named_children():
            setattr(self, name, to_torch(child))
        for name, v in vars(m).items():  # absent children (downsample=None, aux1=None)
            if v is None and not name.startswith("_"):
                setattr(self, name, None)

    def forward(self, x):
        return FORWARDS[self.kind](self, x)


def to_torch(m: nn.Module) -> tnn.Module:
    kind = type(m).__name__
    if kind in LAYERS:
        return LAYERS[kind](m)
    if isinstance(m, nn.Sequential):
        return tnn.Sequential(OrderedDict((n, to_torch(c)) for n, c in m.named_children()))
    if kind not in FORWARDS:
        raise NotImplementedError(f"no torch mirror for {kind}")
    return Mirror(m)


class CountCalls(TorchFunctionMode):
    """MACs of every convolution / linear / matmul call (functional ones too), and the ops run
    by a container's own forward (not inside a leaf layer), as (gradbox op name, shape)."""

    NAMES = {"add": "Add", "__add__": "Add", "add_": "Add", "cat": "Cat", "flatten": "Reshape", "relu": "Relu",
             "mean": "Mean", "max_pool2d": "MaxPool", "conv2d": "Conv", "reshape": "Reshape", "view": "Reshape"}  # fmt: skip

    def __init__(self, stack: list) -> None:
        super().__init__()
        self.macs, self.functional, self.stack = 0, [], stack

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", "")
        if name in ("conv2d", "conv1d"):
            self.macs += out.numel() * args[1][0].numel()
        elif name == "linear":
            self.macs += out.numel() * args[1].shape[1]
        elif name in ("matmul", "__matmul__"):
            self.macs += out.numel() * args[0].shape[-1]
        inner = self.stack[-1] if self.stack else None
        if name in self.NAMES and inner is not None and any(True for _ in inner.children()):
            self.functional.append((self.NAMES[name], tuple(out.shape)))
        return out


def torch_counts(tm: tnn.Module, size) -> dict:
    """Per module (by name): parameters, output shape and conv/linear MACs, counted with forward
    hooks; totals from the function mode."""
    tm.eval()
    rows, stack, handles = {}, [], []
    names = {id(m): n for n, m in tm.named_modules()}

    def pre(mod, args):
        stack.append(mod)

    def hook(mod, args, out):
        stack.pop()
        name = names[id(mod)]
        macs = 0
        if isinstance(mod, tnn.Conv2d | tnn.Conv1d):  # C_in/groups * prod(k) * C_out * prod(out) * N
            macs = mod.in_channels // mod.groups * math.prod(mod.kernel_size) * out.numel()
        elif isinstance(mod, tnn.Linear):
            macs = mod.in_features * out.numel()
        if name not in rows:
            rows[name] = {"params": sum(p.numel() for p in mod.parameters()), "shape": tuple(out.shape), "macs": macs}

    for m in tm.modules():
        handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(hook)]
    mode = CountCalls(stack)
    with torch.no_grad(), mode:
        tm(torch.zeros(size, device="meta"))
    for h in handles:
        h.remove()
    return {"rows": rows, "total_macs": mode.macs, "functional": mode.functional,
            "total_params": sum(p.numel() for p in tm.parameters())}  # fmt: skip


def check_against_torch(model: nn.Module, tm: tnn.Module, size, functional: bool = True) -> gb.inspect.ModelSummary:
    s = gb.inspect.summary(model, size)
    ref = torch_counts(tm, size)
    assert s.total_params == ref["total_params"]
    assert s.total_macs == ref["total_macs"]
    assert [r.name for r in s.layers] == [n for n, _ in tm.named_modules() if n]
    for r in s.layers:
        want = ref["rows"].get(r.name)
        if want is None:  # never called (e.g. an absent auxiliary head)
            assert r.output_shape is None, r.name
            continue
        assert (r.name, r.params) == (r.name, want["params"])
        assert (r.name, r.output_shape) == (r.name, want["shape"])
        if r.type in ("Conv2d", "Conv1d", "Linear"):
            assert (r.name, r.macs) == (r.name, want["macs"])
    assert s.layers and sum(r.macs for r in s.layers if r.is_leaf) + sum(r.macs for r in s.functional) == s.total_macs
    if functional:
        got = [(r.type, r.output_shape) for r in s.functional if r.type in CountCalls.NAMES.values()]
        assert got == ref["functional"]
    return s


def zoo_case(name: str):
    kw: dict = {"num_classes": 10}
    if name in ("mlp", "lenet5"):
        return kw, (2, 1, 28, 28)
    kw["small_input"] = True
    return kw, (1, 3, 32, 32)


@pytest.mark.parametrize("name", gb.vision.models.list_models())
def test_every_zoo_model_matches_torch(name):
    kw, size = zoo_case(name)
    gb.manual_seed(0)
    model = gb.vision.models.get_model(name, **kw)
    with torch.device("meta"):
        tm = to_torch(model)
    s = check_against_torch(model, tm, size)
    assert s.input_shapes == [size] and s.output_shapes == [(size[0], 10)]


@pytest.mark.slow
@pytest.mark.parametrize("name", gb.vision.models.list_models())
def test_every_zoo_model_matches_torch_at_224(name):
    kw, size = ({}, (1, 1, 28, 28)) if name in ("mlp", "lenet5") else ({}, (1, 3, 224, 224))
    model = gb.vision.models.get_model(name, **kw)
    with torch.device("meta"):
        tm = to_torch(model)
    check_against_torch(model, tm, size)


# torchvision's model docs: parameters and GFLOPS (their MACs) at 224x224
PUBLISHED = {
    "alexnet": ({}, 61_100_840, 0.714),
    "resnet18": ({}, 11_689_512, 1.81),
    "resnet50": ({}, 25_557_032, 4.09),
    "googlenet": ({"branch3_kernel": 3}, 6_624_904, 1.50),
    "mobilenet_v2": ({}, 3_504_872, 0.30),
    "resnext50_32x4d": ({}, 25_028_904, 4.23),
}
PUBLISHED_SLOW = {
    "vgg16": ({}, 138_357_544, 15.47),
    "resnet152": ({}, 60_192_808, 11.51),
    "vgg11": ({}, 132_863_336, 7.61),
}


def _check_published(name, kw, params, gmacs):
    s = gb.inspect.summary(gb.vision.models.get_model(name, **kw), (1, 3, 224, 224))
    assert s.total_params == params
    digits = len(str(gmacs).split(".")[1])
    assert round(s.total_macs / 1e9, digits) == gmacs
    assert s.total_flops == 2 * s.total_macs


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_totals_match_torchvision_published_figures(name):
    _check_published(name, *PUBLISHED[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PUBLISHED_SLOW))
def test_totals_match_torchvision_published_figures_large(name):
    _check_published(name, *PUBLISHED_SLOW[name])


# ---- models with functional residual adds, concatenations and functional layers ------------


class GbBranchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.a = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8))
        self.b = nn.Conv2d(8, 4, 1)
        self.w = nn.Parameter(gb.randn(12, 12, 3, 3))
        self.fc = nn.Linear(12 * 4 * 4, 5)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = F.relu(self.a(x) + x)  # functional residual add
        y = gb.cat([x, self.b(x)], 1)  # concatenation
        y = F.max_pool2d(F.conv2d(y, self.w, padding=1), 2)  # a functional convolution
        return self.fc(y.flatten(1)) + y.mean((1, 2, 3)).reshape(-1, 1)


class TorchBranchy(tnn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = tnn.Conv2d(3, 8, 3, padding=1)
        self.a = tnn.Sequential(tnn.Conv2d(8, 8, 3, padding=1), tnn.BatchNorm2d(8))
        self.b = tnn.Conv2d(8, 4, 1)
        self.w = tnn.Parameter(torch.empty(12, 12, 3, 3))
        self.fc = tnn.Linear(12 * 4 * 4, 5)

    def forward(self, x):
        x = TF.relu(self.stem(x))
        x = TF.relu(self.a(x) + x)
        y = torch.cat([x, self.b(x)], 1)
        y = TF.max_pool2d(TF.conv2d(y, self.w, padding=1), 2)
        return self.fc(y.flatten(1)) + y.mean((1, 2, 3)).reshape(-1, 1)


def test_functional_adds_concatenations_and_convolutions_match_torch():
    with torch.device("meta"):
        tm = TorchBranchy()
    s = check_against_torch(GbBranchy(), tm, (2, 3, 8, 8))
    conv = next(r for r in s.functional if r.type == "Conv")
    assert conv.macs == 2 * 12 * 8 * 8 * 12 * 9 and conv.name == "conv"
    assert [r.name for r in s.functional if r.type == "Add"] == ["add", "add_1"]


def test_other_ops_follow_the_cost_table():
    """A tiny model counted by hand from the table (batch 2, 8x8, 3 -> 4 channels)."""
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3), nn.Softmax(1),
    )  # fmt: skip
    s = gb.inspect.summary(model, (2, 3, 8, 8))
    per = {r.type: r.other_ops for r in s.layers}
    n = 2 * 4 * 8 * 8
    assert per["Conv2d"] == n  # bias
    assert per["BatchNorm2d"] == 2 * n  # eval: one multiply-add per element
    assert per["ReLU"] == n
    assert per["MaxPool2d"] == (2 * 4 * 4 * 4) * 3  # 2x2 windows: 3 comparisons per output
    assert per["AvgPool2d"] == (2 * 4 * 2 * 2) * 4  # 3 adds and a divide per output
    assert per["AdaptiveAvgPool2d"] == 2 * 4 * 2 * 2  # global: 1 per input element
    assert per["Flatten"] == 0
    assert per["Linear"] == 2 * 3
    assert per["Softmax"] == 3 * 2 * 3
    assert s.other_ops == sum(per.values())
    assert s["0"].macs == n * 3 * 9 and s["7"].macs == 2 * 4 * 3 and s.total_macs == n * 27 + 24
    assert s["1"].macs == 0 and s["2"].macs == 0


def test_rows_depth_json_html_and_memory():
    model = gb.vision.models.resnet18(num_classes=10, small_input=True)
    s = gb.inspect.summary(model, (1, 3, 32, 32), depth=1)
    text = str(s)
    assert f"Total params: {s.total_params:,}" in text and "Total mult-adds (MACs):" in text and " M (" in text
    assert "BasicBlock" not in text and "├─Sequential: 1-5" in text  # depth 1 hides the blocks
    assert "BasicBlock" in str(gb.inspect.summary(model, (1, 3, 32, 32), depth=2))
    assert [r.depth for r in s.rows()] == [1] * len(s.rows())
    assert len(s.rows(depth=None)) == len(s.rows())
    d = json.loads(json.dumps(s.to_dict()))
    assert d["totals"]["total_params"] == s.total_params == 11_173_962
    assert d["totals"]["total_flops"] == 2 * d["totals"]["total_macs"]
    assert d["layers"][0]["name"] == "conv1" and d["layers"][0]["output_shape"] == [1, 64, 32, 32]
    html = s._repr_html_()
    assert html.startswith("<table>") and "Conv2d: 1-1" in html and f"{s.total_params:,}" in html
    assert s.param_bytes == 4 * s.total_params and s.input_bytes == 4 * 3 * 32 * 32
    leaf_outputs = sum(r.calls * 4 * math.prod(r.output_shape) for r in s.layers if r.is_leaf)
    fn_new = sum(r.activation_bytes for r in s.functional)
    assert s.activation_bytes == leaf_outputs + fn_new
    assert s.training_bytes == s.input_bytes + 2 * s.activation_bytes + 4 * s.param_bytes + s.buffer_bytes


def test_functional_rows_are_placed_in_their_block():
    model = gb.vision.models.resnet18(num_classes=10, small_input=True)
    s = gb.inspect.summary(model, (1, 3, 32, 32), include_functional=True)
    names = [r.name for r in s.rows()]
    i = names.index("layer1.0.add")
    assert names[i - 1] == "layer1.0.bn2" and names[i + 1] == "layer1.1"
    assert names.index("reshape") == names.index("avgpool") + 1
    assert s["layer1.0.add"].other_ops == 64 * 32 * 32 and s["layer1.0.add"].depth == 3
    assert s["layer1.0"].calls == 1 and s["layer1.0.relu"].calls == 2  # relu is applied twice
    assert "add()" in str(s)


def test_summary_restores_modes_and_takes_input_data():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5))
    model.train()
    model[1].eval()
    x = gb.randn(3, 1, 6, 6)
    s = gb.inspect.summary(model, input_data=x)
    assert model.training and not model[1].training and model[2].training
    assert s.input_shapes == [(3, 1, 6, 6)] and s.output_shapes == [(3, 2, 4, 4)]
    with pytest.raises(ValueError, match="input_size"):
        gb.inspect.summary(model)


def test_readme_states_the_cost_table():
    assert cost_table_markdown() in (ROOT / "README.md").read_text()


def test_embedding_and_integer_input():
    model = nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(8 * 6, 3))
    x = gb.tensor(np.arange(12).reshape(2, 6))
    s = gb.inspect.summary(model, input_data=x)
    assert [r.macs for r in s.layers] == [0, 0, 2 * 48 * 3]
    assert s["0"].output_shape == (2, 6, 8) and s.receptive_field is None


class InplaceBlock(nn.Module):
    """torchvision's style: ``out += identity`` and in-place ReLUs (the trace follows the tensor
    that was written into)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(2, 2, 3, padding=1)
        self.c2 = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        out = self.c2(F.relu(self.c1(x), inplace=True))
        out += x
        return F.relu(out, inplace=True)


def test_in_place_residuals_are_followed():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), InplaceBlock())
    s = gb.inspect.summary(model, (1, 1, 12, 12), include_functional=True)
    assert [(r.name, r.receptive_field) for r in s.rows()] == [
        ("0", 3), ("1", 7), ("1.c1", 5), ("1.relu", 5), ("1.c2", 7), ("1.add", 7), ("1.relu_1", 7),
    ]  # fmt: skip
    assert s["1.add"].other_ops == 2 * 12 * 12
    g = gb.inspect.draw_graph(model=model, input_size=(1, 1, 12, 12))
    edges = [(e.src, e.dst) for e in g.edges]
    assert ("m:0", "f:1.add") in edges and ("f:1.add", "f:1.relu_1") in edges and ("f:1.relu_1", "out") in edges
