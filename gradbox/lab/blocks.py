"""The blocks of experiment 9 (``architecture-costs``), built from gb.nn layers: an Inception module
with and without 1x1 reductions, a ResNet bottleneck and the two 3x3 convolutions it replaces, and
a ResNeXt block as 32 parallel paths and as one grouped convolution."""

from __future__ import annotations

import numpy as np

import gradbox as gb
from gradbox import nn


def conv(cin: int, cout: int, k: int, groups: int = 1) -> nn.Conv2d:
    """A k x k convolution with 'same' padding and no bias (its cost is k^2 cin cout / groups per pixel)."""
    return nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False)


class Inception(nn.Module):
    """GoogLeNet's module: 1x1, 3x3 and 5x5 convolutions and a 3x3 max-pool side by side, outputs
    concatenated. ``reduce``: 1x1 convolutions shrink the channels before the 3x3 and 5x5 and
    project the pool's output (the real module); without, every path works on all ``cin`` channels."""

    def __init__(
        self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool_proj: int, reduce: bool = True
    ) -> None:
        super().__init__()
        self.branch1 = nn.Sequential(conv(cin, c1, 1), nn.ReLU())
        if reduce:
            self.branch2 = nn.Sequential(conv(cin, c3r, 1), nn.ReLU(), conv(c3r, c3, 3), nn.ReLU())
            self.branch3 = nn.Sequential(conv(cin, c5r, 1), nn.ReLU(), conv(c5r, c5, 5), nn.ReLU())
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv(cin, pool_proj, 1), nn.ReLU())
        else:
            self.branch2 = nn.Sequential(conv(cin, c3, 3), nn.ReLU())
            self.branch3 = nn.Sequential(conv(cin, c5, 5), nn.ReLU())
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1))

    def forward(self, x: gb.Tensor) -> gb.Tensor:
        return gb.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class Residual(nn.Module):
    """y = relu(x + body(x))."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: gb.Tensor) -> gb.Tensor:
        return gb.relu(x + self.body(x))


def bottleneck(c: int = 256, mid: int = 64) -> Residual:
    """ResNet-50's bottleneck: 1x1 c -> mid, 3x3 mid -> mid, 1x1 mid -> c, plus the identity."""
    return Residual(nn.Sequential(conv(c, mid, 1), nn.ReLU(), conv(mid, mid, 3), nn.ReLU(), conv(mid, c, 1)))


def two_3x3(c: int = 256) -> Residual:
    """The basic block at the same width: two 3x3 convolutions c -> c, plus the identity."""
    return Residual(nn.Sequential(conv(c, c, 3), nn.ReLU(), conv(c, c, 3)))


def resnext_grouped(c: int = 256, paths: int = 32, width: int = 4) -> Residual:
    """ResNeXt's block (form c): 1x1 c -> paths*width, grouped 3x3 with ``paths`` groups, 1x1 back to c."""
    w = paths * width
    return Residual(nn.Sequential(conv(c, w, 1), nn.ReLU(), conv(w, w, 3, groups=paths), nn.ReLU(), conv(w, c, 1)))


class ParallelPaths(nn.Module):
    """ResNeXt's block (form a): ``paths`` separate paths 1x1 c -> width, 3x3 width -> width, 1x1 width -> c,
    their outputs summed."""

    def __init__(self, c: int = 256, paths: int = 32, width: int = 4) -> None:
        super().__init__()
        self.paths = nn.ModuleList(
            nn.Sequential(conv(c, width, 1), nn.ReLU(), conv(width, width, 3), nn.ReLU(), conv(width, c, 1))
            for _ in range(paths)
        )

    def forward(self, x: gb.Tensor) -> gb.Tensor:
        out = self.paths[0](x)
        for p in self.paths[1:]:
            out = out + p(x)
        return out


def resnext_paths(c: int = 256, paths: int = 32, width: int = 4) -> Residual:
    return Residual(ParallelPaths(c, paths, width))


def grouped_weights(paths_block: Residual) -> dict[str, np.ndarray]:
    """The grouped block's state_dict equal to a parallel-paths block: path i's first 1x1 gives rows
    width*i.. of the first 1x1, its 3x3 group i of the grouped conv, its last 1x1 columns width*i..
    of the last 1x1 (a sum over paths is a product over their concatenation)."""
    ps = list(paths_block.body.paths)
    w1 = np.concatenate([p[0].weight.detach().numpy() for p in ps], axis=0)
    w2 = np.concatenate([p[2].weight.detach().numpy() for p in ps], axis=0)
    w3 = np.concatenate([p[4].weight.detach().numpy() for p in ps], axis=1)
    return {"body.0.weight": w1, "body.2.weight": w2, "body.4.weight": w3}
