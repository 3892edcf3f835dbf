"""``gb.save`` / ``gb.load``: nested dicts, lists and tuples of tensors, arrays, numbers and
strings in one ``.npz`` file, without pickle.

The structure is JSON (tensors replaced by references) stored beside the arrays, with a
SHA-256 of all array bytes: a truncated or altered file is detected and named on load. Files
are written to a temporary name and renamed, so an interrupted save never leaves a
half-written file at ``path``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from gradbox.tensor import Tensor

FORMAT = "gradbox-archive/1"


class CheckpointError(RuntimeError):
    """A file that is not a valid gradbox archive; the message names the file and the fault."""


def _encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, Tensor | np.ndarray):
        a = obj._data if isinstance(obj, Tensor) else obj
        key = f"a{len(arrays)}"
        arrays[key] = np.ascontiguousarray(a)
        return {
            "__array__": key,
            "tensor": isinstance(obj, Tensor),
            "requires_grad": bool(getattr(obj, "requires_grad", False)),
        }
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, Counter):
        return {"__counter__": [[_encode(k, arrays), v] for k, v in obj.items()]}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(k.startswith("__") and k.endswith("__") for k in obj):
            return {k: _encode(v, arrays) for k, v in obj.items()}
        return {"__items__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    raise TypeError(
        f"gb.save: cannot store an object of type {type(obj).__name__} (tensors, arrays, numbers, strings, lists, tuples and dicts only)"
    )


def _decode(obj: Any, arrays) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__array__" in obj:
        a = arrays[obj["__array__"]]
        if not obj["tensor"]:
            return a
        t = Tensor._wrap(a)
        if obj.get("requires_grad"):
            t.requires_grad_(True)
        return t
    if "__tuple__" in obj:
        return tuple(_decode(v, arrays) for v in obj["__tuple__"])
    if "__counter__" in obj:
        return Counter({_decode(k, arrays): v for k, v in obj["__counter__"]})
    if "__items__" in obj:
        return OrderedDict((_hashable(_decode(k, arrays)), _decode(v, arrays)) for k, v in obj["__items__"])
    return OrderedDict((k, _decode(v, arrays)) for k, v in obj.items())


def _hashable(k):
    return tuple(k) if isinstance(k, list) else k


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = arrays[k]
        h.update(k.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def save(obj: Any, f: str | os.PathLike) -> None:
    """Write ``obj`` to ``f`` atomically (temporary file, fsync, rename)."""
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays)
    meta = json.dumps({"format": FORMAT, "sha256": _digest(arrays), "tree": tree}).encode()
    path = Path(f)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, __meta__=np.frombuffer(meta, dtype=np.uint8), **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load(f: str | os.PathLike, map_location=None, weights_only: bool = True) -> Any:
    """Read what ``save`` wrote, checking the format and the checksum."""
    path = Path(f)
    try:
        raw = path.read_bytes()
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            if "__meta__" not in z.files:
                raise CheckpointError(f"{path}: not a gradbox archive (no __meta__ entry)")
            meta = json.loads(z["__meta__"].tobytes().decode())
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated file ({type(e).__name__}: {e})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown format {meta.get('format')!r}, expected {FORMAT!r}")
    if _digest(arrays) != meta.get("sha256"):
        raise CheckpointError(
            f"{path}: checksum mismatch: the arrays do not match the SHA-256 recorded when it was saved"
        )
    return _decode(meta["tree"], arrays)
