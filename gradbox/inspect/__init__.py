"""``gb.inspect``: tools that look inside models and autograd graphs (beyond PyTorch).

``summary`` (per-layer shapes, parameters, multiply-accumulates, other ops and receptive
fields, functional ops included), ``receptive_field_empirical`` (the input region a unit's
gradient reaches), ``draw_graph`` (the autograd graph with values and gradients, or a model's
module-level graph), and ``autograd_demo``, a worked backward pass of f = (x*y)*z.
"""

from gradbox.inspect.autograd_graph import draw_graph
from gradbox.inspect.costs import COST_TABLE
from gradbox.inspect.demo import autograd_demo
from gradbox.inspect.graph import Graph
from gradbox.inspect.receptive_field import EmpiricalField, receptive_field_empirical
from gradbox.inspect.render import RenderUnavailableError
from gradbox.inspect.summary import LayerSummary, MisalignedFieldWarning, ModelSummary, summary

__all__ = [
    "COST_TABLE",
    "EmpiricalField",
    "Graph",
    "LayerSummary",
    "MisalignedFieldWarning",
    "ModelSummary",
    "RenderUnavailableError",
    "autograd_demo",
    "draw_graph",
    "receptive_field_empirical",
    "summary",
]
