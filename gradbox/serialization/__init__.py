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

Writes are atomic: a uniquely named temporary file in the same directory, flushed to disk,
then renamed over ``path`` (``atomic.py``); an interrupted save leaves the old file, and the
next save to that path removes the temporaries of writers that died (``kill -9``), never those
of a live one. ``gb.load`` opens the file once (a concurrent save cannot mix two versions),
recognises the container by its first bytes (and names a PNG, a ``.npy`` array or another
file that is no checkpoint), checks the file before returning anything, and raises
``CheckpointError`` naming the file and the fault: truncated, bad header, checksum mismatch,
wrong dtype, wrong shape, missing tensor, or a pickle (``torch.save`` output), which it never
unpickles. Since nothing is returned from a bad file, and ``Module.load_state_dict`` checks
every key and shape before copying, a failed load leaves a model's weights as they were.

A ``.npz`` may decompress to at most its own size or ``MAX_DECOMPRESSED_BYTES`` (2 GiB, or
the environment variable ``GRADBOX_MAX_DECOMPRESSED_BYTES`` when gradbox is imported),
whichever is larger; raise it (``gb.serialization.MAX_DECOMPRESSED_BYTES = 8 << 30``) for a
compressed file you trust. A safetensors file needs no such limit: every tensor's bytes must
be in the file, which is checked before anything is allocated.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, BinaryIO

from gradbox.serialization import atomic, npz, safetensors_file
from gradbox.serialization.errors import CheckpointError

FORMAT = safetensors_file.FORMAT
LEGACY_FORMAT = npz.FORMAT


def _limit_from_environment() -> int:
    text = os.environ.get("GRADBOX_MAX_DECOMPRESSED_BYTES", "")
    try:
        return int(text) if text.strip() else 2 << 30
    except ValueError:
        raise ValueError(f"GRADBOX_MAX_DECOMPRESSED_BYTES is {text!r}, expected a number of bytes") from None


MAX_DECOMPRESSED_BYTES: int = _limit_from_environment()

__all__ = ["CheckpointError", "FORMAT", "LEGACY_FORMAT", "MAX_DECOMPRESSED_BYTES", "load", "save"]

# files that are not checkpoints, by their first bytes: what to call them, what to do instead
_NOT_CHECKPOINTS = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image", "to classify it: python -m gradbox predict CHECKPOINT IMAGE"),
    (b"\xff\xd8\xff", "a JPEG image", "to classify it: python -m gradbox predict CHECKPOINT IMAGE"),
    (b"GIF8", "a GIF image", ""),
    (b"\x93NUMPY", "a NumPy .npy array", "read it with numpy.load(path) and wrap it with gb.tensor"),
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras .h5?)", ""),
    (b"PK\x05\x06", "an empty zip archive", ""),
)


def _is_npz_name(path: Path) -> bool:
    return path.suffix.lower() == ".npz"


def save(obj: Any, f: str | os.PathLike | BinaryIO) -> None:
    """Write ``obj`` to ``f`` (a path, or a binary stream) as safetensors; a path ending in
    ``.npz`` gets the legacy NumPy zip container. Paths are written atomically (a temporary
    file of a unique name, fsync, rename); stale temporaries of dead writers are removed."""
    if hasattr(f, "write"):
        safetensors_file.write_stream(obj, f)
        return
    path = Path(f)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.remove_stale(path)
    tmp = atomic.temporary(path)
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
    atomic.fsync_directory(path.parent)


def load(f: str | os.PathLike | BinaryIO, map_location: Any = None, weights_only: bool = True) -> Any:
    """Read what ``save`` wrote (or a PyTorch safetensors file, or a legacy ``.npz``), checking it
    first; a ``CheckpointError`` naming the file and the fault if it is damaged or no checkpoint.
    ``map_location`` and ``weights_only`` are accepted for PyTorch compatibility: gradbox runs on
    the CPU and never unpickles, so every load is weights-only."""
    if hasattr(f, "read"):
        label = getattr(f, "name", "<stream>")
        return _load(io.BytesIO(f.read()), label)
    with open(f, "rb") as fh:
        return _load(fh, Path(f))


def _load(fh: BinaryIO, label: Any) -> Any:
    head = fh.read(16)
    if head[8:9] == b"{":  # a safetensors header; its length (bytes 0-7) may begin like a pickle's
        return safetensors_file.read(fh, label)  # (0x380 bytes: 80 03) or a gzip file's (0x8b1f: 1f 8b)
    for magic, what, advice in _NOT_CHECKPOINTS:
        if head.startswith(magic):
            raise CheckpointError(
                f"{label}: this is {what}, not a gradbox checkpoint (expected a safetensors file or a gradbox .npz)"
                + (f"; {advice}" if advice else "")
            )
    if head[:4] == b"PK\x03\x04":  # a zip: the legacy .npz container (or torch.save's archive)
        fh.seek(0)
        return npz.read(fh.read(), label, MAX_DECOMPRESSED_BYTES)
    if len(head) > 8 and head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise CheckpointError(
            f"{label}: a Python pickle (e.g. torch.save's legacy format); gradbox never unpickles, since loading a "
            "pickle runs arbitrary code. In PyTorch, save the weights with "
            "safetensors.torch.save_file(model.state_dict(), 'model.safetensors') and load that file"
        )
    return safetensors_file.read(fh, label)
