"""``transforms.v2``: the v2 names that coincide with v1, plus ``ToImage`` and ``ToDtype``.

A v2 transform may be called with a whole sample — ``t(img, label)``, ``t((img, label))`` or a
dict: the image (the first PIL image, else the first tensor) is transformed and everything else
is passed through unchanged. (torchvision's ``tv_tensors`` — boxes, masks, videos — have no
gradbox counterpart.) ``Lambda(fn, *types)`` applies ``fn`` to every input of those types.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gradbox import _dtype
from gradbox.tensor import Tensor
from gradbox.vision.transforms import functional as F
from gradbox.vision.transforms import transforms as v1
from gradbox.vision.transforms._batch import ImageBatch
from gradbox.vision.transforms.functional import InterpolationMode


def _leaves(sample, path=()):
    if isinstance(sample, tuple | list):
        for i, s in enumerate(sample):
            yield from _leaves(s, (*path, i))
    elif isinstance(sample, dict):
        for k, s in sample.items():
            yield from _leaves(s, (*path, k))
    else:
        yield path, sample


def _replace(sample, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(sample, dict):
        return {**sample, head: _replace(sample[head], rest, value)}
    items = list(sample)
    items[head] = _replace(items[head], rest, value)
    return type(sample)(items) if isinstance(sample, tuple) else items


def _image_path(sample):
    leaves = list(_leaves(sample))
    for path, leaf in leaves:
        if F._is_pil(leaf):
            return path
    for path, leaf in leaves:
        if isinstance(leaf, Tensor):
            return path
    return None


def _on_sample(transform_one: Callable, inputs: tuple):
    sample = inputs if len(inputs) > 1 else inputs[0]
    path = _image_path(sample)
    if path is None:
        return sample
    leaf = sample
    for p in path:
        leaf = leaf[p]
    return _replace(sample, path, transform_one(leaf))


def _v2(cls):
    class V2(cls):
        def __call__(self, *inputs):
            return _on_sample(super().__call__, inputs)

    V2.__name__ = V2.__qualname__ = cls.__name__
    V2.__doc__ = cls.__doc__
    return V2


class Compose(v1.Compose):
    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        for t in self.transforms:
            sample = t(sample)
        return sample


class Lambda(v1.Lambda):
    def __init__(self, lambd: Callable, *types: type) -> None:
        super().__init__(lambd)
        self.types = types or (object,)

    def __call__(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        for path, leaf in list(_leaves(sample)):
            if isinstance(leaf, self.types):
                sample = _replace(sample, path, self.lambd(leaf))
        return sample


class ToImage(v1.Transform):
    """PIL image or (H, W[, C]) array -> (C, H, W) tensor, values and dtype unchanged."""

    def forward(self, pic) -> Tensor:
        if isinstance(pic, Tensor):
            return pic
        if isinstance(pic, np.ndarray):
            a = pic[:, :, None] if pic.ndim == 2 else pic
            return Tensor._wrap(np.ascontiguousarray(a.transpose(2, 0, 1)))
        return F.pil_to_tensor(pic)

    def _batched(self, batch):
        return v1.PILToTensor()._batched(batch) if isinstance(batch, ImageBatch) else NotImplemented


class ToDtype(v1.Transform):
    """Cast a tensor image to ``dtype``; with ``scale=True`` rescale values as ConvertImageDtype."""

    def __init__(self, dtype, scale: bool = False) -> None:
        self.dtype, self.scale = dtype, scale

    def forward(self, img):
        if not isinstance(img, Tensor):
            return img
        if self.scale:
            return F.convert_image_dtype(img, self.dtype)
        return Tensor._wrap(img._data.astype(_dtype.to_numpy_dtype(self.dtype)))

    def _batched(self, batch):
        return self.forward(batch) if isinstance(batch, Tensor) else NotImplemented

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}, scale={self.scale}"


ToImage, ToDtype = _v2(ToImage), _v2(ToDtype)
ToTensor = _v2(v1.ToTensor)
PILToTensor = _v2(v1.PILToTensor)
ToPILImage = _v2(v1.ToPILImage)
ConvertImageDtype = _v2(v1.ConvertImageDtype)
Normalize = _v2(v1.Normalize)
Resize = _v2(v1.Resize)
CenterCrop = _v2(v1.CenterCrop)
Pad = _v2(v1.Pad)
RandomCrop = _v2(v1.RandomCrop)
RandomResizedCrop = _v2(v1.RandomResizedCrop)
RandomHorizontalFlip = _v2(v1.RandomHorizontalFlip)
RandomVerticalFlip = _v2(v1.RandomVerticalFlip)
RandomRotation = _v2(v1.RandomRotation)
RandomAffine = _v2(v1.RandomAffine)
ColorJitter = _v2(v1.ColorJitter)
Grayscale = _v2(v1.Grayscale)
RandomApply = _v2(v1.RandomApply)

__all__ = [
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "ConvertImageDtype",
    "Grayscale",
    "InterpolationMode",
    "Lambda",
    "Normalize",
    "PILToTensor",
    "Pad",
    "RandomAffine",
    "RandomApply",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomVerticalFlip",
    "Resize",
    "ToDtype",
    "ToImage",
    "ToPILImage",
    "ToTensor",
]
