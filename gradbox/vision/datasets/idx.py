"""The IDX format of the MNIST files: a 4-byte magic number (0, 0, type code, number of dims),
each dim as a big-endian int32, then the values row-major. Gzipped files are read transparently."""

from __future__ import annotations

import gzip
import math
import os
import struct
from pathlib import Path

import numpy as np

from gradbox.vision.datasets._files import atomic_write

_TYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}


class IDXError(ValueError):
    """A file that is not a well-formed IDX file (its message names the file and the fault)."""


def _open(path: Path):
    with open(path, "rb") as f:
        head = f.read(2)
    return gzip.open(path, "rb") if head == b"\x1f\x8b" else open(path, "rb")


def read_idx(path: str | os.PathLike, expect_dims: int | None = None) -> np.ndarray:
    """Parse an IDX file (optionally gzipped); raise :class:`IDXError` naming the file when the
    magic number, the dimensions or the data size are wrong."""
    path = Path(path)
    try:
        with _open(path) as f:
            raw = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise IDXError(f"{path}: cannot be read as (gzipped) IDX: {e}") from None
    if len(raw) < 4:
        raise IDXError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code not in _TYPES or not 1 <= ndim <= 4:
        raise IDXError(
            f"{path}: wrong magic number 0x{raw[:4].hex()} (expected 0x0000 then a type code and 1-4 dims, e.g. 0x00000803 for images)"
        )
    if expect_dims is not None and ndim != expect_dims:
        raise IDXError(f"{path}: has {ndim} dimensions, expected {expect_dims} (magic 0x{raw[:4].hex()})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path}: truncated header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dt = np.dtype(_TYPES[code])
    want = math.prod(dims) * dt.itemsize  # exact (Python ints): absurd dims cannot overflow
    have = len(raw) - header
    if have != want:
        raise IDXError(
            f"{path}: wrong size: dims {dims} need {want} bytes of data, the file has {have}"
            + (" (truncated)" if have < want else "")
        )
    return np.frombuffer(raw, dtype=dt, offset=header).reshape(dims).astype(dt.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` (uint8 or int8) as IDX, gzipped when the name ends in .gz (with a fixed
    header, so equal arrays give equal files); atomically, through a unique temporary file."""
    path = Path(path)
    a = np.ascontiguousarray(array)
    if a.dtype not in _CODES:
        raise TypeError(f"write_idx: only uint8/int8 arrays are supported, got {a.dtype}")
    payload = struct.pack(">HBB", 0, _CODES[a.dtype], a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()

    def write(f) -> None:
        if path.suffix == ".gz":  # fast level; no time stamp, so the bytes depend only on the data
            with gzip.GzipFile(filename=path.name, mode="wb", fileobj=f, compresslevel=1, mtime=0) as z:
                z.write(payload)
        else:
            f.write(payload)

    atomic_write(path, write)
