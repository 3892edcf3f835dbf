"""NumPy kernels behind the tensor paths of ``transforms.functional``, following torchvision
(and, through it, PyTorch's ``interpolate``/``grid_sample`` and Pillow's resampling).

Images here are float arrays (N, C, H, W); callers cast integer images and round back.
"""

from __future__ import annotations

import math

import numpy as np


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - np.abs(x), 0.0, None)


def _cubic(a: float):
    def f(x: np.ndarray) -> np.ndarray:
        x = np.abs(x)
        near = ((a + 2) * x - (a + 3)) * x * x + 1
        far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
        return np.where(x <= 1, near, np.where(x < 2, far, 0.0))

    return f


def resize_matrix(in_size: int, out_size: int, mode: str, antialias: bool) -> np.ndarray:
    """The (out_size, in_size) matrix M with out = M @ in along one axis, as PyTorch's
    ``interpolate(mode, align_corners=False, antialias)`` computes it.

    antialias (bilinear/bicubic), Pillow's separable filter, which PyTorch reproduces:
        s = in/out, support = r * max(s, 1) (r = 1 bilinear, 2 bicubic with a = -0.5),
        centre_i = s (i + 1/2), taps j in [int(centre - support + 1/2), int(centre + support + 1/2)),
        w_ij = f((j - centre_i + 1/2) / max(s, 1)), normalised to sum 1.
    bilinear without antialias: the same with support 1 (two taps, edges clamped).
    bicubic without antialias: x = s (i + 1/2) - 1/2, four taps floor(x) - 1 .. floor(x) + 2
        clamped to the image, Keys' kernel with a = -0.75.
    nearest: j = min(floor(i s), in - 1); nearest-exact: j = min(floor((i + 1/2) s), in - 1).
    """
    scale = in_size / out_size
    m = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.arange(out_size)
    if mode in ("nearest", "nearest-exact"):
        offset = 0.5 if mode == "nearest-exact" else 0.0
        src = (rows + offset).astype(np.float32) * np.float32(scale)  # float32, as PyTorch computes it
        src = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
        m[rows, src] = 1.0
        return m
    if mode == "bicubic" and not antialias:
        x = scale * (rows + 0.5) - 0.5
        x0 = np.floor(x)
        t = x - x0
        kernel = _cubic(-0.75)
        for k in range(-1, 3):
            idx = np.clip(x0.astype(np.int64) + k, 0, in_size - 1)
            np.add.at(m, (rows, idx), kernel(t - k))
        return m
    if mode not in ("bilinear", "bicubic"):
        raise ValueError(f"Interpolation mode '{mode}' is unsupported with Tensor input")
    radius, f = (1.0, _triangle) if mode == "bilinear" else (2.0, _cubic(-0.5))
    stretch = scale if (antialias and scale >= 1.0) else 1.0
    support = radius * stretch
    for i in range(out_size):
        centre = scale * (i + 0.5)
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), in_size)
        j = np.arange(lo, hi)
        w = f((j - centre + 0.5) / stretch)
        total = w.sum()
        m[i, lo:hi] = w / total if total != 0 else w
    return m


def resize(img: np.ndarray, size: tuple[int, int], mode: str, antialias: bool) -> np.ndarray:
    """Separable resize of a float (N, C, H, W) array to (N, C, *size)."""
    mh = resize_matrix(img.shape[-2], size[0], mode, antialias).astype(img.dtype)
    mw = resize_matrix(img.shape[-1], size[1], mode, antialias).astype(img.dtype)
    return np.ascontiguousarray(np.matmul(np.matmul(mh, img), mw.T))


def inverse_affine_matrix(
    center: list[float], angle: float, translate: list[float], scale: float, shear: list[float]
) -> list[float]:
    """torchvision's ``_get_inverse_affine_matrix``: the output-to-input map of
    M = T * C * R * S * Sh * C^-1 (R rotation by ``angle`` degrees, S scale, Sh shear),
    as the 6 coefficients [a, b, c, d, e, f] with x_in = a x + b y + c, y_in = d x + e y + f."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    matrix = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty)
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty)
    matrix[2] += cx
    matrix[5] += cy
    return matrix


def affine_output_size(matrix: list[float], w: int, h: int) -> tuple[int, int]:
    """The (w, h) that holds the whole rotated image (``expand=True``), as torchvision computes
    it: the corners mapped by the matrix, in float32, rounded outwards after truncating to 1e-4."""
    f32 = np.float32
    pts = np.array(
        [[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0], [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], f32
    )
    new = pts @ np.asarray(matrix, dtype=f32).reshape(2, 3).T
    centre = np.array([w * 0.5, h * 0.5], f32)
    lo, hi = new.min(0) + centre, new.max(0) + centre
    tol = f32(1e-4)
    size = np.ceil(np.trunc(hi / tol) * tol) - np.floor(np.trunc(lo / tol) * tol)
    return int(size[0]), int(size[1])


def affine_grid(matrix: list[float], w: int, h: int, ow: int, oh: int, dtype) -> np.ndarray:
    """torchvision's ``_gen_affine_grid``: for each output pixel (oh, ow), the input position in
    ``grid_sample``'s normalised coordinates [-1, 1], as an (oh, ow, 2) array (x, y)."""
    theta = np.asarray(matrix, dtype=dtype).reshape(2, 3)
    xs = np.linspace(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, ow, dtype=dtype)
    ys = np.linspace(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, oh, dtype=dtype)
    base = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.ones((1, 1), dtype)), -1)  # (oh, ow, 3)
    rescaled = theta.T / np.asarray([0.5 * w, 0.5 * h], dtype=dtype)
    return base @ rescaled


def grid_sample(img: np.ndarray, grid: np.ndarray, mode: str) -> np.ndarray:
    """``grid_sample(img, grid, mode, padding_mode='zeros', align_corners=False)`` for one grid
    shared by the batch: x_pix = ((x + 1) W - 1) / 2; outside pixels read 0; nearest rounds
    half to even."""
    n, c, h, w = img.shape
    x = ((grid[..., 0] + 1) * w - 1) / 2
    y = ((grid[..., 1] + 1) * h - 1) / 2
    padded = np.zeros((n, c, h + 2, w + 2), dtype=img.dtype)
    padded[:, :, 1:-1, 1:-1] = img

    def at(yi: np.ndarray, xi: np.ndarray) -> np.ndarray:
        yi = np.clip(yi + 1, 0, h + 1)
        xi = np.clip(xi + 1, 0, w + 1)
        return padded[:, :, yi, xi]

    if mode == "nearest":
        return at(np.rint(y).astype(np.int64), np.rint(x).astype(np.int64))
    x0, y0 = np.floor(x), np.floor(y)
    wx, wy = (x - x0).astype(img.dtype), (y - y0).astype(img.dtype)
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    # indices beyond the one-pixel border are clipped onto it, where the value is 0
    return (
        at(y0, x0) * ((1 - wy) * (1 - wx))
        + at(y0, x0 + 1) * ((1 - wy) * wx)
        + at(y0 + 1, x0) * (wy * (1 - wx))
        + at(y0 + 1, x0 + 1) * (wy * wx)
    )


def apply_grid(img: np.ndarray, grid: np.ndarray, mode: str, fill: list[float] | None) -> np.ndarray:
    """torchvision's ``_apply_grid_transform``: sample, then blend towards ``fill`` with a mask
    sampled the same way (nearest: where the mask < 0.5; bilinear: img m + (1 - m) fill)."""
    if fill is None:
        return grid_sample(img, grid, mode)
    n, c, h, w = img.shape
    out = grid_sample(np.concatenate([img, np.ones((n, 1, h, w), img.dtype)], 1), grid, mode)
    mask, out = out[:, -1:], out[:, :-1]
    fill_img = np.asarray(fill, dtype=img.dtype).reshape(1, -1, 1, 1)
    if mode == "nearest":
        return np.where(mask < 0.5, fill_img, out)
    return out * mask + (1.0 - mask) * fill_img


def rgb_to_hsv(img: np.ndarray) -> np.ndarray:
    """torchvision's ``_rgb2hsv`` on (..., 3, H, W) floats in [0, 1]."""
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    maxc, minc = img.max(-3), img.min(-3)
    eqc = maxc == minc
    cr = maxc - minc
    s = cr / np.where(eqc, 1.0, maxc)
    div = np.where(eqc, 1.0, cr)
    rc, gc, bc = (maxc - r) / div, (maxc - g) / div, (maxc - b) / div
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = np.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return np.stack([h, s, maxc], -3).astype(img.dtype)


def hsv_to_rgb(img: np.ndarray) -> np.ndarray:
    """torchvision's ``_hsv2rgb``: sector i = floor(6h) mod 6 picks (r, g, b) among v, p, q, t."""
    h, s, v = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int32) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros(img.shape, dtype=img.dtype)
    for k, (rr, gg, bb) in enumerate(table):
        sel = i == k
        out[..., 0, :, :] = np.where(sel, rr, out[..., 0, :, :])
        out[..., 1, :, :] = np.where(sel, gg, out[..., 1, :, :])
        out[..., 2, :, :] = np.where(sel, bb, out[..., 2, :, :])
    return out
