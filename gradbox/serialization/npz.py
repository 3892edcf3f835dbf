"""The ``.npz`` container (gradbox-archive/1): what gradbox wrote before safetensors, and still
writes for a path ending in ``.npz``.

A NumPy zip of the arrays (``a0``, ``a1``, ...) plus ``__meta__``: the JSON tree (see
``tree.py``) and a SHA-256 of all array bytes. No pickle: ``np.load(allow_pickle=False)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from gradbox.serialization.errors import CheckpointError
from gradbox.serialization.tree import Namer, decode, encode

FORMAT = "gradbox-archive/1"


def digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = arrays[k]
        h.update(k.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def write(obj: Any, fh: BinaryIO) -> None:
    namer = Namer(legacy=True)
    tree = encode(obj, namer)
    meta = json.dumps({"format": FORMAT, "sha256": digest(namer.arrays), "tree": tree}).encode()
    np.savez(fh, __meta__=np.frombuffer(meta, dtype=np.uint8), **namer.arrays)


def read(raw: bytes, path: Path | str) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            names = zf.namelist()
        if any(n.endswith("data.pkl") for n in names):
            raise CheckpointError(
                f"{path}: a PyTorch torch.save archive (it holds a pickle, data.pkl); gradbox never unpickles, "
                "since loading a pickle runs arbitrary code. In PyTorch, save the weights with "
                "safetensors.torch.save_file(model.state_dict(), 'model.safetensors') and load that file"
            )
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            if "__meta__" not in z.files:
                raise CheckpointError(f"{path}: not a gradbox archive (no __meta__ entry)")
            meta = json.loads(z["__meta__"].tobytes().decode())
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated file ({type(e).__name__}: {e})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown format {meta.get('format')!r}, expected {FORMAT!r}")
    if digest(arrays) != meta.get("sha256"):
        raise CheckpointError(
            f"{path}: checksum mismatch: the arrays do not match the SHA-256 recorded when it was saved"
        )

    def array(name: str) -> np.ndarray:
        if name not in arrays:
            raise CheckpointError(f"{path}: missing tensor {name!r} (the structure refers to it, the file lacks it)")
        return arrays[name]

    return decode(meta["tree"], array)
