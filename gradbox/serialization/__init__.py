"""``gb.save`` / ``gb.load``: tensors in safetensors files, structure as JSON beside them, never pickle.

``gb.save(obj, path)`` writes ``obj`` (a tensor, or nested dicts, lists and tuples of tensors,
arrays, numbers, strings and None: a ``state_dict``, an optimizer state, a training
checkpoint) as a safetensors file. The tensors are the file's tensors, named by their key
paths; the structure is JSON in the file's ``__metadata__`` (see ``safetensors_file.py``). So:

* ``gb.save(model.state_dict(), "m.safetensors")`` is a plain safetensors file that
  ``safetensors.torch.load_file`` reads and ``torch.nn.Module.load_state_dict`` accepts;
* a safetensors file written by PyTorch loads with ``gb.load`` as a dict of tensors, ready for
  ``model.load_state_dict``;
* any file name works (``torch.save(sd, "m.pt")`` code runs unchanged under gradbox and writes
  safetensors) except one ending in ``.npz``: that name asks for the NumPy zip container
  gradbox used before (``npz.py``), which ``gb.load`` also reads, so old checkpoints still load.

Writes are atomic: a temporary file in the same directory, flushed to disk, then renamed over
``path``; an interrupted save leaves the old file. ``gb.load`` recognises the container by its
first bytes, checks the file before returning anything, and raises ``CheckpointError`` naming
the file and the fault: truncated, bad header, checksum mismatch, wrong dtype, wrong shape,
missing tensor, or a pickle (``torch.save`` output), which it never unpickles. Since nothing
is returned from a bad file, and ``Module.load_state_dict`` checks every key and shape before
copying, a failed load leaves a model's weights as they were.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

from gradbox.serialization import npz, safetensors_file
from gradbox.serialization.errors import CheckpointError

FORMAT = safetensors_file.FORMAT
LEGACY_FORMAT = npz.FORMAT

__all__ = ["CheckpointError", "FORMAT", "LEGACY_FORMAT", "load", "save"]


def _is_npz_name(path: Path) -> bool:
    return path.suffix.lower() == ".npz"


def save(obj: Any, f: str | os.PathLike | BinaryIO) -> None:
    """Write ``obj`` to ``f`` (a path, or a binary stream) as safetensors; a path ending in
    ``.npz`` gets the legacy NumPy zip container. Paths are written atomically (temporary
    file, fsync, rename)."""
    if hasattr(f, "write"):
        safetensors_file.write_stream(obj, f)
        return
    path = Path(f)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if _is_npz_name(path):
            with open(tmp, "wb") as fh:
                npz.write(obj, fh)
                fh.flush()
                os.fsync(fh.fileno())
        else:
            safetensors_file.write_file(obj, tmp)
            safetensors_file.fsync_path(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load(f: str | os.PathLike | BinaryIO, map_location: Any = None, weights_only: bool = True) -> Any:
    """Read what ``save`` wrote (or a PyTorch safetensors file, or a legacy ``.npz``), checking it
    first. ``map_location`` and ``weights_only`` are accepted for PyTorch compatibility: gradbox
    runs on the CPU and never unpickles, so every load is weights-only."""
    if hasattr(f, "read"):
        raw = f.read()
        label = getattr(f, "name", "<stream>")
        head = raw[:16]
    else:
        path = Path(f)
        label = path
        with open(path, "rb") as fh:
            head = fh.read(16)
        raw = None
    if head[:4] == b"PK\x03\x04":  # a zip: the legacy .npz container (or torch.save's archive)
        return npz.read(raw if raw is not None else Path(f).read_bytes(), label)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise CheckpointError(
            f"{label}: a Python pickle (e.g. torch.save's legacy format); gradbox never unpickles, since loading a "
            "pickle runs arbitrary code. In PyTorch, save the weights with "
            "safetensors.torch.save_file(model.state_dict(), 'model.safetensors') and load that file"
        )
    source = safetensors_file.as_stream(raw) if raw is not None else Path(f)
    return safetensors_file.read(source, label)
