"""``gb.inspect``: tools that look inside models and autograd graphs (beyond PyTorch).

``summary`` (per-layer shapes, parameters, multiply-accumulates, other ops and receptive
fields, functional ops included), ``receptive_field_empirical`` (the input region a unit's
gradient reaches), ``draw_graph`` (the autograd graph with values and gradients, or a model's
module-level graph), and ``autograd_demo``, a worked backward pass of f = (x*y)*z.

Worked solutions: ``explain_backward`` (a backward pass step by step, with the numbers, checked
against autograd), ``explain_expression`` (the same for an expression in a safe grammar),
``explain_costs`` (each layer's output size, parameters, multiply-accumulates and receptive
field as formulas with the numbers put in, checked against ``summary``) and ``check_answers``
(a student's numbers marked right or wrong, with the correct worked line).
"""

from gradbox.inspect.answers import AnswerReport, check_answers
from gradbox.inspect.autograd_graph import draw_graph
from gradbox.inspect.costs import COST_TABLE
from gradbox.inspect.demo import autograd_demo
from gradbox.inspect.explain_backward import ExplanationMismatchError, explain_backward, recording
from gradbox.inspect.explain_costs import explain_costs
from gradbox.inspect.explain_expression import explain_expression
from gradbox.inspect.expression import ExpressionError
from gradbox.inspect.graph import Graph
from gradbox.inspect.receptive_field import EmpiricalField, receptive_field_empirical
from gradbox.inspect.render import RenderUnavailableError
from gradbox.inspect.summary import LayerSummary, MisalignedFieldWarning, ModelSummary, summary

__all__ = [
    "COST_TABLE",
    "AnswerReport",
    "EmpiricalField",
    "ExplanationMismatchError",
    "ExpressionError",
    "Graph",
    "LayerSummary",
    "MisalignedFieldWarning",
    "ModelSummary",
    "RenderUnavailableError",
    "autograd_demo",
    "check_answers",
    "draw_graph",
    "explain_backward",
    "explain_costs",
    "explain_expression",
    "receptive_field_empirical",
    "recording",
    "summary",
]
