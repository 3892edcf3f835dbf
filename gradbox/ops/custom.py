"""The graph nodes of user-defined autograd functions (``gb.autograd.Function``, PyTorch's way).

A call ``MyFn.apply(*args)`` records one ``CustomFunctionNode`` whose backward is the user's
``backward(ctx, *grad_outputs)``. With several differentiable outputs, each output gets a small
``CustomOutput`` node: its backward places that output's gradient in its segment of one flat
vector (zeros elsewhere), the engine sums those vectors as it sums any gradient, and the custom
node cuts the sum back into one gradient per output. Both are written in gradbox ops, so a
backward made of gradbox ops can itself be differentiated (``create_graph=True``).
"""

from __future__ import annotations

import numpy as np

from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath
from gradbox.ops.shape import pad, reshape
from gradbox.tensor import Tensor


class CustomFunctionNode(Function):
    math = OpMath(
        "(y_1, ..., y_m) = forward(ctx, x_1, ..., x_n): a user-defined autograd.Function",
        grads=("the i-th value returned by backward(ctx, dL/dy_1, ..., dL/dy_m)",),
        inputs=("x_i",),
        note="The user's backward states the vector-Jacobian products; gradbox checks their number and shapes.",
    )

    @property
    def name(self) -> str:
        return f"{self.fn_cls.__name__}Backward"

    def backward(self, g):
        ctx = self.ctx
        if self.segments is None:  # one differentiable output
            grads_out = [g]
        else:
            grads_out = []
            for k, (start, shape) in enumerate(self.segments):
                if start is None:  # a non-differentiable output: no gradient
                    grads_out.append(None)
                elif k not in self.seen and not ctx.materialize_grads:
                    grads_out.append(None)
                else:
                    n = int(np.prod(shape, dtype=np.int64))
                    grads_out.append(reshape(g[start : start + n], shape))
            self.seen = set()
        if ctx.materialize_grads:
            grads_out = [
                Tensor._wrap(np.zeros(shape, dtype=dt)) if gi is None else gi
                for gi, (shape, dt) in zip(grads_out, self.out_meta)
            ]
        result = self.fn_cls.backward(ctx, *grads_out)
        if not isinstance(result, tuple):
            result = (result,)
        n_args = len(self.arg_is_tensor)
        if len(result) > n_args and all(r is None for r in result[n_args:]):
            result = result[:n_args]  # extra trailing Nones are allowed, as in PyTorch
        if len(result) != n_args:
            raise RuntimeError(
                f"function {self.name} returned an incorrect number of gradients (expected {n_args}, got {len(result)})"
            )
        grads = []
        for i, (gi, is_tensor) in enumerate(zip(result, self.arg_is_tensor)):
            if not is_tensor:
                if gi is not None:
                    raise RuntimeError(
                        f"function {self.name} returned a gradient different than None at position {i + 1}, but "
                        "the corresponding forward input was not a Tensor"
                    )
                continue
            if gi is not None and not isinstance(gi, Tensor):
                gi = Tensor._wrap(np.asarray(gi))
            grads.append(gi)
        for gi, shape, i in zip(grads, self.input_shapes, (j for j, t in enumerate(self.arg_is_tensor) if t)):
            if gi is not None and gi._data.shape != shape:
                try:  # a gradient with the broadcast shape is summed down by the engine
                    ok = np.broadcast_shapes(gi._data.shape, shape) == gi._data.shape
                except ValueError:
                    ok = False
                if not ok:
                    raise RuntimeError(
                        f"function {self.name} returned an invalid gradient at index {i} - got {list(gi._data.shape)} "
                        f"but expected shape compatible with {list(shape)}"
                    )
        return tuple(grads)


class CustomOutput(Function):
    math = OpMath(
        "y_k = output k of a user-defined Function, read from its node",
        grads=("dL/dy_k placed in segment k of the node's flat gradient (zeros elsewhere)",),
        inputs=("node",),
    )

    def backward(self, g):
        node, k = self.node, self.k
        start, shape = node.segments[k]
        node.seen.add(k)
        flat = reshape(g, (-1,)).to(node.flat_dtype) if g._data.dtype != node.flat_dtype else reshape(g, (-1,))
        n = flat._data.shape[0]
        return (pad(flat, (start, node.flat_size - start - n)),)
