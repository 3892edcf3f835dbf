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
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from gradbox.nn.modules.sparse import Embedding

__all__ = [n for n in dir() if not n.startswith("_")]
