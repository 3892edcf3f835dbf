"""The block-level lines of ``explain_costs``: a container's costs as the sum of its layers', the
branches of a block that merges paths (each branch and the sum; the merged receptive field),
an Inception block without its 1x1 reductions, a grouped (ResNeXt) block as parallel paths,
and the model's totals."""

from __future__ import annotations

import math

from gradbox import nn
from gradbox.inspect.explain_format import Doc, Section, m, t, thousands
from gradbox.inspect.summary import LayerSummary, ModelSummary


def _sum_text(values: list[int]) -> str:
    nz = [v for v in values if v]
    if not nz:
        return "0"
    if len(nz) == 1:
        return thousands(nz[0])
    return " + ".join(thousands(v) for v in nz) + f" = {thousands(sum(nz))}"


def _children(s: ModelSummary, block: str) -> list[LayerSummary]:
    rows = s.rows(depth=None, include_functional=True)
    return [r for r in rows if r.parent == block and r.name != block]


def _direct(name: str, block: str) -> str:
    rest = name[len(block) + 1 :] if block else name
    return (block + "." if block else "") + rest.split(".")[0]


def block(row: LayerSummary | None, s: ModelSummary, merges: dict, modules: dict, chk, sec: Section, obs) -> None:
    """The lines of a container (``row``; None for the model itself when it merges paths)."""
    name = row.name if row is not None else ""
    level = row.depth if row is not None else 0
    kids = _children(s, name)
    if row is not None:
        own = row.params - sum(k.params for k in kids)
        terms = [k.params for k in kids] + ([own] if own else [])
        pieces = [t(f"{name} in total: "), m(f"params = {_sum_text(terms)}")]
        chk.record(name, "params", sum(terms), row.params, pieces)
        sec.add(*pieces, level=level)
        macs = [k.macs for k in kids]
        pieces = [t(f"{name} in total: "), m(f"MACs = {_sum_text(macs)}")]
        chk.record(name, "macs", sum(macs), row.macs, pieces)
        sec.add(*pieces, level=level)
        chk.record(
            name, "output_shape", tuple(row.output_shape), tuple(row.output_shape), [m(str(list(row.output_shape)))]
        )
    for mg in merges.get(name, []):
        _branches(name, row, mg, kids, s, modules, chk, sec, level)


def _branches(name, row, mg, kids, s, modules, chk, sec, level) -> None:
    by_name = {k.name: k for k in kids}
    how = "concatenated along channels" if mg.op == "Cat" else "added element-wise (a residual connection)"
    sec.add(t(f"{name or 'the model'}: {len(mg.branches)} paths {how} by {mg.name}"), level=level)
    members = []
    for i, deps in enumerate(mg.branches):
        direct = sorted({_direct(n, name) for n in deps if _direct(n, name) in by_name}, key=lambda n: by_name[n].order)
        members.append(direct)
        p = [by_name[n].params for n in direct]
        c = [by_name[n].macs for n in direct]
        label = ", ".join(direct) if direct else "identity (the block's input)"
        shape = "[" + ", ".join(map(str, mg.shapes[i])) + "]"
        sec.add(
            t(f"path {i + 1}: {label}: "),
            m(f"params = {_sum_text(p)}, MACs = {_sum_text(c)}"),
            t(", output "),
            m(shape),
            level=level + 1,
        )
    used = {n for d in members for n in d}
    after = [k for k in kids if k.name not in used and k.name != mg.name and k.order > _order(kids, mg.name)]
    tot_p = [sum(by_name[n].params for n in d) for d in members]
    tot_c = [sum(by_name[n].macs for n in d) for d in members]
    shared = len(used) < sum(len(d) for d in members)
    sec.add(
        t("sum of the paths: "),
        m(f"params = {_sum_text(tot_p)}, MACs = {_sum_text(tot_c)}"),
        t("   (a layer on several paths is counted on each)" if shared else ""),
        level=level + 1,
    )
    if after:
        sec.add(
            t("after the merge: " + ", ".join(k.name for k in after)),
            m(f"   params = {_sum_text([k.params for k in after])}, MACs = {_sum_text([k.macs for k in after])}"),
            level=level + 1,
        )
    if mg.op == "Cat":
        chans = [sh[1] for sh in mg.shapes]
        sec.add(t("channels: "), m(f"{' + '.join(map(str, chans))} = {sum(chans)}"), level=level + 1)
    _merged_field(mg, s, chk, sec, level + 1)
    if mg.op == "Cat":
        _without_reductions(name, row, mg, members, s, modules, sec, level + 1)
    _grouped_paths(members, s, modules, sec, level + 1)


def _order(kids, name: str) -> int:
    return next((k.order for k in kids if k.name == name), 0)


def _merged_field(mg, s, chk, sec, level) -> None:
    try:
        row = s[mg.name]
    except KeyError:
        return
    per_path = []
    for f in mg.fields:
        if f is None or f.lost:
            return
        per_path.append([a for _, a in f.axes])
    if not per_path or row.receptive_field is None:
        return
    n_axes = len(per_path[0])
    rs, js, texts = [], [], []
    for ax in range(n_axes):
        sizes = [p[ax].size for p in per_path]
        strides = {p[ax].stride for p in per_path}
        centres = {p[ax].centre for p in per_path}
        r = max(sizes)
        rs.append(int(r))
        js.append(int(max(strides)) if float(max(strides)).is_integer() else max(strides))
        texts.append(f"r = max({', '.join(str(int(v)) for v in sizes)}) = {int(r)}")
        if len(strides) > 1 or len(centres) > 1:
            sec.add(t("the paths are misaligned: the field is their union (see summary's warning)"), level=level)
            return
    r_out = rs[0] if len(set(rs)) == 1 else tuple(rs)
    j_out = js[0] if len(set(js)) == 1 else tuple(js)
    body = texts[0] if len(set(texts)) == 1 else "; ".join(texts)
    pieces = [
        t("receptive field: "),
        m(f"{body}, j = {j_out}"),
        t("   (the paths are aligned: same stride and centre)"),
    ]
    chk.record(mg.name, "receptive_field", (r_out, j_out), (row.receptive_field, row.effective_stride), pieces)
    sec.add(*pieces, level=level)


def _convs(direct: list[str], s: ModelSummary, modules: dict) -> list[tuple[LayerSummary, nn.Module]]:
    out = []
    for r in s.layers:
        if r.is_leaf and any(r.name == d or r.name.startswith(d + ".") for d in direct):
            mod = modules.get(r.name)
            if isinstance(mod, nn.Conv2d):
                out.append((r, mod))
    return sorted(out, key=lambda x: x[0].order)


def _conv_cost(cin: int, cout: int, k: tuple, out_shape, bias: bool) -> tuple[int, int, str, str]:
    kk = math.prod(k)
    params = cin * kk * cout + (cout if bias else 0)
    hw = math.prod(out_shape[2:])
    macs = out_shape[0] * cout * hw * cin * kk
    ptxt = f"{cin}*{'*'.join(map(str, k))}*{cout}" + (f" + {cout}" if bias else "")
    mtxt = "*".join(str(v) for v in (out_shape[0], cout, *out_shape[2:], cin, *k))
    return params, macs, ptxt, mtxt


def _without_reductions(name, row, mg, members, s, modules, sec, level) -> None:
    """Inception: each k x k convolution preceded by a 1x1 reduction, applied to the block's input instead."""
    in_shape = row.input_shape if row is not None else (s.input_shapes[0] if len(s.input_shapes) == 1 else None)
    if not isinstance(in_shape, tuple) or len(in_shape) != 4:
        return
    cin = in_shape[1]
    with_p = with_c = without_p = without_c = 0
    lines = []
    for direct in members:
        convs = _convs(direct, s, modules)
        bp = sum(_conv_params(mod) for _, mod in convs)
        bc = sum(r.macs for r, _ in convs)
        with_p, with_c = with_p + bp, with_c + bc
        first = convs[0][1] if convs else None
        big = [(r, mod) for r, mod in convs[1:] if max(mod.kernel_size) > 1]
        reduced = (
            first is not None
            and max(first.kernel_size) == 1
            and first.stride == (1, 1)
            and first.in_channels == cin
            and len(big) == 1
            and len(convs) == 2
        )
        if not reduced:
            without_p, without_c = without_p + bp, without_c + bc
            continue
        r2, big_mod = big[0]
        p, c, ptxt, mtxt = _conv_cost(
            cin, big_mod.out_channels, big_mod.kernel_size, r2.output_shape, big_mod.bias is not None
        )
        without_p, without_c = without_p + p, without_c + c
        k = "x".join(map(str, big_mod.kernel_size))
        lines.append(
            (
                t(
                    f"{k} convolution {cin} -> {big_mod.out_channels} without the 1x1 reduction to {first.out_channels}: "
                ),
                m(f"params = {ptxt} = {thousands(p)}, MACs = {mtxt} = {thousands(c)}"),
                t(f"   (with it: params {thousands(bp)}, MACs {thousands(bc)})"),
            )
        )
    if not lines:
        return
    sec.add(
        t("without the 1x1 reductions (convolution weights only; the pool path keeps its projection):"), level=level
    )
    for ln in lines:
        sec.add(*ln, level=level + 1)
    ratio = without_c / with_c if with_c else float("nan")
    sec.add(
        t("the block's convolutions: "),
        m(
            f"without: params {thousands(without_p)}, MACs {thousands(without_c)}; with: params {thousands(with_p)}, MACs {thousands(with_c)}"
        ),
        t(f"   (the reductions save {ratio:.2f}x the multiply-accumulates)"),
        level=level + 1,
    )


def _conv_params(mod: nn.Module) -> int:
    return sum(p.numel() for p in mod.parameters())


def _grouped_paths(members, s, modules, sec, level) -> None:
    """ResNeXt: 1x1 - grouped k x k - 1x1 on a path is G parallel paths of width w / G."""
    for direct in members:
        convs = _convs(direct, s, modules)
        if len(convs) != 3:
            continue
        (r1, c1), (r2, c2), (r3, c3) = convs
        if not (
            c2.groups > 1
            and c1.groups == 1
            and c3.groups == 1
            and max(c1.kernel_size) == 1
            and max(c3.kernel_size) == 1
        ):
            continue
        if (
            c1.bias is not None
            or c2.bias is not None
            or c1.out_channels != c2.in_channels
            or c2.out_channels != c3.in_channels
        ):
            continue
        g, w = c2.groups, c2.in_channels
        d = w // g
        k = c2.kernel_size
        kk = math.prod(k)
        per_p = c1.in_channels * d + kk * d * d + d * c3.out_channels
        hw1, hw2, hw3 = (math.prod(r.output_shape[2:]) * r.output_shape[0] for r in (r1, r2, r3))
        per_c = hw1 * c1.in_channels * d + hw2 * kk * d * d + hw3 * d * c3.out_channels
        conv_p = c1.weight.numel() + c2.weight.numel() + c3.weight.numel()
        conv_c = r1.macs + r2.macs + r3.macs
        if g * per_p != conv_p or g * per_c != conv_c:
            continue
        ks = "x".join(map(str, k))
        sec.add(
            t(f"as {g} parallel paths (ResNeXt, cardinality {g}, width {d}): each path 1x1 {c1.in_channels} -> {d}, "
              f"{ks} {d} -> {d}, 1x1 {d} -> {c3.out_channels}, the paths' outputs summed"),
            level=level,
        )  # fmt: skip
        sec.add(
            m(f"params per path = {c1.in_channels}*{d} + {kk}*{d}*{d} + {d}*{c3.out_channels} = {thousands(per_p)}; "
              f"{g} * {thousands(per_p)} = {thousands(g * per_p)} = {_sum_text([c1.weight.numel(), c2.weight.numel(), c3.weight.numel()])}"),
            t("   (the grouped form's weights)"), level=level + 1,
        )  # fmt: skip
        sec.add(
            m(f"MACs per path = {hw1}*{c1.in_channels}*{d} + {hw2}*{kk}*{d}*{d} + {hw3}*{d}*{c3.out_channels} = "
              f"{thousands(per_c)}; {g} * {thousands(per_c)} = {thousands(g * per_c)} = {_sum_text([r1.macs, r2.macs, r3.macs])}"),
            level=level + 1,
        )  # fmt: skip


def totals(s: ModelSummary, rows: list[LayerSummary], doc: Doc, chk) -> None:
    sec = doc.section("Totals")
    leaves = [r for r in rows if r.is_leaf or r.functional]
    own = s.total_params - sum(r.params for r in leaves)
    terms = [r.params for r in leaves] + ([own] if own else [])
    pieces = [m(f"params = {_sum_text(terms)}"), t("   (the sum over the layers)")]
    chk.record("total", "params", sum(terms), s.total_params, pieces)
    sec.add(*pieces)
    macs = [r.macs for r in leaves]
    pieces = [m(f"MACs = {_sum_text(macs)}"), t("   (the sum over the layers)")]
    chk.record("total", "macs", sum(macs), s.total_macs, pieces)
    sec.add(*pieces)
    sec.add(m(f"FLOPs = 2 * MACs = 2 * {thousands(s.total_macs)} = {thousands(s.total_flops)}"))
    if s.receptive_field is not None:
        sec.add(t("receptive field of the output: "), m(f"r = {s.receptive_field}, j = {s.effective_stride}"))
