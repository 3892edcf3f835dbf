"""The safetensors container: what ``gb.save`` writes (for any name but ``*.npz``).

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON describing
each tensor (``{"name": {"dtype": "F32", "shape": [10, 84], "data_offsets": [begin, end]}}``
plus ``"__metadata__"``, a str -> str map), then the tensor bytes. gradbox adds to the
metadata:

* ``gradbox.format``: ``gradbox-safetensors/1``;
* ``gradbox.tree``: the saved object's structure as JSON (``tree.py``): nested dicts, lists,
  numbers, strings, with each tensor a reference by name that also records its dtype and shape;
* ``gradbox.sha256``: a SHA-256 of the tree and of every tensor's name, dtype, shape and bytes;
* ``format``: ``pt``, the tag Hugging Face's loaders expect (names and layouts are PyTorch's).

A flat state_dict is stored under its own keys, so ``safetensors.torch.load_file`` returns
exactly ``model.state_dict()``; files written by PyTorch (no gradbox metadata) load as an
ordered dict of tensors. Loading checks, in this order: the header length, the header JSON,
each entry's dtype against the recorded one (wrong dtype), its shape (wrong shape), its byte
size, that the file holds all the data (truncated), that every referenced tensor exists
(missing tensor), and the checksum; the first fault raises ``CheckpointError`` naming the file.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from gradbox.serialization.errors import CheckpointError
from gradbox.serialization.tree import NUMPY_OF, Namer, decode, encode, references

FORMAT = "gradbox-safetensors/1"
FORMAT_KEY, TREE_KEY, SHA_KEY = "gradbox.format", "gradbox.tree", "gradbox.sha256"
MAX_HEADER = 100_000_000  # safetensors' own limit on the header size
# dtypes safetensors knows that NumPy cannot hold
NOT_IN_NUMPY = {"BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64", "C128"}


def _safetensors_numpy():
    """``safetensors.numpy``, imported on first use so ``import gradbox`` does not load it."""
    try:
        return importlib.import_module("safetensors.numpy")
    except ImportError:
        raise ImportError(
            "gb.save / gb.load need the safetensors package (a gradbox dependency): pip install safetensors"
        ) from None


def digest(arrays: dict[str, np.ndarray], tree_json: str) -> str:
    h = hashlib.sha256(tree_json.encode())
    for k in sorted(arrays):
        a = arrays[k]
        h.update(k.encode() + b"\0" + a.dtype.name.encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def metadata_for(obj: Any) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    namer = Namer()
    tree_json = json.dumps(encode(obj, namer), separators=(",", ":"))
    meta = {
        "format": "pt",
        FORMAT_KEY: FORMAT,
        TREE_KEY: tree_json,
        SHA_KEY: digest(namer.arrays, tree_json),
    }
    return namer.arrays, meta


def write_file(obj: Any, tmp: Path) -> None:
    arrays, meta = metadata_for(obj)
    _safetensors_numpy().save_file(arrays, str(tmp), metadata=meta)


def write_stream(obj: Any, fh: BinaryIO) -> None:
    arrays, meta = metadata_for(obj)
    fh.write(_safetensors_numpy().save(arrays, metadata=meta))


# ---- reading ------------------------------------------------------------------------------


def _header(head: bytes, size: int, path) -> tuple[dict, dict[str, str], int]:
    """(tensor entries, metadata, data start) from the first bytes of a file of ``size`` bytes."""
    if size < 8:
        raise CheckpointError(f"{path}: truncated: {size} bytes, less than the 8-byte header length of safetensors")
    n = int.from_bytes(head[:8], "little")
    if n > MAX_HEADER or n < 2:
        raise CheckpointError(f"{path}: bad header: the header length field says {n} bytes (not a safetensors file?)")
    if 8 + n > size:
        raise CheckpointError(
            f"{path}: truncated or bad header: the header length field says {n} bytes, "
            f"but only {size - 8} bytes follow it"
        )
    try:
        header = json.loads(head[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: bad header: not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: bad header: a JSON {type(header).__name__}, expected an object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(f"{path}: bad header: __metadata__ must map strings to strings")
    for name, e in header.items():
        ok = (
            isinstance(e, dict)
            and isinstance(e.get("dtype"), str)
            and isinstance(e.get("shape"), list)
            and all(isinstance(s, int) and s >= 0 for s in e["shape"])
            and isinstance(e.get("data_offsets"), list)
            and len(e["data_offsets"]) == 2
            and all(isinstance(o, int) and o >= 0 for o in e["data_offsets"])
        )
        if not ok:
            raise CheckpointError(
                f"{path}: bad header: entry {name!r} is {e!r}, expected dtype, shape and data_offsets"
            )
        if e["dtype"] in NOT_IN_NUMPY:
            raise CheckpointError(
                f"{path}: tensor {name!r} has dtype {e['dtype']}, which NumPy (and so gradbox) cannot hold; "
                "convert it in PyTorch first (e.g. .float()) and save again"
            )
        if e["dtype"] not in NUMPY_OF:
            raise CheckpointError(f"{path}: bad header: tensor {name!r} has unknown dtype {e['dtype']!r}")
    return header, meta, 8 + n


def _check_entries(header: dict, recorded: dict[str, dict], data_size: int, path) -> None:
    for name, ref in recorded.items():
        if name not in header:
            raise CheckpointError(
                f"{path}: missing tensor {name!r}: the saved structure refers to it, the file does not hold it"
            )
        e = header[name]
        if "dtype" in ref and e["dtype"] != ref["dtype"]:
            raise CheckpointError(
                f"{path}: wrong dtype: tensor {name!r} is {e['dtype']} in the header, but was saved as {ref['dtype']}"
            )
        if "shape" in ref and e["shape"] != ref["shape"]:
            raise CheckpointError(
                f"{path}: wrong shape: tensor {name!r} has shape {e['shape']} in the header, "
                f"but was saved with shape {ref['shape']}"
            )
    end = 0
    for name, e in header.items():
        begin, stop = e["data_offsets"]
        need = int(np.prod(e["shape"], dtype=np.int64)) * NUMPY_OF[e["dtype"]].itemsize
        if stop - begin != need:
            raise CheckpointError(
                f"{path}: bad header: tensor {name!r} of dtype {e['dtype']} and shape {e['shape']} needs {need} bytes, "
                f"but its data_offsets {e['data_offsets']} span {stop - begin} (a wrong dtype or shape)"
            )
        end = max(end, stop)
    if end > data_size:
        raise CheckpointError(
            f"{path}: truncated: the header describes {end} bytes of tensor data, the file holds {data_size}"
        )


def read(source: Path | BinaryIO, path) -> Any:
    """Load a safetensors file (a path, read through safetensors' memory map, or a binary stream)."""
    raw = None
    if isinstance(source, Path):
        size = source.stat().st_size
        with open(source, "rb") as fh:
            head = fh.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else 0
            if 8 <= len(head) and 2 <= n <= min(MAX_HEADER, size - 8):
                head += fh.read(n)
    else:
        raw = source.read()
        size, head = len(raw), raw
    header, meta, start = _header(head, size, path)
    tree = None
    if TREE_KEY in meta:
        try:
            tree = json.loads(meta[TREE_KEY])
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{path}: bad header: the gradbox structure is not valid JSON ({e})") from None
    recorded = {r["__array__"]: r for r in references(tree)} if tree is not None else {}
    _check_entries(header, recorded, size - start, path)
    arrays = _arrays(source if raw is None else raw, list(header), path)
    if SHA_KEY in meta and digest(arrays, meta[TREE_KEY] if TREE_KEY in meta else "") != meta[SHA_KEY]:
        raise CheckpointError(
            f"{path}: checksum mismatch: the tensor data or the structure differ from the SHA-256 recorded "
            "when the file was saved (a changed or corrupted byte)"
        )
    if tree is None:  # a plain safetensors file (PyTorch's): name -> tensor, in file order
        order = sorted(header, key=lambda k: header[k]["data_offsets"][0])
        return decode({k: {"__array__": k} for k in order}, arrays.__getitem__)
    return decode(tree, arrays.__getitem__)


def _arrays(source: Path | bytes, names: list[str], path) -> dict[str, np.ndarray]:
    st = _safetensors_numpy()
    try:
        if isinstance(source, bytes):
            out = st.load(source)
        else:
            with st.safe_open(str(source), framework="np") as f:
                out = {k: f.get_tensor(k) for k in names}
    except Exception as e:  # safetensors raises its own SafetensorError (and OSError on I/O)
        raise CheckpointError(f"{path}: bad safetensors data ({type(e).__name__}: {e})") from None
    return {k: a if a.flags.writeable else a.copy() for k, a in out.items()}


def as_stream(raw: bytes) -> io.BytesIO:
    return io.BytesIO(raw)


def fsync_path(p: Path) -> None:
    with open(p, "rb+") as fh:
        fh.flush()
        os.fsync(fh.fileno())
