"""``gb.nn.functional``: the layers and losses as functions, with PyTorch's names and defaults."""

from gradbox.nn.functional.activation import (
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    relu,
    relu6,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from gradbox.nn.functional.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from gradbox.nn.functional.dropout import dropout, dropout2d
from gradbox.nn.functional.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from gradbox.nn.functional.misc import bilinear, embedding, interpolate, linear, one_hot
from gradbox.nn.functional.normalization import batch_norm, group_norm, layer_norm, normalize
from gradbox.nn.functional.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from gradbox.ops import flatten, pad, unflatten

__all__ = [n for n in dir() if not n.startswith("_")]
