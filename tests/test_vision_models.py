"""gb.vision.models with torchvision's builder signatures: weights=None builds, pretrained weights
explain that none ship; get_model and MODELS keep working for their other users."""

import inspect

import pytest

import gradbox as gb

models = gb.vision.models


def test_builders_take_torchvisions_keywords():
    for name in ["resnet18", "vgg11", "alexnet", "googlenet", "mobilenet_v2", "lenet5", "mlp"]:
        params = inspect.signature(getattr(models, name)).parameters
        assert params["weights"].kind is inspect.Parameter.KEYWORD_ONLY and params["weights"].default is None
        assert params["progress"].default is True and "num_classes" in params
    m = models.resnet18(weights=None, num_classes=10)
    assert isinstance(m, models.ResNet) and m.fc.out_features == 10
    assert models.vgg11(weights=None, progress=False, num_classes=7, small_input=True).classifier[-1].out_features == 7
    assert models.resnet18(pretrained=False, num_classes=3).fc.out_features == 3


@pytest.mark.parametrize(
    "kw,named",
    [
        ({"weights": "DEFAULT"}, "resnet18(weights='DEFAULT')"),
        ({"weights": "IMAGENET1K_V1"}, "resnet18(weights='IMAGENET1K_V1')"),
        ({"weights": models.ResNet18_Weights.DEFAULT}, "resnet18(weights=ResNet18_Weights.IMAGENET1K_V1)"),
        ({"pretrained": True}, "resnet18(pretrained=True)"),
    ],
)
def test_pretrained_weights_explain_that_none_ship(kw, named):
    with pytest.raises(models.PretrainedWeightsUnavailableError) as e:
        models.resnet18(**kw)
    msg = str(e.value)
    assert named in msg and "gradbox ships no pretrained weights" in msg and "weights=None" in msg
    assert isinstance(e.value, NotImplementedError)
    with pytest.raises(models.PretrainedWeightsUnavailableError, match="ResNet50_Weights.IMAGENET1K_V2"):
        models.ResNet50_Weights.DEFAULT.transforms()
    with pytest.raises(models.PretrainedWeightsUnavailableError):
        models.get_model("mobilenet_v2", weights="DEFAULT")


def test_weights_enums_and_get_model_unchanged():
    assert models.get_weight("ResNet50_Weights.DEFAULT") is models.ResNet50_Weights.IMAGENET1K_V2
    assert models.get_model_weights("vgg16") is models.VGG16_Weights
    assert [w.name for w in models.MobileNet_V2_Weights] == ["IMAGENET1K_V1", "IMAGENET1K_V2"]
    assert sorted(models.MODELS) == models.list_models() and "resnext50_32x4d" in models.MODELS
    m = models.get_model("resnet18", num_classes=10, in_channels=1, small_input=True)
    assert m.conv1.in_channels == 1 and m.conv1.kernel_size == (3, 3) and m.fc.out_features == 10
    assert models.get_model("lenet5", num_classes=10, in_channels=1, image_size=28)(gb.zeros(2, 1, 28, 28)).shape == (
        2,
        10,
    )
