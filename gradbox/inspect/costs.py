"""What each layer and op costs: multiply-accumulates (MACs) and other arithmetic ops.

One table, :data:`COST_TABLE`, states every count (the README prints it); the functions below
implement it, per op (``op_cost``, for ops that run between modules or inside layers the
table does not name) and per layer (``module_cost``, for layers whose count is defined by the
layer rather than by the ops gradbox happens to compose it of: normalisation, activations,
adaptive pooling, bilinear, embedding).

MACs are counted for weighted layers only (convolution, linear, bilinear, matrix products),
as torchvision's model docs and fvcore do: one MAC is one multiply and one add, so FLOPs are
2 x MACs. Bias adds, normalisation, activations, pooling and element-wise ops are counted apart,
as ``other_ops``.
"""

from __future__ import annotations

import math

from gradbox import nn

# (what, MACs, other ops). N: batch; out: the output's spatial size; k: the kernel's size.
COST_TABLE: list[tuple[str, str, str]] = [
    (
        "convolution (`Conv1d`, `Conv2d`, `F.conv2d`; strided, dilated, grouped)",
        "N x C_out x prod(out) x C_in/groups x prod(k)",
        "1 per output element for the bias",
    ),
    ("transposed convolution", "N x C_in x prod(in) x C_out/groups x prod(k)", "1 per output element for the bias"),
    ("linear (`Linear`, `F.linear`)", "rows x in x out", "1 per output element for the bias"),
    ("matrix product (`@`, `matmul`, `bmm`)", "output elements x inner size", "0"),
    ("bilinear", "rows x out x in1 x in2", "1 per output element for the bias"),
    ("embedding lookup", "0", "0"),
    ("batch norm in eval mode (a multiply-add per element)", "0", "2 per element (1 without affine)"),
    ("batch norm in training, layer norm, group norm", "0", "5 per element (4 without affine)"),
    (
        "activation layers (`ReLU`, `ReLU6`, `GELU`, `SiLU`, `Sigmoid`, ...) and element-wise functions",
        "0",
        "1 per output element",
    ),
    ("softmax, log-softmax", "0", "3 per element"),
    ("element-wise `+ - * /`, maximum, minimum, pow of tensors (a residual `+`)", "0", "1 per output element"),
    ("max pooling", "0", "prod(k) - 1 per output element"),
    ("average pooling", "0", "prod(k) per output element (adds and a divide)"),
    ("adaptive average pooling", "0", "window size per output element (global pooling: 1 per input element)"),
    ("adaptive max pooling", "0", "window size - 1 per output element"),
    ("sum, max, min over dims", "0", "input elements - output elements"),
    ("mean over dims", "0", "1 per input element"),
    ("variance, standard deviation, logsumexp", "0", "3 per input element"),
    ("reshape, flatten, permute, `cat`, pad, slicing, dropout in eval, identity", "0", "0"),
]


def cost_table_markdown() -> str:
    """:data:`COST_TABLE` as a Markdown table (the README's)."""
    lines = ["| operation | multiply-accumulates | other ops |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in COST_TABLE]
    return "\n".join(lines)


UNARY = frozenset(
    """Neg Exp Log Log1p Erf Sqrt Abs Sin Cos Tanh Sigmoid Relu Clamp LeakyRelu Elu Softplus PowScalar""".split()
)
BINARY = frozenset("Add Sub Mul Div Pow Maximum Minimum".split())
FREE = frozenset("Reshape Permute Expand Flip Pad Cat Clone Index Take Cast Where IndexAdd ScatterAdd IndexPut".split())


def _numel(shape) -> int:
    return math.prod(shape)


def op_cost(op: str, params: dict, in_shapes: list[tuple[int, ...]], out: tuple[int, ...]) -> tuple[int, int] | None:
    """(MACs, other ops) of one op application; ``None`` for an op the table does not count."""
    n_out = _numel(out)
    n_in = _numel(in_shapes[0]) if in_shapes else 0
    if op == "Conv":
        return n_out * _numel(in_shapes[1][1:]), n_out if len(in_shapes) > 2 else 0
    if op == "ConvInput":  # transposed convolution: each input element meets the weight's fan-out
        return n_in * _numel(in_shapes[1][1:]), 0
    if op == "ConvWeight":
        return _numel(in_shapes[1]) * _numel(params["w_shape"][1:]), 0
    if op == "Linear":
        return n_out * in_shapes[0][-1], n_out if len(in_shapes) > 2 else 0
    if op == "Matmul":
        return max(n_out, 1) * in_shapes[0][-1], 0
    if op in BINARY or op in UNARY:
        return 0, n_out
    if op in ("MaxPool", "WindowSum"):
        return 0, n_out * (_numel(params["kernel"]) - 1)
    if op in ("Sum", "SumTo", "AMaxMin", "MaxMinDim", "Prod"):
        return 0, n_in - n_out
    if op == "Mean":
        return 0, n_in
    if op in ("Var", "Std", "LogSumExp", "SoftmaxCrossEntropy"):
        return 0, 3 * n_in
    if op in ("Softmax", "LogSoftmax"):
        return 0, 3 * n_out
    if op == "BatchNormTrain":
        return 0, (5 if params.get("has_weight") else 4) * n_out
    if op in FREE:
        return 0, 0
    return None


ACTIVATIONS = (
    nn.ReLU, nn.ReLU6, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Softplus, nn.Hardtanh
)  # fmt: skip
ADAPTIVE = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)


def counts_itself(module: nn.Module) -> bool:
    """Whether ``module_cost`` defines this layer's cost (its inner ops are then not counted)."""
    return isinstance(
        module,
        nn.BatchNorm1d | nn.BatchNorm2d | nn.LayerNorm | nn.GroupNorm | nn.Softmax | nn.Bilinear | nn.Embedding,
    ) or isinstance(module, ACTIVATIONS + ADAPTIVE)


def _windows(size: int, n: int) -> int:
    """The summed widths of adaptive pooling's n windows over an axis of ``size``."""
    return sum(math.ceil((o + 1) * size / n) - math.floor(o * size / n) for o in range(n))


def module_cost(module: nn.Module, in_shapes: list[tuple[int, ...]], out: tuple[int, ...]) -> tuple[int, int]:
    """(MACs, other ops) of one call of a layer for which ``counts_itself`` holds."""
    n = _numel(out)
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        affine = module.weight is not None
        batch_stats = module.training or module.running_mean is None
        return 0, ((5 if affine else 4) if batch_stats else (2 if affine else 1)) * n
    if isinstance(module, nn.LayerNorm):
        return 0, (5 if module.weight is not None else 4) * n
    if isinstance(module, nn.GroupNorm):
        return 0, (5 if module.weight is not None else 4) * n
    if isinstance(module, nn.Softmax):
        return 0, 3 * n
    if isinstance(module, nn.Bilinear):
        rows = n // module.out_features
        return rows * module.out_features * module.in1_features * module.in2_features, (
            n if module.bias is not None else 0
        )
    if isinstance(module, nn.Embedding):
        return 0, 0
    if isinstance(module, ADAPTIVE):
        x = in_shapes[0]
        d = 2 if isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d) else 1
        summed = _numel(x[:-d]) * math.prod(_windows(s, o) for s, o in zip(x[-d:], out[-d:]))
        is_max = isinstance(module, nn.AdaptiveMaxPool1d | nn.AdaptiveMaxPool2d)
        return 0, summed - n if is_max else summed
    return 0, n  # activations: one op per output element
