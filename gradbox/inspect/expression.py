"""A small, safe expression language for worked backward passes: ``(x*y)*z``, ``sigmoid(w*x + b)``.

Grammar (a tokenizer and a Pratt parser; nothing is ever passed to ``eval``)::

    expr    := expr ('+' | '-') expr | expr ('*' | '/') expr | '-' expr | expr '**' expr
             | NUMBER | NAME | FUNC '(' expr [',' expr] ')' | '(' expr ')'
    FUNC    := exp | log | sqrt | sigmoid | tanh | relu | logsumexp | softmax | max | sum

``**`` binds tightest and to the right (``-x**2 = -(x**2)``, ``2**3**2 = 2**9``); ``max(a, b)``
is the element-wise maximum, ``max(x)``, ``sum(x)`` and ``logsumexp(x)`` reduce over all
elements, ``softmax(x)`` runs along the last dim. Anything else (attribute access, strings,
lambdas, keywords, other names called as functions, unknown names) is rejected with the
position of the offending token, before anything is evaluated. Caps: the length of the text,
the nesting depth, the size of numbers (:data:`MAX_NUMBER`) and of exponents
(:data:`MAX_EXPONENT`, checked on constant exponents when parsing and on variable ones
before the power is taken).

Values (``--at x=[1,2,3]``) use the same tokenizer: a number, or nested brackets of numbers.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass

import numpy as np

from gradbox import ops
from gradbox.creation import tensor as make_tensor
from gradbox.tensor import Tensor

MAX_LENGTH = 2000
MAX_DEPTH = 64
MAX_NUMBER = 1e12
MAX_EXPONENT = 64
MAX_ELEMENTS = 10_000
FUNCTIONS = {  # name -> (min args, max args)
    "exp": (1, 1), "log": (1, 1), "sqrt": (1, 1), "sigmoid": (1, 1), "tanh": (1, 1), "relu": (1, 1),
    "logsumexp": (1, 1), "softmax": (1, 1), "max": (1, 2), "sum": (1, 1),
}  # fmt: skip


class ExpressionError(ValueError):
    """A malformed or disallowed expression (or value); ``position`` is the 0-based offset of the
    offending token and the message shows it under the text."""

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.position = position
        self.text = text
        if position is not None and text and len(text) <= 200:
            message = f"{message} (at position {position + 1})\n  {text}\n  {' ' * position}^"
        elif position is not None:
            message = f"{message} (at position {position + 1})"
        super().__init__(message)


# ---- tokens ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<space>\s+)|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/(),\[\]])"
)


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "name", "op", "end", "error"
    text: str
    pos: int
    error: ExpressionError | None = None


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; raises ExpressionError at the first character outside the grammar."""
    toks = _tokens(text)
    if toks[-1].kind == "error":
        raise toks[-1].error
    return toks


def _tokens(text: str) -> list[Token]:
    """The tokens up to the end, or up to an ``error`` token (its ``error`` the ExpressionError), so
    that the parser reports the first offending token in reading order."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is too long ({len(text)} characters; at most {MAX_LENGTH})")
    toks: list[Token] = []
    i = 0
    while i < len(text):
        mo = _TOKEN.match(text, i)
        if mo is None:
            ch = text[i]
            if ch == ".":
                why = "attribute access ('.') is not allowed"
            elif ch in "'\"":
                why = "strings are not allowed"
            elif ch == "^":
                why = "'^' is not an operator here: write powers as **"
            elif ch in "[]{}:;=@%&|~!<>`\\":
                why = f"{ch!r} is not part of the grammar (numbers, names, + - * / **, parentheses, functions)"
            else:
                why = f"unexpected character {ch!r}"
            toks.append(Token("error", ch, i, ExpressionError(why, text, i)))
            return toks
        kind = mo.lastgroup
        if kind != "space":
            if kind == "num" and len(mo.group()) > 40:
                toks.append(Token("error", mo.group(), i, ExpressionError("number too long", text, i)))
                return toks
            toks.append(Token(kind, mo.group(), i))
        i = mo.end()
    toks.append(Token("end", "", len(text)))
    return toks


# ---- the syntax tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: float
    pos: int


@dataclass(frozen=True)
class Name:
    id: str
    pos: int


@dataclass(frozen=True)
class Unary:
    operand: object
    pos: int


@dataclass(frozen=True)
class Binary:
    op: str
    left: object
    right: object
    pos: int


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple
    pos: int


Node = Num | Name | Unary | Binary | Call
_LBP = {"+": 10, "-": 10, "*": 20, "/": 20, "**": 40}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def error(self, msg: str, tok: Token) -> ExpressionError:
        return ExpressionError(msg, self.text, tok.pos)

    def peek(self) -> Token:
        tok = self.toks[self.i]
        if tok.error is not None:
            raise tok.error
        return tok

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, text: str) -> Token:
        tok = self.next()
        if tok.text != text or tok.kind != "op":
            found = "the end" if tok.kind == "end" else repr(tok.text)
            raise self.error(f"expected {text!r}, found {found}", tok)
        return tok

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.error("the expression is empty", self.peek())
        node = self.expr(0)
        tok = self.peek()
        if tok.kind != "end":
            if tok.text in "[]":
                raise self.error("lists and indexing are not allowed in an expression (give vectors with --at)", tok)
            if tok.text == "(":
                raise self.error("only the functions can be called: " + ", ".join(FUNCTIONS), tok)
            raise self.error(f"unexpected {tok.text!r}: expected an operator (+ - * / **) or the end", tok)
        return node

    def expr(self, rbp: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the expression is nested too deeply (at most {MAX_DEPTH} levels)", self.peek())
        left = self.nud(self.next())
        while True:
            tok = self.peek()
            lbp = _LBP.get(tok.text, 0) if tok.kind == "op" else 0
            if lbp <= rbp:
                break
            self.next()
            right = self.expr(lbp - 1 if tok.text == "**" else lbp)
            left = Binary(tok.text, left, right, tok.pos)
            if tok.text == "**":
                _check_exponent(right, self.text, tok.pos)
        self.depth -= 1
        return left

    def nud(self, tok: Token) -> Node:
        if tok.kind == "num":
            v = float(tok.text)
            if not math.isfinite(v) or abs(v) > MAX_NUMBER:
                raise self.error(f"number {tok.text} is too large (at most {MAX_NUMBER:g} in absolute value)", tok)
            return Num(v, tok.pos)
        if tok.kind == "name":
            if keyword.iskeyword(tok.text) or keyword.issoftkeyword(tok.text):
                raise self.error(f"{tok.text!r} is a Python keyword, not allowed in an expression", tok)
            if tok.text.startswith("__"):
                raise self.error(f"names starting with '__' are not allowed ({tok.text!r})", tok)
            if self.peek().kind == "op" and self.peek().text == "(":
                return self.call(tok)
            if tok.text in FUNCTIONS:
                raise self.error(f"{tok.text} is a function: write {tok.text}(...)", tok)
            return Name(tok.text, tok.pos)
        if tok.kind == "op" and tok.text == "(":
            inner = self.expr(0)
            self.expect(")")
            return inner
        if tok.kind == "op" and tok.text == "-":
            return Unary(self.expr(30), tok.pos)
        if tok.kind == "end":
            raise self.error("the expression ends too early: expected a number, a name or '('", tok)
        if tok.text in "[]":
            raise self.error("lists and indexing are not allowed in an expression (give vectors with --at)", tok)
        raise self.error(f"unexpected {tok.text!r}: expected a number, a name, a function call or '('", tok)

    def call(self, name: Token) -> Node:
        if name.text not in FUNCTIONS:
            raise self.error(f"unknown function {name.text!r}; the functions are {', '.join(FUNCTIONS)}", name)
        self.expect("(")
        args = [self.expr(0)]
        while self.peek().kind == "op" and self.peek().text == ",":
            self.next()
            args.append(self.expr(0))
        self.expect(")")
        lo, hi = FUNCTIONS[name.text]
        if not lo <= len(args) <= hi:
            want = str(lo) if lo == hi else f"{lo} or {hi}"
            raise self.error(f"{name.text} takes {want} argument{'s' if hi > 1 else ''}, got {len(args)}", name)
        return Call(name.text, tuple(args), name.pos)


def _const(node: Node, text: str) -> float | None:
    """The value of a subexpression without names (None if it has one), folded with the caps."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Unary):
        v = _const(node.operand, text)
        return None if v is None else -v
    if isinstance(node, Binary):
        a, b = _const(node.left, text), _const(node.right, text)
        if a is None or b is None:
            return None
        try:
            with np.errstate(all="ignore"):
                v = {"+": a + b, "-": a - b, "*": a * b}.get(node.op)
                if node.op == "/":
                    v = a / b if b != 0 else math.nan
                if node.op == "**":
                    v = float(a) ** float(b) if not (a < 0 and not float(b).is_integer()) else math.nan
        except (OverflowError, ZeroDivisionError):
            raise ExpressionError("a constant part of the expression overflows", text, node.pos) from None
        return v
    return None


def _check_exponent(right: Node, text: str, pos: int) -> None:
    v = _const(right, text)
    if v is not None and (not math.isfinite(v) or abs(v) > MAX_EXPONENT):
        raise ExpressionError(f"exponent {v:g} is too large (at most {MAX_EXPONENT} in absolute value)", text, pos)


def parse(text: str) -> Node:
    """The syntax tree of ``text``, or ExpressionError naming the offending token's position."""
    if not isinstance(text, str):
        raise TypeError(f"expected the expression as a string, got {type(text).__name__}")
    return _Parser(text).parse()


def names_in(node: Node) -> list[str]:
    """The variable names of an expression, in order of first appearance."""
    out: list[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Name) and n.id not in out:
            out.append(n.id)
        elif isinstance(n, Unary):
            stack.append(n.operand)
        elif isinstance(n, Binary):
            stack += [n.right, n.left]
        elif isinstance(n, Call):
            stack += list(reversed(n.args))
    return out


# ---- values ----------------------------------------------------------------------------------


def parse_value(text: str) -> np.ndarray:
    """``-2``, ``[1, 2, 3]`` or ``[[1, 2], [3, 4]]`` as a float64 array (rectangular, finite,
    at most MAX_ELEMENTS elements)."""
    if len(text) > MAX_LENGTH * 50:
        raise ExpressionError(f"the value is too long ({len(text)} characters)")
    toks = _tokens(text)
    for tok in toks:
        if tok.kind == "name" or (tok.kind == "op" and tok.text not in "[],-"):
            raise ExpressionError("expected a number or '['", text, tok.pos)  # the first token out of place
        if tok.error is not None:
            raise tok.error
    pos = 0

    def value(depth: int):
        nonlocal pos
        tok = toks[pos]
        if depth > 8:
            raise ExpressionError("the value is nested too deeply", text, tok.pos)
        if tok.kind == "op" and tok.text == "[":
            pos += 1
            items = [value(depth + 1)]
            while toks[pos].kind == "op" and toks[pos].text == ",":
                pos += 1
                items.append(value(depth + 1))
            if not (toks[pos].kind == "op" and toks[pos].text == "]"):
                raise ExpressionError("expected ',' or ']'", text, toks[pos].pos)
            pos += 1
            return items
        sign = 1.0
        if tok.kind == "op" and tok.text == "-":
            sign, pos = -1.0, pos + 1
            tok = toks[pos]
        if tok.kind != "num":
            raise ExpressionError("expected a number or '['", text, tok.pos)
        pos += 1
        v = sign * float(tok.text)
        if not math.isfinite(v) or abs(v) > MAX_NUMBER:
            raise ExpressionError(f"number {tok.text} is too large (at most {MAX_NUMBER:g})", text, tok.pos)
        return v

    v = value(0)
    if toks[pos].kind != "end":
        raise ExpressionError("unexpected text after the value", text, toks[pos].pos)
    try:
        a = np.array(v, dtype=np.float64)
    except ValueError:
        raise ExpressionError("the rows of the value differ in length", text, 0) from None
    if a.size > MAX_ELEMENTS:
        raise ExpressionError(f"the value has {a.size} elements (at most {MAX_ELEMENTS})", text, 0)
    return a


def parse_assignments(items: list[str]) -> dict[str, np.ndarray]:
    """``["x=-2", "y=[1,2]"]`` -> {"x": array(-2.), "y": array([1., 2.])}."""
    out: dict[str, np.ndarray] = {}
    for item in items:
        name, eq, rest = item.partition("=")
        name = name.strip()
        if not eq or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise ExpressionError(f"expected NAME=VALUE (e.g. x=-2 or x=[1,2,3]), got {item!r}")
        if name in FUNCTIONS or keyword.iskeyword(name):
            raise ExpressionError(f"{name!r} cannot be a variable name")
        if name in out:
            raise ExpressionError(f"{name} is given twice")
        try:
            out[name] = parse_value(rest)
        except ExpressionError as e:
            raise ExpressionError(f"the value of {name}: {e}") from None
    return out


# ---- evaluation with gradbox ops -----------------------------------------------------------


def evaluate(node: Node, variables: dict[str, Tensor], text: str = "") -> Tensor | float:
    """The expression computed with gradbox ops on ``variables`` (tensors), recording the graph.
    Numbers stay Python floats until they meet a tensor."""

    def ev(n: Node):
        if isinstance(n, Num):
            return n.value
        if isinstance(n, Name):
            if n.id not in variables:
                given = ", ".join(variables) or "none"
                raise ExpressionError(
                    f"unknown name {n.id!r}: give its value with --at {n.id}=... (given: {given})", text, n.pos
                )
            return variables[n.id]
        if isinstance(n, Unary):
            v = ev(n.operand)
            return -v
        if isinstance(n, Binary):
            a, b = ev(n.left), ev(n.right)
            if isinstance(a, float) and isinstance(b, float):
                return _const(n, text)
            if n.op == "**":
                bv = b if isinstance(b, float) else b._data
                if not np.all(np.isfinite(bv)) or np.max(np.abs(bv)) > MAX_EXPONENT:
                    raise ExpressionError(f"exponent too large (at most {MAX_EXPONENT} in absolute value)", text, n.pos)
            with np.errstate(all="ignore"):
                return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
                        "**": lambda: a**b}[n.op]()  # fmt: skip
        args = [ev(a) for a in n.args]
        args = [make_tensor(a, dtype=np.float64) if isinstance(a, float) else a for a in args]
        x = args[0]
        if n.func == "max":
            return ops.maximum(x, args[1]) if len(args) == 2 else ops.max(x)
        if n.func == "sum":
            return ops.sum(x)
        if n.func == "logsumexp":
            return ops.logsumexp(x, tuple(range(x.dim())) if x.dim() else 0)
        if n.func == "softmax":
            return ops.softmax(x, -1)
        with np.errstate(all="ignore"):
            return {"exp": ops.exp, "log": ops.log, "sqrt": ops.sqrt, "sigmoid": ops.sigmoid, "tanh": ops.tanh,
                    "relu": ops.relu}[n.func](x)  # fmt: skip

    return ev(node)
