"""Resampling images: interpolate (nearest, nearest-exact, linear, bilinear, bicubic, trilinear,
area), pixel (un)shuffle, and the sliding-window matrices of unfold / fold (im2col / col2im).

Every interpolation mode is linear in x and separable: along each spatial dim, y = x W^T with an
(out, in) matrix W of interpolation weights (one 1 per row for nearest, two weights for linear,
four for bicubic, a window average for area). So dL/dx = g W along each dim: each output's
gradient is spread back onto the inputs it was computed from, with the same weights.
"""

from __future__ import annotations

import math

import numpy as np

from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._util import as_tensor
from gradbox.ops.index import IndexAdd, getitem
from gradbox.ops.linalg import matmul
from gradbox.ops.shape import movedim, pad, permute, reshape, squeeze, unsqueeze
from gradbox.tensor import Tensor

_MODES = {"nearest": 0, "nearest-exact": 0, "area": 0, "linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _source_scale(size: int, out: int, align_corners: bool, scale) -> float:
    """PyTorch's area_pixel_compute_scale."""
    if align_corners:
        return (size - 1) / (out - 1) if out > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else size / out


def _cubic(t: np.ndarray) -> np.ndarray:
    """The four cubic-convolution weights (A = -0.75) of the taps at -1, 0, 1, 2 for fractions t."""
    a = -0.75

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def weights(size: int, out: int, mode: str, align_corners: bool, scale, dtype) -> np.ndarray:
    """The (out, size) matrix W of one spatial dim: y = x W^T along it."""
    w = np.zeros((out, size), dtype=np.float64)
    dst = np.arange(out)
    if mode in ("nearest", "nearest-exact"):
        sc = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(size / out)
        off = np.float32(0.5) if mode == "nearest-exact" else np.float32(0.0)
        src = np.minimum(np.floor((dst.astype(np.float32) + off) * sc).astype(np.int64), size - 1)
        w[dst, src] = 1.0
    elif mode == "area":
        for i in range(out):
            a, b = math.floor(i * size / out), math.ceil((i + 1) * size / out)
            w[i, a:b] = 1.0 / (b - a)
    elif mode == "bicubic":
        sc = _source_scale(size, out, align_corners, scale)
        src = dst * sc if align_corners else sc * (dst + 0.5) - 0.5
        i0 = np.floor(src).astype(np.int64)
        taps = _cubic(src - i0)
        for k in range(4):
            np.add.at(w, (dst, np.clip(i0 - 1 + k, 0, size - 1)), taps[:, k])
    else:
        sc = _source_scale(size, out, align_corners, scale)
        src = dst * sc if align_corners else np.maximum(sc * (dst + 0.5) - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
        i1 = np.minimum(i0 + 1, size - 1)
        lam = src - i0
        np.add.at(w, (dst, i0), 1.0 - lam)
        np.add.at(w, (dst, i1), lam)
    return w.astype(dtype)


@op(
    OpMath(
        "y = x resampled to a new spatial size: along each spatial dim y = x W^T, W the (out, in) weights of the mode",
        grads=("g W along each spatial dim (each output's gradient goes back to its sources, with their weights)",),
        note="nearest: floor(i * in/out); nearest-exact: floor((i + 1/2) in/out); linear, bilinear, trilinear: two "
        "taps; bicubic: four taps of the A = -0.75 cubic kernel, clamped at the border; area: adaptive averaging. "
        "align_corners maps the corner pixels' centres onto each other. Computed as matmul along each dim.",
    )
)
def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias: bool = False,
) -> Tensor:
    x = as_tensor(input, "interpolate")
    if mode not in _MODES:
        raise NotImplementedError(
            f"interpolate: mode {mode!r} is not supported (nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area)"
        )
    d = x._data.ndim - 2
    if d < 1 or d > 3:
        raise ValueError(
            f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, spatial...), got shape {tuple(x._data.shape)}"
        )
    if _MODES[mode] and _MODES[mode] != d:
        need = {1: "3D", 2: "4D", 3: "5D"}[_MODES[mode]]
        raise NotImplementedError(f"Got {d + 2}D input, but {mode} mode needs {need} input")
    if align_corners is not None and _MODES[mode] == 0:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear"
        )
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by gradbox")
    spatial = x._data.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        outs = (size,) * d if isinstance(size, int) else tuple(int(s) for s in size)
        if len(outs) != d:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got input with spatial dimensions of {list(spatial)} and output size of {list(outs)}."
            )
        scales = [None] * d
    else:
        sf = (
            (float(scale_factor),) * d
            if isinstance(scale_factor, int | float)
            else tuple(float(f) for f in scale_factor)
        )
        if len(sf) != d:
            raise ValueError(
                f"Input and scale_factor must have the same number of spatial dimensions, got {len(sf)} scale factors for input with {d}"
            )
        outs = tuple(int(math.floor(s * f)) for s, f in zip(spatial, sf))
        scales = [None] * d if recompute_scale_factor else list(sf)
    if any(o <= 0 for o in outs):
        raise RuntimeError(f"interpolate: output size {outs} must be positive (input spatial size {tuple(spatial)})")
    ac = bool(align_corners)
    y = x
    for i, (s, o, sc) in enumerate(zip(spatial, outs, scales)):
        if s == o and mode in ("nearest", "nearest-exact", "area") and sc in (None, 1.0):
            continue
        w = weights(s, o, mode, ac, sc, x._data.dtype)
        y = movedim(matmul(movedim(y, 2 + i, -1), Tensor._wrap(np.ascontiguousarray(w.T))), -1, 2 + i)
    return y


@op(
    OpMath(
        "y[.., c, h r + i, w r + j] = x[.., c r^2 + i r + j, h, w]",
        grads=("pixel_unshuffle(g, r)",),
        note="Computed as reshape and permute.",
    )
)
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    x = as_tensor(input, "pixel_shuffle")
    r = int(upscale_factor)
    if x._data.ndim < 3:
        raise RuntimeError(
            f"pixel_shuffle expects input to have at least 3 dimensions, but got input with {x._data.ndim} dimension(s)"
        )
    *lead, c, h, w = x._data.shape
    if r <= 0 or c % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    n = len(lead)
    y = reshape(x, (*lead, c // (r * r), r, r, h, w))
    y = permute(y, tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2))
    return reshape(y, (*lead, c // (r * r), h * r, w * r))


@op(
    OpMath(
        "y[.., c r^2 + i r + j, h, w] = x[.., c, h r + i, w r + j]",
        grads=("pixel_shuffle(g, r)",),
        note="Computed as reshape and permute.",
    )
)
def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    x = as_tensor(input, "pixel_unshuffle")
    r = int(downscale_factor)
    if x._data.ndim < 3:
        raise RuntimeError(
            f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with {x._data.ndim} dimension(s)"
        )
    *lead, c, h, w = x._data.shape
    if r <= 0 or h % r or w % r:
        raise RuntimeError(
            f"pixel_unshuffle expects height and width to be divisible by downscale_factor, got {h}x{w} and {r}"
        )
    n = len(lead)
    y = reshape(x, (*lead, c, h // r, r, w // r, r))
    y = permute(y, tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3))
    return reshape(y, (*lead, c * r * r, h // r, w // r))


def _pair(v, name: str) -> tuple[int, int]:
    t = (v, v) if isinstance(v, int) else tuple(v)
    if len(t) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return int(t[0]), int(t[1])


def _window_index(out_hw, kernel, dilation, stride) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices (kh, kw, OH, OW) into the padded image of every window element."""
    (oh, ow), (kh, kw), (dh, dw), (sh, sw) = out_hw, kernel, dilation, stride
    rows = np.arange(kh)[:, None, None, None] * dh + np.arange(oh)[None, None, :, None] * sh
    cols = np.arange(kw)[None, :, None, None] * dw + np.arange(ow)[None, None, None, :] * sw
    return np.broadcast_to(rows, (kh, kw, oh, ow)), np.broadcast_to(cols, (kh, kw, oh, ow))


@op(
    OpMath(
        "y[n, (c, i, j), l] = x_pad[n, c, h_l s + i d, w_l s + j d]: every k_h x k_w window as a column (im2col)",
        grads=("fold(g): each column's gradient added back onto its window (overlaps add up)",),
        note="Computed as padding and indexing.",
    )
)
def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    x = as_tensor(input, "unfold")
    if x._data.ndim == 3:
        return squeeze(unfold(unsqueeze(x, 0), kernel_size, dilation, padding, stride), 0)
    if x._data.ndim != 4:
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {x._data.ndim}D)")
    k, dl, p, s = (
        _pair(v, n)
        for v, n in ((kernel_size, "kernel_size"), (dilation, "dilation"), (padding, "padding"), (stride, "stride"))
    )
    n, c, h, w = x._data.shape
    oh = (h + 2 * p[0] - dl[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - dl[1] * (k[1] - 1) - 1) // s[1] + 1
    if oh <= 0 or ow <= 0:
        raise RuntimeError(
            f"unfold: the input of spatial size {(h, w)} (padding {p}) is smaller than the kernel {k} (dilation {dl})"
        )
    xp = pad(x, (p[1], p[1], p[0], p[0])) if any(p) else x
    r, cc = _window_index((oh, ow), k, dl, s)
    cols = getitem(xp, (slice(None), slice(None), Tensor._wrap(r), Tensor._wrap(cc)))  # (N, C, kh, kw, OH, OW)
    return reshape(cols, (n, c * k[0] * k[1], oh * ow))


@op(
    OpMath(
        "y = the columns of x added back onto their k_h x k_w windows of an output_size image (col2im)",
        grads=("unfold(g): each window of g as a column",),
        note="Overlapping windows add up. Computed as a scatter-add and cropping.",
    )
)
def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    x = as_tensor(input, "fold")
    if x._data.ndim == 2:
        return squeeze(fold(unsqueeze(x, 0), output_size, kernel_size, dilation, padding, stride), 0)
    if x._data.ndim != 3:
        raise NotImplementedError(
            f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported (got {x._data.ndim}D)"
        )
    size, k, dl, p, s = (
        _pair(v, n)
        for v, n in (
            (output_size, "output_size"),
            (kernel_size, "kernel_size"),
            (dilation, "dilation"),
            (padding, "padding"),
            (stride, "stride"),
        )
    )
    n, ck, length = x._data.shape
    if ck % (k[0] * k[1]):
        raise RuntimeError(
            f"fold: expected size of input's dimension 1 to be divisible by the product of kernel_size, got {ck} and {k}"
        )
    c = ck // (k[0] * k[1])
    hp, wp = size[0] + 2 * p[0], size[1] + 2 * p[1]
    oh = (hp - dl[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (wp - dl[1] * (k[1] - 1) - 1) // s[1] + 1
    if oh * ow != length:
        raise RuntimeError(
            f"fold: expected input's dimension 2 to match the calculated number of sliding blocks {oh} * {ow} = {oh * ow}, but got {length}"
        )
    r, cc = _window_index((oh, ow), k, dl, s)
    cols = reshape(x, (n, c, k[0], k[1], oh, ow))
    y = IndexAdd.apply(cols, idx=(slice(None), slice(None), r, cc), shape=(n, c, hp, wp), advanced=True)
    return getitem(y, (slice(None), slice(None), slice(p[0], p[0] + size[0]), slice(p[1], p[1] + size[1])))
