"""Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d (cross-correlations, as PyTorch's)."""

from __future__ import annotations

import math

from gradbox.nn import functional as F
from gradbox.nn import init
from gradbox.nn.modules.linear import empty_param
from gradbox.nn.modules.module import Module
from gradbox.ops.window import check_positive, ntuple

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _dims = 2
    _transposed = False

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        dilation,
        groups,
        bias,
        padding_mode,
        output_padding,
        dtype,
    ) -> None:
        super().__init__()
        d = self._dims
        name = type(self).__name__
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
            if padding == "same" and any(s != 1 for s in ntuple(stride, d, "stride")):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = ntuple(kernel_size, d, "kernel_size")
        self.stride = ntuple(stride, d, "stride")
        self.padding = padding if isinstance(padding, str) else ntuple(padding, d, "padding")
        self.dilation = ntuple(dilation, d, "dilation")
        self.output_padding = ntuple(output_padding, d, "output_padding")
        self.groups, self.padding_mode = groups, padding_mode
        check_positive(
            name,
            in_channels=(in_channels,),
            out_channels=(out_channels,),
            kernel_size=self.kernel_size,
            stride=self.stride,
            dilation=self.dilation,
            padding=None if isinstance(padding, str) else self.padding,
            output_padding=self.output_padding,
        )
        shape = (in_channels, out_channels // groups) if self._transposed else (out_channels, in_channels // groups)
        self.weight = empty_param(shape + self.kernel_size, dtype)
        if bias:
            self.bias = empty_param((out_channels,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        d = self._dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * d:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1,) * d:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * d:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def forward(self, input):
        if self.padding_mode != "zeros" and not isinstance(self.padding, str):
            pads = [v for p in reversed(self.padding) for v in (p, p)]
            return self._conv(F.pad(input, pads, mode=self.padding_mode), 0)
        return self._conv(input, self.padding)

    def _conv(self, x, padding):
        conv = F.conv1d if self._dims == 1 else F.conv2d
        return conv(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, 0, dtype)  # fmt: skip


class Conv1d(_Conv):
    """1-D convolution layer over (N, C, L) inputs; weight (out, in/groups, k)."""

    _dims = 1


class Conv2d(_Conv):
    """2-D convolution layer over (N, C, H, W) inputs; weight (out, in/groups, kH, kW)."""

    _dims = 2


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0, groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None, dtype=None) -> None:  # fmt: skip
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, output_padding, dtype)  # fmt: skip

    def forward(self, input, output_size=None):
        d = self._dims
        opad = self.output_padding
        if output_size is not None:
            want = tuple(output_size)[-d:]
            base = [
                (i - 1) * s - 2 * p + dl * (k - 1) + 1
                for i, s, p, dl, k in zip(input.shape[-d:], self.stride, self.padding, self.dilation, self.kernel_size)
            ]
            opad = tuple(w - b for w, b in zip(want, base))
            if any(o < 0 or o >= max(s, dl) for o, s, dl in zip(opad, self.stride, self.dilation)):
                raise ValueError(f"requested output size {want} is not reachable (valid sizes start at {tuple(base)})")
        conv_t = F.conv_transpose1d if d == 1 else F.conv_transpose2d
        return conv_t(input, self.weight, self.bias, self.stride, self.padding, opad, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution; weight (in, out/groups, k)."""

    _dims = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (the adjoint of Conv2d in its input); weight (in, out/groups, kH, kW)."""

    _dims = 2
