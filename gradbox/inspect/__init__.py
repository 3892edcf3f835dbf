"""``gb.inspect``: tools that look inside models and autograd graphs (beyond PyTorch).

Today: ``autograd_demo``, a worked backward pass of f = (x*y)*z. Model summaries, receptive
fields, graph drawing and worked explanations belong here too.
"""

from gradbox.inspect.demo import autograd_demo

__all__ = ["autograd_demo"]
