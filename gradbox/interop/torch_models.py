"""PyTorch twins of gradbox's zoo classes (torchvision's names, so torchvision weights fit too).

A twin has the gradbox class's name and a forward written in PyTorch; ``to_torch`` gives it
the gradbox module's attributes and children (converted), so it holds the same layers under
the same names. ``TWINS`` pairs each gradbox class with its twin. Importing this module
imports torch.
"""

from __future__ import annotations

from collections import namedtuple

from gradbox.interop.extras import require
from gradbox.vision.models.googlenet import BasicConv2d as GBasicConv2d
from gradbox.vision.models.googlenet import GoogLeNet as GGoogLeNet
from gradbox.vision.models.googlenet import Inception as GInception
from gradbox.vision.models.googlenet import InceptionAux as GInceptionAux
from gradbox.vision.models.mobilenet import Conv2dNormActivation as GConv2dNormActivation
from gradbox.vision.models.mobilenet import InvertedResidual as GInvertedResidual
from gradbox.vision.models.mobilenet import MobileNetV2 as GMobileNetV2
from gradbox.vision.models.resnet import BasicBlock as GBasicBlock
from gradbox.vision.models.resnet import Bottleneck as GBottleneck
from gradbox.vision.models.resnet import ResNet as GResNet
from gradbox.vision.models.simple import MLP as GMLP
from gradbox.vision.models.simple import VGG as GVGG
from gradbox.vision.models.simple import AlexNet as GAlexNet
from gradbox.vision.models.simple import LeNet5 as GLeNet5

torch = require("torch", "gradbox.interop (PyTorch models)")
nn = torch.nn
F = torch.nn.functional

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


class MLP(nn.Sequential):
    """Flatten, Linear-ReLU per hidden width, Linear (a Sequential)."""


class LeNet5(nn.Module):
    def forward(self, x):
        return self.classifier(self.features(x))


class AlexNet(nn.Module):
    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class VGG(nn.Module):
    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class BasicBlock(nn.Module):
    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class BasicConv2d(nn.Module):
    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = self.dropout(F.relu(self.fc1(torch.flatten(x, 1))))
        return self.fc2(x)


class GoogLeNet(nn.Module):
    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


class Conv2dNormActivation(nn.Sequential):
    """conv - batch norm - ReLU6 (a Sequential)."""


class InvertedResidual(nn.Module):
    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3)))


# gradbox zoo class -> its PyTorch twin
TWINS: dict[type, type] = {
    GMLP: MLP,
    GLeNet5: LeNet5,
    GAlexNet: AlexNet,
    GVGG: VGG,
    GBasicBlock: BasicBlock,
    GBottleneck: Bottleneck,
    GResNet: ResNet,
    GBasicConv2d: BasicConv2d,
    GInception: Inception,
    GInceptionAux: InceptionAux,
    GGoogLeNet: GoogLeNet,
    GConv2dNormActivation: Conv2dNormActivation,
    GInvertedResidual: InvertedResidual,
    GMobileNetV2: MobileNetV2,
}
