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

import contextlib
import itertools
import traceback
from typing import Any

import numpy as np

from gradbox.autograd import anomaly
from gradbox.autograd.grad_mode import _state as _grad_state
from gradbox.autograd.opmath import OpMath, document
from gradbox.tensor import Tensor

# Callables tracer(op_class, input_tensors, params, output) called on every op application,
# with or without grad mode (graph export traces a forward pass this way); see ``tracing``.
tracers: list = []

_new = object.__new__
_ndarray = np.ndarray
_sequence = itertools.count()


class Function:
    """Base class of ops. ``Op.apply(*tensors, **params)`` runs forward and records a node.

    Class flags say what backward needs, so nothing else is kept alive:
    ``save_inputs`` keeps the input Tensors as ``self.inputs``; ``save_output`` keeps the
    result as ``self.output``. Op-specific values (masks, indices, dims) are set on ``self``
    in ``forward``.

    A node records ``next_functions`` (per input: its producing node, the leaf tensor itself,
    or None when it needs no gradient), ``input_shapes``, and ``seq``, its creation number.
    Inputs always exist before the op that consumes them, so decreasing ``seq`` is a
    topological order of the graph; the engine uses it.

    Every op class states its math as data in ``math`` (an :class:`OpMath`); defining the
    class writes it into the docstring; gradbox's own ops are registered in ``Function.registry``
    by name.
    """

    math: OpMath | None = None
    registry: dict[str, type[Function]] = {}

    __slots__ = ("next_functions", "input_shapes", "seq", "__dict__", "__weakref__")
    save_inputs = False
    save_output = False
    # A view op's result shares memory with its first input when NumPy makes a view: it then
    # shares the input's version counter and records it as its ``_base`` (see ``_link_view``).
    view = False
    _saved_versions: tuple | None = None
    _out_version = 0
    # Defaults on the class: a node sets only what it uses.
    inputs: tuple[Tensor, ...] | None = None
    output: Tensor | None = None
    _hooks: list | None = None
    _retain: Any = None
    _freed = False
    _trace: list[str] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("gradbox."):  # gradbox's own ops; a user's may reuse a name
            other = Function.registry.setdefault(cls.__name__, cls)
            if other is not cls:
                raise TypeError(f"op name {cls.__name__} is taken by {other.__module__}.{other.__qualname__}")
        if "math" in cls.__dict__ and cls.math is not None:
            document(cls, cls.math)

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
        fn = _new(cls)
        out = fn.forward(*[t._data for t in inputs], **params)
        if type(out) is not _ndarray:
            out = np.asarray(out)  # NumPy returns scalars for 0-d results
        if anomaly.enabled:
            anomaly.check_forward(cls.__name__, out)
        res = _new(Tensor)
        res._data = out
        if cls.view:
            _link_view(res, inputs[0])
        if tracers:
            for tracer in tracers:
                tracer(cls, inputs, params, res)
        if not _grad_state.enabled:  # this thread's mode (grad_mode.is_grad_enabled, without the call)
            return res
        nf = []
        needed = False
        for t in inputs:
            gf = t.grad_fn
            if gf is not None:
                nf.append(gf)
                needed = True
            elif t.requires_grad:
                nf.append(t)
                needed = True
            else:
                nf.append(None)
        if not needed:
            return res
        fn.next_functions = nf
        fn.input_shapes = [t._data.shape for t in inputs]
        fn.seq = next(_sequence)
        if cls.save_inputs:
            fn.inputs = inputs
            fn._saved_versions = tuple([t._vc[0] if t._vc is not None else 0 for t in inputs])
        if cls.save_output:
            fn.output = res
            if res._vc is not None:
                fn._out_version = res._vc[0]
        if anomaly.enabled:
            fn._trace = traceback.format_stack()[:-2]
        res.grad_fn = fn
        res.requires_grad = True
        return res

    def check_saved_versions(self) -> None:
        """Raise if a tensor this node saved for backward was changed in place since (its
        version moved on): backward would otherwise use the new values, silently wrong."""
        saved = [] if self.inputs is None else list(zip(self.inputs, self._saved_versions or ()))
        if self.output is not None:
            saved.append((self.output, self._out_version))
        for i, (t, v) in enumerate(saved):
            now = t._vc[0] if t._vc is not None else 0
            if now != v:
                what = f"input {i}" if self.inputs is not None and i < len(self.inputs) else "the output"
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: {what} of {self.name} (a {t.dtype} tensor of shape {tuple(t._data.shape)}) is at "
                    f"version {now}; expected version {v} instead. Use an out-of-place op (or .clone() before "
                    "the in-place one)"
                )

    def _release(self) -> None:
        """Drop what backward saved; a second backward through this node then raises."""
        self.__dict__.clear()
        self._freed = True


def _link_view(res: Tensor, src: Tensor) -> None:
    if np.may_share_memory(res._data, src._data):
        if src._vc is None:
            src._vc = [0]
        res._vc = src._vc
        res._base = src._base if src._base is not None else src


@contextlib.contextmanager
def tracing(tracer):
    """Call ``tracer(op_class, inputs, params, output)`` for every op applied inside the block."""
    tracers.append(tracer)
    try:
        yield tracer
    finally:
        tracers.remove(tracer)
