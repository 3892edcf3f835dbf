"""Where a gradbox training step's time goes: exclusive wall time of the main thread per op
(forward and backward of every autograd Function), with the matrix products (every BLAS call
of the convolutions, linear layers and Winograd), im2col/col2im and the wait for the other
threads' blocks of a split op as their own entries, grouped into matrix products,
convolution/linear glue (layout copies, bias, Winograd's transforms), im2col/col2im, pooling,
normalisation, element-wise, waiting for the other thread, and the rest (Python overhead, the
optimizer, the autograd engine), per step; and how much of the step runs split over the
threads. Optionally a cProfile of the same steps.

    python benchmarks/profile_step.py lenet5_64 [--steps 20] [--cprofile]
"""

from __future__ import annotations

import argparse
import collections
import functools
import threading
import time

import run as bench

from gradbox.autograd.function import Function
from gradbox.ops import _kernels, _parallel, winograd
from gradbox.ops import conv as conv_mod

PRODUCTS, WAIT = "matrix products", "waiting for the other thread"
CATEGORIES = {
    "conv/linear glue (layouts, bias, transforms)": ("Conv", "ConvInput", "ConvWeight", "Linear", "MatMul", "Matmul", "Mm"),
    "pooling": ("MaxPool", "MaxPoolScatter", "MaxPoolGather", "WindowSum", "WindowSpread"),
    "normalisation": ("BatchNormTrain",),
}

_stack: list[list[float]] = []
_times: collections.Counter = collections.Counter()
_split = [0.0]  # main-thread wall time inside ops split over the threads


def _timed(key: str, fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        if threading.current_thread() is not threading.main_thread():
            return fn(*a, **k)  # a block of a split op: its time is the main thread's wait
        _stack.append([0.0])
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            dt = time.perf_counter() - t
            child = _stack.pop()[0]
            _times[key] += dt - child
            if _stack:
                _stack[-1][0] += dt

    return wrapper


def _subclasses(cls):
    for s in cls.__subclasses__():
        yield s
        yield from _subclasses(s)


def instrument() -> None:
    for cls in set(_subclasses(Function)):
        for phase in ("forward", "backward"):
            if phase in cls.__dict__:
                setattr(cls, phase, _timed(f"{cls.__name__}.{phase}", cls.__dict__[phase]))
    conv_mod.im2col = _timed("im2col", conv_mod.im2col)
    conv_mod.col2im = _timed("col2im", conv_mod.col2im)
    _kernels.product = conv_mod.product = _timed(PRODUCTS, _kernels.product)  # gemm calls it by module name
    winograd.products = _timed(PRODUCTS, winograd.products)
    _parallel.join = _timed(WAIT, _parallel.join)
    _parallel.run = conv_mod.run = _split_timer(_parallel.run)


def _split_timer(run):
    @functools.wraps(run)
    def wrapper(fn, blocks):
        if len(blocks) <= 1 or _parallel.busy():
            return run(fn, blocks)
        t = time.perf_counter()
        try:
            return run(fn, blocks)
        finally:
            _split[0] += time.perf_counter() - t

    return wrapper


def category(key: str) -> str:
    if key in ("im2col", "col2im"):
        return "im2col/col2im"
    if key in (PRODUCTS, WAIT):
        return key
    name = key.split(".")[0]
    for cat, names in CATEGORIES.items():
        if name in names:
            return cat
    return "element-wise/reductions/other ops"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=list(bench.MODELS))
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--cprofile", action="store_true")
    p.add_argument("--top", type=int, default=15)
    a = p.parse_args()
    step = bench.make_step("gradbox", a.model)
    step()
    step()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    plain = (time.perf_counter() - t) / a.steps
    instrument()
    step()
    _times.clear()
    _split[0] = 0.0
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    total = (time.perf_counter() - t) / a.steps
    per = {k: v / a.steps for k, v in _times.items()}
    cats: collections.Counter = collections.Counter()
    for k, v in per.items():
        cats[category(k)] += v
    cats["python overhead, optimizer, engine (rest)"] = total - sum(per.values())
    print(f"{a.model}: {plain * 1e3:.1f} ms/step uninstrumented, {total * 1e3:.1f} ms/step instrumented")
    for c, v in cats.most_common():
        print(f"  {c:<44}{v * 1e3:8.2f} ms  {100 * v / total:5.1f}%")
    split = _split[0] / a.steps
    print(f"inside ops split over the threads ({_parallel.threads}): {split * 1e3:.2f} ms ({100 * split / total:.0f}%); one thread the rest")
    print("top ops (exclusive):")
    for k, v in sorted(per.items(), key=lambda kv: -kv[1])[: a.top]:
        print(f"  {k:<44}{v * 1e3:8.2f} ms")
    if a.cprofile:
        import cProfile
        import pstats

        pr = cProfile.Profile()
        pr.enable()
        for _ in range(a.steps):
            step()
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(a.top)


if __name__ == "__main__":
    main()
