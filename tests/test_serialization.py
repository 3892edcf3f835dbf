"""gb.save / gb.load: safetensors files PyTorch reads and writes, nested checkpoints as JSON beside
the tensors, legacy .npz, and a named error for every kind of damaged file."""

from __future__ import annotations

import io
import json
import pickle
from collections import Counter, OrderedDict

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import gradbox as gb
from gradbox.interop import from_torch, to_torch
from gradbox.interop.checks import DEFAULT_ZOO, SLOW_ZOO, float32_noise, zoo_case
from gradbox.serialization import CheckpointError
from gradbox.testing import torch_reference

torch.set_num_threads(2)


def header(path) -> dict:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n])


def weights(model) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


# ---- state dicts are plain safetensors files ---------------------------------------------


def test_state_dict_is_a_plain_safetensors_file_torch_loads(tmp_path):
    gb.manual_seed(0)
    model = gb.vision.models.lenet5()
    gb.save(model.state_dict(), tmp_path / "lenet.safetensors")
    sd = safetensors.torch.load_file(tmp_path / "lenet.safetensors")
    assert list(sd) == sorted(model.state_dict())  # safetensors sorts; same keys, nothing added
    ref = torch_reference.LeNet5()  # built by hand with torch.nn
    ref.load_state_dict(sd, strict=True)
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    with gb.no_grad(), torch.no_grad():
        np.testing.assert_allclose(ref(torch.tensor(x)).numpy(), model(gb.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
    meta = header(tmp_path / "lenet.safetensors")["__metadata__"]
    assert meta["format"] == "pt" and meta["gradbox.format"] == gb.serialization.FORMAT


def test_a_file_written_by_pytorch_loads_into_gradbox(tmp_path):
    torch.manual_seed(0)
    ref = torch_reference.ResNet18(num_classes=10, small_input=True).eval()
    with torch.no_grad():
        for m in ref.modules():  # statistics that make eval mode do something
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2), m.running_var.uniform_(0.5, 2.0)
    safetensors.torch.save_file(ref.state_dict(), tmp_path / "resnet.safetensors")
    sd = gb.load(tmp_path / "resnet.safetensors")
    assert all(isinstance(v, gb.Tensor) for v in sd.values())
    model = gb.vision.models.resnet18(num_classes=10, small_input=True).eval()
    assert model.load_state_dict(sd) == ([], [])
    x = np.random.default_rng(1).standard_normal((2, 3, 16, 16)).astype(np.float32)
    with gb.no_grad(), torch.no_grad():
        np.testing.assert_allclose(model(gb.tensor(x)).numpy(), ref(torch.tensor(x)).numpy(), rtol=1e-4, atol=1e-5)


def _roundtrip(name: str, tmp_path) -> None:
    """gradbox -> safetensors -> PyTorch -> safetensors -> gradbox, each model built with other weights."""
    model, x = zoo_case(name, seed=0)
    model.eval()
    gb.save(model.state_dict(), tmp_path / "a.safetensors")
    direct = gb.load(tmp_path / "a.safetensors")
    for k, v in model.state_dict().items():  # gradbox -> gradbox: same dtypes, shapes (0-d ones too), values
        assert direct[k].dtype == v.dtype and direct[k].shape == v.shape, k
        np.testing.assert_array_equal(direct[k].numpy(), v.numpy(), err_msg=k)
    tm = to_torch(model).eval()  # the architecture in torch.nn ...
    with torch.no_grad():
        for t in tm.state_dict().values():
            t.fill_(7)  # ... with other weights, so all that matters is read from the files
    back = from_torch(tm).eval()
    tm.load_state_dict(safetensors.torch.load_file(tmp_path / "a.safetensors"), strict=True)
    safetensors.torch.save_file({k: v.contiguous() for k, v in tm.state_dict().items()}, tmp_path / "b.safetensors")
    back.load_state_dict(gb.load(tmp_path / "b.safetensors"))
    for k, v in model.state_dict().items():
        got = back.state_dict()[k]
        assert got.shape == v.shape, k
        np.testing.assert_array_equal(got.numpy(), v.numpy(), err_msg=k)
    with gb.no_grad(), torch.no_grad():
        want = model(x).numpy()
        np.testing.assert_array_equal(back(x).numpy(), want)
        got = tm(torch.from_numpy(x.numpy())).numpy()
    # PyTorch's float32 forward: to 1e-4, or as close as gradbox's own float32 is to float64 (deep nets)
    np.testing.assert_allclose(got, want, rtol=0, atol=max(1e-4, 3 * float32_noise(model, x)))


@pytest.mark.parametrize("name", DEFAULT_ZOO)
def test_zoo_weights_roundtrip_through_pytorch(name, tmp_path):
    _roundtrip(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_ZOO)
def test_zoo_weights_roundtrip_through_pytorch_big(name, tmp_path):
    _roundtrip(name, tmp_path)


# ---- nested structure --------------------------------------------------------------------


def test_a_training_checkpoint_round_trips_exactly(tmp_path):
    gb.manual_seed(0)
    model = gb.vision.models.lenet5()
    opt = gb.optim.Adam(model.parameters(), lr=1e-3)
    model(gb.randn(4, 1, 28, 28)).sum().backward()
    opt.step()
    ck = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),  # integer keys, nested lists and dicts
        "epoch": 3,
        "loss": 0.25,
        "name": "run/1",
        "nothing": None,
        "pair": (1, "a", [2.5, None]),
        "counts": Counter({"a": 2, 3: 1}),
        "rng": gb.get_rng_state(),
        "array": np.arange(6, dtype=np.int16).reshape(2, 3),
        "scalar": np.float32(1.5),
        "flags": np.array([True, False]),
        "half": gb.tensor([1.0, 2.0], dtype=gb.float16),
        "empty": gb.zeros(0, 3),
        "zero_d": gb.tensor(7),
        "trainable": gb.ones(2, requires_grad=True),
        "__dunder__": {"x": 1},
    }
    gb.save(ck, tmp_path / "ck.pt")
    back = gb.load(tmp_path / "ck.pt")
    assert list(back) == list(ck)
    assert back["epoch"] == 3 and back["loss"] == 0.25 and back["name"] == "run/1" and back["nothing"] is None
    assert back["pair"] == (1, "a", [2.5, None]) and back["counts"] == ck["counts"]
    assert back["scalar"] == 1.5 and back["__dunder__"] == {"x": 1}
    assert isinstance(back["array"], np.ndarray) and back["array"].dtype == np.int16
    np.testing.assert_array_equal(back["array"], ck["array"])
    np.testing.assert_array_equal(back["flags"], ck["flags"])
    assert back["half"].dtype == gb.float16 and back["empty"].shape == (0, 3)
    assert back["zero_d"].shape == () and back["zero_d"].item() == 7
    assert back["trainable"].requires_grad and not back["zero_d"].requires_grad
    assert list(back["optimizer"]["state"]) == list(ck["optimizer"]["state"])  # int keys stay ints
    for k, v in ck["optimizer"]["state"][0].items():
        got = back["optimizer"]["state"][0][k]
        np.testing.assert_array_equal(
            got.numpy() if isinstance(got, gb.Tensor) else got, v.numpy() if isinstance(v, gb.Tensor) else v
        )
    assert back["optimizer"]["param_groups"] == ck["optimizer"]["param_groups"]
    gb.set_rng_state(back["rng"])
    a = gb.rand(3).numpy()
    gb.set_rng_state(ck["rng"])
    np.testing.assert_array_equal(a, gb.rand(3).numpy())
    names = set(header(tmp_path / "ck.pt")) - {"__metadata__"}
    assert "model.features.0.weight" in names and "optimizer.state.0.exp_avg" in names  # readable tensor names


def test_streams_any_file_name_and_legacy_npz(tmp_path):
    sd = OrderedDict(w=gb.arange(6.0).reshape(2, 3), b=gb.zeros(3))
    buf = io.BytesIO()
    gb.save(sd, buf)
    buf.seek(0)
    assert list(gb.load(buf)) == ["w", "b"]
    assert set(safetensors.numpy.load(buf.getvalue())) == {"w", "b"}
    gb.save(sd, tmp_path / "model.pt")  # torch.save(model.state_dict(), "m.pt") code: safetensors inside
    assert (tmp_path / "model.pt").read_bytes()[8:9] == b"{"
    gb.save(sd, tmp_path / "model.npz")  # a .npz name keeps the NumPy zip container
    assert (tmp_path / "model.npz").read_bytes()[:4] == b"PK\x03\x04"
    np.testing.assert_array_equal(gb.load(tmp_path / "model.npz")["w"].numpy(), sd["w"].numpy())


def test_an_old_npz_checkpoint_still_loads(tmp_path):
    """A file in the pre-safetensors format, written the way gradbox 0.1 wrote it."""
    import hashlib

    arrays = {"a0": np.ones((2, 2), np.float32), "a1": np.arange(3)}
    h = hashlib.sha256()
    for k in sorted(arrays):
        h.update(k.encode())
        h.update(str(arrays[k].dtype).encode() + str(arrays[k].shape).encode())
        h.update(arrays[k].tobytes())
    tree = {
        "model": {"w": {"__array__": "a0", "tensor": True, "requires_grad": False}},
        "steps": {"__array__": "a1", "tensor": False, "requires_grad": False},
        "epoch": 2,
        "opt": {"__items__": [[0, {"lr": 0.1}]]},
    }
    meta = json.dumps({"format": "gradbox-archive/1", "sha256": h.hexdigest(), "tree": tree}).encode()
    np.savez(tmp_path / "old.npz", __meta__=np.frombuffer(meta, np.uint8), **arrays)
    ck = gb.load(tmp_path / "old.npz")
    assert ck["epoch"] == 2 and ck["opt"] == {0: {"lr": 0.1}}
    np.testing.assert_array_equal(ck["model"]["w"].numpy(), np.ones((2, 2)))
    np.testing.assert_array_equal(ck["steps"], np.arange(3))


def test_unstorable_objects_name_where_they_are(tmp_path):
    with pytest.raises(TypeError, match="type set at 'a.b'"):
        gb.save({"a": {"b": {1, 2}}}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="'w'.*complex64"):
        gb.save({"w": np.zeros(2, np.complex64)}, tmp_path / "x.safetensors")
    assert not list(tmp_path.iterdir())


# ---- atomic writes and damaged files -----------------------------------------------------


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    gb.save({"w": gb.ones(3)}, path)
    before = path.read_bytes()
    real = safetensors.numpy.save_file

    def dies_halfway(tensors, filename, metadata=None):
        real(tensors, filename, metadata)
        with open(filename, "r+b") as fh:
            fh.truncate(20)
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", dies_halfway)
    with pytest.raises(OSError, match="disk full"):
        gb.save({"w": gb.zeros(3)}, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def _file_for(tmp_path):
    gb.manual_seed(0)
    src = gb.vision.models.lenet5()
    path = tmp_path / "good.safetensors"
    gb.save(src.state_dict(), path)
    return path, path.read_bytes()


def _edit_header(raw: bytes, edit) -> bytes:
    n = int.from_bytes(raw[:8], "little")
    head = json.loads(raw[8 : 8 + n])
    edit(head)
    text = json.dumps(head).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + raw[8 + n :]


def _damage(kind: str, raw: bytes, tmp_path):
    n = int.from_bytes(raw[:8], "little")
    name = {"pickle": "model.pt", "torch_save": "model.pt"}.get(kind, f"{kind}.safetensors")
    path = tmp_path / name
    if kind == "truncated":
        path.write_bytes(raw[:-100])
    elif kind == "header_byte":
        b = bytearray(raw)
        b[8] ^= 0xFF  # the header's opening brace
        path.write_bytes(bytes(b))
    elif kind == "data_byte":
        b = bytearray(raw)
        b[8 + n + 40] ^= 0x01
        path.write_bytes(bytes(b))
    elif kind == "wrong_dtype":
        path.write_bytes(_edit_header(raw, lambda h: h["features.0.weight"].update(dtype="F64")))
    elif kind == "wrong_shape":
        path.write_bytes(_edit_header(raw, lambda h: h["features.0.weight"].update(shape=[6, 1, 25, 1])))
    elif kind == "missing":

        def drop(h):
            h["__metadata__"]["gradbox.tree"] = h["__metadata__"]["gradbox.tree"].replace(
                '"__array__":"classifier.5.bias"', '"__array__":"classifier.5.gone"'
            )

        path.write_bytes(_edit_header(raw, drop))
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"w": np.ones(3)}))
    elif kind == "torch_save":
        torch.save({"w": torch.ones(3)}, path)
    return path


DAMAGE = {
    "truncated": "truncated: the header describes",
    "header_byte": "bad header: not valid JSON",
    "data_byte": "checksum mismatch",
    "wrong_dtype": "wrong dtype: tensor 'features.0.weight' is F64 in the header, but was saved as F32",
    "wrong_shape": r"wrong shape: tensor 'features.0.weight' has shape \[6, 1, 25, 1\]",
    "missing": "missing tensor 'classifier.5.gone'",
    "pickle": "a Python pickle.*never unpickles",
    "torch_save": "PyTorch torch.save archive.*never unpickles",
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_each_damage_has_its_own_error_and_the_model_keeps_its_weights(kind, tmp_path):
    path, raw = _file_for(tmp_path)
    bad = _damage(kind, raw, tmp_path)
    gb.manual_seed(1)
    model = gb.vision.models.lenet5()
    before = weights(model)
    with pytest.raises(CheckpointError, match=DAMAGE[kind]) as err:
        model.load_state_dict(gb.load(bad))
    assert str(bad) in str(err.value)  # the message names the file
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_weights_of_another_shape_leave_the_model_as_it_was(tmp_path):
    gb.save(gb.vision.models.lenet5(num_classes=5).state_dict(), tmp_path / "five.safetensors")
    model = gb.vision.models.lenet5()
    before = weights(model)
    with pytest.raises(RuntimeError, match=r"size mismatch for classifier.5.weight.*\(5, 84\)"):
        model.load_state_dict(gb.load(tmp_path / "five.safetensors"))
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_a_structure_edit_is_caught_by_the_checksum(tmp_path):
    gb.save({"epoch": 3, "w": gb.ones(2)}, tmp_path / "ck.safetensors")
    raw = (tmp_path / "ck.safetensors").read_bytes()

    def edit(h):
        h["__metadata__"]["gradbox.tree"] = h["__metadata__"]["gradbox.tree"].replace('"epoch":3', '"epoch":4')

    (tmp_path / "edited.safetensors").write_bytes(_edit_header(raw, edit))
    with pytest.raises(CheckpointError, match="edited.safetensors: checksum mismatch"):
        gb.load(tmp_path / "edited.safetensors")


def test_tensors_numpy_cannot_hold_are_named(tmp_path):
    safetensors.torch.save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, tmp_path / "bf16.safetensors")
    with pytest.raises(CheckpointError, match="'w' has dtype BF16, which NumPy"):
        gb.load(tmp_path / "bf16.safetensors")
    (tmp_path / "tiny.safetensors").write_bytes(b"abc")
    with pytest.raises(CheckpointError, match="tiny.safetensors: truncated"):
        gb.load(tmp_path / "tiny.safetensors")
    (tmp_path / "text.safetensors").write_bytes(b"hello, this is not a tensor file")
    with pytest.raises(CheckpointError, match="bad header"):
        gb.load(tmp_path / "text.safetensors")
