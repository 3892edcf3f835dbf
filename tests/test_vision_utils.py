"""gb.vision.utils: make_grid's layout as torchvision documents and computes it, save_image's PNG."""

import numpy as np
import pytest
from PIL import Image

import gradbox as gb
from gradbox.vision.utils import make_grid, save_image


def test_make_grid_layout_by_hand():
    imgs = np.stack([np.full((1, 2, 2), k + 1, np.float32) for k in range(3)])
    grid = make_grid(gb.tensor(imgs), nrow=2, padding=1, pad_value=0.5).numpy()
    # 2 per row, 2 rows; each cell 2 + 1 pixels, plus the final border: 2 * 3 + 1 = 7
    want = np.full((3, 7, 7), 0.5, np.float32)  # one channel repeated to three
    for k in range(3):
        y, x = divmod(k, 2)
        want[:, 3 * y + 1 : 3 * y + 3, 3 * x + 1 : 3 * x + 3] = k + 1
    np.testing.assert_array_equal(grid, want)


def test_make_grid_defaults_padding_2_and_8_per_row():
    rng = np.random.default_rng(0)
    batch = rng.random((10, 3, 4, 5)).astype(np.float32)
    grid = make_grid(gb.tensor(batch)).numpy()
    assert grid.shape == (3, 2 * (4 + 2) + 2, 8 * (5 + 2) + 2)
    np.testing.assert_array_equal(grid[:, 2:6, 2:7], batch[0])
    np.testing.assert_array_equal(grid[:, 2:6, 2 + 7 * 7 : 7 + 7 * 7], batch[7])
    np.testing.assert_array_equal(grid[:, 8:12, 2 + 7 : 7 + 7], batch[9])
    assert grid[:, 8:12, 2 + 14 :].sum() == 0  # empty cells stay pad_value
    listed = make_grid([gb.tensor(b) for b in batch[:2]], nrow=1).numpy()
    assert listed.shape == (3, 2 * 6 + 2, 5 + 4)
    one = make_grid(gb.tensor(batch[:1])).numpy()
    np.testing.assert_array_equal(one, batch[0])  # a single image comes back as it is


def test_make_grid_normalize():
    x = np.array([[[[-2.0, 0.0], [2.0, 6.0]]], [[[1.0, 1.0], [1.0, 3.0]]]], np.float32)
    g = make_grid(gb.tensor(x), padding=0, normalize=True).numpy()
    np.testing.assert_allclose(g[0], np.concatenate([(x[0, 0] + 2) / 8, (x[1, 0] + 2) / 8], 1))
    each = make_grid(gb.tensor(x), padding=0, normalize=True, scale_each=True).numpy()
    np.testing.assert_allclose(each[0, :, 2:], (x[1, 0] - 1) / 2)
    clamped = make_grid(gb.tensor(x), padding=0, normalize=True, value_range=(0.0, 2.0)).numpy()
    np.testing.assert_allclose(clamped[0, :, :2], np.clip(x[0, 0], 0, 2) / 2)
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        make_grid(gb.tensor(x), normalize=True, value_range=[0, 1])


def test_save_image_writes_a_png_pillow_reads(tmp_path):
    rng = np.random.default_rng(1)
    batch = rng.random((4, 3, 6, 7)).astype(np.float32)
    save_image(gb.tensor(batch), tmp_path / "grid.png", nrow=2)
    with Image.open(tmp_path / "grid.png") as img:
        assert img.format == "PNG" and img.mode == "RGB" and img.size == (2 * 9 + 2, 2 * 8 + 2)
        got = np.asarray(img)
    want = np.clip(make_grid(gb.tensor(batch), nrow=2).numpy() * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got[2:8, 2:9], (batch[0] * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0))
    save_image(gb.tensor(batch[0]), tmp_path / "one.jpg", format="JPEG")
    with Image.open(tmp_path / "one.jpg") as img:
        assert img.format == "JPEG" and img.size == (7, 6)
