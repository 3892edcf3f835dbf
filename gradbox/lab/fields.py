"""Experiment 8, ``receptive-field``: receptive fields per layer from ``gb.inspect.summary``,
checked against the recursion r_l = r_(l-1) + (k_l - 1) j_(l-1), j_l = j_(l-1) s_l, and measured
as the input region one output unit's gradient reaches."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import gradbox as gb
from gradbox import nn
from gradbox.lab import plot
from gradbox.lab.registry import Result, Settings, experiment


def small_vgg_block(cin: int = 1, width: int = 8) -> nn.Sequential:
    """conv3-conv3-pool2-conv3-conv3-pool2, padding 1: VGG's first two stages at a small width."""
    layers: list[nn.Module] = []
    c = cin
    for _ in range(2):
        for _ in range(2):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU()]
            c = width
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


def _first(v) -> int:
    return int(v[0] if isinstance(v, tuple | list) else v)


def field_table(model: nn.Sequential, input_size: tuple[int, ...]) -> list[dict]:
    """Per layer with a window (convolutions, pools): the summary's field, stride and padding, and
    the recursion's, computed here from each layer's kernel, stride and padding."""
    s = gb.inspect.summary(model, input_size)
    r, j, p = 1, 1, 0
    rows, convs, pools, stage = [], 0, 0, 1
    for name, m in model.named_children():
        if not isinstance(m, nn.Conv2d | nn.MaxPool2d):
            continue
        k, st, pad = _first(m.kernel_size), _first(m.stride), _first(m.padding)
        r, p, j = r + (k - 1) * j, p + pad * j, j * st
        row = s[name]
        if isinstance(m, nn.Conv2d):
            convs += 1
            label = f"conv{stage}_{convs}"
        else:
            pools += 1
            label, stage, convs = f"pool{pools}", stage + 1, 0
        rows.append({
            "layer": label, "name": name, "kernel": k, "stride": st, "padding": pad,
            "output_shape": list(row.output_shape), "summary_field": _first(row.receptive_field),
            "summary_stride": _first(row.effective_stride), "summary_padding": _first(row.effective_padding),
            "recursion_field": r, "recursion_stride": j, "recursion_padding": p,
        })  # fmt: skip
    return rows


def gradient_map(
    make_model: Callable[[], nn.Module], input_size: tuple[int, ...], unit: tuple[int, int], draws: int
) -> np.ndarray:
    """|d y[0, :, unit] / d x| summed over channels, averaged over ``draws`` random models and inputs:
    where the unit actually looks (the effective receptive field)."""
    acc = np.zeros(input_size[2:])
    for _ in range(draws):
        model = make_model()
        x = gb.randn(*input_size, requires_grad=True)
        y = model(x)
        y[0, :, unit[0], unit[1]].sum().backward()
        acc += np.abs(x.grad.numpy()).sum(axis=(0, 1))
    return acc / draws


def analytic_box(row: dict, unit: tuple[int, int], size: int) -> tuple[int, int]:
    """Input positions [lo, hi] seen by output position ``unit`` (one axis): lo = i j - P, clipped."""
    lo = unit[0] * row["summary_stride"] - row["summary_padding"]
    return max(lo, 0), min(lo + row["summary_field"] - 1, size - 1)


@experiment(
    "receptive-field",
    "Receptive fields of VGG-16 and of a small VGG block, computed and measured",
    "Receptive field per layer of VGG-16 and of a small VGG block from gb.inspect.summary, and the empirical one "
    "(gradient of one output unit) drawn as a heat map over the input.",
)
def run(s: Settings) -> Result:
    vgg = gb.vision.models.vgg16(small_input=True).features  # VGG-16's 13 convolutions and 5 pools
    side = 32 if s.quick else 224  # fields do not depend on the input size; the forward pass's cost does
    vgg_rows = field_table(vgg, (1, 3, side, side))
    block_size = (1, 1, 32, 32)
    block_rows = field_table(small_vgg_block(), block_size)
    unit = (4, 4)  # the centre of the 8x8 output map
    emp_block = gb.inspect.receptive_field_empirical(small_vgg_block(), block_size, unit=(0, None, *unit))
    heat_block = gradient_map(small_vgg_block, block_size, unit, 4 if s.quick else 32)
    if s.quick:  # VGG-16 up to pool3 (field 44, stride 8) on a 64x64 input
        part, size, vunit, draws = vgg[:17], 64, (4, 4), 1
    else:  # all of VGG-16's features on 224x224 (field 212): a unit whose field fits inside the image
        part, size, vunit, draws = vgg, 224, (3, 3), 2
    vsize = (1, 3, size, size)
    pool = 1 if s.quick else 4  # the JSON keeps the big heat map as means over pool x pool pixels
    emp_vgg = gb.inspect.receptive_field_empirical(part, vsize, unit=(0, None, *vunit))
    vrow = vgg_rows[[r["name"] for r in vgg_rows].index(str(len(part) - 1))]
    heat_vgg = gradient_map(lambda: part, vsize, vunit, draws)
    agree = lambda rows: all(
        r["summary_field"] == r["recursion_field"] and r["summary_stride"] == r["recursion_stride"]
        and r["summary_padding"] == r["recursion_padding"] for r in rows
    )  # fmt: skip
    numbers = {
        "vgg16": vgg_rows, "block": block_rows, "vgg16_agrees_with_recursion": agree(vgg_rows),
        "block_agrees_with_recursion": agree(block_rows),
        "block_empirical": {"input": block_size, "unit": unit, "region": emp_block.region, "size": emp_block.size,
                            "analytic": [analytic_box(block_rows[-1], (u,), 32) for u in unit], "heat": heat_block},
        "vgg_empirical": {"layers": f"features[:{len(part)}]", "input": vsize, "unit": vunit, "region": emp_vgg.region,
                          "size": emp_vgg.size, "analytic_field": vrow["summary_field"],
                          "analytic": [analytic_box(vrow, (u,), size) for u in vunit], "heat_pool": pool, "heat": _pooled(heat_vgg, pool)},
    }  # fmt: skip
    last, b = vgg_rows[-1], block_rows[-1]
    share, ch, cw = _central_share(heat_block, emp_block.region)
    numbers["block_empirical"]["central_quarter_share"] = share
    lines = [
        f"VGG-16 ({side}x{side} input), receptive field / effective stride after each layer, from gb.inspect.summary:",
        "  " + ", ".join(f"{r['layer']} {r['summary_field']}/{r['summary_stride']}" for r in vgg_rows),
        f"The last pool sees {last['summary_field']}x{last['summary_field']} pixels with stride "
        f"{last['summary_stride']} and padding {last['summary_padding']}; every layer agrees with the recursion "
        f"r += (k - 1) j, j *= s, P += p j: {numbers['vgg16_agrees_with_recursion']}. Each 3x3 convolution adds 2j "
        f"pixels: after two, conv1_2 sees {vgg_rows[1]['summary_field']}x{vgg_rows[1]['summary_field']}, as one "
        f"{vgg_rows[1]['summary_field']}x{vgg_rows[1]['summary_field']} kernel would, with 2 x 9 = 18 weights per "
        f"channel pair instead of {vgg_rows[1]['summary_field'] ** 2}.",
        "Small VGG block (conv3-conv3-pool2 twice, padding 1): "
        + ", ".join(f"{r['layer']} {r['summary_field']}/{r['summary_stride']}" for r in block_rows)
        + f"; "
        f"final field {b['summary_field']}, stride {b['summary_stride']} (recursion agrees: "
        f"{numbers['block_agrees_with_recursion']}).",
        f"Measured: the gradient of output unit {unit} of the block is non-zero on input rows {emp_block.region[0]} and "
        f"columns {emp_block.region[1]} ({emp_block.size[0]}x{emp_block.size[1]}); the analytic field puts it at "
        f"{numbers['block_empirical']['analytic'][0]} and {numbers['block_empirical']['analytic'][1]}. With random "
        f"weights the gradient is concentrated in the middle: the central {ch}x{cw} pixels, a quarter of the "
        f"field's area, carry {100 * share:.0f}% of its mass (mean over the random draws): the effective receptive "
        f"field is smaller than the theoretical one.",
        f"VGG-16 {numbers['vgg_empirical']['layers']} on {size}x{size}: unit {vunit}'s gradient covers "
        f"{emp_vgg.size[0]}x{emp_vgg.size[1]} input pixels at rows {emp_vgg.region[0]}, analytic field "
        f"{vrow['summary_field']} at {numbers['vgg_empirical']['analytic'][0]}.",
    ]
    return Result("\n".join(lines), numbers, _figure(numbers, vgg_rows, heat_block, heat_vgg))


def _pooled(a: np.ndarray, k: int) -> np.ndarray:
    h, w = (a.shape[0] // k) * k, (a.shape[1] // k) * k
    return a[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))


def _central_share(heat: np.ndarray, region) -> tuple[float, int, int]:
    """The share of the gradient mass inside the middle half (per axis) of the region, and that box's size."""
    (r0, r1), (c0, c1) = region
    h, w = r1 - r0 + 1, c1 - c0 + 1
    top, left = r0 + h // 4, c0 + w // 4
    inner = heat[top : top + h // 2, left : left + w // 2].sum()
    total = heat[r0 : r1 + 1, c0 : c1 + 1].sum()
    return (float(inner / total) if total else 0.0), h // 2, w // 2


def _box(ax, rows, cols, color, label, ls="-"):
    from matplotlib.patches import Rectangle  # deferred: see plot.style()

    (r0, r1), (c0, c1) = rows, cols
    ax.add_patch(
        Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False, ec=color, lw=2, ls=ls, label=label)
    )


def _figure(numbers, vgg_rows, heat_block, heat_vgg):
    fig, (a, b, c) = plot.figure(
        3, title="Receptive fields: computed per layer, and measured by the gradient of one unit", height=5.0
    )
    idx = np.arange(len(vgg_rows))
    a.plot(idx, [r["summary_field"] for r in vgg_rows], marker="o", label="receptive field r (pixels)")
    a.plot(idx, [r["summary_stride"] for r in vgg_rows], marker="s", label="effective stride j (pixels)")
    for i, r in enumerate(vgg_rows):
        if r["layer"].startswith("pool") or i == len(vgg_rows) - 1:
            a.annotate(
                str(r["summary_field"]),
                (i, r["summary_field"]),
                textcoords="offset points",
                xytext=(-4, 6),
                ha="right",
                fontsize=9,
            )
    a.set_xticks(idx, [r["layer"] for r in vgg_rows], rotation=90, fontsize=8.5)
    a.set(ylabel="input pixels", title="VGG-16, layer by layer (gb.inspect.summary)")
    a.legend(loc="upper left")
    for ax, heat, key, title in (
        (b, heat_block, "block_empirical", "small VGG block: |∂y/∂x| of unit {unit}"),
        (c, heat_vgg, "vgg_empirical", "VGG-16 {layers}: |∂y/∂x| of unit {unit}"),
    ):
        e = numbers[key]
        im = ax.imshow(heat / heat.max(), cmap="magma", interpolation="nearest")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="gradient magnitude (max = 1)")
        _box(ax, e["region"][0], e["region"][1], "#2ca02c", f"non-zero gradient ({e['size'][0]}x{e['size'][1]})")
        _box(ax, e["analytic"][0], e["analytic"][1], "#17becf", "analytic field (summary)", ls="--")
        ax.set(xlabel="input column (pixels)", ylabel="input row (pixels)", title=title.format(**e))
        ax.grid(False)
        ax.legend(loc="lower left", fontsize=8.5, framealpha=0.9)
    return fig
