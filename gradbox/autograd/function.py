"""The node type of the autograd graph.

Every differentiable op is a subclass of :class:`Function` with two methods:

* ``forward(self, *arrays, **params)`` computes the result on raw NumPy arrays;
* ``backward(self, g)`` maps the upstream gradient ``g = dL/dy`` (a Tensor) to the gradients
  of the inputs, written in gradbox ops so that the backward pass can itself be
  differentiated (``create_graph=True``).

Gradients returned by ``backward`` may have the broadcast shape of the output; the engine
reduces them to each input's shape in one place (:func:`gradbox.ops.shape.sum_to`).
"""

from __future__ import annotations

import traceback
from typing import Any

import numpy as np

from gradbox.autograd import anomaly, grad_mode
from gradbox.tensor import Tensor


class Function:
    """Base class of ops. ``Op.apply(*tensors, **params)`` runs forward and records a node.

    Class flags say what backward needs, so nothing else is kept alive:
    ``save_inputs`` keeps the input Tensors as ``self.inputs``; ``save_output`` keeps the
    result as ``self.output``. Op-specific values (masks, indices, dims) are set on ``self``
    in ``forward``.
    """

    __slots__ = (
        "next_functions",
        "input_shapes",
        "inputs",
        "output",
        "_hooks",
        "_retain",
        "_freed",
        "_trace",
        "__dict__",
        "__weakref__",
    )
    save_inputs = False
    save_output = False

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, g: Tensor) -> Tensor | tuple[Tensor | None, ...] | None:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name}>"

    @classmethod
    def apply(cls, *inputs: Tensor, **params: Any) -> Tensor:
        fn = object.__new__(cls)
        out = fn.forward(*[t._data for t in inputs], **params)
        if anomaly.enabled:
            anomaly.check_forward(cls.__name__, out)
        res = Tensor._wrap(out)
        if not grad_mode.enabled:
            return res
        for t in inputs:
            if t.requires_grad:
                break
        else:
            return res
        fn.next_functions = tuple(
            t.grad_fn if t.grad_fn is not None else (t if t.requires_grad else None) for t in inputs
        )
        fn.input_shapes = tuple(t._data.shape for t in inputs)
        fn.inputs = inputs if cls.save_inputs else None
        fn.output = res if cls.save_output else None
        fn._hooks = None
        fn._retain = None
        fn._freed = False
        fn._trace = traceback.format_stack()[:-2] if anomaly.enabled else None
        res.grad_fn = fn
        res.requires_grad = True
        return res

    def _release(self) -> None:
        """Drop what backward saved; a second backward through this node then raises."""
        self.inputs = None
        self.output = None
        self.__dict__.clear()
        self._freed = True
