"""torchvision's initialisation for the classic architectures."""

from __future__ import annotations

from gradbox import nn


def torchvision_init(model: nn.Module, linear_std: float | None = 0.01) -> None:
    """Conv: kaiming_normal_(fan_out, relu), bias 0; BatchNorm/GroupNorm: 1 and 0;
    Linear: N(0, linear_std^2) and bias 0 (left at the layer default when linear_std is None)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear_std is not None:
            nn.init.normal_(m.weight, 0, linear_std)
            nn.init.zeros_(m.bias)
