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
from gradbox.nn.functional.attention import embedding_bag, multi_head_attention_forward, scaled_dot_product_attention
from gradbox.nn.functional.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from gradbox.nn.functional.distance import cosine_similarity, pairwise_distance, pdist
from gradbox.nn.functional.dropout import dropout, dropout2d
from gradbox.nn.functional.extra_activation import (
    celu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    mish,
    prelu,
    selu,
    softmin,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
)
from gradbox.nn.functional.extra_loss import (
    cosine_embedding_loss,
    gaussian_nll_loss,
    hinge_embedding_loss,
    linear_cross_entropy,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from gradbox.nn.functional.extra_norm import instance_norm, local_response_norm, rms_norm
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
from gradbox.nn.functional.misc import bilinear, embedding, linear, one_hot
from gradbox.nn.functional.normalization import batch_norm, group_norm, layer_norm, normalize
from gradbox.nn.functional.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from gradbox.nn.functional.sampling import ctc_loss, grid_sample
from gradbox.nn.functional.vision_ops import (  # interpolate (all modes), adaptive max pools with indices
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool3d,
    conv3d,
    conv_transpose3d,
    fold,
    interpolate,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
    pixel_shuffle,
    pixel_unshuffle,
    unfold,
    upsample,
    upsample_bilinear,
    upsample_nearest,
)
from gradbox.ops import channel_shuffle, flatten, pad, unflatten

__all__ = [n for n in dir() if not n.startswith("_")]
