"""Graph drawing: the autograd graph's DOT (pinned for a known graph), its values, gradients
and op rules, the module-level graph of a residual block, and rendering to SVG and PNG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

import gradbox as gb
from gradbox import nn
from gradbox.autograd.engine import topological_order
from gradbox.inspect import RenderUnavailableError
from gradbox.inspect.render import find_renderer
from gradbox.vision.models.resnet import BasicBlock, conv1x1

FXYZ_DOT = """digraph G {
  rankdir=TB;
  graph [fontname="Helvetica"];
  node [fontname="Helvetica"];
  edge [fontname="Helvetica", fontsize=10];
  "leaf1" [label="x\\nshape ()\\nvalue -2\\ngrad 15", shape=box, style=filled, fillcolor="#c9e8c9", fontname="Helvetica", fontsize=11];
  "leaf2" [label="y\\nshape ()\\nvalue 5\\ngrad -6", shape=box, style=filled, fillcolor="#c9e8c9", fontname="Helvetica", fontsize=11];
  "op1" [label="Mul\\ny = a * b\\ndy/da = b,  dy/db = a", shape=box, style="rounded,filled", fillcolor="#fff3c4", fontname="Helvetica", fontsize=11];
  "t1" [label="q\\nshape ()\\nvalue -10\\ngrad 3", shape=box, style=filled, fillcolor="#dcebfa", fontname="Helvetica", fontsize=11];
  "leaf3" [label="z\\nshape ()\\nvalue 3\\ngrad -10", shape=box, style=filled, fillcolor="#c9e8c9", fontname="Helvetica", fontsize=11];
  "op2" [label="Mul\\ny = a * b\\ndy/da = b,  dy/db = a", shape=box, style="rounded,filled", fillcolor="#fff3c4", fontname="Helvetica", fontsize=11];
  "t2" [label="f\\nshape ()\\nvalue -30\\ngrad 1", shape=box, style=filled, fillcolor="#dcebfa", fontname="Helvetica", fontsize=11];
  "op1" -> "t1";
  "op2" -> "t2";
  "leaf1" -> "op1" [label="a"];
  "leaf2" -> "op1" [label="b"];
  "t1" -> "op2" [label="a"];
  "leaf3" -> "op2" [label="b"];
}
"""


def fxyz():
    """f = (x*y)*z at x=-2, y=5, z=3 after backward: q = -10, f = -30; df/dx = yz = 15,
    df/dy = xz = -6, df/dz = q = -10, df/dq = z = 3."""
    x, y, z = (gb.tensor(v, requires_grad=True) for v in (-2.0, 5.0, 3.0))
    q = x * y
    f = q * z
    q.retain_grad()
    f.retain_grad()
    f.backward()
    return gb.inspect.draw_graph(f, params={"x": x, "y": y, "z": z, "q": q, "f": f})


def test_dot_of_f_equals_x_times_y_times_z_is_pinned():
    g = fxyz()
    assert g.source == FXYZ_DOT
    labels = {n.label.split("\n")[0]: n.label for n in g.nodes}
    assert "value -2\ngrad 15" in labels["x"] and "value 5\ngrad -6" in labels["y"]
    assert "value 3\ngrad -10" in labels["z"] and "value -10\ngrad 3" in labels["q"]
    assert "value -30\ngrad 1" in labels["f"]
    assert [n.kind for n in g.nodes].count("op") == 2 and len(g.nodes) == 7 and len(g.edges) == 6


def test_ops_are_labelled_by_their_math_and_tensors_numbered():
    w = gb.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    b = gb.tensor([0.1, 0.2], requires_grad=True)
    h = gb.relu(gb.tensor([[1.0, 2.0]]) @ w + b).sum()
    g = gb.inspect.draw_graph(h)
    ops = [n.label for n in g.nodes if n.kind == "op"]
    assert [o.split("\n")[0] for o in ops] == ["Matmul", "Add", "Relu", "Sum"]
    assert "y = max(x, 0)\ndy/dx = [x > 0]" in ops[2] and "dy/da = 1,  dy/db = 1" in ops[1]
    assert "dL/dA = G @ B^T" in ops[0]  # no local derivative: the vector-Jacobian products
    consts = [n for n in g.nodes if n.kind == "const"]
    assert len(consts) == 1 and "value [[1., 2.]]" in consts[0].label  # the input, saved by matmul
    tensors = [n.label.split("\n")[0] for n in g.nodes if n.kind == "tensor"]
    assert tensors == ["t1", "t2", "t3", "t4"] and "value 6.3" in g.node("t4").label
    assert "grad" not in g.source  # nothing computed yet
    h.backward()
    g = gb.inspect.draw_graph(h, params={"w": w, "b": b}, show_values=False)
    assert "w\nshape (2, 2)\ngrad [[1., 1.],\n [2., 2.]]" in g.node("leaf1").label
    assert "b\nshape (2,)\ngrad [1., 1.]" in g.node("leaf2").label


def test_parameters_are_named_by_their_module_path():
    gb.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    loss = model(gb.randn(5, 3)).pow(2).mean()
    g = gb.inspect.draw_graph(loss, params=model)
    leaves = sorted(n.label.split("\n")[0] for n in g.nodes if n.kind == "leaf")
    assert leaves == ["0.bias", "0.weight", "2.bias", "2.weight"]
    n_ops = len(topological_order([loss.grad_fn]))
    assert sum(n.kind == "op" for n in g.nodes) == n_ops
    assert sum(n.kind == "tensor" for n in g.nodes) == n_ops  # one output tensor per op


def _svg_nodes(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    return [el.find(f"{ns}title").text for el in root.iter(f"{ns}g") if el.get("class") == "node"]


def test_rendering_gives_a_valid_svg_with_one_node_per_op_and_tensor(tmp_path):
    assert find_renderer() is not None, "graphviz-pure is a dependency: pip install -e ."
    g = fxyz()
    titles = _svg_nodes(g.to_svg())
    assert sorted(titles) == sorted(n.id for n in g.nodes)
    assert sorted(titles) == ["leaf1", "leaf2", "leaf3", "op1", "op2", "t1", "t2"]
    png = g.save(tmp_path / "f.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert g.save(tmp_path / "f.dot").read_text() == FXYZ_DOT
    bundle = g._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


def test_without_a_renderer_the_dot_text_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADBOX_DOT", str(tmp_path / "no-such-dot"))
    g = fxyz()
    with pytest.raises(RenderUnavailableError, match="graphviz-pure"):
        g.to_svg()
    with pytest.warns(RuntimeWarning, match="wrote the DOT text"):
        out = g.save(tmp_path / "f.svg")
    assert out.suffix == ".dot" and out.read_text() == FXYZ_DOT
    assert "digraph G" in g._repr_mimebundle_()["text/plain"]


def test_module_graph_of_a_resnet_basic_block():
    gb.manual_seed(0)
    block = BasicBlock(4, 8, stride=2, downsample=nn.Sequential(conv1x1(4, 8, 2), nn.BatchNorm2d(8)))
    g = gb.inspect.draw_graph(model=block, input_size=(1, 4, 8, 8))
    ids = [n.id for n in g.nodes]
    assert ids == ["in:0", "m:downsample.0", "m:downsample.1", "m:conv1", "m:bn1", "m:relu", "m:conv2", "m:bn2",
                   "f:add", "m:relu#2", "out"]  # fmt: skip
    edges = {(e.src, e.dst): e.label for e in g.edges}
    assert edges[("in:0", "m:conv1")] == "1x4x8x8" and edges[("m:bn2", "f:add")] == "1x8x4x4"
    assert edges[("m:downsample.1", "f:add")] == "1x8x4x4" and edges[("f:add", "m:relu#2")] == "1x8x4x4"
    assert ("m:relu#2", "out") in edges and len(g.edges) == 11
    assert g.clusters == {"downsample": "downsample (Sequential)"}
    assert g.node("m:downsample.0").cluster == "downsample"
    titles = _svg_nodes(g.to_svg())
    assert sorted(titles) == sorted(ids)
    collapsed = gb.inspect.draw_graph(model=block, input_size=(1, 4, 8, 8), depth=1)
    assert "m:downsample" in [n.id for n in collapsed.nodes] and not collapsed.clusters


def test_module_graph_collapses_a_resnet_to_a_depth():
    model = gb.vision.models.resnet18(num_classes=10, small_input=True)
    g = gb.inspect.draw_graph(model=model, input_size=(1, 3, 32, 32), depth=1)
    assert [n.id for n in g.nodes] == ["in:0", "m:conv1", "m:bn1", "m:relu", "m:maxpool", "m:layer1", "m:layer2",
                                       "m:layer3", "m:layer4", "m:avgpool", "f:reshape", "m:fc", "out"]  # fmt: skip
    g2 = gb.inspect.draw_graph(model=model, input_size=(1, 3, 32, 32), depth=3)
    assert "f:layer1.0.add" in [n.id for n in g2.nodes] and "layer1.0" in g2.clusters
    assert g2.node("f:layer1.0.add").cluster == "layer1.0"
