"""One training per run directory: an advisory lock (``flock``) on ``OUT/.lock``.

The kernel releases the lock when its process ends, however it ends (``kill -9`` included), so
a lock never goes stale; the file records the owner's PID for the message a second training
gets. Taking the lock is also the first write into the run directory, so a directory that
cannot be written is found before any training starts.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no locking (documented)
    fcntl = None


class RunDirectoryBusyError(RuntimeError):
    """Another process is training into this run directory."""


class RunLock:
    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.path = self.directory / ".lock"
        self._file = None

    def acquire(self) -> RunLock:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            f = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        except OSError as e:
            raise OSError(f"cannot write to the run directory {self.directory}: {e.strerror or e}") from None
        if fcntl is not None:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                owner = f.read().strip() or "another process"
                f.close()
                raise RunDirectoryBusyError(
                    f"{self.directory} is in use by a training run ({owner}); wait for it, or choose another --out"
                ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            if fcntl is not None:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
