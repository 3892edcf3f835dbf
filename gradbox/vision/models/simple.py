"""MLP, LeNet-5 and AlexNet."""

from __future__ import annotations

from gradbox import nn
from gradbox.vision.models._init import torchvision_init


class MLP(nn.Sequential):
    """Flatten, then Linear-ReLU for each hidden width, then a Linear classifier."""

    def __init__(self, in_features: int = 784, hidden=(256, 256), num_classes: int = 10, dropout: float = 0.0) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)


def mlp(
    num_classes: int = 10,
    in_channels: int = 1,
    image_size: int = 28,
    hidden=(256, 256),
    dropout: float = 0.0,
    in_features: int | None = None,
) -> MLP:
    """784-256-256-10 by default; ``in_features`` overrides in_channels * image_size^2."""
    return MLP(in_features or in_channels * image_size * image_size, hidden, num_classes, dropout)


class LeNet5(nn.Module):
    """LeCun et al. 1998, adapted to 28x28 input: the first convolution pads by 2 so the
    feature maps are 28 -> 14 -> 10 -> 5 as in the paper's 32x32 layout.

    features: C1 conv 6@5x5 - act - S2 pool - C3 conv 16@5x5 - act - S4 pool
    classifier: F5 400->120 - act - F6 120->84 - act - output 84->num_classes.
    ``activation`` 'relu' or 'tanh' (the original), ``pool`` 'max' or 'avg' (the original
    subsampling).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        activation: str = "relu",
        pool: str = "max",
        image_size: int = 28,
    ) -> None:
        super().__init__()
        act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
        pool_cls = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[pool]
        pad = 2 if image_size == 28 else 0
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=pad), act(), pool_cls(2), nn.Conv2d(6, 16, 5), act(), pool_cls(2)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, num_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def lenet5(
    num_classes: int = 10, in_channels: int = 1, activation: str = "relu", pool: str = "max", image_size: int = 28
) -> LeNet5:
    return LeNet5(num_classes, in_channels, activation, pool, image_size)


class AlexNet(nn.Module):
    """Krizhevsky et al. 2012 in torchvision's single-tower layout (names: features, avgpool,
    classifier). ``small_input`` adapts the stem to 28x28/32x32 images (3x3 stride 1 first
    convolution, a 1x1 pooled map into a smaller classifier)."""

    def __init__(
        self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5, small_input: bool = False
    ) -> None:
        super().__init__()
        if small_input:
            stem = [
                nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=2, stride=2),
            ]
            pools = [nn.MaxPool2d(kernel_size=2, stride=2), nn.MaxPool2d(kernel_size=2, stride=2)]
            pooled, hidden = (2, 2), 1024
        else:
            stem = [
                nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
            ]
            pools = [nn.MaxPool2d(kernel_size=3, stride=2), nn.MaxPool2d(kernel_size=3, stride=2)]
            pooled, hidden = (6, 6), 4096
        self.features = nn.Sequential(
            *stem,
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            pools[0],
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            pools[1],
        )
        self.avgpool = nn.AdaptiveAvgPool2d(pooled)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * pooled[0] * pooled[1], hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def alexnet(num_classes: int = 1000, in_channels: int = 3, small_input: bool = False, dropout: float = 0.5) -> AlexNet:
    return AlexNet(num_classes, in_channels, dropout, small_input)


_VGG_CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """Simonyan & Zisserman 2015: stacks of 3x3 convolutions (optionally batch-normalised) and
    2x2 max-pools, then a 3-layer classifier (torchvision's names). ``small_input``: for 32x32
    or 28x28 images the feature map is 1x1 and the classifier 512-512-512-num_classes."""

    def __init__(
        self,
        cfg: list,
        num_classes: int = 1000,
        in_channels: int = 3,
        batch_norm: bool = False,
        dropout: float = 0.5,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for v in cfg:
            if v == "M":  # small inputs round up, so 28x28 survives five halvings (28-14-7-4-2-1)
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=small_input))
            else:
                layers.append(nn.Conv2d(c, v, kernel_size=3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(v))
                layers.append(nn.ReLU(inplace=True))
                c = v
        self.features = nn.Sequential(*layers)
        pooled, hidden = ((1, 1), 512) if small_input else ((7, 7), 4096)
        self.avgpool = nn.AdaptiveAvgPool2d(pooled)
        self.classifier = nn.Sequential(
            nn.Linear(512 * pooled[0] * pooled[1], hidden),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        torchvision_init(self)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(cfg: str, batch_norm: bool):
    def make(num_classes: int = 1000, in_channels: int = 3, small_input: bool = False, dropout: float = 0.5) -> VGG:
        return VGG(_VGG_CFGS[cfg], num_classes, in_channels, batch_norm, dropout, small_input)

    return make


vgg11, vgg11_bn = _vgg("A", False), _vgg("A", True)
vgg13, vgg13_bn = _vgg("B", False), _vgg("B", True)
vgg16, vgg16_bn = _vgg("D", False), _vgg("D", True)
vgg19, vgg19_bn = _vgg("E", False), _vgg("E", True)
