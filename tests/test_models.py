"""The model zoo: torchvision's parameter counts and names, outputs equal to hand-built torch
references with the same weights, and every model's forward on small inputs."""

import numpy as np
import pytest

import gradbox as gb
from gradbox.testing import torch_reference
from gradbox.testing.oracle import check_module

# torchvision's published parameter counts
TORCHVISION_COUNTS = {
    "alexnet": 61_100_840,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnext50_32x4d": 25_028_904,
    "mobilenet_v2": 3_504_872,
    "vgg11": 132_863_336,
}
SLOW_COUNTS = {
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
}


def _count(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name", list(TORCHVISION_COUNTS))
def test_parameter_counts_equal_torchvision(name):
    assert _count(gb.vision.models.get_model(name)) == TORCHVISION_COUNTS[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_COUNTS))
def test_parameter_counts_of_the_large_models_equal_torchvision(name):
    assert _count(gb.vision.models.get_model(name)) == SLOW_COUNTS[name]


def test_googlenet_counts_and_true_5x5_branch():
    assert _count(gb.vision.models.googlenet(branch3_kernel=3)) == 6_624_904  # torchvision's (3x3) layout
    assert _count(gb.vision.models.googlenet(branch3_kernel=3, aux_logits=True)) == 13_004_888
    g = gb.vision.models.googlenet()
    assert g.inception3a.branch3[1].conv.kernel_size == (5, 5)


@pytest.mark.parametrize("train", [True, False])
def test_resnet18_equals_a_torch_reference_with_the_same_weights(train):
    g, t = gb.vision.models.resnet18(num_classes=10), torch_reference.ResNet18(10)
    assert list(g.state_dict()) == list(t.state_dict())
    g.train(train), t.train(train)
    # 64x64 so that layer4's batch norm normalises 4 x 2 x 2 values per channel (over 2 values
    # x^ is +-1 and its gradient vanishes into rounding noise)
    x = np.random.default_rng(0).standard_normal((4, 3, 64, 64))
    check_module(g, t, x)


def test_lenet5_and_small_resnet18_equal_torch_references():
    check_module(gb.vision.models.lenet5(), torch_reference.LeNet5(), np.random.default_rng(1).standard_normal((3, 1, 28, 28)))
    g, t = (
        gb.vision.models.resnet18(num_classes=10, small_input=True).eval(),
        torch_reference.ResNet18(10, small_input=True).eval(),
    )
    check_module(g, t, np.random.default_rng(2).standard_normal((2, 3, 32, 32)), tol=dict(rtol=1e-9, atol=1e-11))


@pytest.mark.parametrize(
    "name,kw,shape",
    [
        ("mlp", {}, (2, 1, 28, 28)),
        ("lenet5", {"activation": "tanh", "pool": "avg"}, (2, 1, 28, 28)),
        ("lenet5", {"image_size": 32}, (2, 1, 32, 32)),
        ("alexnet", {"small_input": True, "in_channels": 1, "num_classes": 10}, (2, 1, 28, 28)),
        ("vgg11_bn", {"small_input": True, "in_channels": 1, "num_classes": 10}, (2, 1, 28, 28)),
        ("resnet18", {"small_input": True, "num_classes": 10}, (2, 3, 32, 32)),
        ("resnext50_32x4d", {"small_input": True, "num_classes": 10}, (1, 3, 32, 32)),
        ("mobilenet_v2", {"small_input": True, "num_classes": 10, "in_channels": 1}, (2, 1, 28, 28)),
        ("googlenet", {"small_input": True, "num_classes": 10}, (1, 3, 32, 32)),
    ],
)
def test_forward_and_backward_on_small_inputs(name, kw, shape):
    gb.manual_seed(0)
    m = gb.vision.models.get_model(name, **kw)
    out = m(gb.randn(*shape))
    assert out.shape == (shape[0], kw.get("num_classes", 10 if name in ("mlp", "lenet5") else 1000))
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_googlenet_aux_heads_in_training_only():
    m = gb.vision.models.googlenet(num_classes=10, aux_logits=True, small_input=True)
    out = m(gb.randn(2, 3, 32, 32))
    assert [o.shape for o in out] == [(2, 10)] * 3
    assert m.eval()(gb.randn(2, 3, 32, 32)).shape == (2, 10)


def test_unknown_model_lists_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"unknown model 'resnet19'; valid models: alexnet, googlenet, lenet5, mlp, mobilenet_v2, resnet101",
    ):
        gb.vision.models.get_model("resnet19")
