"""``gb.vision.models``: classic architectures with torchvision's names and parameter names.

Every builder takes ``num_classes`` and ``in_channels``; the convolutional ones take
``small_input=True`` for 28x28/32x32 images; all take torchvision's keyword-only
``weights=None, progress=True`` (gradbox ships no pretrained weights: anything but None raises
:class:`PretrainedWeightsUnavailableError`, as does ``pretrained=True``). The ``*_Weights`` enums
exist under torchvision's names. ``get_model(name, **kw)`` builds by name.
"""

from __future__ import annotations

from gradbox.vision.models import googlenet as _googlenet
from gradbox.vision.models import mobilenet as _mobilenet
from gradbox.vision.models import resnet as _resnet
from gradbox.vision.models import simple as _simple
from gradbox.vision.models._weights import PretrainedWeightsUnavailableError, WeightsEnum, weights_enum, with_weights
from gradbox.vision.models.googlenet import GoogLeNet
from gradbox.vision.models.mobilenet import MobileNetV2
from gradbox.vision.models.resnet import ResNet
from gradbox.vision.models.simple import MLP, VGG, AlexNet, LeNet5

_V2 = ("IMAGENET1K_V1", "IMAGENET1K_V2")
AlexNet_Weights = weights_enum("AlexNet_Weights")
VGG11_Weights, VGG11_BN_Weights = weights_enum("VGG11_Weights"), weights_enum("VGG11_BN_Weights")
VGG13_Weights, VGG13_BN_Weights = weights_enum("VGG13_Weights"), weights_enum("VGG13_BN_Weights")
VGG16_Weights, VGG16_BN_Weights = weights_enum("VGG16_Weights"), weights_enum("VGG16_BN_Weights")
VGG19_Weights, VGG19_BN_Weights = weights_enum("VGG19_Weights"), weights_enum("VGG19_BN_Weights")
GoogLeNet_Weights = weights_enum("GoogLeNet_Weights")
ResNet18_Weights, ResNet34_Weights = weights_enum("ResNet18_Weights"), weights_enum("ResNet34_Weights")
ResNet50_Weights, ResNet101_Weights = weights_enum("ResNet50_Weights", _V2), weights_enum("ResNet101_Weights", _V2)
ResNet152_Weights = weights_enum("ResNet152_Weights", _V2)
ResNeXt50_32X4D_Weights = weights_enum("ResNeXt50_32X4D_Weights", _V2)
MobileNet_V2_Weights = weights_enum("MobileNet_V2_Weights", _V2)

_WEIGHTS = {
    "mlp": None,
    "lenet5": None,
    "alexnet": AlexNet_Weights,
    "vgg11": VGG11_Weights,
    "vgg11_bn": VGG11_BN_Weights,
    "vgg13": VGG13_Weights,
    "vgg13_bn": VGG13_BN_Weights,
    "vgg16": VGG16_Weights,
    "vgg16_bn": VGG16_BN_Weights,
    "vgg19": VGG19_Weights,
    "vgg19_bn": VGG19_BN_Weights,
    "googlenet": GoogLeNet_Weights,
    "resnet18": ResNet18_Weights,
    "resnet34": ResNet34_Weights,
    "resnet50": ResNet50_Weights,
    "resnet101": ResNet101_Weights,
    "resnet152": ResNet152_Weights,
    "resnext50_32x4d": ResNeXt50_32X4D_Weights,
    "mobilenet_v2": MobileNet_V2_Weights,
}
_BUILDERS = {
    name: getattr(module, name)
    for module in (_simple, _googlenet, _resnet, _mobilenet)
    for name in _WEIGHTS
    if hasattr(module, name)
}
_built = {name: with_weights(_BUILDERS[name], name, _WEIGHTS[name]) for name in _WEIGHTS}
mlp, lenet5, alexnet = _built["mlp"], _built["lenet5"], _built["alexnet"]
vgg11, vgg11_bn, vgg13, vgg13_bn = _built["vgg11"], _built["vgg11_bn"], _built["vgg13"], _built["vgg13_bn"]
vgg16, vgg16_bn, vgg19, vgg19_bn = _built["vgg16"], _built["vgg16_bn"], _built["vgg19"], _built["vgg19_bn"]
googlenet, mobilenet_v2 = _built["googlenet"], _built["mobilenet_v2"]
resnet18, resnet34, resnet50 = _built["resnet18"], _built["resnet34"], _built["resnet50"]
resnet101, resnet152, resnext50_32x4d = _built["resnet101"], _built["resnet152"], _built["resnext50_32x4d"]

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


def get_model_weights(name) -> type[WeightsEnum]:
    """The ``*_Weights`` enum of a model (by name or builder)."""
    key = name if isinstance(name, str) else getattr(name, "__name__", "")
    if _WEIGHTS.get(key) is None:
        raise ValueError(f"no weights enum for model {name!r}")
    return _WEIGHTS[key]


def get_weight(name: str) -> WeightsEnum:
    """A weights member from its full name, e.g. ``"ResNet18_Weights.DEFAULT"``."""
    enum_name, _, member = name.partition(".")
    for cls in _WEIGHTS.values():
        if cls is not None and cls.__name__ == enum_name and member in cls.__members__:
            return cls[member]
    raise ValueError(f"unknown weights {name!r}")


__all__ = [
    "MODELS",
    "AlexNet_Weights",
    "GoogLeNet_Weights",
    "MobileNet_V2_Weights",
    "PretrainedWeightsUnavailableError",
    "ResNeXt50_32X4D_Weights",
    "ResNet18_Weights",
    "ResNet34_Weights",
    "ResNet50_Weights",
    "ResNet101_Weights",
    "ResNet152_Weights",
    "VGG11_BN_Weights",
    "VGG11_Weights",
    "VGG13_BN_Weights",
    "VGG13_Weights",
    "VGG16_BN_Weights",
    "VGG16_Weights",
    "VGG19_BN_Weights",
    "VGG19_Weights",
    "WeightsEnum",
    "get_model_weights",
    "get_weight",
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
