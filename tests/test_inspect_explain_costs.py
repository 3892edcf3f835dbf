"""Worked costs (gb.inspect.explain_costs, `summary --explain`, `check-costs`): the text for LeNet-5,
an Inception module and a ResNeXt block is pinned as golden files, and every number in it is
checked against gb.inspect.summary.

Regenerate the golden files (tests/golden/explain/) after an intended change of the wording with

    GRADBOX_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_inspect_explain_costs.py

and review the diff before committing.
"""

from __future__ import annotations

import importlib
import json
import re

import pytest
from golden_files import golden  # tests/golden_files.py

import gradbox as gb
from gradbox import nn
from gradbox.cli import main
from gradbox.inspect.explain_format import Line, line_text
from gradbox.vision.models.googlenet import Inception
from gradbox.vision.models.resnet import Bottleneck

costs_module = importlib.import_module("gradbox.inspect.explain_costs")  # the package exports its function by that name


def resnext_block() -> nn.Module:
    """ResNeXt-50 32x4d's first block of layer2: strided grouped 3x3, projection shortcut."""
    down = nn.Sequential(nn.Conv2d(256, 512, 1, stride=2, bias=False), nn.BatchNorm2d(512))
    return Bottleneck(256, 128, stride=2, downsample=down, groups=32, base_width=4)


MODELS = {
    "lenet5": (lambda: gb.vision.models.lenet5(), (1, 1, 28, 28)),
    "inception": (lambda: Inception(192, 64, 96, 128, 16, 32, 32), (1, 192, 28, 28)),
    "resnext_block": (resnext_block, (1, 256, 28, 28)),
}


def last_int(text: str) -> int:
    """The number after the last '=' (thousands separators allowed), remarks in parentheses dropped."""
    tail = text.split("   (")[0]
    return int(re.findall(r"= ([\d,]+)\s*$", tail)[0].replace(",", ""))


def check_against_summary(ex, s) -> int:
    """Every worked line's number equals summary's, and every worked line is in the text."""
    text = str(ex)
    rows = {r.name: r for r in s.rows(depth=None, include_functional=True)}
    n = 0
    for layer, quantities in ex.lines.items():
        for qty, (value, pieces) in quantities.items():
            line = line_text(Line(pieces))
            assert line in text, line
            if layer == "total":
                ref = {"params": s.total_params, "macs": s.total_macs}[qty]
                assert value == ref and last_int(line) == ref
            elif qty in ("params", "macs"):
                ref = getattr(rows[layer], qty)
                assert value == ref and last_int(line) == ref, (layer, qty, line)
            elif qty == "output_shape":
                ref = tuple(rows[layer].output_shape)
                assert value == ref
                if not line.startswith("["):
                    assert line.endswith("-> [" + ", ".join(map(str, ref)) + "]"), line
            else:
                r, j = rows[layer].receptive_field, rows[layer].effective_stride
                assert value == (r, j)
                if isinstance(r, int):
                    tail = line.split("   (")[0]
                    assert re.search(rf"= {r}, j(_out)? = ", tail) and re.search(
                        rf"j(_out)? = (?:[^=]*= )?{j}$", tail
                    ), line
            n += 1
    return n


@pytest.mark.parametrize("name", sorted(MODELS))
def test_golden_and_every_number_equals_summary(name):
    build, size = MODELS[name]
    model = build()
    ex = gb.inspect.explain_costs(model, size)
    golden(f"costs_{name}.txt", str(ex))
    s = gb.inspect.summary(model, size, include_functional=True)
    assert check_against_summary(ex, s) >= 3 * len([r for r in s.layers if r.is_leaf])


def test_lenet5_lines_a_student_would_write():
    text = str(gb.inspect.explain_costs(gb.vision.models.lenet5(), (1, 1, 28, 28)))
    assert "params = (C_in * k_h * k_w) * C_out + C_out = (1 * 5 * 5) * 6 + 6 = 156" in text
    assert "H_out = floor((H + 2p - (k - 1) - 1) / s) + 1 = floor((28 + 2*2 - (5 - 1) - 1) / 1) + 1 = 28" in text
    assert "MACs = N * C_out * H_out * W_out * C_in * k_h * k_w = 1 * 6 * 28 * 28 * 1 * 5 * 5 = 117,600" in text
    # conv - pool - conv - pool: the fields chain 5, 6, 14, 16 with strides 1, 2, 2, 4
    assert "r_out = 14 + (2 - 1)*2 = 16, j_out = 2*2 = 4" in text
    assert "params = 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706" in text


def test_inception_branches_and_reductions():
    model = Inception(192, 64, 96, 128, 16, 32, 32)
    ex = gb.inspect.explain_costs(model, (1, 192, 28, 28))
    text = str(ex)
    s = ex.summary
    for i, b in enumerate(("branch1", "branch2", "branch3", "branch4"), 1):
        assert f"path {i}: {b}: params = {s[b].params:,}, MACs = {s[b].macs:,}" in text
    assert f"= {s.total_params:,}, MACs = " in text and "channels: 64 + 128 + 32 + 32 = 256" in text
    assert "receptive field: r = max(1, 3, 5, 3) = 5, j = 1" in text
    # without the 1x1 reduction the 3x3 convolution sees all 192 channels; with it, summary's two convolutions
    with_p = s["branch2.0.conv"].params + s["branch2.1.conv"].params
    with_c = s["branch2.0.conv"].macs + s["branch2.1.conv"].macs
    assert f"params = 192*3*3*128 = {192 * 9 * 128:,}, MACs = 1*128*28*28*192*3*3 = {128 * 28 * 28 * 192 * 9:,}" in text
    assert f"(with it: params {with_p:,}, MACs {with_c:,})" in text


def test_resnext_block_as_parallel_paths():
    ex = gb.inspect.explain_costs(resnext_block(), (1, 256, 28, 28))
    text = str(ex)
    s = ex.summary
    convs = [s[n] for n in ("conv1", "conv2", "conv3")]
    assert "as 32 parallel paths (ResNeXt, cardinality 32, width 8)" in text
    per_path = 256 * 8 + 9 * 8 * 8 + 8 * 512
    assert f"params per path = 256*8 + 9*8*8 + 8*512 = {per_path:,}; 32 * {per_path:,} = {32 * per_path:,}" in text
    assert 32 * per_path == sum(c.params for c in convs)
    assert f"= {' + '.join(f'{c.macs:,}' for c in convs)} = {sum(c.macs for c in convs):,}" in text
    assert "downsample in total: params = 131,072 + 1,024 = 132,096" in text
    assert f"path 2: downsample: params = 132,096, MACs = {s['downsample.0'].macs:,}" in text
    assert "receptive field: r = max(3, 1) = 3, j = 2" in text


def test_a_wrong_formula_is_caught(monkeypatch):
    real = costs_module.window_size
    monkeypatch.setattr(costs_module, "window_size", lambda *a: (real(*a)[0] + 1, real(*a)[1]))
    with pytest.raises(gb.inspect.ExplanationMismatchError, match="summary gives"):
        gb.inspect.explain_costs(gb.vision.models.lenet5(), (1, 1, 28, 28))


def test_markdown_and_latex_render():
    ex = gb.inspect.explain_costs(gb.vision.models.lenet5(), (1, 1, 28, 28), fmt="markdown")
    md = str(ex)
    assert md.startswith("### Worked costs of LeNet5") and "117{,}600$" in md
    assert ex._repr_markdown_() == md
    assert r"\begin{align*}" in ex.latex() and r"\operatorname{floor}" in ex.latex()


def test_check_answers_api():
    answers = {
        "features.0": {"params": 156, "MACs": "117,600", "output shape": [6, 28, 28], "rf": 5},
        "features.3": {"macs": 240001, "receptive_field": [14, 2]},
        "total": {"params": 61706},
        "classifier.1": {"rf": 3},
        "features.9": {"params": 1},
    }
    report = gb.inspect.check_answers(gb.vision.models.lenet5(), (1, 1, 28, 28), answers)
    marks = {(mk.layer, mk.quantity): mk for mk in report.marks}
    assert all(marks[("features.0", q)].right for q in ("params", "macs", "output_shape", "receptive_field"))
    wrong = marks[("features.3", "macs")]
    assert not wrong.right and wrong.correct == 240_000 and wrong.worked.endswith("= 240,000")
    assert marks[("features.3", "receptive_field")].right and marks[("total", "params")].right
    assert not marks[("classifier.1", "receptive_field")].right
    assert "no layer named 'features.9'" in marks[("features.9", "params")].worked
    assert report.score == (6, 9) and not report.all_right
    assert "features.3 macs: 240,001 -- wrong: the answer is 240,000" in str(report)
    with pytest.raises(gb.inspect.answers.AnswersError, match="unknown quantity"):
        gb.inspect.check_answers(gb.vision.models.lenet5(), (1, 1, 28, 28), {"features.0": {"flops": 1}})


def test_cli_summary_explain_and_check_costs(tmp_path, capsys):
    assert main(["summary", "lenet5", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "Worked costs of LeNet5, input [1, 1, 28, 28]" in out and "= 61,706" in out
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"features.0": {"params": 156, "macs": 117600}, "total": {"macs": 416520}}))
    assert main(["check-costs", "lenet5", "--input-size", "1,1,28,28", "--answers", str(good)]) == 0
    out = capsys.readouterr().out
    assert "features.0 params: 156 -- right" in out and "3 of 3 right" in out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"features.3": {"params": 2400}}))
    assert main(["check-costs", "lenet5", "--answers", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "features.3 params: 2,400 -- wrong: the answer is 2,416" in out
    assert "params = (C_in * k_h * k_w) * C_out + C_out = (6 * 5 * 5) * 16 + 16 = 2,416" in out
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["check-costs", "lenet5", "--answers", str(broken)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["check-costs", "resnet9", "--answers", str(good)]) == 2
