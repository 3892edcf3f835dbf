"""Worked solutions as documents: lines of text and math, written as plain text, Markdown or LaTeX.

An explanation is built once as a :class:`Doc` (a title, sections, lines); each line is a list of
pieces, ``("t", words)`` or ``("m", math)``. Math is written in one small notation and turned into
each format here:

* ``D{f|x}`` is a total derivative (text ``df/dx``, LaTeX ``\\frac{df}{dx}``); ``P{q|x}`` a local
  (partial) one (``∂q/∂x``); ``T{words}`` words inside math;
* otherwise ordinary formulas: names (``t1``, ``W1``, ``fc1.weight``), numbers, ``+ - * / ^ @``,
  ``^T``, ``sqrt(...)``, ``sigma(...)``, ``[x > 0]`` (1 where it holds, else 0), ``->``.

Numbers and arrays are formatted by :func:`num` and :func:`arr` (small arrays in full, larger ones by
shape and norm).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

Piece = tuple[str, str]  # ("t", text) or ("m", math in the notation above)


def t(s: str) -> Piece:
    return ("t", s)


def m(s: str) -> Piece:
    return ("m", s)


@dataclass
class Line:
    pieces: list[Piece]
    level: int = 0


@dataclass
class Section:
    title: str
    lines: list[Line] = field(default_factory=list)

    def add(self, *pieces: Piece, level: int = 0) -> None:
        self.lines.append(Line(list(pieces), level))


@dataclass
class Doc:
    title: str
    sections: list[Section] = field(default_factory=list)

    def section(self, title: str) -> Section:
        s = Section(title)
        self.sections.append(s)
        return s

    def render(self, fmt: str) -> str:
        if fmt == "text":
            return render_text(self)
        if fmt == "markdown":
            return render_markdown(self)
        if fmt == "latex":
            return render_latex(self)
        raise ValueError(f"fmt must be 'text', 'markdown' or 'latex', got {fmt!r}")


FORMATS = ("text", "markdown", "latex")


class Explanation:
    """A worked solution: ``str()`` gives it in ``fmt`` ("text", "markdown" or "latex"); in Jupyter
    it renders as Markdown with LaTeX. ``text()``, ``markdown()``, ``latex()`` give each format;
    ``doc`` is its structure (sections of lines)."""

    def __init__(self, doc: Doc, fmt: str = "text") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be 'text', 'markdown' or 'latex', got {fmt!r}")
        self.doc, self.fmt = doc, fmt

    def text(self) -> str:
        return self.doc.render("text")

    def markdown(self) -> str:
        return self.doc.render("markdown")

    def latex(self) -> str:
        return self.doc.render("latex")

    def __str__(self) -> str:
        return self.doc.render(self.fmt)

    def __repr__(self) -> str:
        return self.doc.render(self.fmt)

    def _repr_markdown_(self) -> str:
        return self.markdown()


# ---- numbers ---------------------------------------------------------------------------------


def num(v: float, digits: int = 6) -> str:
    """A number as written in a solution: integers without a decimal point, else ``digits``
    significant digits."""
    v = float(v)
    if not np.isfinite(v):
        return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
    if v == 0:
        return "0"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    s = f"{v:.{digits}g}"
    if "e" in s:
        mant, ex = s.split("e")
        return f"{mant}e{int(ex)}"
    return s


def factor(v: float, digits: int = 6) -> str:
    """A number as a factor of a product: negative ones in parentheses."""
    s = num(v, digits)
    return f"({s})" if s.startswith("-") else s


def arr(a, digits: int = 6, full: int = 12) -> str:
    """An array in full (nested brackets) when it has at most ``full`` elements, else its shape and
    norm as words (``T{...}``); a 0-d or one-element array with no dims as a number."""
    a = np.asarray(a)
    if a.ndim == 0:
        return num(a.item(), digits)
    if a.size > full:
        return "T{[" + f"shape {shape(a.shape)}, norm {num(float(np.linalg.norm(a.astype(np.float64))), digits)}" + "]}"

    def rec(x) -> str:
        if x.ndim == 1:
            return "[" + ", ".join(num(v, digits) for v in x.tolist()) + "]"
        return "[" + ", ".join(rec(r) for r in x) + "]"

    return rec(a)


def arr_factor(a, digits: int = 6, full: int = 12) -> str:
    s = arr(a, digits, full)
    return f"({s})" if s.startswith("-") else s


def shape(s) -> str:
    s = tuple(int(v) for v in s)
    return "(" + ", ".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"


def thousands(n: int) -> str:
    return f"{int(n):,}"


# ---- math notation -> text -------------------------------------------------------------------

_MARK = re.compile(r"([DPT])\{")


def _markers(s: str, fn) -> str:
    """Replace every ``D{a|b}``, ``P{a|b}``, ``T{w}`` by ``fn(kind, body)``; bodies may nest braces."""
    out, i = [], 0
    while True:
        mo = _MARK.search(s, i)
        if mo is None:
            out.append(s[i:])
            return "".join(out)
        out.append(s[i : mo.start()])
        depth, j = 1, mo.end()
        while j < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            j += 1
        out.append(fn(mo.group(1), s[mo.end() : j - 1]))
        i = j


def math_text(s: str) -> str:
    def fn(kind: str, body: str) -> str:
        if kind == "T":
            return body
        a, _, b = body.partition("|")
        return f"d{a}/d{b}" if kind == "D" else f"∂{a}/∂{b}"

    return _markers(s, fn)


# ---- math notation -> LaTeX ------------------------------------------------------------------

FUNCS = {
    "exp": r"\exp", "log": r"\log", "ln": r"\ln", "tanh": r"\tanh", "sin": r"\sin", "cos": r"\cos",
    "max": r"\max", "min": r"\min", "sigma": r"\sigma", "mu": r"\mu", "pi": r"\pi", "sum": r"\sum",
    "prod": r"\prod", "floor": r"\operatorname{floor}",
}  # fmt: skip
OPERATORS = frozenset(
    "softmax relu logsumexp log_softmax onehot sign reshape permute mean CE sum_rows broadcast norm".split()
)
_TOKEN = re.compile(
    r"\s+|(?P<num>\d{1,3}(?:,\d{3})+(?![\d.])|\d+(?:\.\d*)?(?:e[+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)|(?P<op>->|<=|>=|!=|\^T|.)"
)


def _tex_name(name: str) -> str:
    if name in FUNCS:
        return FUNCS[name]
    if name.startswith("sum_") and len(name) > 4:
        return r"\sum_{" + name[4:] + "}"
    if name in OPERATORS:
        return r"\operatorname{" + name.replace("_", r"\_") + "}"
    mo = re.fullmatch(r"([A-Za-z])(\d+)", name)
    if mo:
        return f"{mo.group(1)}_{{{mo.group(2)}}}"
    mo = re.fullmatch(r"([A-Za-z])_([A-Za-z0-9]+)", name)
    if mo:
        return f"{mo.group(1)}_{{{mo.group(2)}}}"
    if len(name) == 1:
        return name
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def _tex_tokens(s: str) -> list[str]:
    toks = []
    for mo in _TOKEN.finditer(s):
        if mo.group(0).isspace():
            continue
        toks.append(mo.group(0))
    return toks


def _group(toks: list[str], i: int) -> tuple[list[str], int]:
    """The tokens inside the parentheses opening at toks[i], and the index after the closing one."""
    depth, j = 0, i
    while j < len(toks):
        depth += {"(": 1, ")": -1}.get(toks[j], 0)
        if depth == 0:
            return toks[i + 1 : j], j + 1
        j += 1
    return toks[i + 1 :], len(toks)


def _tex(toks: list[str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(toks):
        tk = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if tk == "sqrt" and nxt == "(":
            inner, i = _group(toks, i + 1)
            out.append(r"\sqrt{" + _tex(inner) + "}")
            continue
        if tk == "^" and nxt == "(":
            inner, i = _group(toks, i + 1)
            out.append("^{" + _tex(inner) + "}")
            continue
        if tk == "^" and nxt:
            out.append("^{" + _tex([nxt]) + "}")
            i += 2
            continue
        if tk == "^T":
            out.append(r"^\top")
        elif tk == "*":
            out.append(r"\cdot")
        elif tk == "@":
            out.append(r"\,")
        elif tk == "->":
            out.append(r"\to")
        elif tk == "<=":
            out.append(r"\le")
        elif tk == ">=":
            out.append(r"\ge")
        elif tk == "!=":
            out.append(r"\ne")
        elif tk in "{}%#&$":
            out.append("\\" + tk)
        elif tk == "∂":
            out.append(r"\partial")
        elif re.match(r"\d", tk):
            tk = tk.replace(",", "{,}")
            mo = re.fullmatch(r"(\d+(?:\.\d*)?)e([+-]?\d+)", tk)
            out.append(f"{mo.group(1)} \\times 10^{{{int(mo.group(2))}}}" if mo else tk)
        elif re.match(r"[A-Za-z_]", tk):
            out.append(_tex_name(tk))
        else:
            out.append(tk)
        i += 1
    return " ".join(out)


_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}", "∂": r"$\partial$"}


def _tex_escape_text(s: str) -> str:
    return re.sub(r"[{}%#&$_^\\~∂]", lambda mo: _TEXT_ESCAPES.get(mo.group(0), "\\" + mo.group(0)), s)


def math_latex(s: str) -> str:
    def fn(kind: str, body: str) -> str:
        if kind == "T":
            return r"\text{" + _tex_escape_text(body) + "}"
        a, _, b = body.partition("|")
        a, b = _tex(_tex_tokens(a)), _tex(_tex_tokens(b))
        return rf"\frac{{d{a}}}{{d{b}}}" if kind == "D" else rf"\frac{{\partial {a}}}{{\partial {b}}}"

    # markers first (their bodies are converted on their own), the rest token by token
    parts: list[str] = []

    def keep(kind: str, body: str) -> str:
        parts.append(fn(kind, body))
        return f" QQMARK{len(parts) - 1}QQ "

    plain = _markers(s, keep)
    tex = _tex(_tex_tokens(plain))
    return re.sub(r"\\mathrm\{QQMARK(\d+)QQ\}", lambda mo: parts[int(mo.group(1))], tex)


# ---- renderers -------------------------------------------------------------------------------


def _merged(line: Line) -> list[Piece]:
    """Adjacent math pieces joined, so that Markdown and LaTeX get one formula each."""
    out: list[Piece] = []
    for k, s in line.pieces:
        if out and k == "m" and out[-1][0] == "m":
            out[-1] = ("m", out[-1][1] + s)
        else:
            out.append((k, s))
    return out


def line_text(line: Line) -> str:
    return "".join(math_text(s) if k == "m" else s for k, s in line.pieces)


def render_text(doc: Doc) -> str:
    out = [doc.title, "=" * min(len(doc.title), 100)]
    for sec in doc.sections:
        out += ["", sec.title]
        out += ["  " + "  " * ln.level + line_text(ln) for ln in sec.lines]
    return "\n".join(out) + "\n"


def _md_text(s: str) -> str:
    return re.sub(r"([*_|`<>\[\]])", r"\\\1", s)


def render_markdown(doc: Doc) -> str:
    out = [f"### {_md_text(doc.title)}"]
    for sec in doc.sections:
        out += ["", f"**{_md_text(sec.title)}**", ""]
        for ln in sec.lines:
            body = "".join(f"${math_latex(s)}$" if k == "m" else _md_text(s) for k, s in _merged(ln))
            out.append("  " * ln.level + "- " + body)
    return "\n".join(out) + "\n"


def render_latex(doc: Doc) -> str:
    out = [r"\subsection*{" + _tex_escape_text(doc.title) + "}"]
    for sec in doc.sections:
        out += [r"\paragraph{" + _tex_escape_text(sec.title) + "}", r"\begin{align*}"]
        rows = []
        for ln in sec.lines:
            body = " ".join(
                math_latex(s) if k == "m" else r"\text{" + _tex_escape_text(s) + "}" for k, s in _merged(ln)
            )
            rows.append("&" + r"\quad " * ln.level + body)
        out.append(" \\\\\n".join(rows) if rows else "&")
        out.append(r"\end{align*}")
    return "\n".join(out) + "\n"
