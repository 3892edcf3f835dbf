"""The worked example of examples/ddp/ end to end: prototype in gradbox, train with PyTorch DDP under
torchrun (2 processes, gloo, CPU), load the result back into gradbox. The first averaged gradient of
the DDP run must equal gradbox's gradient of the same batch on the same weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradbox as gb

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "ddp"
TORCHRUN = Path(sys.executable).with_name("torchrun")


def _run(args: list[str], **kw) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600, **kw)
    assert r.returncode == 0, f"{' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "model,flags",
    [
        ("lenet5", []),  # the zoo model through gb.interop.torch_model, PyTorch's default kernels
        # the model written once (net.py); after the prototype's training steps, oneDNN's float32
        # convolution gradient is 3.8e-4 from the float64 value (gradbox's: 1e-8), so native kernels
        ("smallnet", ["--no-onednn"]),
    ],
)
def test_ddp_example_matches_gradbox(model, flags, tmp_path, monkeypatch):
    run = tmp_path / "run"
    out = _run([sys.executable, str(EXAMPLE / "prototype.py"), "--model", model, "--dataset", "fakedata",
                "--fake-size", "128", "--steps", "3", "--out", str(run)])  # fmt: skip
    assert "largest gradient difference" in out
    _run([str(TORCHRUN), "--standalone", "--nproc_per_node=2", str(EXAMPLE / "train_ddp.py"), "--run-dir", str(run),
          "--max-steps", "3", "--batch-size", "8", "--dump-first-step", *flags])  # fmt: skip

    monkeypatch.syspath_prepend(str(EXAMPLE))  # the example's own modules (common, net)
    import common
    cfg = common.load_config(run)
    first = gb.load(run / "first_step.safetensors")
    idx = first["indices"].numpy()
    assert idx.shape == (2, 8) and len(set(idx.ravel())) == 16  # two processes, disjoint samples

    # gradbox, from the same starting weights, on the union of the two processes' batches: the mean
    # loss over 16 samples has the gradient DDP computes as the average of two 8-sample means
    model_g = common.gradbox_model(cfg)
    model_g.load_state_dict(gb.load(run / "init.safetensors"))
    x, y = common.arrays(cfg, train=True)
    batch = idx.ravel()
    loss = gb.nn.functional.cross_entropy(model_g(gb.tensor(x[batch])), gb.tensor(y[batch]))
    loss.backward()
    worst = 0.0
    for k, p in model_g.named_parameters():
        ddp = first[f"grad.{k}"].numpy()
        assert ddp.dtype == np.float32 and ddp.shape == p.grad.shape
        np.testing.assert_allclose(p.grad.numpy(), ddp, rtol=0, atol=1e-5, err_msg=k)
        worst = max(worst, float(np.abs(p.grad.numpy() - ddp).max()))
    print(f"{model}: largest difference between DDP's first averaged gradient and gradbox's: {worst:.2e}")

    final = gb.load(run / "final.safetensors")
    init = gb.load(run / "init.safetensors")
    assert any(not np.array_equal(final[k].numpy(), init[k].numpy()) for k in init)  # DDP trained
    out = _run([sys.executable, str(EXAMPLE / "evaluate.py"), "--run-dir", str(run)])
    assert "Total params" in out and "accuracy" in out
