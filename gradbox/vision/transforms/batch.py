"""Batch-native random transforms for tensor images (gradbox's, used by the training command).

Each takes one image (C, H, W) or a whole batch (B, C, H, W) and draws one set of parameters
per image from gradbox's default generator, working on the batch at once with index arithmetic
(no Python loop over images). Unlike torchvision's classes of the same names, a batch gets
independent parameters per image, so they can run in the DataLoader's whole-batch path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradbox.random import _gen
from gradbox.tensor import Tensor
from gradbox.vision.transforms.transforms import Compose, Transform


def _as_batch(x) -> tuple[np.ndarray, bool]:
    a = x._data if isinstance(x, Tensor) else np.asarray(x)
    if a.ndim == 3:
        return a[None], True
    if a.ndim != 4:
        raise ValueError(f"batch transforms expect (C, H, W) or (B, C, H, W) images, got shape {a.shape}")
    return a, False


def _out(a: np.ndarray, single: bool) -> Tensor:
    return Tensor._wrap(a[0] if single else a)


class RandomCrop(Transform):
    """Pad by ``padding`` (``fill``), then crop a random ``size`` window from each image."""

    def __init__(self, size: int | Sequence[int], padding: int = 0, fill: float = 0.0) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding, self.fill = padding, fill

    def forward(self, x) -> Tensor:
        a, single = _as_batch(x)
        p = self.padding
        if p:
            a = np.pad(a, [(0, 0), (0, 0), (p, p), (p, p)], constant_values=self.fill)
        b, _, hh, ww = a.shape
        h, w = self.size
        if h > hh or w > ww:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image ({hh}, {ww})")
        rng = _gen(None)
        oy = rng.integers(0, hh - h + 1, b)
        ox = rng.integers(0, ww - w + 1, b)
        rows = (oy[:, None] + np.arange(h))[:, :, None]
        cols = (ox[:, None] + np.arange(w))[:, None, :]
        out = a[np.arange(b)[:, None, None], :, rows, cols]  # (B, h, w, C)
        return _out(np.ascontiguousarray(out.transpose(0, 3, 1, 2)), single)

    def _batched(self, batch):
        return self.forward(batch) if isinstance(batch, Tensor) else NotImplemented

    def extra_repr(self) -> str:
        return f"size={self.size}, padding={self.padding}"


class RandomAffine(Transform):
    """Random rotation (uniform in +-degrees), translation (up to ``translate`` times the size)
    and scale, about the image centre, by inverse mapping with bilinear interpolation."""

    def __init__(
        self,
        degrees: float,
        translate: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        fill: float = 0.0,
    ) -> None:
        self.degrees, self.translate, self.scale, self.fill = float(degrees), translate, scale, fill

    def forward(self, x) -> Tensor:
        a, single = _as_batch(x)
        b, c, h, w = a.shape
        rng = _gen(None)
        theta = np.deg2rad(rng.uniform(-self.degrees, self.degrees, b))
        tx = rng.uniform(-self.translate[0], self.translate[0], b) * w if self.translate else np.zeros(b)
        ty = rng.uniform(-self.translate[1], self.translate[1], b) * h if self.translate else np.zeros(b)
        sc = rng.uniform(self.scale[0], self.scale[1], b) if self.scale else np.ones(b)
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        yy, xx = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
        # source = R(-theta) (p - t) / s + centre, per image
        cos, sin = (np.cos(theta) / sc)[:, None, None], (np.sin(theta) / sc)[:, None, None]
        px, py = xx[None] - tx[:, None, None], yy[None] - ty[:, None, None]
        sx = cos * px + sin * py + cx
        sy = -sin * px + cos * py + cy
        return _out(_bilinear(a, sy, sx, self.fill), single)

    def _batched(self, batch):
        return self.forward(batch) if isinstance(batch, Tensor) else NotImplemented

    def extra_repr(self) -> str:
        return f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}"


def _bilinear(a: np.ndarray, sy: np.ndarray, sx: np.ndarray, fill: float) -> np.ndarray:
    """Sample a (B, C, H, W) at fractional (sy, sx) of shape (B, H, W); outside reads ``fill``."""
    b, c, h, w = a.shape
    padded = np.pad(a, [(0, 0), (0, 0), (1, 1), (1, 1)], constant_values=fill)
    y0 = np.floor(sy)
    x0 = np.floor(sx)
    wy, wx = (sy - y0).astype(a.dtype), (sx - x0).astype(a.dtype)
    # indices into the 1-pixel fill border; each corner is clipped on its own, so points far
    # outside the image read only the fill value
    yi, xi = y0.astype(np.int64) + 1, x0.astype(np.int64) + 1
    y0, y1 = np.clip(yi, 0, h + 1), np.clip(yi + 1, 0, h + 1)
    x0, x1 = np.clip(xi, 0, w + 1), np.clip(xi + 1, 0, w + 1)
    bi = np.arange(b)[:, None, None]

    def at(yi, xi):
        return padded[bi, :, yi, xi]  # (B, H, W, C)

    out = (
        at(y0, x0) * ((1 - wy) * (1 - wx))[..., None]
        + at(y0, x1) * ((1 - wy) * wx)[..., None]
        + at(y1, x0) * (wy * (1 - wx))[..., None]
        + at(y1, x1) * (wy * wx)[..., None]
    )
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2)).astype(a.dtype)


def mnist_augment() -> Compose:
    """Small shifts and rotations that keep digits legible (2-pixel crop jitter, +-10 degrees,
    +-10% scale), on float tensor images or batches."""
    return Compose([RandomCrop(28, padding=2), RandomAffine(10, translate=None, scale=(0.9, 1.1))])
