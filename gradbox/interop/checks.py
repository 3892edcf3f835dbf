"""Zoo models with informative weights and inputs, for checking conversions (tests, examples).

A freshly built zoo model is a weak test of a conversion: batch norm's running statistics are
0 and 1 (eval mode is then almost the identity) and small initial weights shrink the outputs
toward 0, where any two implementations agree. ``zoo_case`` gives every weight He-scaled
values, every batch norm random statistics, and an input of a size the model accepts.
"""

from __future__ import annotations

import numpy as np

from gradbox import nn
from gradbox.autograd.grad_mode import no_grad
from gradbox.tensor import Tensor
from gradbox.vision.models import MODELS, get_model

# the models the default test run converts, one per zoo class; the others (the same classes,
# bigger or grouped: resnext50_32x4d) run under -m slow
DEFAULT_ZOO = ("mlp", "lenet5", "alexnet", "vgg11_bn", "googlenet", "resnet18", "resnet50", "mobilenet_v2")
SLOW_ZOO = tuple(n for n in MODELS if n not in DEFAULT_ZOO)


def randomize_(model: nn.Module, x: Tensor | None = None, seed: int = 0) -> nn.Module:
    """Weights ~ U(-b, b) with b = sqrt(6 / fan_in) (He), biases and batch norm affine parameters
    random; batch norm statistics are those of a forward pass on ``x`` (so activations keep a
    moderate scale through deep residual stacks), then perturbed."""
    rng = np.random.default_rng(seed)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
    for m in model.modules():
        for name, p in m._parameters.items():
            if p is None:
                continue
            if m in norms and name == "weight":
                p._data[...] = rng.uniform(0.5, 1.5, p._data.shape)
            elif name == "bias" or p._data.ndim < 2:
                p._data[...] = rng.normal(0, 0.1, p._data.shape)
            else:
                bound = np.sqrt(6.0 / (p._data[0].size or 1))
                p._data[...] = rng.uniform(-bound, bound, p._data.shape)
    if norms and x is not None:
        saved = [(m, m.momentum, m.training) for m in model.modules() if m in norms]
        was = model.training
        for m in norms:
            m.momentum = 1.0
        model.train()
        with no_grad():
            model(x)
        model.train(was)
        for m, momentum, training in saved:
            m.momentum, m.training = momentum, training
    for m in norms:
        if m.running_mean is not None:
            n = m.num_features
            m.running_mean._data[...] += rng.normal(0, 0.05, n)
            m.running_var._data[...] *= rng.uniform(0.8, 1.25, n)
    return model


def zoo_case(name: str, batch: int = 2, size: int = 16, seed: int = 0, **kwargs) -> tuple[nn.Module, Tensor]:
    """(model, input): zoo model ``name`` with 10 classes (the small-input variant of the image
    models, ``size`` x ``size`` RGB; 28x28 gray for mlp and lenet5), randomized by ``randomize_``."""
    kw: dict = {"num_classes": 10, **kwargs}
    if name in ("mlp", "lenet5"):
        shape = (batch, 1, 28, 28)
    else:
        kw.setdefault("small_input", True)
        shape = (batch, 3, size, size)
    x = Tensor._wrap(np.random.default_rng(seed + 1).standard_normal(shape).astype(np.float32))
    calib = Tensor._wrap(np.random.default_rng(seed + 2).standard_normal((max(batch, 16), *shape[1:])).astype(np.float32))
    return randomize_(get_model(name, **kw), calib, seed), x


def float32_noise(model: nn.Module, x: Tensor) -> float:
    """How far the model's float32 forward (eval mode) is from its float64 forward on ``x``: the
    rounding any float32 engine can be expected to show (it grows with depth)."""
    model.eval()
    with no_grad():
        lo = model(x).numpy()
        hi = model.double()(x.double()).numpy()
    model.float()
    return float(np.abs(lo - hi).max())
