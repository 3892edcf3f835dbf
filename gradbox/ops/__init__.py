"""Every differentiable op of gradbox, by concern. Each op class states its forward and backward as math.

The modules imported here export PyTorch's ``torch.<name>`` functions (all of them are ``gb.<name>``);
``window``, ``conv``, ``pool``, ``normalization``, ``loss`` and ``activation`` hold the ops behind
``gb.nn.functional`` (convolution, pooling, batch norm, cross-entropy, activations).
"""

from types import ModuleType as _ModuleType

from gradbox.ops import activation, conv, loss, normalization, pool, window  # the ops behind nn.functional
from gradbox.ops._util import as_tensor
from gradbox.ops.elementwise import (
    abs,
    add,
    bitwise,
    cast,
    clamp,
    clip,
    cos,
    div,
    eq,
    erf,
    exp,
    floor_divide,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    masked_fill,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    reciprocal,
    relu,
    remainder,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    sub,
    tanh,
    where,
)
from gradbox.ops.index import gather, getitem, index_select
from gradbox.ops.linalg import bmm, dot, matmul, mm, outer
from gradbox.ops.reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    softmax,
    std,
    sum,
    var,
)
from gradbox.ops.shape import (
    broadcast_to,
    cat,
    chunk,
    clone,
    concatenate,
    expand,
    expand_as,
    flatten,
    flip,
    movedim,
    pad,
    permute,
    repeat,
    reshape,
    reshape_as,
    split,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    t,
    transpose,
    unflatten,
    unsqueeze,
    view,
    view_as,
)

__all__ = [n for n, v in dict(globals()).items() if not n.startswith("_") and not isinstance(v, _ModuleType)]
