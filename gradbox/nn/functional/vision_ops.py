"""Vision functions with PyTorch's signatures: interpolate (every mode but antialiasing), the
upsample aliases, pixel (un)shuffle, unfold / fold, 3-D convolution and pooling, adaptive max
pooling with indices and max unpooling. The ops and their math are in ``gradbox.ops.resample``,
``gradbox.ops.pool_more``, ``gradbox.ops.conv`` and ``gradbox.ops.pool``.
"""

from __future__ import annotations

import warnings

from gradbox.ops import pool_more, resample
from gradbox.ops.conv import conv, conv_transpose
from gradbox.ops.pool import adaptive_avg_pool, avg_pool, max_pool
from gradbox.tensor import Tensor


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims; see ``gradbox.ops.resample.interpolate`` for the math of each mode."""
    return resample.interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None) -> Tensor:
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    warnings.warn(
        "`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2
    )
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    warnings.warn(
        "`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2
    )
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    return resample.pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    return resample.pixel_unshuffle(input, downscale_factor)


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """im2col: every sliding block of a (N, C, H, W) image as a column of (N, C k_h k_w, L)."""
    return resample.unfold(input, kernel_size, dilation, padding, stride)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """col2im: the columns of (N, C k_h k_w, L) summed back onto an image of ``output_size``."""
    return resample.fold(input, output_size, kernel_size, dilation, padding, stride)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation of (N, C, D, H, W) with (O, C/groups, kD, kH, kW); see ``gradbox.ops.conv``."""
    return conv(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint of conv3d with respect to its input (weight (C_in, C_out/groups, kD, kH, kW))."""
    return conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 3, "conv_transpose3d")


def _stride(stride):
    return None if stride is None or (isinstance(stride, tuple | list) and len(stride) == 0) else stride


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return max_pool(input, kernel_size, _stride(stride), padding, dilation, ceil_mode, return_indices, 3, "max_pool3d")


def avg_pool3d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    return avg_pool(
        input, kernel_size, _stride(stride), padding, ceil_mode, count_include_pad, divisor_override, 3, "avg_pool3d"
    )


def adaptive_avg_pool3d(input, output_size):
    return adaptive_avg_pool(input, output_size, 3, "adaptive_avg_pool3d")


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return pool_more.adaptive_max_pool(input, output_size, 1, "adaptive_max_pool1d", return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return pool_more.adaptive_max_pool(input, output_size, 2, "adaptive_max_pool2d", return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return pool_more.adaptive_max_pool(input, output_size, 3, "adaptive_max_pool3d", return_indices)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return pool_more.max_unpool(input, indices, kernel_size, stride, padding, output_size, 1, "max_unpool1d")


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return pool_more.max_unpool(input, indices, kernel_size, stride, padding, output_size, 2, "max_unpool2d")


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return pool_more.max_unpool(input, indices, kernel_size, stride, padding, output_size, 3, "max_unpool3d")
