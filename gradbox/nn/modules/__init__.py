from gradbox.nn.modules.activation import (
    ELU,
    GELU,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from gradbox.nn.modules.container import ModuleDict, ModuleList, Sequential
from gradbox.nn.modules.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from gradbox.nn.modules.dropout import Dropout, Dropout2d
from gradbox.nn.modules.extra_activation import (
    CELU,
    GLU,
    SELU,
    ChannelShuffle,
    CosineSimilarity,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    LogSigmoid,
    Mish,
    PairwiseDistance,
    PReLU,
    Softmin,
    Softshrink,
    Softsign,
    Tanhshrink,
    Threshold,
)
from gradbox.nn.modules.extra_layers import (
    CTCLoss,
    EmbeddingBag,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LocalResponseNorm,
    MultiheadAttention,
    RMSNorm,
)
from gradbox.nn.modules.extra_loss import (
    CosineEmbeddingLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    MarginRankingLoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    PoissonNLLLoss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from gradbox.nn.modules.linear import Bilinear, Flatten, Identity, Linear, Unflatten
from gradbox.nn.modules.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from gradbox.nn.modules.module import Module
from gradbox.nn.modules.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from gradbox.nn.modules.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from gradbox.nn.modules.sparse import Embedding
from gradbox.nn.modules.vision import (  # the adaptive max pools (they honour return_indices)
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool3d,
    Conv3d,
    ConvTranspose3d,
    Fold,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
    PixelShuffle,
    PixelUnshuffle,
    Unfold,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)

__all__ = [n for n in dir() if not n.startswith("_")]
