"""Bad input to gb.onnx.export and gb.onnx.run: each is a clear error naming what was expected and what
was got, and nothing is written."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest

import gradbox as gb
from gradbox import nn
from gradbox.onnx import ExportError

rng = np.random.default_rng(2)


def rand(*shape) -> gb.Tensor:
    return gb.tensor(rng.standard_normal(shape).astype(np.float32))


def test_bad_arguments_are_named(tmp_path):
    f = tmp_path / "x.onnx"
    lin = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"dynamic_axes names 'nope', which is none of \['input', 'output'\]"):
        gb.onnx.export(lin, rand(1, 2), f, dynamic_axes={"nope": [0]})
    with pytest.raises(ValueError, match=r"dynamic_axes names 'x', which is none of \['a', 'b', 'logits'\]"):
        gb.onnx.export(nn.Bilinear(2, 2, 1), (rand(1, 2), rand(1, 2)), f, ["a", "b"], ["logits"], {"x": [0]})
    for opset in (9, 12, 99):
        with pytest.raises(ValueError, match=rf"opset_version must be in \[13, \d+\], got {opset}"):
            gb.onnx.export(lin, rand(1, 2), f, opset_version=opset)
    with pytest.raises(ValueError, match=r"axis 2 of 'input', which has shape \(1, 2\) \(axes 0 to 1"):
        gb.onnx.export(lin, rand(1, 2), f, dynamic_axes={"input": [2]})
    with pytest.raises(ValueError, match=r"axis -3 of 'output', which has shape \(1, 2\)"):
        gb.onnx.export(lin, rand(1, 2), f, dynamic_axes={"input": [0], "output": [-3]})
    with pytest.raises(ValueError, match=r"axis 0 of 'output', which has shape \(\) \(no axes\)"):
        gb.onnx.export(nn.MSELoss(), (rand(2, 2), rand(2, 2)), f, dynamic_axes={"output": [0]})
    with pytest.raises(
        TypeError, match=r"dynamic_axes\['input'\] must be a dict \{axis: name\} or a list of axes, got int"
    ):
        gb.onnx.export(lin, rand(1, 2), f, dynamic_axes={"input": 0})
    with pytest.raises(TypeError, match="args must be tensors .*got list"):
        gb.onnx.export(lin, [[1.0, 2.0]], f)
    with pytest.raises(ValueError, match="1 input_names for 2 inputs"):
        gb.onnx.export(nn.Bilinear(2, 2, 1), (rand(1, 2), rand(1, 2)), f, input_names=["a"])
    with pytest.raises(ValueError, match="2 output_names for the model's 1 outputs"):
        gb.onnx.export(lin, rand(1, 2), f, output_names=["a", "b"])
    assert not f.exists()


def test_negative_dynamic_axes_count_from_the_end(tmp_path):
    axes = {"input": {-2: "n"}, "output": {-2: "n"}}
    gb.onnx.export(nn.Linear(3, 2), rand(4, 3), tmp_path / "n.onnx", dynamic_axes=axes)
    graph = onnx.load(tmp_path / "n.onnx").graph
    assert [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == ["n", 3]
    assert [d.dim_param or d.dim_value for d in graph.output[0].type.tensor_type.shape.dim] == ["n", 2]
    assert gb.onnx.run(tmp_path / "n.onnx", rand(7, 3))[0].shape == (7, 2)


# model, input, (what the error says was given, the module, its type, what it expected)
WRONG_INPUTS = {
    "features": (nn.Linear(4, 2), rand(2, 3), ("float32 [2, 3]", "(the model)", "Linear",
                 "expected input with 4 features in its last dimension, got shape (2, 3)")),
    "channels": (nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), rand(2, 1, 8, 8), ("float32 [2, 1, 8, 8]", "0", "Conv2d",
                 "expected input with 3 channels, got 1")),
    "rank": (nn.Conv2d(3, 4, 3), rand(3, 8, 8, 1, 1), ("float32 [3, 8, 8, 1, 1]", "(the model)", "Conv2d",
             "expected a 4-D input (batch, channels, height, width), got shape (3, 8, 8, 1, 1)")),
    "image_size": (gb.vision.models.get_model("lenet5", num_classes=10), rand(1, 1, 32, 32), ("float32 [1, 1, 32, 32]",
                   "classifier.1", "Linear", "expected input with 400 features in its last dimension, got shape (1, 576)")),
    "int_dtype": (nn.Linear(4, 2), gb.zeros(2, 4, dtype=gb.int64), ("int64 [2, 4]", "(the model)", "Linear",
                  "input dtype gradbox.int64 does not match the weight dtype gradbox.float32")),
    "float64_dtype": (nn.Sequential(nn.Conv2d(3, 4, 3)), gb.zeros(2, 3, 8, 8, dtype=gb.float64), ("float64 [2, 3, 8, 8]",
                      "0", "Conv2d", "input dtype gradbox.float64 does not match the weight dtype gradbox.float32")),
    "float_indices": (nn.Embedding(10, 3), rand(2, 4), ("float32 [2, 4]", "(the model)", "Embedding",
                      "expected integer indices, got float32")),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(WRONG_INPUTS))
def test_an_input_of_the_wrong_shape_or_dtype_names_the_module_and_what_it_expected(case, tmp_path):
    model, x, (given, module, typ, expected) = WRONG_INPUTS[case]
    msg = (
        f"gb.onnx.export: the model's forward fails on the given args (input: {given}) in module {module!r} of type "
        f"{typ}: RuntimeError: "
    )
    with pytest.raises(ExportError, match=re.escape(msg) + ".*" + re.escape(expected)) as e:
        gb.onnx.export(model, x, tmp_path / "x.onnx", dynamic_axes={"input": [0]})
    assert isinstance(e.value.__cause__, RuntimeError)  # the layer's own error, chained
    assert not (tmp_path / "x.onnx").exists()


def test_running_an_input_of_the_wrong_shape_or_dtype_names_both(tmp_path):
    f = tmp_path / "x.onnx"
    gb.onnx.export(nn.Linear(4, 2), rand(2, 4), f, dynamic_axes={"input": [0]})
    wrong = {"float64 of shape (3, 4)": gb.zeros(3, 4, dtype=gb.float64), "float32 of shape (3, 5)": rand(3, 5),
             "float32 of shape (4,)": rand(4), "int64 of shape (3, 4)": np.zeros((3, 4), np.int64)}  # fmt: skip
    for got, x in wrong.items():
        with pytest.raises(ValueError, match=re.escape(f"takes float32 of shape (input_dynamic_axes_1, 4), got {got}")):
            gb.onnx.run(f, x)
    with pytest.raises(ValueError, match=r"takes 1 inputs \(input\), got 2"):
        gb.onnx.run(f, rand(3, 4), rand(3, 4))
    assert gb.onnx.run(f, np.ones((6, 4), np.float32))[0].shape == (6, 2)  # a NumPy array of the right kind
