"""Compiled kernels (numba), used where they pay and NumPy's passes stay the reference.

A kernel here does in one compiled loop what the NumPy code does in a dozen whole-array
passes, and it runs without the GIL (``nogil``), so the two threads of a split op
(``_parallel``) do not hand the GIL back and forth between those passes (on a 2-core VM each
hand-off costs ~40-80 us). Only where the training-step benchmark showed a gain:

* 2x2 stride-2 max-pool (the classic CNNs' pool), forward with its argmax and backward:
  alternating training steps in one process, NumPy paths against the kernel: LeNet-5 (64)
  -8.8% (faster in 10 of 12 rounds), LeNet-5 (128) -9.5% (9/10), MNIST CNN -8.8% (9/10), CIFAR
  CNN -9.2% (10/10; -13.6% once its backward stopped zero-filling the gradient first).
  The NumPy forward is a stack copy and 15 passes; a kernel with the window's offsets as
  runtime loop bounds (any kernel and stride) was 2-3x slower than those passes, the fixed
  2x2 one 5-9x faster (its loads have constant strides, so LLVM vectorises them).
* training-mode batch norm, forward and backward: three passes per channel instead of five,
  two instead of eight (ms, (64, 32, 32, 32) float32, one thread, ranges over repeated runs:
  forward 2.9-3.6 -> 2.2-2.5, backward 3.0-7.3 -> 2.8-3.4; (32, 512, 4, 4), two threads: 1.06
  -> 0.31 and 1.14 -> 0.33). CIFAR CNN step with both kernels against none: -22.2% (10/10);
  ResNet-18 (batch norm only, no max-pool) -0.4% (5/8), within noise. Its sums accumulate in
  float64 (reassociated, so vectorised), so float32 results differ from the NumPy path's BLAS
  sums by rounding (~1e-7 relative).
* Winograd F(2x2, 3x3)'s tile transforms (ops/winograd.py): B^T d B, A^T M A and the weight
  gradient's A dY A^T by their adds, one pass each, instead of a gathered copy and a product
  with a 16x16 (4x16) Kronecker matrix that is mostly zeros; and with them Winograd for 64
  channels too. Alternating fresh processes, the previous commit against this one, medians of
  a training step, ms: ResNet-18 835 -> 725 (4 runs each), MNIST CNN 51.4 -> 46.2, CIFAR CNN
  54.7 -> 52.2 (5 each). An earlier kernel of the same adds lost to NumPy (README): its 16
  output planes were a multiple of 4 KiB apart, so all 16 write streams shared cache sets
  (10.4 ms for what takes 1.4 ms with the planes a cache line apart, winograd._planes).
* im2col and its fold (col2im) for 2-D convolutions (ops/conv.py): one pass each, the
  padding inline, the fold straight into the (N, C, H, W) gradient. Alternating training steps
  in one process, NumPy passes against the kernels: LeNet-5 (64) 8.19 -> 7.00 ms (faster in
  10 of 10 rounds), MNIST CNN 56.0 -> 52.5 (6/10), ResNet-18 726 -> 719 (5/8, noise). Their
  indices are unsigned: with signed ones numba checks each for wrap-around and LLVM does not
  vectorise the copy (that version was 2x slower than NumPy, README).

Measured and left NumPy: ReLU's backward as one compiled pass (1.02 -> 0.52 ms on 9 MB alone,
but no faster in training steps: kernel vs NumPy, ms, MNIST CNN 59.9 vs 60.6, CIFAR CNN 65.5 vs
58.4, LeNet-5 (64) 8.88 vs 8.69, alternating in one process).

numba is a dependency of gradbox, but the kernels are optional at run time: without numba
(or with ``GRADBOX_COMPILED=0`` in the environment before the first op that would use one),
every op runs its NumPy path, which the tests keep checking against PyTorch and against the
kernels. numba is imported on first use, not with gradbox, and compiles each kernel once per
dtype; ``cache=True`` keeps the machine code in ``__pycache__`` (or numba's user cache
directory when that is read-only), so later processes load it instead of compiling.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import numpy as np

_kernels: ModuleType | None = None
_tried = False


def kernels() -> ModuleType | None:
    """The compiled kernels (gradbox/ops/_numba_kernels.py), or None when numba is missing or
    ``GRADBOX_COMPILED=0``; decided once per process."""
    global _kernels, _tried
    if not _tried:
        _tried = True
        if os.environ.get("GRADBOX_COMPILED", "1").strip() != "0":
            try:
                _kernels = importlib.import_module("gradbox.ops._numba_kernels")
            except ImportError:  # numba absent or broken: the NumPy paths
                _kernels = None
    return _kernels


def set_enabled(on: bool) -> bool:
    """Use the compiled kernels (when numba is there) or force the NumPy paths; returns the
    previous state. For tests and A/B timings."""
    global _kernels, _tried
    was = kernels() is not None
    _tried = False
    _kernels = None
    if on:
        saved = os.environ.pop("GRADBOX_COMPILED", None)
        try:
            kernels()
        finally:
            if saved is not None:
                os.environ["GRADBOX_COMPILED"] = saved
    else:
        _tried = True
    return was


def load() -> bool:
    """Import numba and load every kernel for float32 and float64 now (compiling it the first
    time on a machine), instead of inside the first op that uses each; False when the kernels
    are off. numba and the kernels' machine code take ~115 MiB of resident memory once per
    process, like a library's code (PyTorch's import takes ~210 MiB): benchmarks/run.py loads
    them before measuring the memory a training step adds, as it imports torch before that."""
    k = kernels()
    if k is None:
        return False
    for dt in (np.float32, np.float64):
        x = np.zeros((1, 1, 2, 2), dt)
        best, arg = np.empty((1, 1, 1, 1), dt), np.empty((1, 1, 1, 1), np.int8)
        k.max_pool_2x2(x, best, arg)
        k.max_unpool_2x2(best, arg, x)
        r, xc, y = np.ones((2, 1, 1), dt), np.empty((2, 1, 1), dt), np.empty((2, 1, 1), dt)
        ones, zeros, mean, var, inv = np.ones(1, dt), np.zeros(1, dt), np.empty(1, dt), np.empty(1, dt), np.empty(1, dt)
        k.batch_norm_forward(r, ones, zeros, 1e-5, 0, 1, xc, y, mean, var, inv)
        k.batch_norm_backward(r, xc, inv, ones, 0, 1, np.empty_like(r), np.empty(1, dt), np.empty(1, dt))
        v, m = (np.empty((16, 2), dt)[:, :1].reshape(16, 1, 1) for _ in range(2))  # planes apart, as winograd's
        k.winograd_tiles(x, 1, 1, 1, 1, v)
        k.winograd_output(m, zeros, 1, 1, x)
        k.winograd_grad_tiles(x, 1, 1, m)
        cols = np.empty((1, 4), dt)
        k.im2col_2d(x, 1, 1, 1, 1, 1, 1, 0, 0, 2, 2, cols)
        k.col2im_2d(cols, 1, 1, 1, 1, 1, 1, 0, 0, 2, 2, x)
    return True
