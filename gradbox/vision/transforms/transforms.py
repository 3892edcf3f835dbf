"""torchvision's transform classes (``torchvision.transforms``), on PIL images and tensors.

Random transforms draw their parameters from gradbox's default generator, so ``gb.manual_seed``
makes them reproducible. Deterministic ones also run on whole batches (see ``_batch``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from gradbox.random import _gen
from gradbox.tensor import Tensor
from gradbox.vision.transforms import functional as F
from gradbox.vision.transforms._batch import ImageBatch, apply_to_batch
from gradbox.vision.transforms.functional import InterpolationMode


def _rng() -> np.random.Generator:
    return _gen(None)


def _size_pair(size, what: str = "size") -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return size[0], size[0]
    if not isinstance(size, Sequence) or len(size) != 2:
        raise ValueError(f"Please provide only two dimensions (h, w) for {what}.")
    return tuple(size)


def _interp(interpolation) -> InterpolationMode:
    if isinstance(interpolation, int):
        warnings.warn("Argument 'interpolation' of type int is deprecated; use InterpolationMode.", stacklevel=3)
        return InterpolationMode(F._mode(interpolation))
    return InterpolationMode(interpolation)


def _batch_to_tensor(batch: ImageBatch, scale: bool) -> Tensor:
    a = batch.array
    a = a[:, None] if a.ndim == 3 else a.transpose(0, 3, 1, 2)
    a = np.ascontiguousarray(a)
    if not scale:
        return Tensor._wrap(a)
    if batch.mode == "1":
        a = a.astype(np.uint8) * np.uint8(255)
    return Tensor._wrap(a.astype(np.float32) / np.float32(255) if a.dtype == np.uint8 else a)


class Transform:
    """Base class: ``t(img)`` calls ``forward``; ``_batched`` opts in to whole-batch use."""

    def __call__(self, img):
        return self.forward(img)

    def forward(self, img):
        raise NotImplementedError

    def _batched(self, batch):
        return NotImplemented

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Compose(Transform):
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def _batched(self, batch):
        for t in self.transforms:
            batch = apply_to_batch(t, batch)
            if batch is NotImplemented:
                return NotImplemented
        return batch

    def __repr__(self) -> str:
        return "Compose(" + "".join(f"\n    {t}" for t in self.transforms) + "\n)"


class ToTensor(Transform):
    """PIL image or (H, W, C) array -> (C, H, W) float32 tensor in [0, 1] (uint8 / 255)."""

    def __call__(self, pic) -> Tensor:
        return F.to_tensor(pic)

    def _batched(self, batch):
        return _batch_to_tensor(batch, True) if isinstance(batch, ImageBatch) else NotImplemented


class PILToTensor(Transform):
    """PIL image -> (C, H, W) tensor of the image's dtype, values unchanged."""

    def __call__(self, pic) -> Tensor:
        return F.pil_to_tensor(pic)

    def _batched(self, batch):
        return _batch_to_tensor(batch, False) if isinstance(batch, ImageBatch) else NotImplemented


class ToPILImage(Transform):
    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)

    def extra_repr(self) -> str:
        return f"mode={self.mode}" if self.mode is not None else ""


class ConvertImageDtype(Transform):
    """Change a tensor image's dtype, rescaling values (see ``functional.convert_image_dtype``)."""

    def __init__(self, dtype) -> None:
        self.dtype = dtype

    def forward(self, image):
        return F.convert_image_dtype(image, self.dtype)

    def _batched(self, batch):
        return F.convert_image_dtype(batch, self.dtype) if isinstance(batch, Tensor) else NotImplemented


class Normalize(Transform):
    """x_c <- (x_c - mean_c) / std_c on a float tensor image (..., C, H, W).

    Beyond torchvision (which raises a TypeError there), a PIL image is first converted as
    ``ToTensor`` would."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean, self.std, self.inplace = mean, std, inplace
        if any(float(s) == 0 for s in np.ravel(std)):
            raise ValueError(f"std evaluated to zero ({std}), leading to division by zero.")

    def forward(self, tensor):
        if F._is_pil(tensor):
            tensor = F.to_tensor(tensor)
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def _batched(self, batch):
        if isinstance(batch, ImageBatch):
            batch = _batch_to_tensor(batch, True)
        return F.normalize(batch, self.mean, self.std, self.inplace)

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


class Resize(Transform):
    """Resize to ``size``: an int matches the shorter edge (aspect kept), (h, w) is exact."""

    def __init__(
        self,
        size,
        interpolation=InterpolationMode.BILINEAR,
        max_size: int | None = None,
        antialias: bool | None = True,
    ) -> None:
        if not isinstance(size, int | Sequence):
            raise TypeError(f"Size should be int or sequence. Got {type(size)}")
        if isinstance(size, Sequence) and len(size) not in (1, 2):
            raise ValueError("If size is a sequence, it should have 1 or 2 values")
        self.size, self.max_size, self.antialias = size, max_size, antialias
        self.interpolation = _interp(interpolation)

    def forward(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def extra_repr(self) -> str:
        return f"size={self.size}, interpolation={self.interpolation.value}, max_size={self.max_size}, antialias={self.antialias}"


class CenterCrop(Transform):
    def __init__(self, size) -> None:
        self.size = _size_pair(size)

    def forward(self, img):
        return F.center_crop(img, self.size)

    def extra_repr(self) -> str:
        return f"size={self.size}"


class Pad(Transform):
    def __init__(self, padding, fill=0, padding_mode: str = "constant") -> None:
        F._ltrb(padding)
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def forward(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode}"


class RandomCrop(Transform):
    """Pad (``padding``, and to the crop size if ``pad_if_needed``), then crop a random box."""

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0, padding_mode: str = "constant") -> None:
        self.size = _size_pair(size)
        self.padding, self.pad_if_needed, self.fill, self.padding_mode = padding, pad_if_needed, fill, padding_mode

    @staticmethod
    def get_params(img, output_size) -> tuple[int, int, int, int]:
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)}")
        if w == tw and h == th:
            return 0, 0, h, w
        rng = _rng()
        return int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1)), th, tw

    def forward(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = F.get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = F.pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = F.pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        return F.crop(img, *self.get_params(img, self.size))

    def extra_repr(self) -> str:
        return f"size={self.size}, padding={self.padding}"


class RandomResizedCrop(Transform):
    """A random box of area fraction in ``scale`` and aspect ratio (log-uniform) in ``ratio``,
    resized to ``size``; after 10 failed draws, the centre crop closest to ``ratio``."""

    def __init__(
        self,
        size,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        interpolation=InterpolationMode.BILINEAR,
        antialias: bool | None = True,
    ) -> None:
        self.size = _size_pair(size)
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            warnings.warn("Scale and ratio should be of kind (min, max)", stacklevel=2)
        self.scale, self.ratio, self.antialias = scale, ratio, antialias
        self.interpolation = _interp(interpolation)

    @staticmethod
    def get_params(img, scale, ratio) -> tuple[int, int, int, int]:
        _, height, width = F.get_dimensions(img)
        area = height * width
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        rng = _rng()
        for _ in range(10):
            target_area = area * rng.uniform(scale[0], scale[1])
            aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def forward(self, img):
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, i, j, h, w, self.size, self.interpolation, antialias=self.antialias)

    def extra_repr(self) -> str:
        scale = tuple(round(s, 4) for s in self.scale)
        ratio = tuple(round(r, 4) for r in self.ratio)
        return f"size={self.size}, scale={scale}, ratio={ratio}, interpolation={self.interpolation.value}, antialias={self.antialias}"


class RandomHorizontalFlip(Transform):
    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def forward(self, img):
        return F.hflip(img) if _rng().random() < self.p else img

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RandomVerticalFlip(RandomHorizontalFlip):
    def forward(self, img):
        return F.vflip(img) if _rng().random() < self.p else img


def _angle_range(value, name: str) -> list[float]:
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        return [-float(value), float(value)]
    if len(value) != 2:
        raise ValueError(f"If {name} is a sequence, it must be of len 2.")
    return [float(v) for v in value]


class RandomRotation(Transform):
    """Rotate by an angle drawn uniformly from ``degrees`` (a number d means (-d, d))."""

    def __init__(
        self, degrees, interpolation=InterpolationMode.NEAREST, expand: bool = False, center=None, fill=0
    ) -> None:
        self.degrees = _angle_range(degrees, "degrees")
        self.interpolation, self.expand, self.center, self.fill = _interp(interpolation), expand, center, fill

    @staticmethod
    def get_params(degrees: list[float]) -> float:
        return float(_rng().uniform(degrees[0], degrees[1]))

    def forward(self, img):
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, self.fill)

    def extra_repr(self) -> str:
        return (
            f"degrees={self.degrees}, interpolation={self.interpolation.value}, expand={self.expand}, fill={self.fill}"
        )


class RandomAffine(Transform):
    """Random rotation (``degrees``), translation (fractions of width/height, rounded to pixels),
    scale and shear about the centre, drawn uniformly as torchvision does."""

    def __init__(
        self,
        degrees,
        translate=None,
        scale=None,
        shear=None,
        interpolation=InterpolationMode.NEAREST,
        fill=0,
        center=None,
    ) -> None:
        self.degrees = _angle_range(degrees, "degrees")
        if translate is not None and not all(0.0 <= t <= 1.0 for t in translate):
            raise ValueError("translation values should be between 0 and 1")
        if scale is not None and any(s <= 0 for s in scale):
            raise ValueError("scale values should be positive")
        if shear is not None:
            shear = _angle_range(shear, "shear") if isinstance(shear, numbers.Number) else [float(s) for s in shear]
            if len(shear) not in (2, 4):
                raise ValueError("shear should be a sequence of length 2 or 4")
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation, self.fill, self.center = _interp(interpolation), fill, center

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size):
        rng = _rng()
        angle = float(rng.uniform(degrees[0], degrees[1]))
        if translate is not None:
            max_dx, max_dy = float(translate[0] * img_size[0]), float(translate[1] * img_size[1])
            translations = (int(round(rng.uniform(-max_dx, max_dx))), int(round(rng.uniform(-max_dy, max_dy))))
        else:
            translations = (0, 0)
        scale = float(rng.uniform(scale_ranges[0], scale_ranges[1])) if scale_ranges is not None else 1.0
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = float(rng.uniform(shears[0], shears[1]))
            if len(shears) == 4:
                shear_y = float(rng.uniform(shears[2], shears[3]))
        return angle, translations, scale, (shear_x, shear_y)

    def forward(self, img):
        _, h, w = F.get_dimensions(img)
        angle, translations, scale, shear = self.get_params(
            self.degrees, self.translate, self.scale, self.shear, [w, h]
        )
        return F.affine(img, angle, translations, scale, shear, self.interpolation, self.fill, self.center)

    def extra_repr(self) -> str:
        return f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, shear={self.shear}"


def _jitter_range(value, name: str, center: float = 1.0, bound=(0.0, math.inf), clip_first_on_zero: bool = True):
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be non negative.")
        value = [center - float(value), center + float(value)]
        if clip_first_on_zero:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, Sequence) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"{name} values should be between {bound}, but got {value}.")
    return None if value[0] == value[1] == center else tuple(value)


class ColorJitter(Transform):
    """Brightness, contrast, saturation and hue factors drawn uniformly from their ranges, applied
    in a random order."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0) -> None:
        self.brightness = _jitter_range(brightness, "brightness")
        self.contrast = _jitter_range(contrast, "contrast")
        self.saturation = _jitter_range(saturation, "saturation")
        self.hue = _jitter_range(hue, "hue", center=0, bound=(-0.5, 0.5), clip_first_on_zero=False)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        rng = _rng()
        order = rng.permutation(4)
        factors = [
            None if r is None else float(rng.uniform(r[0], r[1])) for r in (brightness, contrast, saturation, hue)
        ]
        return (order, *factors)

    def forward(self, img):
        order, *factors = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        fns = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
        for k in order:
            if factors[k] is not None:
                img = fns[k](img, factors[k])
        return img

    def extra_repr(self) -> str:
        return f"brightness={self.brightness}, contrast={self.contrast}, saturation={self.saturation}, hue={self.hue}"


class Grayscale(Transform):
    def __init__(self, num_output_channels: int = 1) -> None:
        self.num_output_channels = num_output_channels

    def forward(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)

    def extra_repr(self) -> str:
        return f"num_output_channels={self.num_output_channels}"


class RandomApply(Transform):
    """Apply all of ``transforms`` with probability ``p``, else none."""

    def __init__(self, transforms: Sequence[Callable], p: float = 0.5) -> None:
        self.transforms, self.p = list(transforms), p

    def forward(self, img):
        if self.p < _rng().random():
            return img
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        return f"RandomApply(\n    p={self.p}" + "".join(f"\n    {t}" for t in self.transforms) + "\n)"


class Lambda(Transform):
    """A user function as a transform."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)
