"""Draw the README's pictures: python docs/make_pictures.py (writes docs/*.svg and docs/*.png).

1. The autograd graph of f = (x*y)*z at x = -2, y = 5, z = 3, with values and gradients.
2. The module-level graph of a ResNet-18 basic block with a downsampling shortcut (layer2.0),
   as it runs in ResNet-18 on a 224x224 image.
"""

from __future__ import annotations

from pathlib import Path

import gradbox as gb

HERE = Path(__file__).resolve().parent


def autograd_fxyz() -> gb.inspect.Graph:
    x, y, z = (gb.tensor(v, requires_grad=True) for v in (-2.0, 5.0, 3.0))
    q = x * y
    f = q * z
    q.retain_grad()
    f.retain_grad()
    f.backward()
    return gb.inspect.draw_graph(f, params={"x": x, "y": y, "z": z, "q": q, "f": f})


def resnet_basic_block() -> gb.inspect.Graph:
    gb.manual_seed(0)
    block = gb.vision.models.resnet18().layer2[0]
    return gb.inspect.draw_graph(model=block, input_size=(1, 64, 56, 56))


def main() -> None:
    for name, graph in (("autograd_fxyz", autograd_fxyz()), ("resnet_basic_block", resnet_basic_block())):
        for suffix in (".svg", ".png"):
            print(graph.save(HERE / f"{name}{suffix}"))


if __name__ == "__main__":
    main()
