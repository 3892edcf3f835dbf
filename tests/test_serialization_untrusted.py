"""gb.load on files from anywhere (issue 16): every flipped header byte, every truncation, hostile
metadata, files of other kinds and decompression bombs raise the one CheckpointError naming the
file, before anything is allocated; never another exception."""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy

import gradbox as gb
from gradbox.serialization import CheckpointError, safetensors_file


def small_checkpoint() -> dict:
    gb.manual_seed(0)
    return {
        "model": OrderedDict(w=gb.randn(3, 2), b=gb.zeros(2)),
        "optimizer": {
            "state": {0: {"step": 3, "exp_avg": gb.ones(3, 2)}},
            "param_groups": [{"lr": 0.1, "params": [0]}],
        },
        "epoch": 1,
        "pair": (1, "a"),
    }


def same(a, b) -> bool:
    """Equal structure, types and values (tensors compared bit for bit, with dtype and shape)."""
    if isinstance(a, gb.Tensor | np.ndarray):
        x, y = (v.numpy() if isinstance(v, gb.Tensor) else v for v in (a, b))
        return type(a) is type(b) and x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def outcome(path, raw: bytes, stream: bool = False):
    """None if loading ``raw`` from ``path`` raises CheckpointError naming the file; else what
    happened. ``stream``: read it from memory, under that name (the same checks, no disk)."""
    if stream:
        source = io.BytesIO(raw)
        source.name = str(path)
    else:
        path.write_bytes(raw)
        source = path
    try:
        return ("loaded", gb.load(source))
    except CheckpointError as e:
        return None if str(path) in str(e) else ("unnamed", str(e))
    except Exception as e:  # the bug this file looks for: any other exception
        return ("raised", f"{type(e).__name__}: {e}")


def check_all(path, variants: dict[str, bytes], allow_identical=None, stream: bool = False) -> None:
    """Each variant raises CheckpointError naming the file (or, with ``allow_identical``, loads
    exactly that object); the failures are listed together."""
    bad = []
    for i, (label, raw) in enumerate(variants.items()):
        got = outcome(path, raw, stream=stream and i % 16 != 0)  # (every 16th from a file on disk)
        if got is None or (allow_identical is not None and got[0] == "loaded" and same(got[1], allow_identical)):
            continue
        bad.append(f"{label}: {got[0]} {str(got[1])[:150]}")
    assert not bad, f"{len(bad)} of {len(variants)} variants:\n" + "\n".join(bad[:20])


EVERY_BIT = (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF)


def flips(raw: bytes, positions, masks=EVERY_BIT) -> dict[str, bytes]:
    out = {}
    for i in positions:
        for mask in masks:
            b = bytearray(raw)
            b[i] ^= mask
            out[f"byte {i} ^ {mask:#04x}"] = bytes(b)
    return out


# ---- the safetensors container -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["checkpoint", "state_dict"])
def test_every_bit_of_the_header_and_sampled_data_bytes_flipped(kind, tmp_path):
    ck = small_checkpoint() if kind == "checkpoint" else small_checkpoint()["model"]
    gb.save(ck, tmp_path / "ck.safetensors")
    assert same(gb.load(tmp_path / "ck.safetensors"), ck)
    raw = (tmp_path / "ck.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert n > 300  # the header: length, tensor entries, metadata with the tree and the checksum
    check_all(tmp_path / "flipped.safetensors", flips(raw, range(8 + n)), stream=True)
    data = range(8 + n, len(raw))
    sample = list(data)[:: max(1, len(data) // 16)] + [len(raw) - 1]
    check_all(tmp_path / "flipped.safetensors", flips(raw, sample), stream=True)


def test_every_truncation_names_its_class(tmp_path):
    gb.save(small_checkpoint(), tmp_path / "ck.safetensors")
    assert same(gb.load(tmp_path / "ck.safetensors"), small_checkpoint())
    raw = (tmp_path / "ck.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    path = tmp_path / "cut.safetensors"
    for length in range(len(raw)):
        path.write_bytes(raw[:length])
        if length < 8:  # empty, or inside the 8-byte header length
            want = f"truncated: the file is {length} bytes, expected at least 8"
        elif length < 8 + n:  # inside the header
            want = f"truncated or bad header: the header length field says {n} bytes, but only {length - 8}"
        else:  # inside the data, up to one byte short
            want = f"truncated: the header describes {len(raw) - 8 - n} bytes of tensor data, the file holds"
        with pytest.raises(CheckpointError) as err:
            gb.load(path)
        assert str(err.value).startswith(f"{path}: {want}"), (length, str(err.value))


def forged(meta_tree, tensors: dict[str, np.ndarray] | None = None, **meta) -> bytes:
    """A safetensors file with gradbox metadata whose checksum matches, whatever the tree says:
    what a hand-made hostile file can be (the checksum guards against damage, not malice)."""
    tensors = tensors or {}
    tree_json = meta_tree if isinstance(meta_tree, str) else json.dumps(meta_tree)
    full = {
        "format": "pt",
        "gradbox.format": gb.serialization.FORMAT,
        "gradbox.tree": tree_json,
        "gradbox.sha256": safetensors_file.digest(tensors, tree_json),
        **meta,
    }
    return safetensors.numpy.save(
        {k: v for k, v in tensors.items()}, metadata={k: v for k, v in full.items() if v is not None}
    )


def raw_file(header: dict | str | bytes, data: bytes = b"") -> bytes:
    text = header if isinstance(header, bytes) else (header if isinstance(header, str) else json.dumps(header)).encode()
    return len(text).to_bytes(8, "little") + text + data


W = {"w": np.ones(2, np.float32)}
REF = {"__array__": "w", "tensor": True, "requires_grad": False, "dtype": "F32", "shape": [2]}
HOSTILE = {
    # nesting: deeper than json's recursion limit, and within it but deeper than a checkpoint can be
    "deep json": (forged("[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "deep tree": (forged("[" * 150 + "]" * 150), "nested more than 100 levels"),
    "deep header": (raw_file('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"), "nested too deeply"),
    "deep tensor ref": (forged([[[[[[[[[[[{"__array__": [[[[["w"]]]]]}]]]]]]]]]]], W), "names no tensor"),
    # missing keys
    "missing tensor": (forged({"x": {**REF, "__array__": "v"}}, W), "missing tensor 'v'"),
    "no checksum": (forged({"x": REF}, W, **{"gradbox.sha256": None}), "lacks 'gradbox.sha256'"),
    "no tree": (forged({"x": REF}, W, **{"gradbox.tree": None}), "lacks 'gradbox.tree'"),
    "no format tag": (forged({"x": REF}, W, format=None), "metadata 'format' is None, expected 'pt'"),
    "entry without offsets": (raw_file({"w": {"dtype": "F32", "shape": [2]}}, bytes(8)), "entry 'w' is"),
    "unreferenced tensor": (forged({"x": REF}, {**W, "v": np.ones(1, np.float32)}), "unexpected tensor 'v'"),
    # keys that cannot be keys
    "dict as key": (forged({"__items__": [[{"a": 1}, 2]]}), "cannot be a key"),
    "list in tuple key": (forged({"__items__": [[[[1]], 2]]}), "cannot be a key"),
    "list as reference": (forged({"x": {"__array__": ["w"]}}, W), "names no tensor"),
    "duplicate key": (raw_file('{"w": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, "w": {}}'), "'w' twice"),
    # wrong types
    "tuple of a number": (forged({"__tuple__": 5}), "a __tuple__ node holds 5, expected a list"),
    "items of a number": (forged({"__items__": 5}), "__items__ node holds 5"),
    "items not pairs": (forged({"__items__": [[1, 2, 3]]}), "expected [key, value] pairs"),
    "counter of strings": (forged({"__counter__": [["a", "x"]]}), "count is 'x', expected an integer"),
    "reference dtype": (forged({"x": {**REF, "dtype": 5}}, W), "has dtype 5"),
    "metadata value": (raw_file({"__metadata__": {"a": 1}}), "__metadata__ is {'a': 1}, expected a map"),
    "metadata list": (raw_file({"__metadata__": ["a"]}), "__metadata__ is ['a']"),
    "header a list": (raw_file("[1, 2]"), "a JSON list, expected an object"),
    "shape of strings": (
        raw_file({"w": {"dtype": "F32", "shape": ["2"], "data_offsets": [0, 8]}}, bytes(8)),
        "entry 'w'",
    ),
    "negative dim": (raw_file({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, bytes(8)), "entry 'w'"),
    "boolean dim": (raw_file({"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, bytes(4)), "entry 'w'"),
    "dtype a number": (raw_file({"w": {"dtype": 5, "shape": [2], "data_offsets": [0, 8]}}, bytes(8)), "entry 'w'"),
    "unknown dtype": (
        raw_file({"w": {"dtype": "Q9", "shape": [2], "data_offsets": [0, 8]}}, bytes(8)),
        "'Q9', expected one of",
    ),
    "object dtype": (
        raw_file({"w": {"dtype": "O", "shape": [2], "data_offsets": [0, 8]}}, bytes(8)),
        "'O', expected one of",
    ),
    "other version": (
        forged({}, **{"gradbox.format": "gradbox-safetensors/9"}),
        "unknown format 'gradbox-safetensors/9'",
    ),
    "tree not json": (forged("{'a': 1}"), "not valid JSON in the gradbox structure"),
    # huge declared shapes and offsets; header length past the end of the file
    "giant tensor": (
        raw_file({"w": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 2**42]}}),
        "describes 4398046511104 bytes",
    ),
    "giant dim": (raw_file({"w": {"dtype": "F32", "shape": [2**70], "data_offsets": [0, 2**72]}}), "entry 'w'"),
    "empty but unindexable": (
        raw_file({"w": {"dtype": "F32", "shape": [0, 2**62], "data_offsets": [0, 0]}}),
        "has shape [0, 4611686018427387904], expected one NumPy can index",
    ),
    "int64 wrap": (
        raw_file({"w": {"dtype": "U8", "shape": [2**32, 2**32], "data_offsets": [0, 0]}}),
        "has shape [4294967296, 4294967296], expected one NumPy can index",
    ),
    "giant offsets": (
        raw_file({"w": {"dtype": "U8", "shape": [4], "data_offsets": [2**64, 2**64 + 4]}}, bytes(4)),
        "begins at data offset 18446744073709551616, expected 0",
    ),
    "overlap": (
        raw_file(
            {
                "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]},
            },
            bytes(8),
        ),
        "'b' begins at data offset 2, expected 4",
    ),
    "trailing bytes": (
        raw_file({"w": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}, bytes(9)),
        "trailing bytes",
    ),
    "integer of 5000 digits": (raw_file('{"w": {"dtype": "U8", "shape": [' + "9" * 5000 + "]}}"), "not valid JSON"),
    "header length past the end": (
        b"\x40\x00\x00\x00\x00\x00\x00\x00{}",
        "the header length field says 64 bytes, but only 2",
    ),
    "header length 2**64 - 1": (
        b"\xff" * 8 + b"{}",
        "the header length field says 18446744073709551615 bytes, expected 2 to",
    ),
    "header length 0": (bytes(8), "the header length field says 0 bytes"),
    "header not utf-8": (raw_file(b'{"\xff": 1}'), "not valid JSON"),
    "header in utf-16": (raw_file('{"w": {}}'.encode("utf-16")), "not valid JSON"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_metadata_raises_the_checkpoint_error(case, tmp_path):
    raw, want = HOSTILE[case]
    path = tmp_path / "hostile.safetensors"
    path.write_bytes(raw)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError) as err:
            gb.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(err.value).startswith(f"{path}: "), str(err.value)
    assert want in str(err.value), str(err.value)
    assert peak < 50 * len(raw) + (8 << 20), peak  # nothing the header declares was allocated


def test_the_forged_files_are_otherwise_valid(tmp_path):
    """The hostile cases above fail for their one fault: the same forging makes loadable files."""
    (tmp_path / "ok.safetensors").write_bytes(forged({"x": REF, "k": {"__items__": [[[1, 2], "v"]]}}, W))
    back = gb.load(tmp_path / "ok.safetensors")
    assert back["k"] == {(1, 2): "v"} and back["x"].numpy().tolist() == [1.0, 1.0]
    (tmp_path / "plain.safetensors").write_bytes(
        raw_file({"w": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}, bytes(4))
    )
    assert gb.load(tmp_path / "plain.safetensors")["w"].numpy().tolist() == [0, 0, 0, 0]
    (tmp_path / "null.safetensors").write_bytes(raw_file({"__metadata__": None}))
    assert gb.load(tmp_path / "null.safetensors") == {}


def test_a_whole_tree_at_the_depth_limit_round_trips_and_one_deeper_is_refused_at_save(tmp_path):
    obj: object = gb.ones(1)
    for _ in range(96):
        obj = [obj]
    gb.save(obj, tmp_path / "deep.safetensors")
    back = gb.load(tmp_path / "deep.safetensors")
    for _ in range(96):
        back = back[0]
    assert back.numpy().tolist() == [1.0]
    with pytest.raises(ValueError, match="nested too deeply"):
        gb.save([obj, [[[obj]]]], tmp_path / "deeper.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.safetensors"]


# ---- files that are not checkpoints ----------------------------------------------------------


def test_other_kinds_of_file_are_named(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "digit.png")
    np.save(tmp_path / "weights.npy", np.ones(3))
    (tmp_path / "photo.pt").write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    for name, what in (
        ("digit.png", "a PNG image"),
        ("weights.npy", "a NumPy .npy array"),
        ("photo.pt", "a JPEG image"),
    ):
        with pytest.raises(CheckpointError) as err:
            gb.load(tmp_path / name)
        assert str(err.value).startswith(f"{tmp_path / name}: this is {what}, not a gradbox checkpoint"), str(err.value)
    with (
        open(tmp_path / "digit.png", "rb") as fh,
        pytest.raises(CheckpointError, match="digit.png: this is a PNG image"),
    ):
        gb.load(fh)


@pytest.mark.parametrize("n", [0x280, 0x380, 0x480, 0x580, 0x8B1F])
def test_a_header_length_that_begins_like_a_pickle_or_gzip_is_still_safetensors(n, tmp_path):
    """A header of 0x380 bytes begins the file with 80 03, a pickle's first bytes; of 0x8b1f, with a
    gzip file's 1f 8b. The header's opening brace at byte 8 says it is safetensors."""
    ck = small_checkpoint()["model"]
    gb.save(ck, tmp_path / "ck.safetensors")
    raw = (tmp_path / "ck.safetensors").read_bytes()
    old = int.from_bytes(raw[:8], "little")
    assert old < n
    header = raw[8 : 8 + old] + b" " * (n - old)  # safetensors pads its header with spaces too
    (tmp_path / "padded.safetensors").write_bytes(n.to_bytes(8, "little") + header + raw[8 + old :])
    assert same(gb.load(tmp_path / "padded.safetensors"), ck)
    assert sorted(safetensors.numpy.load_file(tmp_path / "padded.safetensors")) == ["b", "w"]  # valid for safetensors


# ---- the legacy .npz container --------------------------------------------------------------


def test_every_flipped_byte_of_an_npz_is_caught_or_harmless(tmp_path):
    """A zip has bytes no checksum covers (times, attributes, versions): flipping one of those may
    leave the same content; any other flip raises CheckpointError naming the file."""
    ck = small_checkpoint()
    gb.save(ck, tmp_path / "ck.npz")
    raw = (tmp_path / "ck.npz").read_bytes()
    variants = flips(raw, range(len(raw)), masks=(0x01, 0x80, 0xFF))
    check_all(tmp_path / "flipped.npz", variants, allow_identical=gb.load(tmp_path / "ck.npz"), stream=True)
    caught = sum(outcome(tmp_path / "f.npz", r, stream=True) is None for r in list(variants.values())[::7])
    assert caught > len(variants) // 7 // 2  # most flips are caught (the zip CRC, our checks)


def test_every_truncation_of_an_npz_is_caught(tmp_path):
    gb.save(small_checkpoint(), tmp_path / "ck.npz")
    raw = (tmp_path / "ck.npz").read_bytes()
    check_all(tmp_path / "cut.npz", {f"{n} bytes": raw[:n] for n in range(len(raw))})
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="cut.npz: corrupt or truncated file"):
        gb.load(tmp_path / "cut.npz")


def rezip(raw: bytes, edit=None, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """The archive ``raw`` with each entry recompressed, and ``edit(name, data)`` applied to each."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", compression) as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, edit(name, data) if edit else data)
    return out.getvalue()


def npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=True)
    return buf.getvalue()


def test_npz_entries_that_are_no_gradbox_arrays(tmp_path):
    gb.save({"w": gb.ones(3)}, tmp_path / "ck.npz")
    raw = (tmp_path / "ck.npz").read_bytes()
    cases = {
        "object array": (lambda n, d: npy(np.array([None, 1], dtype=object)) if n == "a0.npy" else d, "dtype '|O'"),
        "empty but unindexable": (
            lambda n, d: d.replace(b"(3,)", b"(0, 4611686018427387904)") if n == "a0.npy" else d,
            "larger than NumPy can index",
        ),
        "header lies": (lambda n, d: d.replace(b"(3,)", b"(9,)") if n == "a0.npy" else d, "needs 36 bytes of data"),
        "not npy": (lambda n, d: b"hello" + d if n == "a0.npy" else d, "does not begin with a .npy signature"),
        "header code": (
            lambda n, d: d.replace(b"'descr'", b"__import__('os')") if n == "a0.npy" else d,
            "unreadable .npy header",
        ),
        "meta not json": (
            lambda n, d: npy(np.frombuffer(b"{nope", np.uint8)) if n == "__meta__.npy" else d,
            "not valid JSON",
        ),
        "meta deep": (
            lambda n, d: npy(np.frombuffer(b"[" * 10**5 + b"]" * 10**5, np.uint8)) if n == "__meta__.npy" else d,
            "nested too deeply",
        ),
    }
    for label, (edit, want) in cases.items():
        (tmp_path / "bad.npz").write_bytes(rezip(raw, edit, zipfile.ZIP_STORED))
        with pytest.raises(CheckpointError) as err:
            gb.load(tmp_path / "bad.npz")
        assert str(err.value).startswith(f"{tmp_path / 'bad.npz'}: ") and want in str(err.value), (
            label,
            str(err.value),
        )


def test_an_npz_bomb_is_refused_before_decompressing(tmp_path, monkeypatch):
    gb.save({"w": gb.zeros(16 << 20, dtype=gb.uint8)}, tmp_path / "ck.npz")  # 16 MiB of zeros ...
    bomb = rezip((tmp_path / "ck.npz").read_bytes())  # ... deflated to about 16 KiB
    assert len(bomb) < 100_000
    (tmp_path / "bomb.npz").write_bytes(bomb)
    monkeypatch.setattr(gb.serialization, "MAX_DECOMPRESSED_BYTES", 1 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"bomb.npz: refused: its entries would decompress to 1677\d+ bytes"):
            gb.load(tmp_path / "bomb.npz")
        assert tracemalloc.get_traced_memory()[1] < 4 << 20
    finally:
        tracemalloc.stop()
    monkeypatch.setattr(gb.serialization, "MAX_DECOMPRESSED_BYTES", 32 << 20)  # a file one trusts: raise the limit
    assert gb.load(tmp_path / "bomb.npz")["w"].shape == (16 << 20,)


def test_an_npz_declaring_gigabytes_is_refused_under_the_default_limit(tmp_path):
    gb.save({"w": gb.zeros(1000, dtype=gb.uint8)}, tmp_path / "ck.npz")
    raw = bytearray(rezip((tmp_path / "ck.npz").read_bytes()))
    central = raw.rindex(b"PK\x01\x02")  # the last central directory entry: a0.npy
    assert raw[central + 46 : central + 52] == b"a0.npy"
    struct.pack_into("<I", raw, central + 24, 3 << 30)  # its uncompressed size: 3 GiB
    (tmp_path / "big.npz").write_bytes(bytes(raw))
    with pytest.raises(
        CheckpointError,
        match=r"big.npz: refused: its entries would decompress to 32212\d+ bytes.*"
        r"limit of 2147483648 bytes.*MAX_DECOMPRESSED_BYTES",
    ):
        gb.load(tmp_path / "big.npz")


# ---- the trainer's load ----------------------------------------------------------------------


def test_resuming_from_a_file_that_is_no_training_checkpoint_names_it(tmp_path):
    gb.manual_seed(0)
    model = gb.vision.models.mlp(hidden=(8,))
    data = gb.utils.data.TensorDataset(gb.randn(4, 1, 28, 28), gb.tensor([0, 1, 2, 3]))
    opt = gb.optim.SGD(model.parameters(), lr=0.1)
    trainer = gb.train.Trainer(model, opt, gb.nn.CrossEntropyLoss(), gb.utils.data.DataLoader(data, batch_size=2))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    gb.save(model.state_dict(), tmp_path / "weights.safetensors")
    gb.save(gb.ones(2), tmp_path / "tensor.safetensors")
    ck = trainer.state()
    del ck["optimizer"]
    gb.save(ck, tmp_path / "partial.safetensors")
    for name, want in (
        ("weights.safetensors", "found format None"),
        ("tensor.safetensors", "found a Tensor"),
        ("partial.safetensors", "a training checkpoint without optimizer"),
    ):
        with pytest.raises(CheckpointError, match=want) as err:
            trainer.load_checkpoint(tmp_path / name)
        assert str(err.value).startswith(f"{tmp_path / name}: "), str(err.value)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    trainer.save_checkpoint(tmp_path / "ck.safetensors")  # a whole one, in either container, resumes
    trainer.load_checkpoint(tmp_path / "ck.safetensors")
    trainer.save_checkpoint(tmp_path / "ck.npz")
    trainer.load_checkpoint(tmp_path / "ck.npz")
