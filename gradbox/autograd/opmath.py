"""An op's math as data: its forward and the vector-Jacobian product of each input.

One description per op, read by everything that shows the op: the op's docstring and its
public function's (``help(gb.mul)``), worked explanations of a backward pass, graph drawing
and export. Notation: ``g = dL/dy`` is the upstream gradient, ``y`` the op's output, inputs
are named by ``inputs``; broadcasting is undone by the engine, so the formulas are written
for operands of one shape.
"""

from __future__ import annotations

from typing import NamedTuple


class OpMath(NamedTuple):
    """``forward``: the op as a formula (``"y = a * b"``). ``grads``: per input, dL/d(input)
    in terms of g, the inputs and y (``("g * b", "g * a")``); ``None`` for an op with no
    gradient (integer or boolean results, indices). ``inputs``: the input names the formulas
    use. ``local``: for elementwise ops, the local derivative dy/d(input) of each input
    (``("b", "a")``), which the chain rule multiplies by g. ``note``: what the formulas leave
    out, in words (shape rules, ties, conventions at kinks)."""

    forward: str
    grads: tuple[str, ...] | None = None
    inputs: tuple[str, ...] = ("x",)
    local: tuple[str, ...] = ()
    note: str = ""

    @property
    def differentiable(self) -> bool:
        return self.grads is not None

    def lines(self) -> list[str]:
        """The description as text lines: forward, then one line per input's gradient."""
        out = [self.forward]
        if self.grads is None:
            out.append("not differentiable: no gradient flows through it")
        else:
            for i, (name, vjp) in enumerate(zip(self.inputs, self.grads)):
                local = f"   (dy/d{name} = {self.local[i]})" if i < len(self.local) and self.local[i] else ""
                out.append(f"dL/d{name} = {vjp}{local}")
        if self.note:
            out.append(self.note)
        return out

    def text(self) -> str:
        return "\n".join(self.lines())


def document(obj, math: OpMath, summary: str | None = None):
    """Attach ``math`` to a function or op class and write it into its docstring, after a
    one-line ``summary`` (or the object's own docstring, kept as prose after the math)."""
    own = (obj.__doc__ or "").strip()
    # the first line is the summary (help() dedents the lines after it, so the math block
    # must not be first): the given summary, else the object's own first paragraph, else
    # the forward formula
    paras = own.split("\n\n", 1) if own else []
    head = summary or (paras[0] if paras else math.forward)
    prose = "" if summary else (paras[1] if len(paras) > 1 else "")
    block = "Math (g = dL/dy, the upstream gradient):\n    " + "\n    ".join(math.lines())
    obj.__doc__ = "\n\n".join(p for p in (head, block, prose) if p)
    obj.__math__ = math
    return obj


def op(math: OpMath | type, summary: str | None = None):
    """Decorator for a public op function: its math is ``math`` or that op class's ``math``."""
    m = math.math if isinstance(math, type) else math

    def deco(f):
        return document(f, m, summary)

    return deco
