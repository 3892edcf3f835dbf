"""The ``.npz`` container (gradbox-archive/1): what gradbox wrote before safetensors, and still
writes for a path ending in ``.npz``.

A NumPy zip of the arrays (``a0``, ``a1``, ...) plus ``__meta__``: the JSON tree (see
``tree.py``) and a SHA-256 of all array bytes. Written with ``np.savez`` (stored, not
compressed).

Reading does not use ``np.load``: a zip of ``.npy`` files is a format with many ways to fail
(zipfile's encryption, compression methods, versions and flags; NumPy's header parsing; object
arrays), each with its own exception and message. ``read`` accepts only what a gradbox archive
can hold: entries ``NAME.npy`` stored or deflated, unencrypted, each a ``.npy`` of a plain
numeric or boolean dtype whose header declares exactly the entry's size; and it refuses,
before decompressing anything, an archive whose entries would decompress to more than its
own size or ``max_bytes`` (``gb.serialization.MAX_DECOMPRESSED_BYTES``), whichever is larger:
a small file cannot make ``gb.load`` allocate gigabytes. Every fault is a ``CheckpointError``
naming the file; a damaged zip says "corrupt or truncated file".
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from gradbox.serialization.errors import CheckpointError
from gradbox.serialization.tree import Namer, TreeError, decode, encode, references

FORMAT = "gradbox-archive/1"
NPY_MAGIC = b"\x93NUMPY"
_ENTRY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}\.npy")
_DESCR = re.compile(r"[<>|=]?[biuf]\d{1,2}|[<>|=]?c(8|16)")
_CHUNK = 1 << 20


def digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = arrays[k]
        h.update(k.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(np.ascontiguousarray(a))
    return h.hexdigest()


def write(obj: Any, fh: BinaryIO) -> None:
    namer = Namer(legacy=True)
    tree = encode(obj, namer)
    meta = json.dumps({"format": FORMAT, "sha256": digest(namer.arrays), "tree": tree}).encode()
    np.savez(fh, __meta__=np.frombuffer(meta, dtype=np.uint8), **namer.arrays)


def _corrupt(path, what: str) -> CheckpointError:
    return CheckpointError(f"{path}: corrupt or truncated file: {what}")


def _entries(raw: bytes, path, max_bytes: int) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except Exception as e:  # (BadZipFile, and whatever else a damaged central directory provokes)
        raise _corrupt(path, f"not a readable zip archive ({type(e).__name__}: {e})") from None
    names = [i.filename for i in infos]
    if any(n.endswith("data.pkl") for n in names):
        raise CheckpointError(
            f"{path}: a PyTorch torch.save archive (it holds a pickle, data.pkl); gradbox never unpickles, "
            "since loading a pickle runs arbitrary code. In PyTorch, save the weights with "
            "safetensors.torch.save_file(model.state_dict(), 'model.safetensors') and load that file"
        )
    for info in infos:
        if info.flag_bits & 0x61:
            raise _corrupt(
                path,
                f"zip entry {info.filename!r} has flag bits {info.flag_bits:#06x}, expected none of 0x0001, 0x0020, "
                "0x0040 (encryption and patch flags, which NumPy never sets)",
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _corrupt(
                path,
                f"zip entry {info.filename!r} has compression method {info.compress_type}, "
                "expected 0 (stored) or 8 (deflated)",
            )
    if "__meta__.npy" not in names:
        raise CheckpointError(f"{path}: not a gradbox archive (no __meta__ entry; found {names[:5]})")
    for name in names:
        if not _ENTRY.fullmatch(name):
            raise CheckpointError(f"{path}: not a gradbox archive: entry {name[:100]!r}, expected NAME.npy")
    if len(set(names)) != len(names):
        raise _corrupt(path, "two zip entries have the same name")
    total = sum(i.file_size for i in infos)
    if total > max(max_bytes, len(raw)):
        raise CheckpointError(
            f"{path}: refused: its entries would decompress to {total} bytes, more than the file's own size "
            f"({len(raw)}) and the limit of {max_bytes} bytes. If you trust the file, raise the limit: "
            "gb.serialization.MAX_DECOMPRESSED_BYTES = n, or the environment variable "
            "GRADBOX_MAX_DECOMPRESSED_BYTES"
        )
    return zf, infos


def _npy_header(fh: BinaryIO, info: zipfile.ZipInfo, path) -> tuple[np.dtype, tuple[int, ...], bool]:
    entry = info.filename
    magic = fh.read(8)
    if len(magic) < 8 or magic[:6] != NPY_MAGIC or magic[6] not in (1, 2, 3) or magic[7] != 0:
        raise _corrupt(path, f"entry {entry!r} does not begin with a .npy signature (found {magic!r})")
    width = 2 if magic[6] == 1 else 4
    n = int.from_bytes(fh.read(width), "little")
    if n > 65536:
        raise _corrupt(path, f"entry {entry!r} declares a .npy header of {n} bytes, expected at most 65536")
    text = fh.read(n)
    try:
        d = ast.literal_eval(text.decode("utf-8" if magic[6] == 3 else "latin1"))
    except Exception as e:  # (SyntaxError, ValueError, RecursionError, MemoryError: it is not a header)
        raise _corrupt(path, f"entry {entry!r} has an unreadable .npy header ({type(e).__name__})") from None
    if not (isinstance(d, dict) and set(d) == {"descr", "fortran_order", "shape"}):
        raise _corrupt(
            path, f"entry {entry!r} has the .npy header {text[:100]!r}, expected descr, fortran_order, shape"
        )
    descr, fortran, shape = d["descr"], d["fortran_order"], d["shape"]
    if not (isinstance(descr, str) and _DESCR.fullmatch(descr)):
        raise _corrupt(path, f"entry {entry!r} has dtype {descr!r}, expected a numeric or boolean dtype such as '<f4'")
    if not (isinstance(shape, tuple) and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
        raise _corrupt(path, f"entry {entry!r} has shape {shape!r}, expected a tuple of non-negative integers")
    if not isinstance(fortran, bool):
        raise _corrupt(path, f"entry {entry!r} has fortran_order {fortran!r}, expected True or False")
    try:
        dtype = np.dtype(descr)
    except Exception:  # (TypeError: a code NumPy does not know, such as 'i3')
        raise _corrupt(path, f"entry {entry!r} has dtype {descr!r}, which NumPy does not know") from None
    if _prod(max(1, s) for s in shape) * dtype.itemsize > 2**62:
        raise _corrupt(path, f"entry {entry!r} has shape {shape}, larger than NumPy can index")
    need = _prod(shape) * dtype.itemsize
    have = info.file_size - 8 - width - n
    if need != have:
        raise _corrupt(
            path,
            f"entry {entry!r} of dtype {descr} and shape {shape} needs {need} bytes of data, the zip entry has {have}",
        )
    return dtype, shape, fortran


def _prod(shape) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path) -> np.ndarray:
    with zf.open(info) as fh:
        dtype, shape, fortran = _npy_header(fh, info, path)
        a = np.empty(shape[::-1] if fortran else shape, dtype)
        view = memoryview(a.reshape(-1).view(np.uint8)) if a.nbytes else memoryview(b"")
        pos = 0
        while pos < a.nbytes:
            chunk = fh.read(min(_CHUNK, a.nbytes - pos))
            if not chunk:
                raise _corrupt(path, f"entry {info.filename!r} ends after {pos} of its {a.nbytes} data bytes")
            view[pos : pos + len(chunk)] = chunk
            pos += len(chunk)
        if fh.read(1):
            raise _corrupt(path, f"entry {info.filename!r} holds more bytes than its header declares")
    return a.T if fortran else a


def read(raw: bytes, path: Path | str, max_bytes: int) -> Any:
    zf, infos = _entries(raw, path, max_bytes)
    arrays: dict[str, np.ndarray] = {}
    with zf:
        for info in infos:
            try:
                arrays[info.filename[:-4]] = _read_entry(zf, info, path)
            except CheckpointError:
                raise
            except Exception as e:  # (BadZipFile: a bad CRC; zlib.error; a damaged local header)
                raise _corrupt(path, f"entry {info.filename!r} cannot be read ({type(e).__name__}: {e})") from None
    m = arrays.pop("__meta__")
    if m.dtype != np.uint8 or m.ndim != 1:
        raise CheckpointError(
            f"{path}: not a gradbox archive: __meta__ is {m.dtype} of shape {m.shape}, expected uint8 bytes"
        )
    try:
        meta = json.loads(m.tobytes().decode())
    except RecursionError:
        raise CheckpointError(f"{path}: bad header: __meta__ is nested too deeply to be a checkpoint") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path}: bad header: __meta__ is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: bad header: __meta__ is a JSON {type(meta).__name__}, expected an object")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown format {str(meta.get('format'))[:100]!r}, expected {FORMAT!r}")
    if "tree" not in meta or not isinstance(meta.get("sha256"), str):
        raise CheckpointError(
            f"{path}: bad header: __meta__ has the keys {sorted(meta)}, expected format, sha256, tree"
        )
    if (found := digest(arrays)) != meta["sha256"]:
        raise CheckpointError(
            f"{path}: checksum mismatch: the arrays do not match the SHA-256 recorded when it was saved: "
            f"expected {meta['sha256'][:16]!r}..., found {found[:16]!r}..."
        )
    try:
        names = {r["__array__"] for r in references(meta["tree"])}
        for name in names:
            if name not in arrays:
                raise CheckpointError(
                    f"{path}: missing tensor {name!r} (the structure refers to it, the file lacks it)"
                )
        extra = sorted(set(arrays) - names)
        if extra:
            raise CheckpointError(f"{path}: unexpected array {extra[0]!r}: the structure does not refer to it")
        return decode(meta["tree"], arrays.__getitem__)
    except TreeError as e:
        raise CheckpointError(f"{path}: bad structure: {e}") from None
