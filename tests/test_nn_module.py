"""Module behaviour as in PyTorch: registration, names, state_dict round trips and errors,
hooks, modes, printing; default initialisation statistics; errors that name the layer."""

import math

import numpy as np
import pytest
import torch

import gradbox as gb


def build(nn):
    """The same module tree in either framework."""

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(8)
            self.heads = nn.ModuleList([nn.Linear(8, 4), nn.Linear(8, 2)])
            self.extra = nn.ModuleDict({"act": nn.ReLU(), "proj": nn.Linear(4, 4)})
            self.register_buffer("scale", torch_or_gb(nn).ones(1) * 2)

        def forward(self, x):
            h = self.extra["act"](self.bn(self.conv(x))).mean((2, 3))
            return self.extra["proj"](self.heads[0](h)) * self.scale

    return nn.Sequential(Block(), nn.Dropout(0.1), nn.Flatten(), nn.Linear(4, 3))


def torch_or_gb(nn):
    return gb if nn is gb.nn else torch


def test_names_counts_state_dict_keys_and_repr_equal_torch():
    g, t = build(gb.nn), build(torch.nn)
    assert [n for n, _ in g.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [tuple(p.shape) for p in g.parameters()] == [tuple(p.shape) for p in t.parameters()]
    assert sum(p.numel() for p in g.parameters()) == sum(p.numel() for p in t.parameters())
    assert list(g.state_dict()) == list(t.state_dict())
    assert [n for n, _ in g.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in g.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert repr(g) == repr(t)


def test_state_dict_round_trip_to_and_from_torch():
    g, t = build(gb.nn), build(torch.nn)
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in g.state_dict().items()})
    g2 = build(gb.nn)
    g2.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    for (k, a), (_, b) in zip(g.state_dict().items(), g2.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    g2.eval(), t.eval()
    np.testing.assert_allclose(
        g2(gb.tensor(x)).detach().numpy(), t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_load_state_dict_errors_list_missing_unexpected_and_mismatched_shapes():
    g = build(gb.nn)
    sd = g.state_dict()
    sd.pop("3.bias")
    sd["3.extra"] = gb.zeros(1)
    sd["3.weight"] = gb.zeros(3, 5)
    with pytest.raises(RuntimeError) as e:
        g.load_state_dict(sd)
    msg = str(e.value)
    assert 'Missing key(s) in state_dict: "3.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "3.extra"' in msg
    assert (
        "size mismatch for 3.weight: copying a param with shape (3, 5) from checkpoint, the shape in current model is (3, 4)"
        in msg
    )
    sd = g.state_dict()
    sd.pop("3.bias")
    res = g.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["3.bias"] and res.unexpected_keys == []


def test_hooks_modes_apply_zero_grad_and_to():
    m = gb.nn.Sequential(gb.nn.Linear(3, 4), gb.nn.ReLU(), gb.nn.Linear(4, 2))
    seen = []
    h = m[0].register_forward_hook(
        lambda mod, inp, out: seen.append((type(mod).__name__, tuple(inp[0].shape), tuple(out.shape)))
    )
    m[2].register_forward_pre_hook(lambda mod, inp: (inp[0] * 0,))
    y = m(gb.ones(5, 3))
    assert seen == [("Linear", (5, 3), (5, 4))]
    np.testing.assert_allclose(y.detach().numpy(), np.broadcast_to(m[2].bias.detach().numpy(), (5, 2)))
    h.remove()
    m(gb.ones(1, 3))
    assert len(seen) == 1
    m.eval()
    assert not any(mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    y.sum().backward()
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    names = []
    m.apply(lambda mod: names.append(type(mod).__name__))
    assert names == ["Linear", "ReLU", "Linear", "Sequential"]
    m.double()
    assert all(p.dtype == gb.float64 for p in m.parameters())
    assert len(m) == 3 and isinstance(m[1:], gb.nn.Sequential) and len(m[1:]) == 2


def test_shared_parameters_are_listed_once():
    lin = gb.nn.Linear(2, 2)
    m = gb.nn.Sequential(lin, lin)
    assert len(list(m.parameters())) == 2
    assert list(m.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def _uniform_ok(a: np.ndarray, bound: float) -> None:
    assert np.abs(a).max() <= bound
    assert abs(a.mean()) < 0.02 * bound
    assert abs(a.var() / (bound**2 / 3) - 1) < 0.05  # U(-b, b) has variance b^2/3


def test_default_initialisation_has_pytorchs_distribution():
    gb.manual_seed(0)
    lin = gb.nn.Linear(400, 300)
    _uniform_ok(lin.weight.detach().numpy(), 1 / math.sqrt(400))
    b = lin.bias.detach().numpy()
    assert np.abs(b).max() <= 1 / math.sqrt(400) and np.abs(b).max() > 0.9 / math.sqrt(400)
    conv = gb.nn.Conv2d(16, 64, 5, groups=2)
    _uniform_ok(conv.weight.detach().numpy(), 1 / math.sqrt(8 * 25))
    convt = gb.nn.ConvTranspose2d(16, 64, 3)
    _uniform_ok(convt.weight.detach().numpy(), 1 / math.sqrt(64 * 9))
    emb = gb.nn.Embedding(1000, 64)
    e = emb.weight.detach().numpy()
    assert abs(e.mean()) < 0.01 and abs(e.std() - 1) < 0.01
    bn = gb.nn.BatchNorm2d(4)
    assert (bn.weight.numpy() if not bn.weight.requires_grad else bn.weight.detach().numpy()).tolist() == [1] * 4
    w = gb.empty(300, 500)
    gb.nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.numpy().std() / math.sqrt(2 / 500) - 1) < 0.02
    gb.nn.init.xavier_uniform_(w, gain=gb.nn.init.calculate_gain("tanh"))
    _uniform_ok(w.numpy(), 5 / 3 * math.sqrt(6 / 800))
    gb.nn.init.xavier_normal_(w)
    assert abs(w.numpy().std() / math.sqrt(2 / 800) - 1) < 0.02
    q = gb.empty(6, 10)
    gb.nn.init.orthogonal_(q)
    np.testing.assert_allclose(q.numpy() @ q.numpy().T, np.eye(6), atol=1e-5)
    for name, param, want in [
        ("relu", None, math.sqrt(2)),
        ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
        ("tanh", None, 5 / 3),
        ("conv2d", None, 1),
    ]:
        assert gb.nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))
        assert gb.nn.init.calculate_gain(name, param) == pytest.approx(want)


def test_bad_input_errors_name_the_layer_expected_and_actual():
    conv = gb.nn.Conv2d(3, 64, kernel_size=3)
    with pytest.raises(
        RuntimeError,
        match=r"Conv2d\(3, 64, kernel_size=\(3, 3\), stride=\(1, 1\)\): expected input with 3 channels, got 4 \(input shape \(8, 4, 32, 32\)\)",
    ):
        conv(gb.zeros(8, 4, 32, 32))
    with pytest.raises(
        RuntimeError,
        match=r"Conv2d\(3, 64.*\): input spatial size \(2, 2\).*smaller than the effective kernel size \(3, 3\)",
    ):
        conv(gb.zeros(1, 3, 2, 2))
    with pytest.raises(
        RuntimeError,
        match=r"Conv2d\(3, 64.*\): input dtype gradbox.float64 does not match the weight dtype gradbox.float32",
    ):
        conv(gb.zeros(1, 3, 8, 8, dtype=gb.float64))
    with pytest.raises(RuntimeError, match=r"Conv2d\(3, 64.*\): expected a 4-D input"):
        conv(gb.zeros(3, 8))
    lin = gb.nn.Linear(784, 10)
    with pytest.raises(
        RuntimeError,
        match=r"Linear\(in_features=784, out_features=10, bias=True\): expected input with 784 features in its last dimension, got shape \(8, 100\)",
    ):
        lin(gb.zeros(8, 100))
    with pytest.raises(
        RuntimeError,
        match=r"MaxPool2d\(kernel_size=3.*\): input spatial size \(2, 2\) is too small for kernel \(3, 3\)",
    ):
        gb.nn.MaxPool2d(3)(gb.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4, .*\): expected input with 4 channels, got 3"):
        gb.nn.BatchNorm2d(4)(gb.zeros(2, 3, 2, 2))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        gb.nn.BatchNorm1d(4)(gb.zeros(1, 4))
    with pytest.raises(IndexError, match=r"Embedding\(10, 3\): index 12 is out of range"):
        gb.nn.Embedding(10, 3)(gb.tensor([1, 12]))
    with pytest.raises(ValueError, match="in_channels \\(3\\) must be divisible by groups \\(2\\)"):
        gb.nn.Conv2d(3, 4, 3, groups=2)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_value_and_vector_conversion_match_torch(norm_type):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) * 3 for s in [(3, 4), (5,), (2, 2, 2)]]
    gp = [gb.tensor(a, requires_grad=True) for a in arrays]
    tp = [torch.tensor(a, requires_grad=True) for a in arrays]
    for p, a in zip(gp, arrays):
        p.grad = gb.tensor(a * 2)
    for p, a in zip(tp, arrays):
        p.grad = torch.tensor(a * 2)
    gn = gb.nn.utils.clip_grad_norm_(gp, 1.5, norm_type)
    tn = torch.nn.utils.clip_grad_norm_(tp, 1.5, norm_type)
    assert gn.item() == pytest.approx(tn.item(), rel=1e-12)
    for a, b in zip(gp, tp):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    gb.nn.utils.clip_grad_value_(gp, 0.1)
    torch.nn.utils.clip_grad_value_(tp, 0.1)
    for a, b in zip(gp, tp):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy())
    v = gb.nn.utils.parameters_to_vector(gp)
    np.testing.assert_array_equal(v.detach().numpy(), torch.nn.utils.parameters_to_vector(tp).detach().numpy())
    with gb.no_grad():
        gb.nn.utils.vector_to_parameters(v * 2, gp)
    np.testing.assert_allclose(gp[1].detach().numpy(), arrays[1] * 2)


def test_errors_are_named_once_by_the_innermost_layer():
    """Module.__call__ names the layer: once (the innermost module), in place of a built-in
    layer's op prefix; a user's module keeps the op's name; a direct functional call names the op."""
    net = gb.nn.Sequential(gb.nn.Linear(4, 3), gb.nn.Sequential(gb.nn.Conv2d(3, 8, 3)))
    with pytest.raises(RuntimeError) as e:
        net(gb.randn(2, 4))
    assert str(e.value).startswith("Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1)): expected a 4-D input")
    assert str(e.value).count("Conv2d(") == 1 and "Sequential" not in str(e.value)
    with pytest.raises(RuntimeError, match=r"^conv2d: expected input with 3 channels, got 4"):
        gb.nn.functional.conv2d(gb.randn(1, 4, 5, 5), gb.randn(8, 3, 3, 3))

    class Mine(gb.nn.Module):
        def forward(self, x):
            return x + gb.ones(5)

    with pytest.raises(RuntimeError, match=r"^Mine\(\): add: shapes \(2, 4\) and \(5,\) cannot be broadcast"):
        Mine()(gb.randn(2, 4))

    class Lookup(gb.nn.Module):
        def forward(self, x):
            return {}["missing"]

    with pytest.raises(KeyError, match="^'missing'$"):  # other exception types pass through untouched
        Lookup()(gb.randn(1))
