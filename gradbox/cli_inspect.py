"""The inspect commands of ``python -m gradbox``: summary, explain and check-costs (worked
solutions of a model's costs and of a backward pass). ``gradbox.cli`` adds their parsers and
passes its checkpoint loader."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import gradbox as gb
from gradbox.vision.datasets import INFO


def _inspected_model(args, load_run):
    """(model, input size) for summary and check-costs: a zoo model or a checkpoint's, and
    --input-size; None after printing what is wrong."""
    if args.model in gb.vision.models.MODELS:
        model = gb.vision.models.get_model(args.model)
        size = (1, 1, 28, 28) if args.model in ("mlp", "lenet5") else (1, 3, 224, 224)
    elif Path(args.model).is_file():
        cfg, model = load_run(args.model)
        size = (1, *INFO[cfg["dataset"]][0])
    else:
        print(
            f"error: {args.model!r} is neither a model name ({', '.join(gb.vision.models.list_models())}) nor a checkpoint file",
            file=sys.stderr,
        )
        return None
    if args.input_size:
        try:
            size = tuple(int(v) for v in args.input_size.split(","))
        except ValueError:
            print(f"error: --input-size must be integers separated by commas, got {args.input_size!r}", file=sys.stderr)
            return None
    return model, size


def cmd_summary(args, load_run) -> int:
    """Per-layer table (or JSON) of a zoo model or of a training checkpoint's model."""
    got = _inspected_model(args, load_run)
    if got is None:
        return 2
    model, size = got
    if args.explain:  # the worked solution: each layer's formulas with its numbers put in
        print(gb.inspect.explain_costs(model, size))
        return 0
    s = gb.inspect.summary(model, size, depth=args.depth, include_functional=args.functional)
    print(json.dumps(s.to_dict(), indent=2) if args.json else s)
    return 0


def cmd_explain(args, load_run=None) -> int:
    """The worked backward pass of an expression (parsed by a restricted grammar, never eval'd)."""
    fmt = "markdown" if args.markdown else "latex" if args.latex else "text"
    try:
        values = gb.inspect.expression.parse_assignments(args.at or [])
        explanation = gb.inspect.explain_expression(args.expression, values, fmt, graph=args.graph)
    except gb.inspect.ExpressionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(explanation)
    if args.graph:
        print(f"graph: {args.graph}", file=sys.stderr)
    return 0


def cmd_check_costs(args, load_run) -> int:
    """Mark a student's per-layer numbers (JSON) against the worked costs; exit 1 if any is wrong."""
    got = _inspected_model(args, load_run)
    if got is None:
        return 2
    model, size = got
    try:
        report = gb.inspect.check_answers(model, size, args.answers)
    except (gb.inspect.answers.AnswersError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.all_right else 1


COMMANDS: dict[str, Callable[..., int]] = {
    "summary": cmd_summary,
    "explain": cmd_explain,
    "check-costs": cmd_check_costs,
}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The summary, explain and check-costs subcommands."""
    s = sub.add_parser(
        "summary",
        help="per-layer shapes, parameters, multiply-accumulates and receptive fields of a model",
        description="One forward pass of zeros through MODEL (a zoo name, or a checkpoint.safetensors written by train): "
        "each layer's output shape, parameters, multiply-accumulates (FLOPs = 2 x MACs) and receptive field, "
        "functional ops between modules included, and the totals.",
    )
    s.add_argument("model", metavar="MODEL", help="a model name (python -m gradbox models) or a checkpoint.safetensors")
    s.add_argument(
        "--input-size",
        default=None,
        help="input shape with the batch dimension, e.g. 1,3,224,224 (default: 1,3,224,224; 1,1,28,28 for "
        "mlp and lenet5; a checkpoint's dataset shape)",
    )
    s.add_argument("--depth", type=int, default=None, help="show layers down to this nesting depth (default: all)")
    s.add_argument("--functional", action="store_true", help="add rows for ops between modules (+, cat, flatten)")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument(
        "--explain",
        action="store_true",
        help="write the worked solution instead: per layer the formulas for output size, parameters, "
        "multiply-accumulates and receptive field with the numbers put in, per multi-branch block each branch "
        "and the sum, then the totals",
    )
    ex = sub.add_parser(
        "explain",
        help='the worked backward pass of an expression, e.g. explain "(x*y)*z" --at x=-2 y=5 z=3',
        description="Parse EXPRESSION with a restricted grammar (numbers, names, + - * / **, parentheses, unary "
        "minus, and exp log sqrt sigmoid tanh relu logsumexp softmax max sum; never eval), compute it with "
        "gradbox at the --at values and write the worked solution: forward values, then per op the upstream "
        "gradient, the local derivative rule, the numbers put in and the product, and each variable's gradient, "
        "checked against autograd. An expression starting with '-' needs parentheses: \"(-x**2)\".",
    )
    ex.add_argument("expression", metavar="EXPRESSION", help='e.g. "(x*y)*z" or "logsumexp(z) - sum(y*z)"')
    ex.add_argument(
        "--at", nargs="+", metavar="NAME=VALUE", default=[], help="the variables' values: x=-2 y=5, vectors x=[1,2,3]"
    )
    fmt = ex.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", action="store_true", help="write Markdown with LaTeX math (Jupyter, GitHub)")
    fmt.add_argument("--latex", action="store_true", help="write LaTeX (align* environments)")
    ex.add_argument("--graph", metavar="FILE", default=None, help="also draw the autograd graph (.svg, .png or .dot)")
    cc = sub.add_parser(
        "check-costs",
        help="mark your per-layer parameters, MACs, output shapes and receptive fields against the worked solution",
        description='Read ANSWERS (JSON: layer name -> {"params", "macs", "output_shape", "receptive_field"}; '
        'the layer "total" takes params and macs) and print, per answer, right or wrong and the correct worked '
        "line. Exit status 0 when all are right, 1 otherwise.",
    )
    cc.add_argument("model", metavar="MODEL", help="a model name (python -m gradbox models) or a checkpoint.safetensors")
    cc.add_argument(
        "--input-size", default=None, help="input shape with the batch dimension, e.g. 1,1,28,28 (default as summary)"
    )
    cc.add_argument(
        "--answers", required=True, metavar="FILE", help='your answers as JSON, e.g. {"features.0": {"params": 156}}'
    )
