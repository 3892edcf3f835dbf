"""``gb.autograd.Function``: custom differentiable functions written PyTorch's way.

    class Exp(gb.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    y = Exp.apply(x)

``forward`` runs without recording a graph; ``backward`` returns one gradient per argument of
``forward`` (None for arguments that are not tensors or need none). The context offers
``save_for_backward`` / ``saved_tensors`` (checked against in-place changes),
``needs_input_grad``, ``mark_non_differentiable``, ``set_materialize_grads`` and ``mark_dirty``;
PyTorch 2's ``setup_context`` form works too. gradbox's own ops use another base, ``Op`` in
``gradbox.autograd.function``, which runs on raw arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradbox.autograd import function as _fn
from gradbox.autograd import grad_mode
from gradbox.tensor import Tensor


class FunctionCtx:
    """What ``forward`` leaves for ``backward``."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._saved: tuple = ()
        self._versions: tuple = ()
        self._non_differentiable: set[int] = set()
        self._dirty: tuple = ()

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors (or None), got {type(t).__name__} at {i}")
        self._saved = tensors
        self._versions = tuple(t._version if t is not None else 0 for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        for i, (t, v) in enumerate(zip(self._saved, self._versions)):
            if t is not None and t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace operation: "
                    f"saved tensor {i} (shape {tuple(t._data.shape)}) is at version {t._version}; expected version {v}"
                )
        return self._saved

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        self._non_differentiable.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """With False, gradients of outputs that got none reach backward as None (not zeros)."""
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Tensors ``forward`` changed in place (their versions are bumped)."""
        self._dirty = tensors


class Function:
    """Base class of custom autograd functions: subclass, define the static methods ``forward``
    and ``backward``, call ``.apply(*args)`` (see the module docstring)."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a gb.autograd.Function subclass must define the static method forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Tensor) -> Any:
        raise NotImplementedError("a gb.autograd.Function subclass must define the static method backward(ctx, ...)")

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output: Any) -> None:
        """PyTorch 2's form: ``forward(*args)`` without ctx, then ``setup_context(ctx, inputs, output)``."""
        raise NotImplementedError

    def __init__(self, *args, **kwargs) -> None:
        raise RuntimeError(
            f"{type(self).__name__}: call {type(self).__name__}.apply(...) instead of instantiating the Function"
        )

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        from gradbox.ops.custom import CustomFunctionNode, CustomOutput  # cycle: gradbox.ops imports autograd

        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        with grad_mode.no_grad():
            if cls.setup_context is not Function.setup_context:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        for t in ctx._dirty:
            if t._vc is None:
                t._vc = [0]
            t._vc[0] += 1
        single = not isinstance(output, tuple)
        outs = (output,) if single else output
        record = grad_mode.is_grad_enabled() and any(needs)
        wrapped, diff = [], []
        for o in outs:
            if not isinstance(o, Tensor):
                wrapped.append(o)
                continue
            w = o if not any(o is a for a in args) else o._alias()  # never rewrite an input's history
            wrapped.append(w)
            if record and w._data.dtype.kind == "f" and id(o) not in ctx._non_differentiable:
                diff.append(w)
        if not diff:
            return output if single else tuple(wrapped)
        node = object.__new__(CustomFunctionNode)
        tensors = [a for a in args if isinstance(a, Tensor)]
        node.next_functions = [t.grad_fn if t.grad_fn is not None else (t if t.requires_grad else None) for t in tensors]
        node.input_shapes = [t._data.shape for t in tensors]
        node.seq = next(_fn._sequence)
        node.fn_cls, node.ctx = cls, ctx
        node.arg_is_tensor = tuple(isinstance(a, Tensor) for a in args)
        tensor_outs = [w for w in wrapped if isinstance(w, Tensor)]
        node.out_meta = [(w._data.shape, w._data.dtype if w._data.dtype.kind == "f" else np.float64) for w in tensor_outs]
        if len(tensor_outs) == 1:
            node.segments = None
            w = diff[0]
            w.grad_fn, w.requires_grad = node, True
            return w if single else tuple(wrapped)
        # several outputs: each reads its segment of one flat gradient (see gradbox.ops.custom)
        node.flat_dtype = np.result_type(*[w._data.dtype for w in diff])
        node.segments, node.seen, start = [], set(), 0
        diff_ids = {id(w) for w in diff}
        for w in tensor_outs:
            if id(w) in diff_ids:
                node.segments.append((start, w._data.shape))
                start += w._data.size
            else:
                node.segments.append((None, w._data.shape))
        node.flat_size = start
        flat_owner = Tensor._wrap(np.zeros(0, dtype=node.flat_dtype))
        flat_owner.grad_fn, flat_owner.requires_grad = node, True
        for k, w in enumerate(tensor_outs):
            if id(w) not in diff_ids:
                continue
            sel = object.__new__(CustomOutput)
            sel.next_functions = [node]
            sel.input_shapes = [(node.flat_size,)]
            sel.seq = next(_fn._sequence)
            sel.node, sel.k = node, k
            w.grad_fn, w.requires_grad = sel, True
        return tuple(wrapped)
