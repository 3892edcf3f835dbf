"""Atomic writes: a uniquely named temporary file beside the target, flushed to disk, renamed
over it; and the clean-up of temporaries that killed writers left behind.

A temporary is named ``.{name}.{host}-{pid}-{random}.tmp`` (``host``: 8 hex digits of the
machine's name), so writers in several processes or threads never share one, and a later
save to the same path can tell whose it was: it removes the temporaries of that path whose
writer ran on this machine and is no longer alive (``kill -9`` during a save), and never those
of a live process or another machine (a shared network directory). A process id reused since
by another process keeps its temporary: the clean-up errs toward leaving a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
from pathlib import Path

HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temporary(path: Path) -> Path:
    """A fresh temporary name in ``path``'s directory, owned by this process."""
    return path.with_name(f".{path.name}.{HOST}-{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _pattern(path: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(path.name)}\.([0-9a-f]{{8}})-(\d+)-[0-9a-f]{{8}}\.tmp")


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped, counts as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # (PermissionError: it exists, under another user)
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 :][:1] != "Z"


def stale(path: Path) -> list[Path]:
    """The temporaries of ``path`` left by writers on this machine that are no longer alive."""
    if os.name != "posix":  # (elsewhere os.kill(pid, 0) is no probe)
        return []
    pattern = _pattern(path)
    out = []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    for name in names:
        m = pattern.fullmatch(name)
        if m and m[1] == HOST and int(m[2]) != os.getpid() and not alive(int(m[2])):
            out.append(path.parent / name)
    return out


def remove_stale(path: Path) -> None:
    for p in stale(path):
        try:
            p.unlink()
        except OSError:  # (another writer removed it first)
            pass


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (where the system allows opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
