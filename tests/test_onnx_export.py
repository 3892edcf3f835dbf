"""gb.onnx.export on the zoo (checked, run by ONNX Runtime at two batch sizes), the op registry's
coverage, and the command line: export a checkpoint, predict with the .onnx file."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import gradbox as gb
from gradbox.autograd.function import Function
from gradbox.cli import main
from gradbox.interop.checks import DEFAULT_ZOO, SLOW_ZOO, float32_noise, zoo_case
from gradbox.onnx import FUNCTION_MAPPINGS, MODULE_MAPPINGS, OP_MAPPINGS, UNEXPORTABLE


def test_every_registered_op_has_a_mapping_or_a_reason():
    import gradbox.ops.custom  # noqa: F401 - registers the ops behind gb.autograd.Function, loaded on first use
    # ops gradbox ships; test files define their own Function subclasses, which register too
    registry = {n for n, c in Function.registry.items() if c.__module__.startswith("gradbox.")}
    missing = registry - set(OP_MAPPINGS) - set(UNEXPORTABLE)
    assert not missing, (
        f"ops with neither an ONNX mapping (gradbox/onnx/ops.py) nor a reason in UNEXPORTABLE: {sorted(missing)}"
    )
    assert not set(OP_MAPPINGS) & set(UNEXPORTABLE)
    assert not (set(OP_MAPPINGS) | set(UNEXPORTABLE)) - registry, "mappings for ops that do not exist"
    assert all(isinstance(r, str) and len(r) > 20 for r in UNEXPORTABLE.values())
    assert set(MODULE_MAPPINGS) <= set(vars(gb.nn))
    assert set(FUNCTION_MAPPINGS) <= set(vars(gb.nn.functional))


def _zoo(name: str, tmp_path) -> float:
    """Export with a dynamic batch; ONNX Runtime at batch 2 (traced) and 5 against gradbox.
    Returns the largest difference."""
    model, x = zoo_case(name, batch=2, seed=0)
    _, x5 = zoo_case(name, batch=5, seed=3)
    path = tmp_path / f"{name}.onnx"
    gb.onnx.export(
        model, x, path, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )  # fmt: skip
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert [d.dim_param for d in proto.graph.output[0].type.tensor_type.shape.dim[:1]] == ["batch"]
    assert {k for k, _ in model.named_parameters()} <= {i.name for i in proto.graph.initializer}
    sess = gb.onnx.session(path)
    model.eval()
    worst = 0.0
    for inp in (x, x5):
        with gb.no_grad():
            want = model(inp).numpy()
            exact = model.double()(inp.double()).numpy()
            model.float()
        got = gb.onnx.run(sess, inp)[0]
        assert got.shape == want.shape == (inp.shape[0], 10)
        # equal to 1e-4, or (for the deepest nets, where float32 rounding over 100+ layers exceeds it)
        # as close to the float64 result as gradbox's own float32 forward is
        tol = max(1e-4, 3 * float32_noise(model, inp))
        diff = float(np.abs(got - want).max())
        assert diff <= tol, f"{name}: ONNX Runtime differs from gradbox by {diff} (tolerance {tol})"
        assert float(np.abs(got - exact).max()) <= tol
        worst = max(worst, diff)
    return worst


@pytest.mark.parametrize("name", DEFAULT_ZOO)
def test_zoo_exports_and_runs_in_onnxruntime(name, tmp_path):
    print(f"{name}: largest difference ONNX Runtime vs gradbox {_zoo(name, tmp_path):.2e}")


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_ZOO)
def test_zoo_exports_and_runs_in_onnxruntime_big(name, tmp_path):
    print(f"{name}: largest difference ONNX Runtime vs gradbox {_zoo(name, tmp_path):.2e}")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["alexnet", "resnet18", "googlenet"])
def test_full_size_models_export(name, tmp_path):
    """The ImageNet-size variants (stride-2 stems, ceil-mode pools) at 224x224."""
    model, x = zoo_case(name, batch=1, size=224, small_input=False)
    gb.onnx.export(model, x, tmp_path / "m.onnx", dynamic_axes={"input": [0], "output": [0]})
    model.eval()
    with gb.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(gb.onnx.run(tmp_path / "m.onnx", x)[0], want, rtol=1e-4, atol=1e-4)


# ---- the command line --------------------------------------------------------------------


def _digit(path, rows: slice, cols: slice) -> None:
    from PIL import Image

    img = np.zeros((28, 28), np.uint8)
    img[rows, cols] = 255
    Image.fromarray(img).save(path)


def _probabilities(lines: list[str]) -> np.ndarray:
    return np.array([float(p.split(":")[1]) for p in lines[1].split()])


def test_cli_exports_a_checkpoint_and_predicts_with_the_onnx_file(tmp_path, capsys):
    """A tiny training run; export --safetensors and --onnx; predict with the checkpoint, with the .onnx
    file (ONNX Runtime) and, from the safetensors file, with PyTorch: the same prediction."""
    import safetensors.torch
    import torch

    from gradbox.cli import _load_run, _predict_input
    from gradbox.testing.torch_reference import LeNet5

    out = tmp_path / "run"
    args = ["train", "lenet5", "--dataset", "fakedata", "--epochs", "1", "--limit-train", "64", "--limit-test", "32"]
    assert main([*args, "--batch-size", "32", "--out", str(out), "--no-progress"]) == 0
    ck = out / "checkpoint.safetensors"
    st, ox = tmp_path / "lenet.safetensors", tmp_path / "lenet.onnx"
    assert main(["export", str(ck), "--safetensors", str(st), "--onnx", str(ox)]) == 0
    printed = capsys.readouterr().out
    assert f"weights:    {st}" in printed and f"ONNX graph: {ox}" in printed
    cfg, model = _load_run(str(ck))
    tmodel = LeNet5().eval()
    tmodel.load_state_dict(safetensors.torch.load_file(st), strict=True)
    sess = gb.onnx.session(ox)
    assert sess.get_inputs()[0].shape[0] == "batch" and sess.get_outputs()[0].name == "logits"
    images = [tmp_path / "one.png", tmp_path / "seven.png"]
    _digit(images[0], slice(6, 22), slice(12, 16))
    _digit(images[1], slice(6, 22), slice(16, 20))
    _digit(tmp_path / "bar.png", slice(6, 9), slice(6, 22))
    images.append(tmp_path / "bar.png")
    batch = gb.cat([_predict_input(cfg, str(p)) for p in images])  # three images: a batch the export never saw
    with gb.no_grad():
        want = model(batch).numpy()
    np.testing.assert_allclose(gb.onnx.run(sess, batch)[0], want, rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        by_torch = tmodel(torch.from_numpy(batch.numpy())).numpy()
    np.testing.assert_allclose(by_torch, want, rtol=1e-4, atol=1e-4)
    for k, img in enumerate(images):
        assert main(["predict", str(ck), str(img)]) == 0
        by_gradbox = capsys.readouterr().out.splitlines()
        assert main(["predict", str(ox), str(img)]) == 0
        by_onnx = capsys.readouterr().out.splitlines()
        assert by_onnx[0] == by_gradbox[0] + " (ONNX Runtime)" and by_onnx[1] == by_gradbox[1]
        p = torch.softmax(torch.from_numpy(by_torch[k]).double(), 0).numpy()
        assert by_gradbox[0].startswith(f"{img}: predicted {int(p.argmax())} (probability {p.max():.3f})")
        np.testing.assert_allclose(_probabilities(by_gradbox), p, atol=1e-3)
    assert main(["export", str(ck)]) == 2
    assert "give --safetensors PATH and/or --onnx PATH" in capsys.readouterr().err
    plain = tmp_path / "plain.onnx"
    gb.onnx.export(gb.nn.Linear(784, 10), gb.zeros(1, 784), plain)
    assert main(["predict", str(plain), str(images[0])]) == 1
    assert "no gradbox.config metadata" in capsys.readouterr().err
