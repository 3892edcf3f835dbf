"""Receptive fields: the closed-form recursion on chains, the measured gradient region on chain
and multi-branch models, the textbook case, published values, and misaligned blocks."""

from __future__ import annotations

import numpy as np
import pytest

import gradbox as gb
from gradbox import nn
from gradbox.inspect import MisalignedFieldWarning, receptive_field_empirical
from gradbox.inspect.receptive_field import analytic_region
from gradbox.nn import functional as F
from gradbox.vision.models.googlenet import Inception
from gradbox.vision.models.mobilenet import InvertedResidual
from gradbox.vision.models.resnet import BasicBlock, Bottleneck, conv1x1


def random_chain(seed: int) -> tuple[nn.Sequential, list[tuple[int, int, int, int]]]:
    """Convolutions (strided, dilated, padded), max and average pools, ReLUs; and each window
    layer's (kernel, stride, padding, dilation)."""
    rng = np.random.default_rng(seed)
    layers, geo, c = [], [], 1
    for _ in range(rng.integers(3, 7)):
        kind = rng.choice(["conv", "conv", "max", "avg"])
        k = int(rng.integers(1, 5))
        s = int(rng.integers(1, 3))
        d = int(rng.integers(1, 3)) if kind != "avg" else 1
        p = int(rng.integers(0, (d * (k - 1) + 1 if kind == "conv" else k) // 2 + 1))
        if kind == "conv":
            layers += [nn.Conv2d(c, 2, k, stride=s, padding=p, dilation=d), nn.ReLU()]
            c = 2
        elif kind == "max":
            layers.append(nn.MaxPool2d(k, stride=s, padding=p, dilation=d))
        else:
            layers.append(nn.AvgPool2d(k, stride=s, padding=p))
        geo.append((k, s, p, d))
    return nn.Sequential(*layers), geo


def recursion(geo):
    """r_out = r_in + (k' - 1) j_in, j_out = j_in s, P_out = P_in + p j_in (k' = d (k - 1) + 1)."""
    r, j, p_eff, out = 1, 1, 0, []
    for k, s, p, d in geo:
        r, j, p_eff = r + (d * (k - 1)) * j, j * s, p_eff + p * j
        out.append((r, j, p_eff))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_chains_follow_the_closed_form_recursion(seed):
    model, geo = random_chain(seed)
    s = gb.inspect.summary(model, (1, 1, 96, 96))
    windows = [r for r in s.layers if r.type != "ReLU"]
    assert [(r.receptive_field, r.effective_stride, r.effective_padding) for r in windows] == recursion(geo)
    for r in s.layers:  # a ReLU keeps the field of the layer before it
        if r.type == "ReLU":
            prev = s.layers[s.layers.index(r) - 1]
            assert r.receptive_field == prev.receptive_field


def test_textbook_case_conv3_conv3_pool2_twice():
    convs = lambda c: [nn.Conv2d(c, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()]
    model = nn.Sequential(*convs(1), nn.MaxPool2d(2, 2), *convs(4), nn.MaxPool2d(2, 2))
    s = gb.inspect.summary(model, (1, 1, 32, 32))
    assert (s.receptive_field, s.effective_stride) == (16, 4)
    rows = [r for r in s.layers if r.type != "ReLU"]
    assert [(r.receptive_field, r.effective_stride) for r in rows] == [
        (3, 1),
        (5, 1),
        (6, 2),
        (10, 2),
        (14, 2),
        (16, 4),
    ]
    e = receptive_field_empirical(model, (1, 1, 32, 32))
    assert e.size == (16, 16) and e.dense


def inside_units(s, extent) -> list[tuple]:
    """Output positions whose whole field lies inside the input (the first and last taps of a
    field are always reached, so its ends are measured even when dilation leaves holes)."""
    out = s.output_shapes[0][2:]
    r, j, p = s.receptive_field, s.effective_stride, s.effective_padding
    ok = [[i for i in range(o) if i * j - p >= 0 and i * j - p + r - 1 < n] for o, n in zip(out, extent)]
    assert all(ok), "no unit's field fits in the input: use a larger input"
    return [(0, None, *(a[0] for a in ok)), (0, 0, *(a[len(a) // 2] for a in ok)), (0, None, *(a[-1] for a in ok))]


def assert_empirical_matches(model, size, units=None, dense=True):
    """The measured region of a few output units (all channels at a position, or one channel)
    equals the analytic field clipped to the input. ``dense``: the field has no holes (no
    dilation, no stride beyond the kernel), so units at the border are compared too and the
    region fills its box; otherwise units whose field fits in the input are compared."""
    s = gb.inspect.summary(model, size)
    extent = size[2:]
    out = s.output_shapes[0]
    if units is None and dense:
        units = [
            (0, None, *(o // 2 for o in out[2:])),
            (0, None, *(0 for _ in out[2:])),
            (0, 0, *(o - 1 for o in out[2:])),
        ]
    elif units is None:
        units = inside_units(s, extent)
    for unit in units:
        e = receptive_field_empirical(model, size, unit)
        want = analytic_region(s.receptive_field, s.effective_stride, s.effective_padding, unit[2:], extent)
        assert e.region == want, (unit, e.region, want)
        assert e.dense or not dense
    return s


@pytest.mark.parametrize("seed", range(8))
def test_chains_match_the_measured_region(seed):
    model, _ = random_chain(seed)
    assert_empirical_matches(model, (1, 1, 96, 96), dense=False)


def test_residual_blocks_match_the_measured_region():
    gb.manual_seed(0)
    basic = BasicBlock(4, 6, stride=2, downsample=nn.Sequential(conv1x1(4, 6, 2), nn.BatchNorm2d(6)))
    s = assert_empirical_matches(basic, (1, 4, 20, 20))
    assert (s.receptive_field, s.effective_stride) == (7, 2)  # conv3/2 then conv3: 3 + 2 * 2
    bottleneck = Bottleneck(8, 2, stride=2, downsample=nn.Sequential(conv1x1(8, 8, 2), nn.BatchNorm2d(8)))
    assert_empirical_matches(bottleneck, (1, 8, 17, 17))
    inverted = InvertedResidual(4, 4, 1, 3)
    s = assert_empirical_matches(inverted, (1, 4, 12, 12))
    assert s.receptive_field == 3 and not s.warnings


def test_inception_block_matches_the_measured_region():
    gb.manual_seed(0)
    block = Inception(3, 2, 2, 3, 2, 3, 2, branch3_kernel=5)
    s = assert_empirical_matches(block, (1, 3, 15, 15), units=[(0, None, 7, 7), (0, None, 0, 14), (0, 6, 3, 3)])
    assert s.receptive_field == 5 and s.effective_padding == 2 and not s.warnings  # the 5x5 branch, centred
    assert s["branch1"].receptive_field == 1 and s["branch4"].receptive_field == 3


class Functional(nn.Module):
    """Branches joined by + and cat, and layers called functionally (the trace follows them)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(2, 3, 3, padding=2, dilation=2)
        self.b = nn.Conv2d(2, 3, 1)
        self.w = nn.Parameter(gb.randn(4, 6, 3, 3))

    def forward(self, x):
        y = F.relu(self.a(x)) + self.b(x)
        y = gb.cat([y, F.max_pool2d(self.b(x), 3, 1, 1)], 1)
        y = F.avg_pool2d(F.conv2d(y, self.w, stride=2, padding=1), 2)
        return F.max_pool2d(y, 3, 2, 1)


def test_functional_ops_are_followed():
    gb.manual_seed(0)
    s = assert_empirical_matches(Functional(), (1, 2, 32, 32))
    # dilated 3x3 (5) | 1x1 max-pooled 3x3 (3): 5, then 3x3/2 (7), 2x2 avg pool (9, stride 4), 3x3/2 max pool (17, 8)
    assert (s.receptive_field, s.effective_stride) == (17, 8)


def test_resnet_stages_match_the_measured_region():
    gb.manual_seed(0)
    r = gb.vision.models.resnet18(small_input=True)
    model = nn.Sequential(r.conv1, r.bn1, r.relu, r.layer1, r.layer2)
    s = assert_empirical_matches(model, (1, 3, 24, 24), units=[(0, 0, 6, 6), (0, 5, 0, 11)])
    # conv3 (3), layer1's four conv3 (11), layer2: conv3/2 (13) then three conv3 at stride 2 (25)
    assert (s.receptive_field, s.effective_stride, s.effective_padding) == (25, 2, 12)


class Misaligned(nn.Module):
    """Two stride-2 branches whose fields are centred half a pixel apart: 3x3 padded by 1
    (unit 0 sees [-1, 1], centre 0) and 2x2 unpadded (unit 0 sees [0, 1], centre 0.5)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 2, 3, stride=2, padding=1)
        self.b = nn.Conv2d(1, 2, 2, stride=2)

    def forward(self, x):
        return self.a(x) + self.b(x)


def test_a_misaligned_two_branch_block_warns():
    model = nn.Sequential(nn.Conv2d(1, 1, 1), Misaligned())
    with pytest.warns(MisalignedFieldWarning, match=r"'1' \(Misaligned\).*effective stride 2 vs 2, centre 0 vs 0\.5"):
        s = gb.inspect.summary(model, (1, 1, 16, 16))
    assert s["1"].misaligned and not s["0"].misaligned and len(s.warnings) == 1  # both axes, one message
    assert "!" in str(s)
    # the field shown is the union of the two paths: [-1, 1] for unit 0, 3 wide
    assert (s.receptive_field, s.effective_stride, s.effective_padding) == (3, 2, 1)
    with pytest.warns(MisalignedFieldWarning):
        assert_empirical_matches(model, (1, 1, 16, 16))


def test_aligned_blocks_do_not_warn(recwarn):
    gb.manual_seed(0)
    gb.inspect.summary(gb.vision.models.googlenet(num_classes=10, small_input=True), (1, 3, 32, 32))
    gb.inspect.summary(gb.vision.models.resnet18(num_classes=10), (1, 3, 64, 64))
    assert not [w for w in recwarn if issubclass(w.category, MisalignedFieldWarning)]


def test_spatial_structure_gone_and_global_pooling():
    s = gb.inspect.summary(gb.vision.models.lenet5(), (1, 1, 28, 28))
    fields = [(r.name, r.receptive_field, r.effective_stride) for r in s.layers]
    assert fields[:7] == [
        ("features", 16, 4), ("features.0", 5, 1), ("features.1", 5, 1), ("features.2", 6, 2),
        ("features.3", 14, 2), ("features.4", 14, 2), ("features.5", 16, 4),
    ]  # fmt: skip
    assert all(r.receptive_field is None for r in s.layers if r.name.startswith("classifier"))
    assert s.receptive_field is None
    r = gb.vision.models.resnet18(num_classes=10)
    s = gb.inspect.summary(r, (1, 3, 64, 64))
    pool = s["avgpool"]  # global pooling: the field spans the whole input (and the padding)
    assert pool.receptive_field == s["layer4"].receptive_field + (2 - 1) * 32 >= 64
    assert s["fc"].receptive_field is None


def test_published_values_distill():
    """Araujo, Norris and Sim (Distill, 2019), table of architectures: VGG-16 212 / 32 / 90 and
    AlexNet 195 / 32 at the last feature map."""
    # small_input changes only the classifier and the pools' ceil_mode, neither of which moves the field
    vgg16 = gb.inspect.summary(gb.vision.models.vgg16(small_input=True), (1, 3, 224, 224))
    f = vgg16["features"]
    assert (f.receptive_field, f.effective_stride, f.effective_padding) == (212, 32, 90)
    alex = gb.inspect.summary(gb.vision.models.alexnet(), (1, 3, 224, 224))
    assert (alex["features"].receptive_field, alex["features"].effective_stride) == (195, 32)
