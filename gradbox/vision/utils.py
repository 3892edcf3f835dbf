"""``gb.vision.utils``: ``make_grid`` and ``save_image``, as torchvision's."""

from __future__ import annotations

import math
import os
from typing import BinaryIO

import numpy as np

from gradbox.tensor import Tensor


def _array(t) -> np.ndarray:
    return t._data if isinstance(t, Tensor) else np.asarray(t)


def make_grid(
    tensor: Tensor | list[Tensor],
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> Tensor:
    """Tile a (B, C, H, W) batch (or a list of (C, H, W) images) into one (3, H', W') image.

    ``min(nrow, B)`` images per row, ``ceil(B / nrow)`` rows; every image is surrounded by
    ``padding`` pixels of ``pad_value`` (so H' = rows (H + padding) + padding). One-channel
    images become three channels; a single image is returned as it is. ``normalize`` maps
    ``value_range`` (default: the batch's min and max, or each image's with ``scale_each``) to
    [0, 1] after clamping.
    """
    if isinstance(tensor, list):
        a = np.stack([_array(t) for t in tensor])
    elif isinstance(tensor, Tensor):
        a = tensor._data
    else:
        raise TypeError(f"tensor should be of type Tensor or a list of tensors, got {type(tensor)}")
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        a = np.concatenate([a, a, a]) if a.shape[0] == 1 else a
        a = a[None]
    if a.ndim == 4 and a.shape[1] == 1:
        a = np.concatenate([a, a, a], 1)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")
        a = a.astype(a.dtype if a.dtype.kind == "f" else np.float32, copy=True)

        def norm(img: np.ndarray) -> None:
            low, high = value_range if value_range is not None else (float(img.min()), float(img.max()))
            np.clip(img, low, high, out=img)
            img -= low
            img /= max(high - low, 1e-5)

        for img in a if scale_each else [a]:
            norm(img)
    if a.shape[0] == 1:
        return Tensor._wrap(a[0])
    n, c, h, w = a.shape
    xmaps = min(nrow, n)
    ymaps = int(math.ceil(n / xmaps))
    height, width = h + padding, w + padding
    grid = np.full((c, height * ymaps + padding, width * xmaps + padding), pad_value, dtype=a.dtype)
    for k in range(n):
        y, x = divmod(k, xmaps)
        grid[:, y * height + padding : (y + 1) * height, x * width + padding : (x + 1) * width] = a[k]
    return Tensor._wrap(grid)


def save_image(
    tensor: Tensor | list[Tensor],
    fp: str | os.PathLike | BinaryIO,
    format: str | None = None,
    **kwargs,
) -> None:
    """``make_grid(tensor, **kwargs)`` saved as an 8-bit image (format from the file name unless
    ``format`` is given): pixel = clamp(255 v + 0.5, 0, 255) truncated, as torchvision."""
    from PIL import Image  # deferred: Pillow loads when images are first used

    grid = _array(make_grid(tensor, **kwargs)).astype(np.float32)
    nd = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    img = Image.fromarray(np.ascontiguousarray(nd[:, :, 0] if nd.shape[2] == 1 else nd))
    img.save(fp, format=format)


__all__ = ["make_grid", "save_image"]
