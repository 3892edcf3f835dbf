"""python -m gradbox summary: zoo models and training checkpoints, as a table or JSON."""

from __future__ import annotations

import json

from gradbox.cli import main


def test_summary_of_a_zoo_model(capsys):
    assert main(["summary", "resnet18", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 11,689,512" in out and "Total mult-adds (MACs): 1.81 G (1,814,073,344)" in out
    assert "├─Sequential: 1-5" in out and "BasicBlock" not in out and "435 / 32" in out
    assert main(["summary", "lenet5", "--json", "--functional"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["input_shapes"] == [[1, 1, 28, 28]] and d["totals"]["total_params"] == 61_706
    assert [r["name"] for r in d["layers"]][:2] == ["features", "features.0"]
    assert main(["summary", "mlp", "--input-size", "4,784"]) == 0
    assert "[4, 10]" in capsys.readouterr().out


def test_summary_of_a_checkpoint_and_bad_arguments(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "lenet5", "--dataset", "fakedata", "--limit-train", "64", "--limit-test", "32"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["summary", str(out / "checkpoint.safetensors"), "--depth", "1"]) == 0
    text = capsys.readouterr().out
    assert "LeNet5" in text and "Total params: 61,706" in text and "16 / 4" in text
    assert main(["summary", "resnet9"]) == 2
    assert "neither a model name" in capsys.readouterr().err
    assert main(["summary", "mlp", "--input-size", "1,x"]) == 2
