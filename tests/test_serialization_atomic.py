"""Atomic saves across processes (issue 16): unique temporary names, stale temporaries of killed
writers removed by the next save (never a live writer's), and three writers with a reader on
one path, in real processes: the reader only ever sees complete files."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

import gradbox as gb
from gradbox.serialization import atomic, safetensors_file

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(os.name != "posix", reason="process ids probed with os.kill(pid, 0)")


def python(code: str, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, text=True, **kw)


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_temporary_names_are_unique_and_say_whose_they_are(tmp_path, monkeypatch):
    seen = []
    real = safetensors_file.fsync_path
    monkeypatch.setattr(safetensors_file, "fsync_path", lambda p: (seen.append(p.name), real(p)))
    for _ in range(3):
        gb.save({"w": gb.ones(2)}, tmp_path / "m.safetensors")
    assert len(set(seen)) == 3
    for name in seen:
        m = re.fullmatch(r"\.m\.safetensors\.([0-9a-f]{8})-(\d+)-[0-9a-f]{8}\.tmp", name)
        assert m and m[1] == atomic.HOST and int(m[2]) == os.getpid(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


# a save that stops after writing its temporary, says where, and waits to be killed
HANGING_SAVE = """
import sys, time
import gradbox as gb
from gradbox.serialization import safetensors_file
def hang(p):
    print(p, flush=True)
    time.sleep(120)
safetensors_file.fsync_path = hang
gb.save({"w": gb.ones(1000)}, sys.argv[1])
"""


def test_the_next_save_removes_what_a_killed_writer_left_but_not_a_live_writers(tmp_path):
    path = tmp_path / "m.safetensors"
    killed = python(HANGING_SAVE, str(path), stdout=subprocess.PIPE)
    live = python(HANGING_SAVE, str(path), stdout=subprocess.PIPE)
    try:
        dead_tmp, live_tmp = Path(killed.stdout.readline().strip()), Path(live.stdout.readline().strip())
        assert dead_tmp.exists() and live_tmp.exists() and dead_tmp != live_tmp
        assert f"-{killed.pid}-" in dead_tmp.name and f"-{live.pid}-" in live_tmp.name
        os.kill(killed.pid, signal.SIGKILL)  # kill -9 during the save
        killed.wait()
        other_host = (
            tmp_path / f".m.safetensors.{'0' * 8 if atomic.HOST != '0' * 8 else '1' * 8}-{killed.pid}-abcdef01.tmp"
        )
        other_path = tmp_path / f".n.safetensors.{atomic.HOST}-{killed.pid}-abcdef01.tmp"
        other_host.write_bytes(b"x")  # a writer on another machine sharing the directory
        other_path.write_bytes(b"x")  # a dead writer's temporary of another file
        gb.save({"w": gb.zeros(3)}, path)
        assert not dead_tmp.exists() and live_tmp.exists() and other_host.exists() and other_path.exists()
        assert gb.load(path)["w"].numpy().tolist() == [0, 0, 0]
    finally:
        for p in (killed, live):
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stdout.close()
    gb.save({"w": gb.ones(3)}, path)  # now that writer is gone too
    assert temporaries(tmp_path) == sorted([other_host.name, other_path.name])


def test_a_zombie_writer_counts_as_dead(tmp_path):
    child = python("pass")
    deadline = time.monotonic() + 60
    while Path(f"/proc/{child.pid}").exists() and time.monotonic() < deadline:
        stat = Path(f"/proc/{child.pid}/stat").read_text()
        if stat[stat.rfind(")") + 2] == "Z":  # exited, not yet reaped
            break
        time.sleep(0.05)
    else:
        pytest.skip("no /proc to tell a zombie from a live process")
    try:
        assert not atomic.alive(child.pid)
        assert atomic.alive(os.getpid()) and not atomic.alive(0)
    finally:
        child.wait()


WRITER = """
import sys
import numpy as np
import gradbox as gb
import time
from pathlib import Path
path, k, n, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
while not ready.exists():  # start writing once the reader is reading (its imports take a while)
    time.sleep(0.01)
for i in range(n):
    v = k * 1000 + i
    gb.save({"version": [k, i], "w": gb.tensor(np.full((64, 1024), v, np.float32)), "b": gb.full((7,), float(v))}, path)
"""

READER = """
import sys, time
from pathlib import Path
import numpy as np
import gradbox as gb
path, stop, ready = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
seen, errors = set(), []
gb.load(path)
ready.touch()
while True:
    last = stop.exists()
    try:
        ck = gb.load(path)
        k, i = ck["version"]
        v = k * 1000 + i
        if not (np.all(ck["w"].numpy() == v) and ck["w"].shape == (64, 1024) and np.all(ck["b"].numpy() == v)):
            errors.append(f"mixed content in version {k, i}")
        seen.add((k, i))
    except Exception as e:
        errors.append(f"{type(e).__name__}: {e}")
    if last:
        break
print(len(seen))
print(len(errors))
for e in errors[:5]:
    print(e)
"""


def test_three_writers_and_a_reader_on_one_path(tmp_path):
    path, stop, n = tmp_path / "shared.safetensors", tmp_path / "stop", 25
    gb.save({"version": [0, 0], "w": gb.zeros(64, 1024), "b": gb.zeros(7)}, path)  # (k=0, i=0: v=0)
    ready = tmp_path / "ready"
    reader = python(READER, str(path), str(stop), str(ready), stdout=subprocess.PIPE)
    writers = [python(WRITER, str(path), str(k), str(n), str(ready)) for k in (1, 2, 3)]
    try:
        assert [w.wait(timeout=300) for w in writers] == [0, 0, 0]
    finally:
        stop.touch()
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait()
        out, _ = reader.communicate(timeout=120)
    seen, n_errors, *errors = out.splitlines()
    assert reader.returncode == 0 and int(n_errors) == 0, errors
    assert int(seen) >= 2  # it read while they wrote
    final = gb.load(path)
    assert final["version"] in ([1, n - 1], [2, n - 1], [3, n - 1])  # the last save of one of them
    assert temporaries(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["ready", "shared.safetensors", "stop"]


def test_a_reader_keeps_the_version_it_opened(tmp_path, monkeypatch):
    """Replacing the file between reading the header and the tensors cannot mix two versions:
    gb.load reads everything through the one file object it opened."""
    path = tmp_path / "m.safetensors"
    gb.save({"w": gb.ones(4)}, path)
    real = safetensors_file._check_entries

    def replace_meanwhile(*a, **k):
        gb.save({"w": gb.full((4,), 2.0)}, path)
        return real(*a, **k)

    monkeypatch.setattr(safetensors_file, "_check_entries", replace_meanwhile)
    assert gb.load(path)["w"].numpy().tolist() == [1, 1, 1, 1]
    monkeypatch.undo()
    assert gb.load(path)["w"].numpy().tolist() == [2, 2, 2, 2]
    assert safetensors.numpy.load_file(path)["w"].tolist() == [2, 2, 2, 2]
    assert np.all(gb.load(path)["w"].numpy() == 2)
