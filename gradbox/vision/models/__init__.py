"""``gb.vision.models``: classic architectures with torchvision's parameter names.

Every builder takes ``num_classes`` and ``in_channels``; the convolutional ones take
``small_input=True`` for 28x28/32x32 images. ``get_model(name, **kw)`` builds by name.
"""

from __future__ import annotations

from gradbox.vision.models.googlenet import GoogLeNet, googlenet
from gradbox.vision.models.mobilenet import MobileNetV2, mobilenet_v2
from gradbox.vision.models.resnet import ResNet, resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d
from gradbox.vision.models.simple import (
    MLP,
    VGG,
    AlexNet,
    LeNet5,
    alexnet,
    lenet5,
    mlp,
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
)

MODELS = {
    "mlp": mlp,
    "lenet5": lenet5,
    "alexnet": alexnet,
    "vgg11": vgg11,
    "vgg11_bn": vgg11_bn,
    "vgg13": vgg13,
    "vgg13_bn": vgg13_bn,
    "vgg16": vgg16,
    "vgg16_bn": vgg16_bn,
    "vgg19": vgg19,
    "vgg19_bn": vgg19_bn,
    "googlenet": googlenet,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "resnet101": resnet101,
    "resnet152": resnet152,
    "resnext50_32x4d": resnext50_32x4d,
    "mobilenet_v2": mobilenet_v2,
}


def list_models() -> list[str]:
    return sorted(MODELS)


def get_model(name: str, **kwargs):
    """Build a model by name; an unknown name lists the valid ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(list_models())}")
    return MODELS[name](**kwargs)


__all__ = [
    "MODELS",
    "MLP",
    "VGG",
    "AlexNet",
    "GoogLeNet",
    "LeNet5",
    "MobileNetV2",
    "ResNet",
    "get_model",
    "list_models",
    *MODELS,
]
