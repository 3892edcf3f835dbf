"""Weights of every zoo model cross as files: gradbox -> safetensors -> PyTorch -> safetensors -> gradbox.
The PyTorch model is built on its own (gb.interop.torch_model, its own random weights), so only the files
carry the weights; each leg gives the same tensors, bit for bit, and the same outputs."""

from __future__ import annotations

import numpy as np
import pytest
import safetensors.torch
import torch

import gradbox as gb
from gradbox.interop import torch_model
from gradbox.interop.checks import DEFAULT_ZOO, SLOW_ZOO, zoo_case

torch.set_num_threads(2)


def _kwargs(name: str) -> dict:
    return {"num_classes": 10} if name in ("mlp", "lenet5") else {"num_classes": 10, "small_input": True}


def _same_tensors(gstate: dict, tstate: dict, what: str) -> None:
    assert list(gstate) == list(tstate), what
    for k, v in gstate.items():
        t = tstate[k].detach().numpy()
        assert v.numpy().dtype == t.dtype, f"{what}: {k}"
        np.testing.assert_array_equal(v.numpy(), t, err_msg=f"{what}: {k}")


def _outputs_agree(model, tmodel, x: np.ndarray, what: str) -> None:
    """Eval-mode outputs in float64 (the float32 weights exactly, without float32 rounding in between)."""
    model.eval().double()
    tmodel.eval().double()
    with gb.no_grad(), torch.no_grad():
        yg = model(gb.tensor(x)).numpy()
        yt = tmodel(torch.from_numpy(x)).numpy()
    model.float()
    tmodel.float()
    np.testing.assert_allclose(yg, yt, rtol=1e-7, atol=1e-9 * max(1.0, float(np.abs(yt).max())), err_msg=what)


def _round_trip(name: str, tmp_path) -> None:
    model, x = zoo_case(name, batch=2)
    x64 = x.numpy().astype(np.float64)
    gb.save(model.state_dict(), tmp_path / "from_gradbox.safetensors")

    tmodel = torch_model(name, **_kwargs(name))  # its own weights, replaced by the file's
    tmodel.load_state_dict(safetensors.torch.load_file(tmp_path / "from_gradbox.safetensors"), strict=True)
    _same_tensors(model.state_dict(), tmodel.state_dict(), "gradbox -> PyTorch")
    _outputs_agree(model, tmodel, x64, f"{name}: gradbox -> PyTorch")

    with torch.no_grad():  # changed in PyTorch, so the way back must carry new values
        for k, v in tmodel.state_dict().items():
            if v.is_floating_point():
                v.mul_(0.9).add_(0.01 if "running_var" in k else -0.01)
            else:
                v.add_(1)  # num_batches_tracked
    safetensors.torch.save_file(tmodel.state_dict(), tmp_path / "from_pytorch.safetensors")

    back = gb.vision.models.get_model(name, **_kwargs(name))
    back.load_state_dict(gb.load(tmp_path / "from_pytorch.safetensors"))
    _same_tensors(back.state_dict(), tmodel.state_dict(), "PyTorch -> gradbox")
    _outputs_agree(back, tmodel, x64, f"{name}: PyTorch -> gradbox")
    with gb.no_grad():
        assert not np.allclose(back.eval()(x).numpy(), model.eval()(x).numpy())  # the new weights arrived


@pytest.mark.parametrize("name", DEFAULT_ZOO)
def test_zoo_weights_round_trip_through_safetensors_and_pytorch(name, tmp_path):
    _round_trip(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_ZOO)
def test_zoo_weights_round_trip_through_safetensors_and_pytorch_big(name, tmp_path):
    _round_trip(name, tmp_path)
