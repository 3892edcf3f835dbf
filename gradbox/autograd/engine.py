"""Reverse-mode engine: one sweep from the outputs to the leaves, in topological order.

For y = f(x) with upstream gradient g = dL/dy, each node's backward returns the
vector-Jacobian products g^T dy/dx_i. Where a node feeds several consumers, the engine sums
their contributions before the node runs (the multivariate chain rule), so every node runs
once: nodes are taken in decreasing creation number from a heap (see ``run_backward``), no
recursion. Gradients that came back with a broadcast shape are summed to the input's shape
here, for all ops at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappop, heappush

import numpy as np

from gradbox.autograd import anomaly, grad_mode
from gradbox.autograd.function import Function
from gradbox.tensor import Tensor

_FREED = (
    "Trying to backward through the graph a second time (or to use saved values after they "
    "were freed): node {name} was already released. Pass retain_graph=True to the first "
    "backward() or autograd.grad() if you need to backward through the graph again."
)


def topological_order(roots: Sequence[Function]) -> list[Function]:
    """Nodes reachable from ``roots``, each after every node that consumes it.

    Iterative depth-first post-order (no recursion, so a 100,000-op chain is fine), reversed.
    The engine does not need it (it orders by creation number); graph drawing and worked
    explanations of a backward pass do.
    """
    post: list[Function] = []
    visited: set[int] = set()
    stack: list[tuple[Function, bool]] = [(r, False) for r in roots]
    while stack:
        node, done = stack.pop()
        if done:
            post.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for nxt in node.next_functions:
            if nxt is not None and not isinstance(nxt, Tensor):
                if id(nxt) not in visited:
                    stack.append((nxt, False))
    post.reverse()
    return post


def _run_hooks(hooks: list, g: Tensor) -> Tensor:
    """Each hook sees the gradient and may replace it by returning a new one."""
    for hook in hooks:
        r = hook(g)
        if r is not None:
            g = r
    return g


def _accumulate_leaf(leaf: Tensor, g: Tensor, create_graph: bool) -> None:
    if leaf._hooks:
        g = _run_hooks(leaf._hooks, g)
    if leaf.grad is None:
        if create_graph:
            leaf.grad = g
        elif g._fresh:  # an array made for this leaf alone (ops/_util.fresh): kept, not copied
            g._fresh = False  # and never passed on as fresh again (a hook could return it for another leaf)
            leaf.grad = g
        else:  # a copy: the incoming gradient may alias another leaf's or be a view
            leaf.grad = Tensor._wrap(np.array(g._data, copy=True))
    elif create_graph or leaf.grad.requires_grad:
        leaf.grad = leaf.grad + g
    else:
        leaf.grad._data += g._data


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Tensor] | None = None,
) -> list[Tensor | None] | None:
    """Backpropagate ``root_grads`` from ``roots``.

    Nodes run in decreasing creation order (``seq``), taken from a heap of the nodes that have
    received a gradient: every consumer of a node was created after it, so when a node comes
    off the heap all contributions to its gradient have arrived. That is a topological order
    found without a separate pass over the graph, and without recursion.

    With ``capture`` (autograd.grad), return the gradients of those tensors and leave every
    ``.grad`` untouched; otherwise accumulate into the ``.grad`` of leaves (and of non-leaves
    that called ``retain_grad``).
    """
    from gradbox.ops.shape import sum_to  # cycle: ops builds on autograd.function; the engine un-broadcasts with ops

    grads: dict[Function, Tensor] = {}
    heap: list[tuple[int, Function]] = []
    results: list[Tensor | None] = [None] * len(capture) if capture is not None else []
    cap_leaf: dict[int, int] = {}
    cap_node: dict[int, int] = {}
    if capture is not None:
        for i, t in enumerate(capture):
            (cap_node if t.grad_fn is not None else cap_leaf)[id(t.grad_fn or t)] = i

    def deliver_leaf(leaf: Tensor, g: Tensor) -> None:
        if capture is None:
            _accumulate_leaf(leaf, g, create_graph)
        else:
            i = cap_leaf.get(id(leaf))
            if i is not None:
                results[i] = g if results[i] is None else results[i] + g

    def send(target: Function | Tensor, g: Tensor) -> None:
        """Hand g to a leaf, or add it to a node's gradient (queueing the node on first arrival)."""
        if isinstance(target, Tensor):
            deliver_leaf(target, g)
        elif target in grads:
            grads[target] = grads[target] + g
        else:
            grads[target] = g
            heappush(heap, (-target.seq, target))

    prev_mode = grad_mode.is_grad_enabled()
    grad_mode.set_enabled(create_graph)
    checking = anomaly.enabled
    anomaly.enabled = False  # ops inside a backward formula are reported as the node's backward
    try:
        for root, g in zip(roots, root_grads):
            send(root.grad_fn or root, g)
        while heap:
            node = heappop(heap)[1]
            g = grads.pop(node)
            if node._freed:
                raise RuntimeError(_FREED.format(name=node.name))
            if node._saved_versions is not None or node.output is not None:
                node.check_saved_versions()
            if node._hooks:
                g = _run_hooks(node._hooks, g)
            if capture is not None:
                i = cap_node.get(id(node))
                if i is not None:
                    results[i] = g
            elif node._retain is not None:
                t = node._retain()
                if t is not None:
                    gd = g if create_graph else g.detach()
                    t.grad = gd if t.grad is None else t.grad + gd
            in_grads = node.backward(g)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            for i, (nxt, gi, shape) in enumerate(zip(node.next_functions, in_grads, node.input_shapes)):
                if nxt is None or gi is None:
                    continue
                if gi._data.shape != shape:
                    gi = sum_to(gi, shape)
                if checking:
                    anomaly.check_backward(node, i, gi._data)
                send(nxt, gi)
            if not retain_graph:
                node._release()
    finally:
        grad_mode.set_enabled(prev_mode)
        anomaly.enabled = checking
    return results if capture is not None else None


def _as_list(x) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, Sequence) and not isinstance(x, Tensor) else [x]


def _root_grads(outputs: list[Tensor], grad_outputs: list) -> list[Tensor]:
    if grad_outputs and len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad_outputs has {len(grad_outputs)} entries for {len(outputs)} outputs")
    grads = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"backward: expected Tensors as outputs, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        g = grad_outputs[i] if grad_outputs else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; output {i} has shape "
                    f"{tuple(out._data.shape)}: pass gradient= with that shape"
                )
            g = Tensor._wrap(np.ones_like(out._data))
        elif not isinstance(g, Tensor):
            g = Tensor._wrap(np.asarray(g, dtype=out._data.dtype))
        if g._data.shape != out._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(g._data.shape)} and "
                f"output[{i}] has a shape of {tuple(out._data.shape)}"
            )
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
    """Accumulate d(tensors)/d(leaf) into each leaf's ``.grad`` (vector-Jacobian products)."""
    outs = _as_list(tensors)
    grads = _root_grads(outs, _as_list(grad_tensors))
    run_backward(
        outs, grads, retain_graph=create_graph if retain_graph is None else retain_graph, create_graph=create_graph
    )


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Return d(outputs)/d(inputs) without touching any ``.grad``.

    With ``create_graph=True`` the results carry a graph, so they can be differentiated again.
    """
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    grads = _root_grads(outs, _as_list(grad_outputs))
    res = run_backward(
        outs,
        grads,
        retain_graph=create_graph if retain_graph is None else retain_graph,
        create_graph=create_graph,
        capture=ins,
    )
    assert res is not None
    for i, r in enumerate(res):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {tuple(ins[i]._data.shape)}) was not used in the graph of the "
                "outputs; pass allow_unused=True if this is intended"
            )
    return tuple(res)
