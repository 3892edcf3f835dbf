"""Activations whose derivative PyTorch defines piecewise at the kinks (hardsigmoid, hardswish);
the other added activations compose gradbox ops in ``gradbox.nn.functional.extra_activation``.
"""

from __future__ import annotations

import numpy as np

from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath
from gradbox.ops._util import const
from gradbox.ops.elementwise import where


class Hardsigmoid(Function):
    math = OpMath(
        "y = min(max(x + 3, 0), 6) / 6",
        grads=("g / 6 where -3 < x < 3, 0 elsewhere",),
        local=("1/6 on (-3, 3)",),
        note="The derivative at x = -3 and x = 3 is taken as 0, as in PyTorch.",
    )
    save_inputs = True

    def forward(self, x):
        return (np.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    def backward(self, g):
        a = self.inputs[0]._data
        return g * const(((a > -3) & (a < 3)).astype(g._data.dtype) / 6)


class Hardswish(Function):
    math = OpMath(
        "y = x * min(max(x + 3, 0), 6) / 6",
        grads=("g * (0 if x < -3, x / 3 + 1/2 if -3 <= x <= 3, 1 if x > 3)",),
        local=("0, x/3 + 1/2, 1",),
        note="PyTorch's piecewise derivative, the middle piece closed at both ends.",
    )
    save_inputs = True

    def forward(self, x):
        return (x * np.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        a = x._data
        mid = const((a >= -3) & (a <= 3))
        hi = const(a > 3)
        return where(mid, g * (x / 3.0 + 0.5), where(hi, g, 0.0))
