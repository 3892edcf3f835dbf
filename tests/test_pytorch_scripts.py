"""PyTorch code runs on gradbox with only its imports changed.

The scripts in examples/pytorch/ are written for PyTorch. Each is run as written under PyTorch
and, with its import lines rewritten (and nothing else), under gradbox. With gradbox's weights
copied from the PyTorch model, the losses of the first steps agree to 1e-4; trained a little
longer, the accuracies agree within noise. torchvision cannot be installed beside the test-only
torch, so on the PyTorch side the data comes from gradbox.vision, converted to torch tensors
(a stub module only satisfies the script's import line).
"""

import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import gradbox as gb

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "pytorch"

# The import lines that change, and how (the list); nothing else is touched.
IMPORTS = [
    (r"import torch", "import gradbox as torch"),
    (r"import torch\.nn as nn", "import gradbox.nn as nn"),
    (r"from torch import nn", "from gradbox import nn"),
    (r"import torch\.nn\.functional as F", "import gradbox.nn.functional as F"),
    (r"import torch\.optim as optim", "import gradbox.optim as optim"),
    (r"from torch\.optim\.lr_scheduler import (.*)", r"from gradbox.optim.lr_scheduler import \1"),
    (r"from torch\.utils\.data import (.*)", r"from gradbox.utils.data import \1"),
    (r"from torchvision import (.*)", r"from gradbox.vision import \1"),
]


def to_gradbox(source: str) -> tuple[str, int]:
    """The source with its PyTorch import lines rewritten; and how many lines changed."""
    out, changed = [], 0
    for line in source.splitlines():
        new = line
        for pattern, repl in IMPORTS:
            if re.fullmatch(pattern, line):
                new = re.sub(pattern, repl, line)
                break
        changed += new != line
        out.append(new)
    return "\n".join(out) + "\n", changed


def load(name: str, framework: str, monkeypatch=None) -> types.ModuleType:
    source = (EXAMPLES / f"{name}.py").read_text()
    if framework == "gradbox":
        source, changed = to_gradbox(source)
        assert changed == sum(1 for line in source.splitlines() if line.startswith(("import ", "from ")) and "gradbox" in line)
        assert "torch." not in source.replace("gradbox", "") or "import torch" not in source
    elif "torchvision" in source:
        stub = types.ModuleType("torchvision")
        stub.datasets = stub.transforms = None  # the PyTorch run gets its data from the test
        monkeypatch.setitem(sys.modules, "torchvision", stub)
    module = types.ModuleType(f"{name}_{framework}")
    module.__file__ = str(EXAMPLES / f"{name}.py")
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


class Batches(list):
    """Fixed batches that look like a DataLoader to a training loop (``len(loader.dataset)``)."""

    @property
    def dataset(self):
        return range(sum(len(y) for _, y in self))


def copy_weights(torch_model, gb_model) -> None:
    state = {k: gb.tensor(v.detach().numpy().copy()) for k, v in torch_model.state_dict().items()}
    gb_model.load_state_dict(state)


def no_dropout(monkeypatch):
    """Dropout masks come from each framework's own random stream: off while losses are compared."""
    monkeypatch.setattr(torch.nn.functional, "dropout", lambda x, p=0.5, training=True, inplace=False: x)
    monkeypatch.setattr(gb.nn.functional, "dropout", lambda x, p=0.5, training=True, inplace=False: x)


def test_only_import_lines_change():
    for path in sorted(EXAMPLES.glob("*.py")):
        src = path.read_text()
        new, changed = to_gradbox(src)
        diff = [(a, b) for a, b in zip(src.splitlines(), new.splitlines()) if a != b]
        assert changed == len(diff) > 0 and all(a.startswith(("import ", "from ")) for a, _ in diff), path.name


def test_tensors_quickstart_gives_pytorchs_results():
    results = [load("tensors_quickstart", fw).main() for fw in ("torch", "gradbox")]
    t, g = results
    for key in t:
        assert g[key] == t[key], key


def test_autograd_quickstart_with_a_custom_function_matches_pytorch():
    t_mod, g_mod = load("autograd_quickstart", "torch"), load("autograd_quickstart", "gradbox")
    t_losses, g_losses = t_mod.fit_sine(150), g_mod.fit_sine(150)  # deterministic: no random start
    np.testing.assert_allclose(g_losses[:50], t_losses[:50], rtol=1e-4)
    np.testing.assert_allclose(g_losses[-1], t_losses[-1], rtol=1e-3)
    g = g_mod.one_layer()
    w = torch.tensor(g["w"].detach().numpy(), requires_grad=True)
    b = torch.tensor(g["b"].detach().numpy(), requires_grad=True)
    torch.nn.functional.binary_cross_entropy_with_logits(torch.ones(5) @ w + b, torch.zeros(3)).backward()
    np.testing.assert_allclose(g["w_grad"].numpy(), w.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(g["b_grad"].numpy(), b.grad.numpy(), rtol=1e-5)
    assert g["no_grad"] is False and g["detached"] is False


def _mnist_args(module, root, **kw):
    argv = ["--data", str(root), "--no-shuffle", "--log-interval", "1000"]
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return module.parse_args(argv)


def test_the_pytorch_examples_mnist_cnn_matches_pytorch_step_by_step(mnist_root, monkeypatch, tmp_path):
    t_mod, g_mod = load("mnist_cnn", "torch", monkeypatch), load("mnist_cnn", "gradbox")
    args = _mnist_args(g_mod, mnist_root, limit=256, batch_size=64, max_batches=4)
    g_train, _ = g_mod.get_loaders(args)  # gradbox.vision's MNIST, ToTensor, Normalize, DataLoader
    batches = Batches((x, y) for x, y in g_train)
    assert batches[0][0].shape == (64, 1, 28, 28) and batches[0][0].dtype == gb.float32
    assert batches[0][1].dtype == gb.int64
    t_batches = Batches((torch.tensor(x.numpy()), torch.tensor(y.numpy())) for x, y in batches)
    no_dropout(monkeypatch)
    torch.manual_seed(0)
    t_model = t_mod.Net()
    g_model = g_mod.Net()
    copy_weights(t_model, g_model)
    t_losses = t_mod.train(args, t_model, "cpu", t_batches, torch.optim.Adadelta(t_model.parameters(), lr=1.0), 1)
    g_opt = gb.optim.Adadelta(g_model.parameters(), lr=1.0)
    g_losses = g_mod.train(args, g_model, gb.device("cpu"), batches, g_opt, 1)
    assert len(g_losses) == len(t_losses) == 4
    np.testing.assert_allclose(g_losses, t_losses, rtol=1e-4)
    # the script's own test loop and checkpoint line run on gradbox
    monkeypatch.chdir(tmp_path)
    loss, acc = g_mod.main(["--data", str(mnist_root), "--limit", "128", "--max-batches", "2", "--save-model", "--log-interval", "1000"])
    assert 0 <= acc <= 1 and np.isfinite(loss)
    state = gb.load(tmp_path / "mnist_cnn.pt", weights_only=True)
    assert sorted(state) == sorted(g_model.state_dict())


def _digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return x[:1400], y[:1400].astype(np.int64), x[1400:], y[1400:].astype(np.int64)


def test_an_mlp_with_sgd_matches_pytorch_step_by_step():
    t_mod, g_mod = load("mlp_sgd", "torch"), load("mlp_sgd", "gradbox")
    data = _digits()
    t_train, _ = t_mod.loaders(*data, shuffle=False)
    g_train, _ = g_mod.loaders(*data, shuffle=False)
    torch.manual_seed(0)
    t_model, g_model = t_mod.MLP(), g_mod.MLP()
    copy_weights(t_model, g_model)
    t_losses = t_mod.train_loop(t_train, t_model, torch.nn.CrossEntropyLoss(), t_mod.make_optimizer(t_model), 20)
    g_losses = g_mod.train_loop(g_train, g_model, gb.nn.CrossEntropyLoss(), g_mod.make_optimizer(g_model), 20)
    np.testing.assert_allclose(g_losses, t_losses, rtol=1e-4)


def test_a_small_resnet_with_adam_and_cosine_matches_pytorch_step_by_step():
    t_mod, g_mod = load("small_resnet", "torch"), load("small_resnet", "gradbox")
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((8, 3, 16, 16)).astype(np.float32), rng.integers(0, 10, 8)) for _ in range(4)]
    torch.manual_seed(0)
    t_model, g_model = t_mod.SmallResNet(width=8), g_mod.SmallResNet(width=8)
    copy_weights(t_model, g_model)
    t_losses = t_mod.train_steps(t_model, [(torch.tensor(x), torch.tensor(y)) for x, y in data], *t_mod.make_optimizer(t_model, 4))
    g_losses = g_mod.train_steps(g_model, [(gb.tensor(x), gb.tensor(y)) for x, y in data], *g_mod.make_optimizer(g_model, 4))
    np.testing.assert_allclose(g_losses, t_losses, rtol=1e-4)
    for (k, tv), gv in zip(t_model.state_dict().items(), g_model.state_dict().values()):
        np.testing.assert_allclose(gv.numpy(), tv.numpy(), rtol=1e-3, atol=1e-5, err_msg=k)


@pytest.mark.slow
def test_trained_longer_the_accuracies_agree_within_noise():
    t_mod, g_mod = load("mlp_sgd", "torch"), load("mlp_sgd", "gradbox")
    data = _digits()
    _, t_acc = t_mod.main(data, epochs=5)
    _, g_acc = g_mod.main(data, epochs=5)  # its own initialisation and shuffling: equal up to noise
    assert t_acc > 0.85 and g_acc > 0.85 and abs(t_acc - g_acc) < 0.05


def test_a_script_runs_on_gradbox_with_torch_unimportable(tmp_path):
    """No silent fallback to real PyTorch: with ``import torch`` made to fail, the rewritten
    scripts still run."""
    for name in ("tensors_quickstart", "autograd_quickstart"):
        src, _ = to_gradbox((EXAMPLES / f"{name}.py").read_text())
        (tmp_path / f"{name}.py").write_text(src)
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['torchvision'] = None\n"
        "import tensors_quickstart, autograd_quickstart\n"
        "r = tensors_quickstart.main(); autograd_quickstart.fit_sine(20); autograd_quickstart.one_layer()\n"
        "assert not any(m == 'torch' or m.startswith('torch.') for m in sys.modules if sys.modules[m] is not None)\n"
        "print('ran', r['agg'])\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "ran 12.0" in res.stdout  # 16 ones, a column of 4 set to 0, as under PyTorch
