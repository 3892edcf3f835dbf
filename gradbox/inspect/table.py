"""A ModelSummary as a torchinfo-like text table and as HTML (Jupyter)."""

from __future__ import annotations

import html as _html
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only
    from gradbox.inspect.summary import LayerSummary, ModelSummary

COLUMNS = ("Layer (type:depth-idx)", "Output Shape", "Param #", "MACs", "RF / stride")


def shape_text(s) -> str:
    if s is None:
        return "--"
    if s and isinstance(s[0], tuple | list):
        return ", ".join(shape_text(x) for x in s)
    return "[" + ", ".join(str(v) for v in s) + "]"


def _axes(v) -> str:
    if isinstance(v, tuple | list):
        return "x".join(_axes(x) for x in v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def field_text(r) -> str:
    if r.receptive_field is None:
        return "--"
    mark = " !" if r.misaligned else ""
    approx = "" if r.field_exact else "~"
    return f"{approx}{_axes(r.receptive_field)} / {_axes(r.effective_stride)}{mark}"


def scaled(n: float, unit: str = "") -> str:
    """4_089_184_256 -> '4.09 G' (k, M, G, T)."""
    for div, p in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f} {p}{unit}"
    return f"{n:g} {unit}".rstrip()


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f}"


def _shown_children(r: LayerSummary, rows: list[LayerSummary]) -> list[LayerSummary]:
    return [c for c in rows if c.parent == r.name and not c.functional] if not r.is_leaf else []


def _cells(s: ModelSummary, rows: list[LayerSummary]) -> list[tuple[str, ...]]:
    """Containers whose children are shown carry only what is their own (parameters registered
    on them, costs of the ops their own forward ran), so the column sums are the totals."""
    counters: dict[int, int] = {}
    out = [
        (
            s.model,
            shape_text(s.output_shapes[0] if len(s.output_shapes) == 1 else s.output_shapes),
            "--",
            "--",
            _root_field(s),
        )
    ]
    for r in rows:
        counters[r.depth] = counters.get(r.depth, 0) + 1
        lead = "├─" if r.depth == 1 else "│    " * (r.depth - 1) + "└─"
        label = f"{r.type.lower()}()" if r.functional else r.type
        params, macs = r.params, r.macs
        kids = _shown_children(r, rows)
        if kids:
            params -= sum(c.params for c in kids)
            macs -= sum(c.macs for c in kids) + sum(f.macs for f in rows if f.functional and f.parent == r.name)
        out.append(
            (
                f"{lead}{label}: {r.depth}-{counters[r.depth]}",
                shape_text(r.output_shape),
                f"{params:,}" if params or not kids else "--",
                f"{macs:,}" if macs or not kids else "--",
                field_text(r),
            )
        )
    return out


def _root_field(s: ModelSummary) -> str:
    if s.receptive_field is None:
        return "--"
    return f"{_axes(s.receptive_field)} / {_axes(s.effective_stride)}"


def _totals(s: ModelSummary) -> list[str]:
    lines = [
        f"Total params: {s.total_params:,}",
        f"Trainable params: {s.trainable_params:,}",
        f"Non-trainable params: {s.non_trainable_params:,}",
        f"Total mult-adds (MACs): {scaled(s.total_macs)} ({s.total_macs:,})",
        f"Total FLOPs (2 x MACs): {scaled(s.total_flops)}",
        f"Other ops (bias, norm, activation, pooling, element-wise): {scaled(s.other_ops)}",
    ]
    mem = [
        f"Input size (MB): {_mb(s.input_bytes)}",
        f"Forward pass size (MB): {_mb(s.activation_bytes)}",
        f"Params size (MB): {_mb(s.param_bytes)}",
        f"Estimated training memory (MB): {_mb(s.training_bytes)}",
    ]
    return lines + [""] + mem


def text(s: ModelSummary) -> str:
    rows = s.rows()
    cells = [COLUMNS, *_cells(s, rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    line = "=" * (sum(widths) + 3 * (len(widths) - 1))

    def fmt(c):
        return "   ".join(c[0].ljust(widths[0]) if i == 0 else c[i].rjust(widths[i]) for i in range(len(c))).rstrip()

    parts = [line, fmt(cells[0]), line, *[fmt(c) for c in cells[1:]], line]
    tot = _totals(s)
    parts += tot[: tot.index("")] + [line] + tot[tot.index("") + 1 :] + [line]
    if s.receptive_field is not None:
        parts.append(
            f"Receptive field of the output: {_axes(s.receptive_field)}, effective stride {_axes(s.effective_stride)}, effective padding {_axes(s.effective_padding)}"
        )
    for w in s.warnings:
        parts.append(f"! {w}")
    if s.uncounted_ops:
        parts.append(f"Ops not in the cost table (counted as 0): {', '.join(s.uncounted_ops)}")
    return "\n".join(parts)


def html(s: ModelSummary) -> str:
    rows = s.rows()
    esc = _html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    body = []
    for c in _cells(s, rows):
        tds = "".join(
            f'<td style="text-align:{"left" if i == 0 else "right"};font-family:monospace;white-space:pre">{esc(v)}</td>'
            for i, v in enumerate(c)
        )
        body.append(f"<tr>{tds}</tr>")
    tot = "<br>".join(esc(t) for t in _totals(s) if t)
    warn = "".join(f"<p style='color:#a33'>{esc(w)}</p>" for w in s.warnings)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table><p>{tot}</p>{warn}"
