"""Step 1: prototype and check a model in gradbox, then hand its weights to PyTorch.

    python examples/ddp/prototype.py --model lenet5 --dataset mnist --out runs/ddp

Builds the model, trains it for a few steps on one CPU (the prototype), checks that PyTorch,
given the same weights through a safetensors file, computes the same loss and gradients on a
batch, and writes ``init.safetensors`` (the weights DDP starts from) and ``config.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import arrays, gradbox_model, save_config, torch_model

import gradbox as gb


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="lenet5", help="a zoo model (lenet5, mlp, resnet18, ...) or smallnet (net.py)")
    p.add_argument("--dataset", default="mnist", choices=["mnist", "fakedata"])
    p.add_argument("--data-root", default="data")
    p.add_argument("--fake-size", type=int, default=512, help="samples per split of fakedata")
    p.add_argument("--out", default="runs/ddp", help="the run directory")
    p.add_argument("--steps", type=int, default=20, help="prototype training steps in gradbox")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    cfg = {"model": args.model, "dataset": args.dataset, "data_root": args.data_root, "fake_size": args.fake_size, "seed": args.seed}

    gb.manual_seed(args.seed)
    model = gradbox_model(cfg)
    x, y = arrays(cfg, train=True)
    opt = gb.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = gb.nn.CrossEntropyLoss()
    rng = np.random.default_rng(args.seed)
    for step in range(args.steps):
        i = rng.choice(len(y), 64, replace=False)
        loss = loss_fn(model(gb.tensor(x[i])), gb.tensor(y[i]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in (0, args.steps - 1):
            print(f"prototype step {step + 1}/{args.steps}: loss {loss.item():.4f}")

    out = Path(args.out)
    save_config(out, cfg)
    gb.save(model.state_dict(), out / "init.safetensors")

    # the check: PyTorch, given these weights through the file, computes the same loss and gradients
    import safetensors.torch
    import torch

    tmodel = torch_model(cfg)
    tmodel.load_state_dict(safetensors.torch.load_file(out / "init.safetensors"))
    xb, yb = x[:32], y[:32]
    gl = loss_fn(model(gb.tensor(xb)), gb.tensor(yb))
    model.zero_grad()
    gl.backward()
    # PyTorch's native kernels: oneDNN's float32 convolution gradients can be ~1e-3 (relative) from the
    # exact value for some weights, which would hide what this checks (that the weights crossed intact)
    with torch.backends.mkldnn.flags(enabled=False):
        tl = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(xb)), torch.from_numpy(yb))
        tl.backward()
    tgrads = dict(tmodel.named_parameters())
    worst = max(float(np.abs(p.grad.numpy() - tgrads[k].grad.numpy()).max()) for k, p in model.named_parameters())
    print(f"check: loss gradbox {gl.item():.6f} / PyTorch {tl.item():.6f}; largest gradient difference {worst:.2e}")
    if worst > 1e-4 or abs(gl.item() - tl.item()) > 1e-4:
        raise SystemExit("the PyTorch model does not match the gradbox prototype")
    print(f"wrote {out / 'init.safetensors'} and {out / 'config.json'}")


if __name__ == "__main__":
    main()
