"""gb.vision.transforms against torchvision's conventions: each transform on tensors compared with
PyTorch functions on the same input (interpolate, grid_sample, the same arithmetic) or a hand
computation; on PIL images with Pillow's own operations; random ones reproducible under
gb.manual_seed; whole-batch application equal to image-by-image."""

import colorsys

import numpy as np
import pytest
import torch
from PIL import Image

import gradbox as gb
from gradbox.vision import transforms as T
from gradbox.vision.transforms import functional as F
from gradbox.vision.transforms._batch import ImageBatch, apply_to_batch

RNG = np.random.default_rng(0)
U8 = RNG.integers(0, 256, (13, 17, 3), dtype=np.uint8)  # an RGB image, H x W x C
PIL_RGB = Image.fromarray(U8)
PIL_L = Image.fromarray(U8[:, :, 0])


def chw(a):
    return torch.from_numpy(np.array(a)).permute(2, 0, 1)


# ---- conversions --------------------------------------------------------------------------
def test_to_tensor_and_pil_to_tensor_equal_torch_arithmetic():
    x = T.ToTensor()(PIL_RGB)
    assert x.shape == (3, 13, 17) and x.dtype == gb.float32
    np.testing.assert_array_equal(x.numpy(), (chw(U8).float() / 255).numpy())  # torchvision: .float().div(255)
    assert T.ToTensor()(PIL_L).shape == (1, 13, 17)
    np.testing.assert_array_equal(T.ToTensor()(U8).numpy(), x.numpy())  # HWC ndarray too
    f64 = RNG.random((4, 5)).astype(np.float64)
    y = T.ToTensor()(f64)  # non-uint8 arrays keep their dtype and values
    assert y.dtype == gb.float64 and y.shape == (1, 4, 5) and np.array_equal(y.numpy()[0], f64)
    binary = Image.fromarray(U8[:, :, 0] > 128).convert("1")
    np.testing.assert_array_equal(T.ToTensor()(binary).numpy()[0], (U8[:, :, 0] > 128).astype(np.float32))
    p = T.PILToTensor()(PIL_RGB)
    assert p.dtype == gb.uint8 and np.array_equal(p.numpy(), chw(U8).numpy())
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(gb.zeros(3, 4, 4))
    back = T.ToPILImage()(x)
    assert back.mode == "RGB" and np.array_equal(
        np.asarray(back), (x.numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
    )


@pytest.mark.parametrize(
    "src,dst",
    [("uint8", "float32"), ("float32", "uint8"), ("uint8", "int16"), ("int16", "uint8"), ("float64", "float32")],
)
def test_convert_image_dtype_equals_torchvision_formula(src, dst):
    if src.startswith("float"):
        a = RNG.random((3, 4, 5)).astype(src)
    else:
        a = RNG.integers(0, np.iinfo(src).max, (3, 4, 5)).astype(src)
    out = T.ConvertImageDtype(getattr(gb, dst))(gb.tensor(a)).numpy()
    t = torch.tensor(a)
    tdst = getattr(torch, dst)
    if t.is_floating_point() and tdst.is_floating_point:
        want = t.to(tdst)
    elif t.is_floating_point():
        want = t.mul(torch.iinfo(tdst).max + 1.0 - 1e-3).to(tdst)
    elif tdst.is_floating_point:
        want = t.to(tdst) / torch.iinfo(t.dtype).max
    else:
        i, o = torch.iinfo(t.dtype).max, torch.iinfo(tdst).max
        want = (t // ((i + 1) // (o + 1))).to(tdst) if i > o else t.to(tdst) * ((o + 1) // (i + 1))
    assert out.dtype == want.numpy().dtype
    np.testing.assert_array_equal(out, want.numpy())
    with pytest.raises(RuntimeError, match="cannot be performed safely"):
        F.convert_image_dtype(gb.tensor(RNG.random((1, 2, 2))), gb.int64)


def test_normalize_equals_torch_on_images_and_batches():
    x = RNG.random((4, 3, 5, 6)).astype(np.float32)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    want = ((torch.tensor(x) - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)).numpy()
    np.testing.assert_array_equal(T.Normalize(mean, std)(gb.tensor(x)).numpy(), want)
    np.testing.assert_array_equal(T.Normalize(mean, std)(gb.tensor(x[1])).numpy(), want[1])
    # a PIL image is first converted as ToTensor would (torchvision raises there)
    np.testing.assert_array_equal(
        T.Normalize(mean, std)(PIL_RGB).numpy(), T.Normalize(mean, std)(T.ToTensor()(PIL_RGB)).numpy()
    )
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        T.Normalize(mean, std)(T.PILToTensor()(PIL_RGB))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.5,), (0.0,))


# ---- geometry -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("size", [(5, 9), (29, 31), (13, 6)])
def test_resize_on_tensors_equals_torch_interpolate(mode, antialias, size):
    x = RNG.random((2, 3, 13, 17)).astype(np.float32)
    want = torch.nn.functional.interpolate(
        torch.tensor(x), size=size, mode=mode, align_corners=False, antialias=antialias
    ).numpy()
    got = T.Resize(size, F.InterpolationMode(mode), antialias=antialias)(gb.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, atol=3e-6)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_resize_nearest_equals_torch_for_every_size_pair(mode):
    for n_in in range(1, 33):
        x = RNG.random((1, 1, n_in, 2)).astype(np.float32)
        for n_out in range(1, 33):
            want = torch.nn.functional.interpolate(torch.tensor(x), size=(n_out, 2), mode=mode).numpy()
            np.testing.assert_array_equal(F.resize(gb.tensor(x), [n_out, 2], F.InterpolationMode(mode)).numpy(), want)


def test_resize_size_rule_and_pil_path():
    # an int matches the shorter edge: 13x17 -> 10 x int(10 * 17 / 13) = 10x13; (h, w) is exact
    assert T.Resize(10)(PIL_RGB).size == (13, 10)  # PIL size is (w, h)
    assert T.Resize(10)(gb.zeros(3, 17, 13)).shape == (3, 13, 10)
    assert T.Resize((7, 30))(PIL_RGB).size == (30, 7)
    assert T.Resize(10, max_size=12)(PIL_RGB).size == (12, 9)  # long edge capped: short = int(12 * 10 / 13)
    # PIL images are resized by Pillow (always antialiased), exactly as torchvision calls it
    assert np.array_equal(np.asarray(T.Resize((7, 9))(PIL_RGB)), np.asarray(PIL_RGB.resize((9, 7), Image.BILINEAR)))
    # uint8 tensors: computed in float, rounded back; within one level of Pillow's result
    u = T.Resize((7, 9))(T.PILToTensor()(PIL_RGB)).numpy()
    f = T.Resize((7, 9))(gb.tensor(chw(U8).float().numpy())).numpy()
    assert u.dtype == np.uint8 and np.array_equal(u, np.clip(np.round(f), 0, 255).astype(np.uint8))
    assert np.abs(u.astype(int) - chw(np.asarray(T.Resize((7, 9))(PIL_RGB))).numpy()).max() <= 1


def test_center_crop_offsets_round_half_to_even_and_pad_small_images():
    x = gb.tensor(np.arange(6 * 7, dtype=np.float32).reshape(1, 6, 7))
    # top = int(round((6 - 3) / 2)) = round(1.5) = 2, left = int(round((7 - 4) / 2)) = round(1.5) = 2
    np.testing.assert_array_equal(T.CenterCrop((3, 4))(x).numpy(), x.numpy()[:, 2:5, 2:6])
    # top = round(0.5) = 0 (Python rounds half to even)
    np.testing.assert_array_equal(T.CenterCrop((5, 7))(x).numpy(), x.numpy()[:, 0:5, :])
    big = T.CenterCrop((8, 10))(x).numpy()  # zero padding: left (10 - 7) // 2 = 1, top 1
    assert big.shape == (1, 8, 10) and np.array_equal(big[:, 1:7, 1:8], x.numpy()) and big.sum() == x.numpy().sum()
    pil = T.CenterCrop(5)(PIL_RGB)
    assert pil.size == (5, 5) and np.array_equal(np.asarray(pil), U8[4:9, 6:11])


def test_random_crop_is_a_window_of_the_padded_image_and_seeded():
    x = gb.tensor(RNG.random((3, 10, 12)).astype(np.float32))
    gb.manual_seed(5)
    a = T.RandomCrop(8, padding=2)(x).numpy()
    gb.manual_seed(5)
    b = T.RandomCrop(8, padding=2)(x).numpy()
    assert np.array_equal(a, b) and a.shape == (3, 8, 8)
    padded = np.pad(x.numpy(), [(0, 0), (2, 2), (2, 2)])
    windows = [padded[:, i : i + 8, j : j + 8] for i in range(7) for j in range(9)]
    assert any(np.array_equal(a, w) for w in windows)
    for mode in ("edge", "reflect", "symmetric"):
        out = T.Pad(3, padding_mode=mode)(x).numpy()
        np.testing.assert_array_equal(out, np.pad(x.numpy(), [(0, 0), (3, 3), (3, 3)], mode=mode))
    assert T.RandomCrop(16, pad_if_needed=True)(x).shape == (3, 16, 16)
    assert T.RandomCrop((5, 6))(PIL_RGB).size == (6, 5)
    with pytest.raises(ValueError, match=r"Required crop size \(20, 20\) is larger than input image size \(10, 12\)"):
        T.RandomCrop(20)(x)


def test_random_resized_crop():
    x = gb.tensor(RNG.random((3, 20, 20)).astype(np.float32))
    gb.manual_seed(1)
    a = T.RandomResizedCrop(8)(x)
    gb.manual_seed(1)
    assert a.shape == (3, 8, 8) and np.array_equal(a.numpy(), T.RandomResizedCrop(8)(x).numpy())
    # the whole image (scale 1, ratio 1 on a square image) is a plain resize
    whole = T.RandomResizedCrop(8, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x).numpy()
    np.testing.assert_array_equal(whole, T.Resize((8, 8))(x).numpy())
    gb.manual_seed(2)
    i, j, h, w = T.RandomResizedCrop.get_params(x, (0.08, 1.0), (3 / 4, 4 / 3))
    assert 0 < h <= 20 and 0 < w <= 20 and 0 <= i <= 20 - h and 0 <= j <= 20 - w
    assert 0.08 * 400 * 0.8 <= h * w <= 400 and 3 / 4 - 0.1 <= w / h <= 4 / 3 + 0.1
    assert T.RandomResizedCrop((6, 9))(PIL_RGB).size == (9, 6)


def test_flips():
    x = gb.tensor(RNG.random((3, 4, 5)).astype(np.float32))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(x).numpy(), x.numpy()[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0)(x).numpy(), x.numpy())
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1)(x).numpy(), x.numpy()[:, ::-1])
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(p=1)(PIL_RGB)), U8[:, ::-1])
    gb.manual_seed(0)
    flips = [T.RandomHorizontalFlip()(x).numpy()[0, 0, 0] != x.numpy()[0, 0, 0] for _ in range(200)]
    assert 60 < sum(flips) < 140  # p = 0.5


# torchvision's tensor path of rotate/affine, written with torch ops: its affine grid, then
# torch's grid_sample, then the fill blend; gradbox's NumPy kernels must give the same.
def _tv_grid(matrix, w, h, ow, oh):
    theta = torch.tensor(matrix, dtype=torch.float32).reshape(1, 2, 3)
    base = torch.empty(1, oh, ow, 3)
    base[..., 0].copy_(torch.linspace(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, steps=ow))
    base[..., 1].copy_(torch.linspace(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, steps=oh).unsqueeze(-1))
    base[..., 2].fill_(1)
    return base.view(1, oh * ow, 3).bmm(theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h])).view(1, oh, ow, 2)


def _tv_sample(img, grid, mode, fill):
    x = torch.cat([torch.tensor(img), torch.ones(img.shape[0], 1, *img.shape[2:])], 1)
    x = torch.nn.functional.grid_sample(x, grid.expand(len(img), -1, -1, -1), mode=mode, align_corners=False)
    mask, x = x[:, -1:].expand_as(x[:, :-1]), x[:, :-1]
    f = torch.tensor(fill).view(1, -1, 1, 1).expand_as(x)
    return torch.where(mask < 0.5, f, x).numpy() if mode == "nearest" else (x * mask + (1 - mask) * f).numpy()


def _matrix(angle, translate, scale, shear):
    """torchvision's _get_inverse_affine_matrix about the centre (0, 0), written out again."""
    rot, sx, sy = np.radians(angle), np.radians(shear[0]), np.radians(shear[1])
    a = np.cos(rot - sy) / np.cos(sy)
    b = -np.cos(rot - sy) * np.tan(sx) / np.cos(sy) - np.sin(rot)
    c = np.sin(rot - sy) / np.cos(sy)
    d = -np.sin(rot - sy) * np.tan(sx) / np.cos(sy) + np.cos(rot)
    m = [v / scale for v in (d, -b, 0.0, -c, a, 0.0)]
    tx, ty = translate
    m[2] += m[0] * -tx + m[1] * -ty
    m[5] += m[3] * -tx + m[4] * -ty
    return m


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("angle", [30.0, -77.5, 180.0])
def test_rotate_and_affine_on_tensors_equal_torch_grid_sample(mode, angle):
    x = RNG.random((2, 3, 13, 17)).astype(np.float32)
    fill = [0.5, 0.2, 0.1]
    want = _tv_sample(x, _tv_grid(_matrix(-angle, (0, 0), 1.0, (0, 0)), 17, 13, 17, 13), mode, fill)
    got = F.rotate(gb.tensor(x), angle, F.InterpolationMode(mode), fill=fill).numpy()
    np.testing.assert_allclose(got, want, atol=2e-6)
    params = (angle / 3, (3, -2), 1.2, (10.0, 5.0))
    want = _tv_sample(x, _tv_grid(_matrix(*params), 17, 13, 17, 13), mode, fill)
    got = F.affine(gb.tensor(x), *params, interpolation=F.InterpolationMode(mode), fill=fill).numpy()
    np.testing.assert_allclose(got, want, atol=3e-6)


def test_rotations_by_90_degrees_are_exact_and_counter_clockwise():
    sq = RNG.random((1, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(T.RandomRotation((90, 90))(gb.tensor(sq)).numpy()[0], np.rot90(sq[0]))
    pil = Image.fromarray((sq[0] * 255).astype(np.uint8))
    np.testing.assert_array_equal(np.asarray(T.RandomRotation((90, 90))(pil)), np.rot90(np.asarray(pil)))
    wide = T.RandomRotation((90, 90), expand=True)(gb.zeros(1, 4, 10))
    assert wide.shape == (1, 10, 4)
    # an integer translation is a shift with zero fill, on tensors and PIL images alike
    moved = T.RandomAffine(0, translate=(0, 0))(gb.tensor(sq)).numpy()
    np.testing.assert_array_equal(moved, sq)
    t = F.affine(gb.tensor(sq), 0.0, (2, 1), 1.0, 0.0).numpy()[0]
    want = np.zeros_like(sq[0])
    want[1:, 2:] = sq[0][:-1, :-2]
    np.testing.assert_array_equal(t, want)
    p = np.asarray(F.affine(pil, 0.0, (2, 1), 1.0, 0.0))
    want_p = np.zeros_like(np.asarray(pil))
    want_p[1:, 2:] = np.asarray(pil)[:-1, :-2]
    np.testing.assert_array_equal(p, want_p)


def test_random_affine_parameters_and_reproducibility():
    gb.manual_seed(3)
    angle, (tx, ty), scale, (shx, shy) = T.RandomAffine.get_params(
        [-10, 10], (0.1, 0.2), (0.9, 1.1), [-5, 5, -3, 3], [20, 30]
    )
    assert (
        -10 <= angle <= 10 and abs(tx) <= 2 and abs(ty) <= 6 and 0.9 <= scale <= 1.1 and abs(shx) <= 5 and abs(shy) <= 3
    )
    assert isinstance(tx, int) and isinstance(ty, int)
    x = gb.tensor(RNG.random((1, 12, 12)).astype(np.float32))
    aff = T.RandomAffine(15, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=10)
    gb.manual_seed(9)
    a = aff(x).numpy()
    gb.manual_seed(9)
    assert np.array_equal(a, aff(x).numpy()) and a.shape == (1, 12, 12)
    with pytest.raises(ValueError, match="translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(1.5, 0))


# ---- colour -------------------------------------------------------------------------------
def test_color_adjustments_on_tensors_equal_the_formulas():
    x = RNG.random((3, 6, 7)).astype(np.float32)
    gray = (0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]).astype(np.float32)
    np.testing.assert_allclose(F.adjust_brightness(gb.tensor(x), 1.7).numpy(), np.clip(1.7 * x, 0, 1), rtol=1e-6)
    want = np.clip(0.6 * x + 0.4 * gray.mean(), 0, 1)
    np.testing.assert_allclose(F.adjust_contrast(gb.tensor(x), 0.6).numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(
        F.adjust_saturation(gb.tensor(x), 0.3).numpy(), np.clip(0.3 * x + 0.7 * gray, 0, 1), rtol=1e-5
    )
    hue = F.adjust_hue(gb.tensor(x), 0.2).numpy()
    for i, j in [(0, 0), (2, 3), (5, 6)]:
        h, s, v = colorsys.rgb_to_hsv(*x[:, i, j])
        np.testing.assert_allclose(hue[:, i, j], colorsys.hsv_to_rgb((h + 0.2) % 1.0, s, v), atol=1e-5)
    u = T.PILToTensor()(PIL_RGB)
    b = F.adjust_brightness(u, 0.5).numpy()
    assert b.dtype == np.uint8 and np.array_equal(b, (0.5 * chw(U8).float()).clamp(0, 255).to(torch.uint8).numpy())
    one = gb.tensor(x[:1])
    assert F.adjust_saturation(one, 0.1) is one and F.adjust_hue(one, 0.3) is one


def test_color_jitter_on_pil_uses_pillow_and_is_seeded():
    from PIL import ImageEnhance

    np.testing.assert_array_equal(
        np.asarray(F.adjust_brightness(PIL_RGB, 1.3)), np.asarray(ImageEnhance.Brightness(PIL_RGB).enhance(1.3))
    )
    # Pillow's 8-bit arithmetic (8-bit hue) and the tensor formulas agree to a level or two
    x = T.ToTensor()(PIL_RGB)
    for fn, f, mean_tol, max_tol in [
        (F.adjust_brightness, 1.7, 0.5, 1.0),
        (F.adjust_contrast, 0.3, 1.0, 1.5),
        (F.adjust_saturation, 0.3, 1.0, 1.5),
        (F.adjust_hue, 0.25, 2.0, 20.0),
        (F.adjust_hue, -0.3, 2.0, 20.0),
    ]:
        diff = np.abs(np.asarray(fn(PIL_RGB, f)).astype(float) - fn(x, f).numpy().transpose(1, 2, 0) * 255)
        assert diff.mean() < mean_tol and diff.max() < max_tol, (fn.__name__, f, diff.mean(), diff.max())
    assert np.abs(np.asarray(F.adjust_hue(PIL_RGB, 0.25)).astype(float) - U8).mean() > 30  # it did change
    jit = T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    gb.manual_seed(4)
    a = np.asarray(jit(PIL_RGB))
    gb.manual_seed(4)
    assert np.array_equal(a, np.asarray(jit(PIL_RGB))) and not np.array_equal(a, U8)
    assert T.ColorJitter().brightness is None and T.ColorJitter(hue=0.2).hue == (-0.2, 0.2)
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.7)


def test_lambda_compose_and_repr():
    t = T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2), T.Normalize((0.5,), (0.5,))])
    np.testing.assert_allclose(t(PIL_L).numpy(), (T.ToTensor()(PIL_L).numpy() * 2 - 0.5) / 0.5, rtol=1e-6)
    assert repr(T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])) == (
        "Compose(\n    ToTensor()\n    Normalize(mean=(0.1307,), std=(0.3081,))\n)"
    )
    with pytest.raises(TypeError, match="Argument lambd should be callable, got 'int'"):
        T.Lambda(3)


# ---- v2 -----------------------------------------------------------------------------------
def test_v2_names_and_samples():
    from gradbox.vision.transforms import v2

    for name in ["Compose", "Normalize", "Resize", "CenterCrop", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip", "RandomRotation", "RandomAffine", "ColorJitter", "Lambda", "ToImage", "ToDtype", "PILToTensor", "ConvertImageDtype"]:  # fmt: skip
        assert hasattr(v2, name), name
    pipe = v2.Compose([v2.ToImage(), v2.ToDtype(gb.float32, scale=True)])
    np.testing.assert_array_equal(pipe(PIL_RGB).numpy(), T.ToTensor()(PIL_RGB).numpy())
    img, label = v2.RandomHorizontalFlip(p=1)(PIL_RGB, 3)
    assert label == 3 and np.array_equal(np.asarray(img), U8[:, ::-1])
    out = pipe({"image": PIL_RGB, "label": 7})
    assert out["label"] == 7 and out["image"].dtype == gb.float32
    assert v2.Lambda(lambda v: v + 1, int)((PIL_RGB, 1))[1] == 2


# ---- whole batches --------------------------------------------------------------------------
def test_batches_equal_image_by_image_or_decline():
    imgs = RNG.integers(0, 256, (5, 9, 8), dtype=np.uint8)
    pipe = T.Compose([T.ToTensor(), T.Normalize((0.2,), (0.3,))])
    one_by_one = np.stack([pipe(Image.fromarray(a)).numpy() for a in imgs])
    np.testing.assert_array_equal(apply_to_batch(pipe, ImageBatch(imgs, "L")).numpy(), one_by_one)
    rgb = RNG.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    want = np.stack([T.PILToTensor()(Image.fromarray(a)).numpy() for a in rgb])
    np.testing.assert_array_equal(apply_to_batch(T.PILToTensor(), ImageBatch(rgb, "RGB")).numpy(), want)
    for random_or_opaque in (T.RandomHorizontalFlip(), T.Lambda(lambda x: x), T.Resize(4)):
        assert apply_to_batch(T.Compose([T.ToTensor(), random_or_opaque]), ImageBatch(imgs, "L")) is NotImplemented


def test_batch_transforms_of_the_training_command():
    from gradbox.vision.transforms import batch

    gb.manual_seed(0)
    x = np.zeros((4, 1, 28, 28), np.float32)
    x[:, :, 10:18, 10:18] = 1.0
    crop = batch.RandomCrop(28, padding=2)(gb.tensor(x)).numpy()
    assert crop.shape == x.shape and np.allclose(crop.sum((1, 2, 3)), 64)  # shifted, not cut off
    assert len({tuple(np.argwhere(c[0])[0]) for c in crop}) > 1  # different shifts per image
    rot = batch.RandomAffine(90)(gb.tensor(x[:1])).numpy()
    assert rot.shape == (1, 1, 28, 28) and abs(rot.sum() - 64) < 12  # area roughly kept
    np.testing.assert_allclose(batch.RandomAffine(0)(gb.tensor(x)).numpy(), x, atol=1e-6)
    assert T.mnist_augment()(gb.tensor(x[0])).shape == (1, 28, 28)
    assert apply_to_batch(T.mnist_augment(), gb.tensor(x)).shape == (4, 1, 28, 28)
