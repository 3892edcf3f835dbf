"""Convolutions with PyTorch's signatures; the ops and their math are in ``gradbox.ops.conv``."""

from __future__ import annotations

from gradbox.ops.conv import conv, conv_transpose


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation of (N, C, L) with (O, C/groups, K); see ``gradbox.ops.conv`` for the math."""
    return conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of (N, C, H, W) with (O, C/groups, kH, kW), as in PyTorch.

    y[n,o,i,j] = b[o] + sum_{c,u,v} w[o,c,u,v] x_pad[n,c,i*s+u*d,j*s+v*d]. A true convolution
    flips the kernel: ``conv2d(x, w.flip((2, 3)))``.
    """
    return conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint of conv1d with respect to its input (weight (C_in, C_out/groups, K))."""
    return conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1, "conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint of conv2d with respect to its input: each input pixel scatters a weighted
    copy of the kernel onto the output (weight (C_in, C_out/groups, kH, kW))."""
    return conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2, "conv_transpose2d")
