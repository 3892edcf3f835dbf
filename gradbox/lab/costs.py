"""Experiment 9, ``architecture-costs``: parameters and multiply-accumulates of Inception (with
and without 1x1 reductions), a ResNet bottleneck and a ResNeXt block (32 paths = one grouped
convolution), from ``gb.inspect.summary``, with the worked lines of ``gb.inspect.explain_costs``."""

from __future__ import annotations

import math

import numpy as np

import gradbox as gb
from gradbox import nn
from gradbox.lab import blocks, plot
from gradbox.lab.registry import Result, Settings, experiment

KEEP = ("without", "parallel paths", "per path", "block's convolutions", "sum of the paths")


def worked_lines(model: nn.Module, size: tuple[int, ...]) -> list[str]:
    """The cost lines of a block from gb.inspect.explain_costs: each convolution's params and MACs
    with its numbers put in, the block's comparisons and sums."""
    return _filter(gb.inspect.explain_costs(model, size).text())


def _filter(text: str) -> list[str]:
    """The lines that carry costs: each convolution's params and MACs (with its name), the block's
    comparisons and the totals."""
    out, header, totals = [], "", False
    for line in text.splitlines():
        body = line.strip()
        if body.startswith("Totals"):
            totals = True
            continue
        if totals:
            if body.startswith(("params", "MACs")):
                out.append("total: " + body.split("   (")[0])
            continue
        if ": Conv2d(" in body:
            header = body.split("   input")[0]
            continue
        if header and body.startswith(("params =", "MACs =")):
            out.append(f"{header.split(':')[0]}: {body}")
            if body.startswith("MACs"):
                header = ""
            continue
        if any(k in body for k in KEEP):
            out.append(body)
    return out


def conv_formula(model: nn.Module, size: tuple[int, ...]) -> tuple[int, int]:
    """Params and MACs by hand: sum over the convolutions of k_h k_w (C_in / groups) C_out, times
    H W for the MACs ('same' padding, stride 1: every map stays H x W)."""
    hw = math.prod(size[2:])
    params = sum(m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups * m.out_channels
                 for m in model.modules() if isinstance(m, nn.Conv2d))  # fmt: skip
    return params, params * hw * size[0]


@experiment(
    "architecture-costs",
    "What 1x1 reductions, bottlenecks and grouped convolutions save",
    "An Inception module with and without 1x1 reductions, a ResNet bottleneck, and a ResNeXt block as 32 paths of "
    "width 4 and as the equivalent grouped convolution (equal outputs under a weight mapping): parameters and "
    "multiply-accumulates side by side, with the worked lines from explain_costs.",
)
def run(s: Settings) -> Result:
    inc_hw, res_hw = (14, 14) if s.quick else (28, 56)  # quick: smaller maps (same parameters, fewer MACs)
    inc = (1, 192, inc_hw, inc_hw)  # GoogLeNet's inception (3a): 192 channels in, 28x28
    res = (1, 256, res_hw, res_hw)  # ResNet-50 / ResNeXt-50 conv2_x: 256 channels, 56x56
    cfg = (192, 64, 96, 128, 16, 32, 32)
    paths_block = blocks.resnext_paths()
    models = {
        "Inception, no 1x1 reductions": (blocks.Inception(*cfg, reduce=False), inc),
        "Inception (with 1x1 reductions)": (blocks.Inception(*cfg), inc),
        "two 3x3 convs at 256 channels": (blocks.two_3x3(), res),
        "ResNet bottleneck 256-64-256": (blocks.bottleneck(), res),
        "ResNeXt, 32 paths of width 4": (paths_block, res),
        "ResNeXt, grouped conv (32 groups)": (blocks.resnext_grouped(), res),
    }
    costs, lines = {}, {}
    for name, (model, size) in models.items():
        sm = gb.inspect.summary(model, size)
        by_hand = conv_formula(model, size)
        costs[name] = {"input": size, "params": sm.total_params, "macs": sm.total_macs, "formula_params": by_hand[0],
                       "formula_macs": by_hand[1], "output": list(sm.output_shapes[0])}  # fmt: skip
        target = model.body.paths[0] if model is paths_block else model  # one path: explain_costs of the parallel form
        lines[name] = worked_lines(target, size)
    equal = resnext_equivalence(s.seed)
    c = costs
    inc_p = c["Inception, no 1x1 reductions"]["params"] / c["Inception (with 1x1 reductions)"]["params"]
    inc_m = c["Inception, no 1x1 reductions"]["macs"] / c["Inception (with 1x1 reductions)"]["macs"]
    bot = c["two 3x3 convs at 256 channels"]["params"] / c["ResNet bottleneck 256-64-256"]["params"]
    bot_m = c["two 3x3 convs at 256 channels"]["macs"] / c["ResNet bottleneck 256-64-256"]["macs"]
    numbers = {
        "blocks": costs, "worked_lines": lines, "resnext_equivalence": equal,
        "inception_params_ratio": inc_p, "inception_macs_ratio": inc_m, "bottleneck_params_ratio": bot, "bottleneck_macs_ratio": bot_m,
        "formula_matches_summary": all(v["params"] == v["formula_params"] and v["macs"] == v["formula_macs"] for v in costs.values()),
    }  # fmt: skip
    out = [
        "block (input)                          parameters            MACs   output",
        *(
            f"  {k:36s} {v['params']:10,} {v['macs']:15,}   {v['output']}  (input {list(v['input'])})"
            for k, v in costs.items()
        ),
        f"Every count equals sum k_h k_w (C_in/groups) C_out (times H W for MACs) over the convolutions: "
        f"{numbers['formula_matches_summary']}.",
        f"Inception (3a): the 1x1 reductions (192 -> 96 before the 3x3, 192 -> 16 before the 5x5, a 1x1 projection "
        f"after the pool) cut the parameters {inc_p:.2f}x and the MACs {inc_m:.2f}x, and the output has "
        f"{c['Inception (with 1x1 reductions)']['output'][1]} channels instead of {c['Inception, no 1x1 reductions']['output'][1]} "
        f"(the naive pool path passes all 192 through, so every later layer grows too).",
        f"ResNet bottleneck: 1x1 256 -> 64, 3x3 at 64, 1x1 64 -> 256 has {bot:.1f}x fewer parameters and {bot_m:.1f}x fewer "
        f"MACs than two 3x3 convolutions at 256 channels.",
        f"ResNeXt: 32 paths of width 4 have {c['ResNeXt, 32 paths of width 4']['params']:,} parameters and "
        f"{c['ResNeXt, 32 paths of width 4']['macs']:,} MACs, exactly the grouped form's "
        f"({c['ResNeXt, grouped conv (32 groups)']['params']:,}, {c['ResNeXt, grouped conv (32 groups)']['macs']:,}), "
        f"about a bottleneck's; copying path i's weights into rows/group/columns 4i..4i+3 of the grouped block gives "
        f"the same output to {equal['max_abs_difference']:.1e} (float64, input {equal['input']}).",
    ]
    for name in ("Inception (with 1x1 reductions)", "ResNet bottleneck 256-64-256", "ResNeXt, grouped conv (32 groups)",
                 "ResNeXt, 32 paths of width 4"):  # fmt: skip
        what = "one of the 32 paths" if name.startswith("ResNeXt, 32") else name
        out.append(f"Worked lines, {what} (gb.inspect.explain_costs):")
        out += ["    " + ln for ln in lines[name]]
    return Result("\n".join(out), numbers, _figure(costs, equal))


def resnext_equivalence(seed: int) -> dict:
    """Random weights in the 32-path block, mapped into the grouped block; both run on one input."""
    gb.manual_seed(seed)
    paths = blocks.resnext_paths().double()
    grouped = blocks.resnext_grouped().double()
    grouped.load_state_dict({k: gb.tensor(v, dtype=gb.float64) for k, v in blocks.grouped_weights(paths).items()})
    x = gb.randn(2, 256, 8, 8, dtype=gb.float64)
    with gb.no_grad():
        a, b = paths(x).numpy(), grouped(x).numpy()
    sel = np.random.default_rng(seed).choice(a.size, 500, replace=False)
    return {"input": [2, 256, 8, 8], "max_abs_difference": float(np.abs(a - b).max()), "output_scale": float(np.abs(a).max()),
            "sample_paths": a.ravel()[sel], "sample_grouped": b.ravel()[sel]}  # fmt: skip


def _figure(costs, equal):
    fig, (a, b, c) = plot.figure(
        3, title="Parameters and multiply-accumulates of classic blocks (gb.inspect.summary)", height=5.6
    )
    names = list(costs)
    colors = [plot.COLORS[i] for i in (0, 0, 1, 1, 2, 2)]
    hatches = ["//", "", "//", "", "", ".."]
    y = np.arange(len(names))[::-1]
    for ax, key, label in ((a, "params", "parameters"), (b, "macs", "multiply-accumulates")):
        vals = [costs[n][key] for n in names]
        ax.barh(y, vals, color=colors, hatch=hatches, edgecolor="k", alpha=0.85)
        ax.set_xscale("log")
        for yi, v in zip(y, vals):
            ax.text(v * 1.1, yi, f"{v:,}", va="center", fontsize=9)
        ax.set_xlim(min(vals) / 3, max(vals) * 12)
        ax.set(xlabel=f"{label} (log scale)", title=label)
        ax.set_yticks(y, names if ax is a else [""] * len(names), fontsize=10)
    b.set_xlabel(f"multiply-accumulates, input {'x'.join(map(str, costs[names[0]]['input'][2:]))} / "
                 f"{'x'.join(map(str, costs[names[2]]['input'][2:]))} (log scale)")  # fmt: skip
    c.scatter(equal["sample_paths"], equal["sample_grouped"], s=6, alpha=0.5)
    lo, hi = float(np.min(equal["sample_paths"])), float(np.max(equal["sample_paths"]))
    c.plot([lo, hi], [lo, hi], "k--", lw=1)
    c.set(xlabel="output of 32 separate paths", ylabel="output of the grouped convolution",
          title=f"ResNeXt: same outputs (max diff {equal['max_abs_difference']:.0e})")  # fmt: skip
    return fig
