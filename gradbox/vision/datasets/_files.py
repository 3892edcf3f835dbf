"""Files of the datasets: atomic writes, checksums, checked downloads, safe archive extraction.

Every file is written to a uniquely named temporary file in its final folder, flushed to disk
and renamed over the target (``os.replace`` is atomic on POSIX and Windows), so processes
building the same data root at once never see a partial file, and a crash leaves either the
old file or the new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO


def _file_mode() -> int:
    """The permissions ``open()`` would give a new file (0o666 less the umask); mkstemp's own
    0o600 would hide shared data roots from other users."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _file_mode()


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create ``path`` with ``write(f)`` through a unique temporary file and an atomic rename;
    on any error the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, _MODE)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def file_digest(path: Path, algorithm: str = "md5") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(urls: Iterable[str], path: Path, md5: str, timeout: float = 30.0) -> None:
    """Fetch the first URL that works into ``path``, checking its MD5 before the file appears;
    raise OSError listing every URL's failure."""
    import urllib.request  # deferred: only downloads need it (it imports the email package)

    errors = []
    for url in urls:
        try:

            def write(f: BinaryIO, url: str = url) -> None:
                h = hashlib.md5()
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    for chunk in iter(lambda: r.read(1 << 20), b""):
                        h.update(chunk)
                        f.write(chunk)
                if h.hexdigest() != md5:
                    raise OSError(f"checksum mismatch (md5 {h.hexdigest()}, expected {md5})")

            atomic_write(path, write)
            return
        except Exception as e:  # noqa: BLE001 - every failure is reported together below
            errors.append(f"{url}: {e}")
    raise OSError("; ".join(errors))


def extract_members(archive: Path, members: dict[str, Path]) -> None:
    """Copy the named members of a (gzipped) tar archive to their destinations, each written
    atomically; nothing else in the archive is extracted (no path from the archive is trusted)."""
    import tarfile  # deferred: only CIFAR-10's archive needs it

    with tarfile.open(archive, "r:*") as tar:
        for name, dest in members.items():
            try:
                src = tar.extractfile(name)
            except KeyError:
                raise OSError(f"{archive}: has no member {name}") from None
            if src is None:
                raise OSError(f"{archive}: {name} is not a regular file")
            with src:
                atomic_write(dest, lambda f, src=src: shutil.copyfileobj(src, f))


def not_found(dataset: str, folder: Path, files: Iterable[str], reason: str, fetch_from: str) -> RuntimeError:
    """The error for missing data files: where they were looked for, why they are not there,
    and how to get them."""
    names = "\n  ".join(files)
    return RuntimeError(
        f"{dataset}: dataset not found in {folder.resolve()} ({reason}).\n"
        f"Place these files there:\n  {names}\n"
        f"or pass download=True to fetch them (checksum-verified) from {fetch_from}."
    )
