"""``check_answers``: a student's numbers for a model's layers, marked right or wrong against the
worked solution (``explain_costs``), each with the correct worked line.

Answers are a dict (or a JSON file) of layer name -> {quantity: value}, quantity one of
``params``, ``macs``, ``output_shape`` and ``receptive_field`` (also accepted: "MACs",
"mult-adds", "output shape", "shape", "rf", "receptive field"); the layer "total" takes
``params`` and ``macs``. Values: integers (``117600`` or ``"117,600"``), a shape as a list (with or
without the batch dimension), a receptive field as r or [r, j].
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradbox import nn
from gradbox.inspect.explain_costs import QUANTITIES, CostsExplanation, explain_costs
from gradbox.inspect.explain_format import Line, line_text, thousands

ALIASES = {
    "params": "params", "parameters": "params", "param": "params", "#params": "params",
    "macs": "macs", "mult-adds": "macs", "multiply-accumulates": "macs", "mac": "macs",
    "output_shape": "output_shape", "output shape": "output_shape", "shape": "output_shape", "output": "output_shape",
    "receptive_field": "receptive_field", "receptive field": "receptive_field", "rf": "receptive_field",
}  # fmt: skip


class AnswersError(ValueError):
    """The answers are not in the expected form (says what is wrong and what is expected)."""


@dataclass
class Mark:
    """One answer: its layer and quantity, what was given, the correct value, whether it is right,
    and the worked line of the correct value (text)."""

    layer: str
    quantity: str
    given: Any
    correct: Any
    right: bool
    worked: str


@dataclass
class AnswerReport:
    """``marks`` (one per answer); ``all_right``; ``str()`` prints each mark with its worked line."""

    marks: list[Mark]

    @property
    def all_right(self) -> bool:
        return all(mk.right for mk in self.marks)

    @property
    def score(self) -> tuple[int, int]:
        return sum(mk.right for mk in self.marks), len(self.marks)

    def __str__(self) -> str:
        out = []
        for mk in self.marks:
            verdict = (
                "right"
                if mk.right
                else "wrong"
                if mk.correct is None
                else f"wrong: the answer is {_show(mk.correct, mk.quantity)}"
            )
            out.append(f"{mk.layer} {mk.quantity}: {_show(mk.given, mk.quantity)} -- {verdict}")
            if mk.worked:
                out.append(f"    {mk.worked}")
        right, n = self.score
        out.append(f"{right} of {n} right")
        return "\n".join(out)


def _show(v: Any, qty: str) -> str:
    if v is None:
        return "none"
    if qty == "output_shape" and isinstance(v, tuple | list):
        return "[" + ", ".join(str(x) for x in v) + "]"
    if qty == "receptive_field" and isinstance(v, tuple):
        return f"r = {v[0]}, j = {v[1]}"
    if isinstance(v, int) and not isinstance(v, bool):
        return thousands(v)
    return str(v)


def _integer(v: Any, where: str) -> int:
    if isinstance(v, bool):
        raise AnswersError(f"{where}: expected an integer, got {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        txt = v.replace(",", "").replace("_", "").replace(" ", "")
        if txt.lstrip("-").isdigit():
            return int(txt)
    raise AnswersError(f'{where}: expected an integer (e.g. 117600 or "117,600"), got {v!r}')


def load_answers(answers: Mapping | str | Path) -> dict[str, dict[str, Any]]:
    """Answers from a dict or a JSON file, quantities normalised (see the module's docstring)."""
    if isinstance(answers, str | Path):
        path = Path(answers)
        try:
            answers = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise AnswersError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(answers, Mapping):
        raise AnswersError("answers must be a JSON object: layer name -> {quantity: value}")
    out: dict[str, dict[str, Any]] = {}
    for layer, qs in answers.items():
        if not isinstance(qs, Mapping):
            raise AnswersError(f"answers[{layer!r}] must be an object of quantity -> value, got {qs!r}")
        for q, v in qs.items():
            key = ALIASES.get(str(q).strip().lower())
            if key is None:
                raise AnswersError(f"answers[{layer!r}]: unknown quantity {q!r}; use one of {', '.join(QUANTITIES)}")
            out.setdefault(str(layer), {})[key] = v
    return out


def _normalise(qty: str, v: Any, correct: Any, where: str) -> Any:
    """The given value in the form of the correct one (a shape without the batch dim gets it)."""
    if qty in ("params", "macs"):
        return _integer(v, where)
    if qty == "output_shape":
        if not isinstance(v, Sequence) or isinstance(v, str):
            raise AnswersError(f"{where}: expected a shape as a list, e.g. [1, 6, 28, 28], got {v!r}")
        shape = tuple(_integer(x, where) for x in v)
        if correct is not None and len(shape) == len(correct) - 1:
            shape = (correct[0], *shape)  # given without the batch dimension
        return shape
    if isinstance(v, Sequence) and not isinstance(v, str):
        if len(v) != 2:
            raise AnswersError(f"{where}: expected a receptive field as r or [r, j], got {v!r}")
        part = lambda x: (
            tuple(_integer(y, where) for y in x)
            if isinstance(x, Sequence) and not isinstance(x, str)
            else _integer(x, where)
        )
        return (part(v[0]), part(v[1]))
    if isinstance(correct[0], tuple):  # a field that differs per axis: r per axis
        raise AnswersError(
            f"{where}: this layer's field differs per axis ({correct[0]}); give [[r_h, r_w], [j_h, j_w]]"
        )
    return (_integer(v, where), correct[1])  # r alone: j is not marked


def check_answers(
    model: nn.Module | CostsExplanation,
    input_size: Sequence[int] | None = None,
    answers: Mapping | str | Path | None = None,
) -> AnswerReport:
    """Mark ``answers`` (a dict or JSON file, see the module's docstring) for ``model`` on an input
    of ``input_size`` (or an explanation already made by ``explain_costs``): per answer, right or
    wrong and the correct worked line."""
    ex = model if isinstance(model, CostsExplanation) else explain_costs(model, input_size)
    given = load_answers(answers if answers is not None else {})
    marks = []
    for layer, qs in given.items():
        lines = ex.lines.get(layer)
        if lines is None:
            names = [k for k in ex.lines if k != "total"]
            near = [n for n in names if n.endswith(layer) or layer in n][:5]
            hint = f"; did you mean {', '.join(near)}?" if near else f"; the layers are {', '.join(names[:20])}"
            for q, v in qs.items():
                marks.append(Mark(layer, q, v, None, False, f"there is no layer named {layer!r}{hint}"))
            continue
        for q, v in qs.items():
            correct, pieces = lines.get(q, (None, []))
            if correct is None:
                why = {
                    "receptive_field": "it has no receptive field (the spatial structure is gone, or it is a constant)"
                }
                marks.append(Mark(layer, q, v, None, v is None, why.get(q, f"{q} is not worked out for this layer")))
                continue
            mine = _normalise(q, v, correct, f"answers[{layer!r}][{q!r}]")
            shown = mine if q in ("params", "macs") else v
            marks.append(Mark(layer, q, shown, correct, mine == correct, line_text(Line(pieces))))
    return AnswerReport(marks)
