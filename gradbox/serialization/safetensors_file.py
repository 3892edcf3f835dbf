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
ordered dict of tensors.

Reading trusts nothing in the file and reads it through one open file object, so a writer
renaming a new version over the path meanwhile cannot mix two versions. It checks, before
allocating any tensor: the header length (at least 2, at most ``MAX_HEADER``, within the
file), the header JSON (an object, no duplicate keys, ``__metadata__`` mapping strings to
strings), each entry (a dtype NumPy holds, a shape of non-negative integers, two offsets),
for a gradbox file the metadata (``format`` ``pt``, ``gradbox.format`` this version, tree and
checksum present) and that the tensors are exactly those the tree refers to (missing tensor,
unexpected tensor) with the recorded dtypes (wrong dtype) and shapes (wrong shape); then that
each tensor's bytes match its dtype and shape and the tensors tile the data exactly as
safetensors lays them out (truncated, trailing bytes). Only then does it read the tensors, one
allocation each, and compare the SHA-256 (checksum mismatch). The tree is decoded last, by
``tree.decode``, which checks every node. The first fault raises ``CheckpointError`` naming the
file, what was expected and what was found.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from gradbox.serialization.errors import CheckpointError
from gradbox.serialization.tree import NUMPY_OF, Namer, TreeError, decode, encode, references

FORMAT = "gradbox-safetensors/1"
FORMAT_KEY, TREE_KEY, SHA_KEY = "gradbox.format", "gradbox.tree", "gradbox.sha256"
MAX_HEADER = 100_000_000  # safetensors' own limit on the header size
MAX_DIM = 2**62  # NumPy refuses a shape whose non-zero dims multiply (times the item size) past ~2**63
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
        h.update(a if a.flags.c_contiguous else np.ascontiguousarray(a))  # (the buffer, not a copy)
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


def _json(text: bytes | str, what: str, path) -> Any:
    """Parsed JSON; duplicate keys, invalid UTF-8 or JSON, absurd nesting: a CheckpointError."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
        out = dict(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            dup = next(k for k, _ in pairs if k in seen or seen.add(k))
            raise CheckpointError(f"{path}: bad header: {what} has the key {dup!r} twice")
        return out

    try:  # (bytes are UTF-8, as safetensors requires; json.loads would also take UTF-16 and UTF-32)
        return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text, object_pairs_hook=no_duplicates)
    except RecursionError:
        raise CheckpointError(f"{path}: bad header: {what} is nested too deeply to be a checkpoint") from None
    except (UnicodeDecodeError, ValueError) as e:  # (JSONDecodeError, and too-long integers, are ValueErrors)
        raise CheckpointError(f"{path}: bad header: not valid JSON in {what} ({e})") from None


def _size(fh: BinaryIO) -> int:
    try:
        return os.fstat(fh.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # a BytesIO
        fh.seek(0, os.SEEK_END)
        return fh.tell()


def _header(fh: BinaryIO, size: int, path) -> tuple[dict, dict[str, str], int]:
    """(tensor entries, metadata, data start) of the safetensors file ``fh`` of ``size`` bytes."""
    if size < 8:
        raise CheckpointError(
            f"{path}: truncated: the file is {size} bytes, expected at least 8 (the safetensors header length)"
        )
    fh.seek(0)
    n = int.from_bytes(fh.read(8), "little")
    if n > MAX_HEADER or n < 2:
        raise CheckpointError(
            f"{path}: bad header: the header length field says {n} bytes, expected 2 to {MAX_HEADER} "
            "(not a safetensors file?)"
        )
    if 8 + n > size:
        raise CheckpointError(
            f"{path}: truncated or bad header: the header length field says {n} bytes, "
            f"but only {size - 8} bytes follow it"
        )
    header = _json(fh.read(n), "the header", path)
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: bad header: a JSON {type(header).__name__}, expected an object")
    meta = header.pop("__metadata__", None)
    meta = {} if meta is None else meta  # (absent, or null: safetensors accepts both)
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(
            f"{path}: bad header: __metadata__ is {_short(meta)}, expected a map of strings to strings"
        )
    for name, e in header.items():
        ok = (
            isinstance(e, dict)
            and isinstance(e.get("dtype"), str)
            and isinstance(e.get("shape"), list)
            and all(_count(s) and s <= MAX_DIM for s in e["shape"])
            and isinstance(e.get("data_offsets"), list)
            and len(e["data_offsets"]) == 2
            and all(_count(o) for o in e["data_offsets"])
        )
        if not ok:
            raise CheckpointError(
                f"{path}: bad header: entry {name!r} is {_short(e)}, expected "
                "{'dtype': str, 'shape': [int >= 0, ...], 'data_offsets': [begin, end]}"
            )
        if e["dtype"] in NOT_IN_NUMPY:
            raise CheckpointError(
                f"{path}: tensor {name!r} has dtype {e['dtype']}, which NumPy (and so gradbox) cannot hold; "
                "convert it in PyTorch first (e.g. .float()) and save again"
            )
        if e["dtype"] not in NUMPY_OF:
            raise CheckpointError(
                f"{path}: bad header: tensor {name!r} has dtype {e['dtype']!r}, expected one of {', '.join(NUMPY_OF)}"
            )
        if math.prod(max(1, s) for s in e["shape"]) * NUMPY_OF[e["dtype"]].itemsize > MAX_DIM:
            raise CheckpointError(
                f"{path}: bad header: tensor {name!r} has shape {e['shape']}, expected one NumPy can index "
                f"(the product of its non-zero dims times {NUMPY_OF[e['dtype']].itemsize} bytes at most 2**62)"
            )
    return header, meta, 8 + n


def _count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 100 else text[:97] + "..."


def _gradbox_tree(meta: dict[str, str], path) -> Any:
    """The saved structure of a gradbox file, or None for a plain safetensors file (PyTorch's)."""
    keys = (FORMAT_KEY, TREE_KEY, SHA_KEY)
    if not any(k in meta for k in keys) and not any(k.startswith("gradbox.") for k in meta):
        return None
    for k in keys:
        if k not in meta:
            raise CheckpointError(
                f"{path}: bad header: a gradbox file's metadata lacks {k!r} (found the keys {sorted(meta)})"
            )
    if meta[FORMAT_KEY] != FORMAT:
        raise CheckpointError(
            f"{path}: unknown format {_short(meta[FORMAT_KEY])} in {FORMAT_KEY}, expected {FORMAT!r} "
            "(written by a newer gradbox?)"
        )
    if meta.get("format") != "pt":
        raise CheckpointError(f"{path}: bad header: metadata 'format' is {_short(meta.get('format'))}, expected 'pt'")
    return _json(meta[TREE_KEY], "the gradbox structure", path)


def _check_entries(header: dict, recorded: dict[str, dict] | None, data_size: int, path) -> list[str]:
    """The tensor names in file order, after checking them against the tree's references
    (``recorded``; None for a plain file) and the data's size."""
    if recorded is not None:
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
        extra = [k for k in header if k not in recorded]
        if extra:
            raise CheckpointError(
                f"{path}: bad header: unexpected tensor {extra[0]!r}: the file holds it, the saved structure "
                "does not refer to it"
            )
    for name, e in header.items():
        begin, stop = e["data_offsets"]
        need = math.prod(e["shape"]) * NUMPY_OF[e["dtype"]].itemsize
        if stop - begin != need:
            raise CheckpointError(
                f"{path}: bad header: tensor {name!r} of dtype {e['dtype']} and shape {e['shape']} needs {need} bytes, "
                f"but its data_offsets {e['data_offsets']} span {stop - begin} (a wrong dtype or shape)"
            )
    order = sorted(header, key=lambda k: tuple(header[k]["data_offsets"]))
    end = 0
    for name in order:
        begin, stop = header[name]["data_offsets"]
        if begin != end:
            raise CheckpointError(
                f"{path}: bad header: tensor {name!r} begins at data offset {begin}, expected {end} "
                "(safetensors stores the tensors back to back)"
            )
        end = stop
    if end > data_size:
        raise CheckpointError(
            f"{path}: truncated: the header describes {end} bytes of tensor data, the file holds {data_size}"
        )
    if end < data_size:
        raise CheckpointError(
            f"{path}: bad header or trailing bytes: the header describes {end} bytes of tensor data, "
            f"the file holds {data_size}"
        )
    return order


def read(fh: BinaryIO, path: Path | str) -> Any:
    """Load a safetensors file from ``fh``, an open binary file or stream that supports seek."""
    size = _size(fh)
    header, meta, start = _header(fh, size, path)
    tree = _gradbox_tree(meta, path)
    try:
        recorded = None if tree is None else {r["__array__"]: r for r in references(tree)}
    except TreeError as e:
        raise CheckpointError(f"{path}: bad structure: {e}") from None
    order = _check_entries(header, recorded, size - start, path)
    arrays = _read_arrays(fh, header, order, start, path)
    if tree is not None and (found := digest(arrays, meta[TREE_KEY])) != meta[SHA_KEY]:
        raise CheckpointError(
            f"{path}: checksum mismatch: the tensor data or the structure differ from the SHA-256 recorded "
            f"when the file was saved (a changed or corrupted byte): expected {meta[SHA_KEY][:16]!r}..., "
            f"found {found[:16]!r}..."
        )
    if tree is None:  # a plain safetensors file (PyTorch's): name -> tensor, in file order
        tree = {k: {"__array__": k} for k in order}
    try:
        return decode(tree, arrays.__getitem__)
    except TreeError as e:
        raise CheckpointError(f"{path}: bad structure: {e}") from None


def _read_arrays(fh: BinaryIO, header: dict, order: list[str], start: int, path) -> dict[str, np.ndarray]:
    """Each tensor read straight into its own array (the sizes are checked against the file)."""
    out: dict[str, np.ndarray] = {}
    fh.seek(start)
    for name in order:
        e = header[name]
        a = np.empty(e["shape"], NUMPY_OF[e["dtype"]].newbyteorder("<"))
        if a.nbytes:
            got = fh.readinto(memoryview(a.reshape(-1).view(np.uint8)))
            if got != a.nbytes:
                raise CheckpointError(
                    f"{path}: truncated: tensor {name!r} needs {a.nbytes} bytes, the file gave {got} "
                    "(did it change while being read?)"
                )
        out[name] = a if sys.byteorder == "little" else a.astype(a.dtype.newbyteorder("="))
    return out


def fsync_path(p: Path) -> None:
    with open(p, "rb+") as fh:
        fh.flush()
        os.fsync(fh.fileno())
