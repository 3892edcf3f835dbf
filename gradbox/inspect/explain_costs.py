"""``explain_costs``: a model's costs as a worked solution, every number checked against ``summary``.

Per layer, the formulas for the output size, the parameters and the multiply-accumulates with
the layer's numbers put in, and the receptive field chained as r_out = r_in + d (k - 1) j_in,
j_out = j_in s (Araujo et al., Distill 2019); per block that merges paths (Inception's
``cat``, a residual ``+``) each branch and the sum, with Inception's branches also counted
without their 1x1 reductions and a grouped (ResNeXt) block as its parallel paths; then the
totals. Each result is compared with ``gb.inspect.summary``'s (a difference raises
``ExplanationMismatchError``: a bug). ``check_answers`` (``answers.py``) marks a student's
numbers against these lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gradbox import nn
from gradbox._dtype import float32
from gradbox.inspect import explain_blocks
from gradbox.inspect.costs import ACTIVATIONS
from gradbox.inspect.explain_backward import ExplanationMismatchError
from gradbox.inspect.explain_format import Doc, Explanation, Piece, Section, m, t, thousands
from gradbox.inspect.explain_observe import observe
from gradbox.inspect.fields import ELEMENTWISE, Field
from gradbox.inspect.summary import LayerSummary, ModelSummary, make_inputs, summary
from gradbox.inspect.trace import NORMS

QUANTITIES = ("output_shape", "params", "macs", "receptive_field")


class CostsExplanation(Explanation):
    """The worked costs of a model. ``lines[layer][quantity]`` is ``(value, pieces)``: the number
    (or shape) and its worked line, for quantity in ``QUANTITIES`` (layer "total": params, macs);
    ``summary`` is the ``ModelSummary`` they were checked against."""

    def __init__(
        self, doc: Doc, fmt: str, lines: dict[str, dict[str, tuple[Any, list[Piece]]]], s: ModelSummary
    ) -> None:
        super().__init__(doc, fmt)
        self.lines = lines
        self.summary = s


def _shape_text(s) -> str:
    return "[" + ", ".join(str(int(v)) for v in s) + "]"


def _axes(fld: Field | None):
    if fld is None or fld.lost:
        return None
    return [a for _, a in fld.axes]


def _int(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v


def _n(v) -> str:
    v = _int(v)
    return thousands(v) if isinstance(v, int) else f"{v:g}"


def _tuple(v, n: int) -> tuple:
    return tuple(v) if isinstance(v, tuple | list) else (v,) * n


class _Checker:
    def __init__(self) -> None:
        self.lines: dict[str, dict[str, tuple[Any, list[Piece]]]] = {}

    def record(self, layer: str, qty: str, mine, ref, pieces: list[Piece]) -> None:
        if mine != ref:
            raise ExplanationMismatchError(
                f"explain_costs: the worked {qty} of {layer or 'the model'} is {mine} but summary gives {ref}; "
                "this is a bug in gradbox.inspect.explain_costs (please report it)"
            )
        self.lines.setdefault(layer, {})[qty] = (mine, pieces)


# ---- one layer ---------------------------------------------------------------------------------

AXES = ("H", "W", "D")


def _axis_names(n: int) -> tuple[str, ...]:
    return ("L",) if n == 1 else AXES[:n]


def window_size(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> tuple[int, str]:
    """PyTorch's output length of a window op, and the formula with the numbers put in."""
    span = size + 2 * p - d * (k - 1) - 1
    rnd = math.ceil if ceil else math.floor
    out = rnd(span / s) + 1
    dil = f"{d}*({k} - 1)" if d != 1 else f"({k} - 1)"
    text = f"{'ceil' if ceil else 'floor'}(({size} + 2*{p} - {dil} - 1) / {s}) + 1 = {out}"
    if ceil and (out - 1) * s >= size + p:
        out -= 1
        text += f" - 1 = {out} T{{(the last window would start in the padding)}}"
    return out, text


def _window_lines(name, row, module, chk: _Checker, sec: Section, in_field, level: int, kind: str) -> None:
    """Convolution and pooling: output size per spatial axis and the receptive field."""
    ins = row.input_shape
    nsp = len(ins) - 2
    k = _tuple(module.kernel_size, nsp)
    s = _tuple(module.stride if module.stride is not None else module.kernel_size, nsp)
    d = _tuple(getattr(module, "dilation", 1), nsp)
    pad = module.padding
    ceil = bool(getattr(module, "ceil_mode", False))
    out_sp = []
    names = _axis_names(nsp)
    if isinstance(pad, str):
        for i in range(nsp):
            out_sp.append(ins[2 + i] if pad == "same" else window_size(ins[2 + i], k[i], s[i], 0, d[i], False)[0])
        txt = f"padding='{pad}': " + ", ".join(f"{a}_out = {o}" for a, o in zip(names, out_sp))
        p = (0,) * nsp
    else:
        p = _tuple(pad, nsp)
        parts = []
        for i in range(nsp):
            o, worked = window_size(ins[2 + i], k[i], s[i], p[i], d[i], ceil)
            out_sp.append(o)
            parts.append(worked)
        rnd = "ceil" if ceil else "floor"
        dl = "d(k - 1)" if any(v != 1 for v in d) else "(k - 1)"
        same = len(set(zip(ins[2:], k, s, p, d))) == 1
        general = [f"{a}_out = {rnd}(({a} + 2p - {dl} - 1) / s) + 1 = {w}" for a, w in zip(names, parts)]
        txt = general[0] + (f", {'/'.join(names[1:])}_out the same" if nsp > 1 else "") if same else "; ".join(general)
    c_out = module.out_channels if kind == "conv" else ins[1]
    shape = (ins[0], c_out, *out_sp)
    pieces = [t("output size: "), m(f"{txt} -> {_shape_text(shape)}")]
    chk.record(name, "output_shape", shape, tuple(row.output_shape), pieces)
    sec.add(*pieces, level=level)
    _field_lines(name, row, chk, sec, in_field, level, k, s, d)


def _field_lines(name, row, chk, sec, in_field, level, k, s, d) -> None:
    axes = _axes(in_field)
    if axes is None or row.receptive_field is None:
        return
    rs, js = [], []
    worked = []
    for i, a in enumerate(axes):
        r = a.size + d[i] * (k[i] - 1) * a.stride
        j = a.stride * s[i]
        rs.append(_int(r))
        js.append(_int(j))
        dl = f"{d[i]}*" if d[i] != 1 else ""
        worked.append(
            f"r_out = {_n(a.size)} + {dl}({k[i]} - 1)*{_n(a.stride)} = {_n(r)}, j_out = {_n(a.stride)}*{s[i]} = {_n(j)}"
        )
    r_out = rs[0] if len(set(rs)) == 1 else tuple(rs)
    j_out = js[0] if len(set(js)) == 1 else tuple(js)
    dl = "d (k - 1)" if any(v != 1 for v in d) else "(k - 1)"
    body = worked[0] if len(set(worked)) == 1 else "; ".join(f"{AXES[i]}: {w}" for i, w in enumerate(worked))
    pieces = [t("receptive field: "), m(f"r_out = r_in + {dl} j_in, j_out = j_in s: {body}")]
    chk.record(name, "receptive_field", (r_out, j_out), (row.receptive_field, row.effective_stride), pieces)
    sec.add(*pieces, level=level)


def _same_field(name, row, chk, sec, in_field, level, why: str) -> None:
    axes = _axes(in_field)
    if axes is None or row.receptive_field is None:
        return
    rs = {_int(a.size) for a in axes}
    js = {_int(a.stride) for a in axes}
    r = rs.pop() if len(rs) == 1 else tuple(_int(a.size) for a in axes)
    j = js.pop() if len(js) == 1 else tuple(_int(a.stride) for a in axes)
    pieces = [t("receptive field: "), m(f"r_out = r_in = {r}, j_out = j_in = {j}"), t(f"   ({why})")]
    chk.record(name, "receptive_field", (r, j), (row.receptive_field, row.effective_stride), pieces)
    sec.add(*pieces, level=level)


def _params_line(name, row, module, chk, sec, level) -> None:
    params = list(module.named_parameters()) if module is not None else []
    if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d):
        k = math.prod(_tuple(module.kernel_size, 1))
        ks = " * ".join(str(v) for v in _tuple(module.kernel_size, 1))
        cin = module.in_channels // module.groups
        bias = module.bias is not None
        total = cin * k * module.out_channels + (module.out_channels if bias else 0)
        kn = (
            " * ".join(f"k_{a}" for a in ("h", "w", "d")[: len(_tuple(module.kernel_size, 1))])
            if len(_tuple(module.kernel_size, 1)) > 1
            else "k"
        )
        grp = "/groups" if module.groups != 1 else ""
        formula = f"(C_in{grp} * {kn}) * C_out" + (" + C_out" if bias else "")
        cin_txt = f"{module.in_channels}/{module.groups}" if module.groups != 1 else str(cin)
        put = f"({cin_txt} * {ks}) * {module.out_channels}" + (f" + {module.out_channels}" if bias else "")
        text = f"params = {formula} = {put} = {thousands(total)}"
    elif isinstance(module, nn.Linear):
        bias = module.bias is not None
        total = module.in_features * module.out_features + (module.out_features if bias else 0)
        put = f"{module.in_features} * {module.out_features}" + (f" + {module.out_features}" if bias else "")
        text = "params = in * out" + (" + out" if bias else "") + f" = {put} = {thousands(total)}"
    elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d) and module.weight is not None:
        total = 2 * module.num_features
        text = f"params = 2 * C T{{(scale and shift)}} = 2 * {module.num_features} = {thousands(total)}"
    elif params:
        total = sum(p.numel() for _, p in params)
        terms = " + ".join(f"{pn} {_shape_text(p.shape)}" for pn, p in params)
        text = f"params = {terms} = " + " + ".join(thousands(p.numel()) for _, p in params) + f" = {thousands(total)}"
        if len(params) == 1:
            text = f"params = {terms} = {thousands(total)}"
    else:
        total = 0
        text = "params = 0"
    pieces = [m(text)]
    chk.record(name, "params", total, row.params, pieces)
    sec.add(*pieces, level=level)


def _macs_line(name, row, module, chk, sec, level) -> None:
    ins, out = row.input_shape, row.output_shape
    calls = f" * {row.calls} T{{calls}}" if row.calls > 1 else ""
    remark = ""
    if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d):
        ks = _tuple(module.kernel_size, 1)
        cin = module.in_channels // module.groups
        sp = out[2:]
        per = out[0] * module.out_channels * math.prod(sp) * cin * math.prod(ks)
        names = _axis_names(len(sp))
        kn = " * ".join(f"k_{a}" for a in ("h", "w", "d")[: len(ks)]) if len(ks) > 1 else "k"
        grp = "/groups" if module.groups != 1 else ""
        formula = f"N * C_out * {' * '.join(n + '_out' for n in names)} * {'(C_in/groups)' if grp else 'C_in'} * {kn}"
        put = " * ".join(str(v) for v in (out[0], module.out_channels, *sp, cin, *ks))
        total = per * row.calls
        text = f"MACs = {formula} = {put}{calls} = {thousands(total)}"
        if total != row.macs and row.calls > 1:  # calls on inputs of different sizes
            total, text, remark = row.macs, f"MACs = {thousands(row.macs)}", f"   (summed over its {row.calls} calls)"
    elif isinstance(module, nn.Linear):
        rows = math.prod(ins[:-1])
        per = rows * module.in_features * module.out_features
        total = per * row.calls
        text = f"MACs = rows * in * out = {rows} * {module.in_features} * {module.out_features}{calls} = {thousands(total)}"
        if total != row.macs and row.calls > 1:  # calls on inputs of different sizes
            total, text, remark = row.macs, f"MACs = {thousands(row.macs)}", f"   (summed over its {row.calls} calls)"
    elif row.macs == 0:
        total, text = 0, "MACs = 0"
        remark = "   (no weighted sums: its work is counted as other ops)"
    else:
        total, text = row.macs, f"MACs = {thousands(row.macs)}"
        remark = "   (by the cost table, gb.inspect.COST_TABLE)"
    pieces = [m(text)] + ([t(remark)] if remark else [])
    chk.record(name, "macs", total, row.macs, pieces)
    sec.add(*pieces, level=level)


def _layer(name: str, row: LayerSummary, module, chk: _Checker, sec: Section, in_field, level: int) -> None:
    head = f"{name} ({row.type})" if module is None else f"{name}: {_repr(module)}"
    sec.add(t(head), t("   input "), m(_shapes(row.input_shape)), level=level)
    lv = level + 1
    if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d):
        _window_lines(name, row, module, chk, sec, in_field, lv, "conv")
    elif isinstance(module, nn.MaxPool1d | nn.MaxPool2d | nn.AvgPool1d | nn.AvgPool2d):
        _window_lines(name, row, module, chk, sec, in_field, lv, "pool")
    elif row.output_shape is not None and not isinstance(row.output_shape, list):
        out = tuple(row.output_shape)
        if isinstance(module, nn.Linear):
            how = f"[..., in] -> [..., out = {module.out_features}]"
        elif (isinstance(module, nn.Flatten) or row.type == "Reshape") and isinstance(row.input_shape, tuple):
            feat = row.input_shape[1:]
            how = f"flattened: {' * '.join(str(v) for v in feat)} = {thousands(math.prod(feat))} per sample"
        elif row.type == "Cat":
            shapes = row.input_shape if isinstance(row.input_shape, list) else [row.input_shape]
            chans = [s[1] for s in shapes]
            how = f"channels {' + '.join(map(str, chans))} = {sum(chans)}"
        elif isinstance(row.input_shape, tuple) and tuple(row.input_shape) == out:
            how = "the input's shape"
        elif isinstance(row.input_shape, list) and all(tuple(x) == out for x in row.input_shape):
            how = "element-wise: the inputs' shape"
        else:
            how = "as computed"
        pieces = [t("output size: "), m(f"{how} -> {_shape_text(out)}")]
        chk.record(name, "output_shape", out, out, pieces)
        sec.add(*pieces, level=lv)
        if row.receptive_field is not None and in_field is not None:
            if row.type in ("Cat", "Add"):
                pass  # merges: the block explains the union of its branches' fields
            elif isinstance(
                module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d | nn.AdaptiveAvgPool1d | nn.AdaptiveMaxPool1d
            ):
                _adaptive_field(name, row, chk, sec, in_field, lv)
            elif _keeps_field(module, row):
                _same_field(name, row, chk, sec, in_field, lv, "element-wise: each output sees what its input saw")
            else:
                _stated_field(name, row, chk, sec, lv)
    _params_line(name, row, module, chk, sec, lv)
    _macs_line(name, row, module, chk, sec, lv)


def _keeps_field(module, row: LayerSummary) -> bool:
    """Layers and ops that map each position to itself (activations, normalisation, dropout, identity)."""
    if module is None:
        return row.type in ELEMENTWISE
    return isinstance(module, ACTIVATIONS + NORMS + (nn.Dropout, nn.Dropout2d, nn.Identity))


def _stated_field(name, row, chk, sec, level) -> None:
    """A layer without a written rule: summary's field, said to be summary's."""
    value = (row.receptive_field, row.effective_stride)
    pieces = [t("receptive field: "), m(f"r = {row.receptive_field}, j = {row.effective_stride}")]
    pieces.append(t(f"   (as summary propagates it through the ops of {row.type}; no formula is written for it here)"))
    chk.record(name, "receptive_field", value, value, pieces)
    sec.add(*pieces, level=level)


def _adaptive_field(name, row, chk, sec, in_field, level) -> None:
    ins, out = row.input_shape, row.output_shape
    nsp = len(ins) - 2
    if all(ins[2 + i] % out[2 + i] == 0 for i in range(nsp)):
        k = tuple(ins[2 + i] // out[2 + i] for i in range(nsp))
        sec.add(
            t("adaptive pooling with equal windows: kernel = stride = input / output = "),
            m(str(k[0]) if len(set(k)) == 1 else str(k)),
            level=level,
        )
        _field_lines(name, row, chk, sec, in_field, level, k, k, (1,) * nsp)
    else:
        pieces = [
            t("receptive field: "),
            m(f"r_out = {row.receptive_field}"),
            t("   (uneven adaptive windows: the largest field)"),
        ]
        chk.record(
            name,
            "receptive_field",
            (row.receptive_field, row.effective_stride),
            (row.receptive_field, row.effective_stride),
            pieces,
        )
        sec.add(*pieces, level=level)


def _repr(module) -> str:
    r = repr(module)
    return r if "\n" not in r and len(r) <= 110 else type(module).__name__


def _shapes(s) -> str:
    if s is None:
        return "-"
    if isinstance(s, list):
        return ", ".join(_shape_text(x) for x in s)
    return _shape_text(s)


# ---- the model -------------------------------------------------------------------------------


def explain_costs(
    model: nn.Module,
    input_size: Sequence[int] | Sequence[Sequence[int]] | None = None,
    fmt: str = "text",
    *,
    input_data=None,
    mode: str = "eval",
) -> CostsExplanation:
    """Per layer, the worked output size, parameters, multiply-accumulates and receptive field of
    ``model`` on an input of ``input_size`` (batch included), each formula with the layer's
    numbers put in; per multi-branch block (Inception, ResNeXt, residual) each branch and the
    sum; then the totals. Every result equals ``gb.inspect.summary``'s (else
    ``ExplanationMismatchError``). ``fmt``: "text", "markdown" or "latex"."""
    s = summary(model, input_size, input_data, include_functional=True, mode=mode)
    obs = observe(model, make_inputs(input_size, input_data, float32), mode)
    modules = dict(model.named_modules())
    chk = _Checker()
    doc = Doc(
        f"Worked costs of {type(model).__name__}, input {_shapes(s.input_shapes[0] if len(s.input_shapes) == 1 else s.input_shapes)}"
    )
    sec = doc.section("Layers (output size, parameters, multiply-accumulates, receptive field)")
    rows = s.rows(depth=None, include_functional=True)
    merges = {}
    for mg in obs.merges:
        merges.setdefault(mg.block, []).append(mg)
    stack: list[LayerSummary] = []
    for row in rows:
        while stack and not _inside(row, stack[-1]):
            explain_blocks.block(stack.pop(), s, merges, modules, chk, sec, obs)
        module = modules.get(row.name) if not row.functional else None
        level = row.depth - 1
        if row.is_leaf or row.functional:
            _layer(row.name, row, module, chk, sec, (obs.in_fields.get(row.name) or [None])[0], level)
        else:
            sec.add(
                t(f"{row.name}: {row.type}"),
                t("   input "),
                m(_shapes(row.input_shape)),
                t(" -> "),
                m(_shapes(row.output_shape)),
                level=level,
            )
            stack.append(row)
    while stack:
        explain_blocks.block(stack.pop(), s, merges, modules, chk, sec, obs)
    if "" in merges:
        explain_blocks.block(None, s, merges, modules, chk, sec, obs)
    explain_blocks.totals(s, rows, doc, chk)
    return CostsExplanation(doc, fmt, chk.lines, s)


def _inside(row: LayerSummary, container: LayerSummary) -> bool:
    return row.name.startswith(container.name + ".") or (row.functional and row.parent == container.name)
