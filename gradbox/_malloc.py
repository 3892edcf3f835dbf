"""Keep freed array memory for reuse instead of returning it to the OS after every step.

NumPy allocates large arrays with malloc, and glibc serves big requests with fresh mmap()ed
pages that the kernel must fault in and zero on first touch, then unmaps them on free; a
training step that creates and frees the same large activations and im2col buffers again and
again pays those page faults every time (about a quarter of a LeNet-5 step). Raising glibc's
mmap threshold (to its 32 MiB maximum) and its trim threshold makes freed blocks stay in the
heap and be reused, which is what a caching allocator does. Peak memory is unchanged; memory
freed after the peak stays with the process.

Requests above that 32 MiB cap (the MNIST CNN's 46 MB im2col matrix of its second convolution
and the 46 MB product folded by col2im, three per step) would still get fresh mmap()ed pages
each time (~1500 page faults, ~14 ms of a ~96 ms step), so mmap is turned off altogether
(M_MMAP_MAX = 0): every block comes from the heap and is reused. Measured in separate
processes (benchmarks/run.py --timing-probe, 3 alternating runs each): MNIST CNN 718 -> 817
img/s median; LeNet-5 and ResNet-18 unchanged; peak RSS of all four conv nets unchanged to 0.2 MiB.

Linux/glibc only; elsewhere nothing happens. Set GRADBOX_MALLOC_TUNING=0 to leave malloc alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4  # how many blocks may be mmap()ed; 0 = none
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
    applied = applied and bool(mallopt(M_MMAP_MAX, 0))  # also the blocks above the 32 MiB cap
    return applied
