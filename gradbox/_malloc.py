"""Keep freed array memory for reuse instead of returning it to the OS after every step.

NumPy allocates large arrays with malloc, and glibc serves big requests with fresh mmap()ed
pages that the kernel must fault in and zero on first touch, then unmaps them on free; a
training step that creates and frees the same large activations and im2col buffers again and
again pays those page faults every time (about a quarter of a LeNet-5 step). Raising glibc's
mmap threshold (to its 32 MiB maximum) and its trim threshold makes freed blocks stay in the
heap and be reused, which is what a caching allocator does. Peak memory is unchanged; memory
freed after the peak stays with the process.

Linux/glibc only; elsewhere nothing happens. Set GRADBOX_MALLOC_TUNING=0 to leave malloc alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's upper limit on 64-bit
TRIM_THRESHOLD = 1 << 30

applied = False


def tune() -> bool:
    """Apply the thresholds once; True when glibc accepted them."""
    global applied
    if applied or os.environ.get("GRADBOX_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return applied
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): leave it
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return applied
