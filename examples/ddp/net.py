"""A model written once, in PyTorch style, that runs under gradbox and under PyTorch.

``make_net(torch)`` and ``make_net(gradbox)`` define the same class against either framework:
the code only uses names both spell the same (``nn.Conv2d``, ``F.relu``, ``flatten``, ...). Its
parameter names are the same in both, so weights cross through a safetensors file::

    import gradbox as gb, torch, safetensors.torch
    g = make_net(gb)()                                      # prototype and check in gradbox
    gb.save(g.state_dict(), "w.safetensors")
    t = make_net(torch)()                                   # the same model in PyTorch
    t.load_state_dict(safetensors.torch.load_file("w.safetensors"))
    safetensors.torch.save_file(t.state_dict(), "w.safetensors")   # ... and back after training
    g.load_state_dict(gb.load("w.safetensors"))
"""

from __future__ import annotations


def make_net(fw):
    """The SmallNet class for framework ``fw`` (the ``torch`` or the ``gradbox`` module)."""
    nn, F = fw.nn, fw.nn.functional  # noqa: N806 - PyTorch's conventional name

    class SmallNet(nn.Module):
        """conv 3x3 (16) - relu - max-pool - conv 3x3 (32) - relu - max-pool - linear, for 1x28x28 images."""

        def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
            self.fc = nn.Linear(32 * 7 * 7, num_classes)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc(fw.flatten(x, 1))

    return SmallNet
