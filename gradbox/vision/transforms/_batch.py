"""Whole-batch application of per-image transforms, for datasets that store images as one array.

A dataset whose images are one uint8 array can hand the DataLoader a whole batch at once: it
wraps the rows as an :class:`ImageBatch` (what would otherwise be a list of PIL images) and
asks :func:`apply_to_batch` to run its transform on all of them. A transform takes part by
defining ``_batched(batch)``, returning exactly what stacking its per-image results would give
(a (B, ...) tensor), or ``NotImplemented`` when it cannot (any random per-image transform, a
Lambda); the dataset then falls back to image-by-image loading, so the result never depends on
which path ran.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ImageBatch:
    """B same-size images as one array: (B, H, W) for mode 'L'/'1'/'I'/'F', (B, H, W, C) for
    'RGB'/'RGBA' — the rows ``np.asarray(pil_image)`` would give."""

    array: np.ndarray
    mode: str


def apply_to_batch(transform, batch):
    """``transform`` applied to every image of ``batch`` (an :class:`ImageBatch` or a (B, ...)
    tensor), stacked; ``NotImplemented`` if the transform cannot work on batches."""
    fn = getattr(transform, "_batched", None)
    return NotImplemented if fn is None else fn(batch)
