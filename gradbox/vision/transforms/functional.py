"""``transforms.functional``: torchvision's functional transforms on PIL images and tensors.

PIL images go through Pillow exactly as torchvision sends them (so results are Pillow's);
tensor images (..., C, H, W) go through the NumPy kernels in ``_kernels``, which follow
torchvision's tensor code (PyTorch's ``interpolate``/``grid_sample`` conventions). Integer
tensors are computed in float32 and rounded back, as torchvision does.
"""

from __future__ import annotations

import enum
import numbers
import sys
from collections.abc import Sequence

import numpy as np

from gradbox import _dtype
from gradbox.tensor import Tensor
from gradbox.vision.transforms import _kernels as K


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_FILTERS = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}


def _mode(interpolation) -> str:
    if isinstance(interpolation, InterpolationMode):
        return interpolation.value
    if isinstance(interpolation, int):  # a PIL filter constant
        return {v: k for k, v in _PIL_FILTERS.items()}[interpolation]
    return str(interpolation)


def _is_pil(img) -> bool:
    mod = sys.modules.get("PIL.Image")  # nothing can be a PIL image before PIL is imported
    return mod is not None and isinstance(img, mod.Image)


def _array(img) -> np.ndarray:
    if isinstance(img, Tensor):
        return img._data
    raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")


def _as_nchw(a: np.ndarray) -> tuple[np.ndarray, tuple]:
    if a.ndim < 2:
        raise TypeError("Tensor is not a torch image.")
    lead = a.shape[:-3] if a.ndim >= 3 else ()
    return a.reshape(-1, *(a.shape[-3:] if a.ndim >= 3 else (1, *a.shape))), lead


def _float_op(img: Tensor, fn) -> Tensor:
    """Run fn on img as float (N, C, H, W); round and cast back for integer images."""
    a = _array(img)
    nchw, lead = _as_nchw(a)
    work = nchw if a.dtype.kind == "f" else nchw.astype(np.float32)
    out = fn(work)
    if a.dtype.kind != "f":
        out = np.round(out)
        if a.dtype == np.uint8:
            out = np.clip(out, 0, 255)
        out = out.astype(a.dtype)
    shape = (*lead, *out.shape[-3:]) if a.ndim >= 3 else out.shape[-2:]
    return Tensor._wrap(np.ascontiguousarray(out.reshape(shape)))


def _max_value(dt: np.dtype) -> float:
    return float(np.iinfo(dt).max) if dt.kind in "iu" else 1.0


# ---- dimensions and conversions --------------------------------------------------------
def get_dimensions(img) -> list[int]:
    """[channels, height, width]."""
    if _is_pil(img):
        return [len(img.getbands()), img.height, img.width]
    a = _array(img)
    return [1 if a.ndim == 2 else a.shape[-3], a.shape[-2], a.shape[-1]]


def get_image_size(img) -> list[int]:
    """[width, height]."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img) -> int:
    return get_dimensions(img)[0]


def to_tensor(pic) -> Tensor:
    """PIL image or (H, W[, C]) array -> (C, H, W) tensor; uint8 is scaled to float32 p / 255,
    mode '1' to {0, 1}, other dtypes are kept as they are."""
    if _is_pil(pic):
        if pic.mode == "1":
            a = 255 * np.asarray(pic, dtype=np.uint8)
        else:
            a = np.asarray(pic)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        a = pic
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if a.ndim == 2:
        a = a[:, :, None]
    a = np.ascontiguousarray(a.transpose(2, 0, 1))
    if a.dtype == np.uint8:
        return Tensor._wrap(a.astype(np.float32) / np.float32(255))
    return Tensor._wrap(a)


def pil_to_tensor(pic) -> Tensor:
    """PIL image -> (C, H, W) tensor of the image's own dtype, values unchanged."""
    if not _is_pil(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    a = np.asarray(pic)
    if a.ndim == 2:
        a = a[:, :, None]
    return Tensor._wrap(np.ascontiguousarray(a.transpose(2, 0, 1)))


def to_pil_image(pic, mode: str | None = None):
    """(C, H, W) tensor or (H, W[, C]) array -> PIL image; float values v become uint8 trunc(255 v)
    (clipped to 0..255) unless mode is 'F'."""
    from PIL import Image  # deferred: Pillow loads when images are first used

    if isinstance(pic, Tensor):
        a = pic._data
        if a.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {a.ndim} dimensions.")
        a = a[None] if a.ndim == 2 else a
        if a.dtype.kind == "f" and mode != "F":
            a = np.clip(a * 255, 0, 255).astype(np.uint8)
        a = a.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        a = pic[:, :, None] if pic.ndim == 2 else pic
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if a.shape[2] == 1:
        a = a[:, :, 0]
        expected = {np.uint8: "L", np.int16: "I;16", np.int32: "I", np.float32: "F"}.get(a.dtype.type)
        if mode is not None and mode != expected:
            raise ValueError(f"Incorrect mode ({mode}) supplied for input type {a.dtype}. Should be {expected}")
        mode = expected
    elif mode is None and a.dtype == np.uint8:
        mode = {2: "LA", 3: "RGB", 4: "RGBA"}.get(a.shape[2])
    if mode is None:
        raise TypeError(f"Input type {a.dtype} is not supported")
    return Image.fromarray(np.ascontiguousarray(a), mode=mode)


def convert_image_dtype(image: Tensor, dtype=None) -> Tensor:
    """Change dtype and rescale: int -> float x / max_in; float -> int trunc(x (max_out + 1 - 0.001));
    int -> int by the ratio of the (max + 1)s."""
    target = np.dtype(_dtype.to_numpy_dtype(dtype if dtype is not None else _dtype.get_default_dtype()))
    a = _array(image)
    if a.dtype == target:
        return image
    if a.dtype.kind == "f":
        if target.kind == "f":
            return Tensor._wrap(a.astype(target))
        if (a.dtype == np.float32 and target in (np.int32, np.int64)) or (a.dtype == np.float64 and target == np.int64):
            raise RuntimeError(
                f"The cast from {_dtype.from_numpy_dtype(a.dtype)} to {dtype} cannot be performed safely."
            )
        return Tensor._wrap((a * a.dtype.type(_max_value(target) + 1.0 - 1e-3)).astype(target))
    in_max = _max_value(a.dtype)
    if target.kind == "f":
        return Tensor._wrap(a.astype(target) / target.type(in_max))
    out_max = _max_value(target)
    if in_max > out_max:
        return Tensor._wrap((a // int((in_max + 1) // (out_max + 1))).astype(target))
    return Tensor._wrap(a.astype(target) * int((out_max + 1) // (in_max + 1)))


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> Tensor:
    """x_c <- (x_c - mean_c) / std_c over the channel dim of (..., C, H, W), in x's float dtype."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    a = tensor._data
    if a.dtype.kind != "f":
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if a.ndim < 3:
        raise ValueError(
            f"Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = {tuple(a.shape)}"
        )
    m = np.asarray(mean, dtype=a.dtype)
    s = np.asarray(std, dtype=a.dtype)
    if (s == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading to division by zero.")
    m = m.reshape(-1, 1, 1) if m.ndim == 1 else m
    s = s.reshape(-1, 1, 1) if s.ndim == 1 else s
    if inplace:
        np.subtract(a, m, out=a)
        np.divide(a, s, out=a)
        return tensor
    return Tensor._wrap((a - m) / s)


# ---- geometry --------------------------------------------------------------------------
def _output_size(h: int, w: int, size, max_size: int | None) -> list[int]:
    """torchvision's rule: an int (or 1-sequence) matches the shorter edge, the longer one is
    int(size * long / short); a pair is (h, w); ``max_size`` caps the longer edge."""
    if isinstance(size, int):
        size = [size]
    if len(size) == 1:
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size[0], int(size[0] * long / short)
        if max_size is not None:
            if max_size <= size[0]:
                raise ValueError(
                    f"max_size = {max_size} must be strictly greater than the requested size for the smaller edge size = {size}"
                )
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return [new_long, new_short] if w <= h else [new_short, new_long]
    return [int(size[0]), int(size[1])]


def resize(
    img, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None, antialias: bool | None = True
):
    """Resize to ``size`` (see ``_output_size``); PIL images with Pillow (always antialiased),
    tensors with PyTorch's interpolation (``_kernels.resize_matrix``)."""
    _, h, w = get_dimensions(img)
    out_h, out_w = _output_size(h, w, size, max_size)
    if (out_h, out_w) == (h, w):
        return img
    mode = _mode(interpolation)
    if _is_pil(img):
        return img.resize((out_w, out_h), _PIL_FILTERS[mode])
    aa = bool(antialias) and mode in ("bilinear", "bicubic")
    return _float_op(img, lambda a: K.resize(a, (out_h, out_w), mode, aa))


def _ltrb(padding) -> list[int]:
    if isinstance(padding, int):
        return [padding] * 4
    padding = list(padding)
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return [padding[0], padding[1], padding[0], padding[1]]
    if len(padding) == 4:
        return padding
    raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple")


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Pad (left, top, right, bottom); int / (lr, tb) / 4-sequence. Modes: constant (``fill``),
    edge, reflect (no edge repeat), symmetric (edge repeated)."""
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, top, right, bottom = _ltrb(padding)
    np_mode = {"edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}.get(padding_mode)
    if _is_pil(img):
        from PIL import Image, ImageOps  # deferred: Pillow loads when images are first used

        if padding_mode == "constant" and min(left, top, right, bottom) >= 0:
            return ImageOps.expand(img, border=(left, top, right, bottom), fill=fill)
        a = np.asarray(img)
        widths = [(top, bottom), (left, right)] + [(0, 0)] * (a.ndim - 2)
        out = np.pad(a, widths, mode=np_mode or "constant", **({"constant_values": fill} if np_mode is None else {}))
        return Image.fromarray(out, mode=img.mode)
    a = _array(img)
    widths = [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)]
    if np_mode is None:
        return Tensor._wrap(np.pad(a, widths, mode="constant", constant_values=fill))
    return Tensor._wrap(np.pad(a, widths, mode=np_mode))


def crop(img, top: int, left: int, height: int, width: int):
    """The box (top, left, height, width); parts outside the image are zeros."""
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    a = _array(img)
    h, w = a.shape[-2:]
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        ltrb = [
            max(-left + min(0, right), 0),
            max(-top + min(0, bottom), 0),
            max(right - max(w, left), 0),
            max(bottom - max(h, top), 0),
        ]
        inner = Tensor._wrap(a[..., max(top, 0) : bottom, max(left, 0) : right])
        return pad(inner, ltrb, fill=0)
    return Tensor._wrap(np.ascontiguousarray(a[..., top:bottom, left:right]))


def center_crop(img, output_size):
    """The centred box; offsets int(round((H - h) / 2)) (Python's round: halves to even); an image
    smaller than the box is zero-padded first."""
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    _, h, w = get_dimensions(img)
    ch, cw = output_size
    if cw > w or ch > h:
        ltrb = [
            (cw - w) // 2 if cw > w else 0,
            (ch - h) // 2 if ch > h else 0,
            (cw - w + 1) // 2 if cw > w else 0,
            (ch - h + 1) // 2 if ch > h else 0,
        ]
        img = pad(img, ltrb, fill=0)
        _, h, w = get_dimensions(img)
        if (cw, ch) == (w, h):
            return img
    return crop(img, int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0)), ch, cw)


def resized_crop(
    img,
    top: int,
    left: int,
    height: int,
    width: int,
    size,
    interpolation=InterpolationMode.BILINEAR,
    antialias: bool | None = True,
):
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def hflip(img):
    if _is_pil(img):
        return img.transpose(0)  # Image.Transpose.FLIP_LEFT_RIGHT
    return Tensor._wrap(np.ascontiguousarray(_array(img)[..., ::-1]))


def vflip(img):
    if _is_pil(img):
        return img.transpose(1)  # Image.Transpose.FLIP_TOP_BOTTOM
    return Tensor._wrap(np.ascontiguousarray(_array(img)[..., ::-1, :]))


def _pil_fill(fill, img) -> dict:
    bands = len(img.getbands())
    fill = 0 if fill is None else fill
    if isinstance(fill, int | float) and bands > 1:
        fill = tuple([fill] * bands)
    if isinstance(fill, list | tuple):
        if len(fill) == 1:
            fill = tuple(fill) * bands
        elif len(fill) != bands:
            raise ValueError(
                f"The number of elements in 'fill' does not match the number of channels of the image ({len(fill)} != {bands})"
            )
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(x) for x in fill) if isinstance(fill, tuple) else int(fill)
    return {"fillcolor": fill}


def _tensor_fill(fill, channels: int) -> list[float] | None:
    if fill is None:
        return None
    if isinstance(fill, int | float):
        return [float(fill)] * channels
    fill = [float(f) for f in fill]
    return fill * channels if len(fill) == 1 else fill


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False, center=None, fill=None):
    """Rotate counter-clockwise by ``angle`` degrees about ``center`` (default: the image centre)."""
    mode = _mode(interpolation)
    if _is_pil(img):
        return img.rotate(angle, _PIL_FILTERS[mode], expand, center, **_pil_fill(fill, img))
    c, h, w = get_dimensions(img)
    center_f = [0.0, 0.0] if center is None else [float(p - s * 0.5) for p, s in zip(center, (w, h))]
    matrix = K.inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    ow, oh = K.affine_output_size(matrix, w, h) if expand else (w, h)
    return _float_op(
        img, lambda a: K.apply_grid(a, K.affine_grid(matrix, w, h, ow, oh, a.dtype), mode, _tensor_fill(fill, c))
    )


def affine(
    img,
    angle: float,
    translate: Sequence[int],
    scale: float,
    shear,
    interpolation=InterpolationMode.NEAREST,
    fill=None,
    center=None,
):
    """Rotate by ``angle`` (clockwise on screen), scale, shear (degrees, x then y) about the
    centre, then translate; the output keeps the input's size."""
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    shear = [float(s) for s in shear] + [0.0] * (2 - len(shear))
    mode = _mode(interpolation)
    c, h, w = get_dimensions(img)
    if _is_pil(img):
        center = [w * 0.5, h * 0.5] if center is None else center
        matrix = K.inverse_affine_matrix(list(center), float(angle), list(translate), float(scale), shear)
        return img.transform(img.size, 0, matrix, _PIL_FILTERS[mode], **_pil_fill(fill, img))  # 0: Image.AFFINE
    center_f = [0.0, 0.0] if center is None else [float(p - s * 0.5) for p, s in zip(center, (w, h))]
    matrix = K.inverse_affine_matrix(center_f, float(angle), [float(t) for t in translate], float(scale), shear)
    return _float_op(
        img, lambda a: K.apply_grid(a, K.affine_grid(matrix, w, h, w, h, a.dtype), mode, _tensor_fill(fill, c))
    )


# ---- colour ----------------------------------------------------------------------------
def _work(a: np.ndarray) -> np.ndarray:
    """Integer images are computed in float32, as PyTorch promotes int tensor * Python float."""
    return a if a.dtype.kind == "f" else a.astype(np.float32)


def _blend(a: np.ndarray, b, ratio: float) -> np.ndarray:
    """clip(r a + (1 - r) b, 0, max) cast back to a's dtype (integers truncated)."""
    w = _work(a)
    out = np.clip(ratio * w + (1.0 - ratio) * np.asarray(b, dtype=w.dtype), 0, _max_value(a.dtype))
    return out.astype(a.dtype)


def _gray(a: np.ndarray) -> np.ndarray:
    if a.shape[-3] == 1:
        return a.copy()
    w = _work(a)
    r, g, b = w[..., 0:1, :, :], w[..., 1:2, :, :], w[..., 2:3, :, :]
    return (0.2989 * r + 0.587 * g + 0.114 * b).astype(a.dtype)


def rgb_to_grayscale(img, num_output_channels: int = 1):
    """L = 0.2989 R + 0.587 G + 0.114 B (PIL images: Pillow's 'L' conversion)."""
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if _is_pil(img):
        out = img.convert("L")
        return out.convert("RGB") if num_output_channels == 3 else out
    a = _array(img)
    g = _gray(a)
    return Tensor._wrap(np.ascontiguousarray(np.broadcast_to(g, a.shape)) if num_output_channels == 3 else g)


def _check_factor(name: str, factor: float) -> None:
    if factor < 0:
        raise ValueError(f"{name} ({factor}) is not non-negative.")


def adjust_brightness(img, brightness_factor: float):
    """x <- clip(f x); PIL: ImageEnhance.Brightness."""
    _check_factor("brightness_factor", brightness_factor)
    if _is_pil(img):
        from PIL import ImageEnhance  # deferred: Pillow loads when images are first used

        return ImageEnhance.Brightness(img).enhance(brightness_factor)
    return Tensor._wrap(_blend(_array(img), 0.0, brightness_factor))


def adjust_contrast(img, contrast_factor: float):
    """x <- clip(f x + (1 - f) mean(gray(x))); PIL: ImageEnhance.Contrast."""
    _check_factor("contrast_factor", contrast_factor)
    if _is_pil(img):
        from PIL import ImageEnhance  # deferred: Pillow loads when images are first used

        return ImageEnhance.Contrast(img).enhance(contrast_factor)
    a = _array(img)
    dt = a.dtype if a.dtype.kind == "f" else np.float32
    mean = _gray(a).astype(dt).mean(axis=(-3, -2, -1), keepdims=True)
    return Tensor._wrap(_blend(a, mean, contrast_factor))


def adjust_saturation(img, saturation_factor: float):
    """x <- clip(f x + (1 - f) gray(x)); PIL: ImageEnhance.Color; one-channel images unchanged."""
    _check_factor("saturation_factor", saturation_factor)
    if _is_pil(img):
        from PIL import ImageEnhance  # deferred: Pillow loads when images are first used

        return ImageEnhance.Color(img).enhance(saturation_factor)
    a = _array(img)
    return img if a.shape[-3] == 1 else Tensor._wrap(_blend(a, _gray(a), saturation_factor))


def adjust_hue(img, hue_factor: float):
    """Shift the hue by ``hue_factor`` turns (in [-0.5, 0.5]) in HSV; PIL: the H band shifted by
    int(255 hue_factor) modulo 256; one-channel images unchanged."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if _is_pil(img):
        from PIL import Image  # deferred: Pillow loads when images are first used

        if img.mode in ("L", "1", "I", "F"):
            return img
        h, s, v = img.convert("HSV").split()
        shifted = (np.asarray(h, dtype=np.int64) + int(hue_factor * 255)) % 256
        return Image.merge("HSV", (Image.fromarray(shifted.astype(np.uint8), "L"), s, v)).convert(img.mode)
    a = _array(img)
    if a.shape[-3] == 1:
        return img
    as_float = convert_image_dtype(img, _dtype.float32)._data
    hsv = K.rgb_to_hsv(as_float)
    hsv[..., 0, :, :] = np.mod(hsv[..., 0, :, :] + np.float32(hue_factor), 1.0)
    return convert_image_dtype(Tensor._wrap(K.hsv_to_rgb(hsv)), _dtype.from_numpy_dtype(a.dtype))


__all__ = [
    "InterpolationMode",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "affine",
    "center_crop",
    "convert_image_dtype",
    "crop",
    "get_dimensions",
    "get_image_num_channels",
    "get_image_size",
    "hflip",
    "normalize",
    "pad",
    "pil_to_tensor",
    "resize",
    "resized_crop",
    "rgb_to_grayscale",
    "rotate",
    "to_pil_image",
    "to_tensor",
    "vflip",
]
