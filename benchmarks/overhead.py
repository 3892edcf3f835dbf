"""Per-op overhead of gradbox vs PyTorch CPU, in one process, interleaved.

A chain of small elementwise ops (16 float32 elements, so the arithmetic is negligible) with
gradient tracking is run forward and backward; the cost per op is total time / op count.
Prints both costs and the ratio gradbox/PyTorch (median of the repetitions); the target is
a ratio of at most 1.5.

    python benchmarks/overhead.py [--ops 2000] [--reps 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def chain(m, x, w, b, n_ops: int):
    """n_ops ops: alternating y*w and y+b, then a sum (counted) and backward."""
    y = x
    for _ in range(n_ops // 2):
        y = y * w
        y = y + b
    return y.sum()


def time_framework(m, n_ops: int) -> tuple[float, float]:
    """Seconds per op for forward only and for forward + backward."""
    rng = np.random.default_rng(0)
    x = m.tensor(rng.standard_normal(16).astype(np.float32), requires_grad=True)
    w = m.tensor(rng.standard_normal(16).astype(np.float32) * 0.001 + 1, requires_grad=True)
    b = m.tensor(rng.standard_normal(16).astype(np.float32) * 0.01, requires_grad=True)
    t0 = time.perf_counter()
    loss = chain(m, x, w, b, n_ops)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    return (t1 - t0) / n_ops, (t2 - t0) / n_ops


def run(n_ops: int = 2000, reps: int = 7) -> dict:
    import torch

    import gradbox as gb

    torch.set_num_threads(1)
    for m in (gb, torch):  # warm-up
        time_framework(m, 200)
    res: dict[str, list] = {"gradbox_fwd": [], "gradbox": [], "torch_fwd": [], "torch": []}
    for _ in range(reps):
        for name, m in (("gradbox", gb), ("torch", torch)):
            f, fb = time_framework(m, n_ops)
            res[name + "_fwd"].append(f)
            res[name].append(fb)
    med = {k: statistics.median(v) for k, v in res.items()}
    return {
        "ops": n_ops,
        "reps": reps,
        "gradbox_us_per_op": med["gradbox"] * 1e6,
        "torch_us_per_op": med["torch"] * 1e6,
        "ratio": med["gradbox"] / med["torch"],
        "gradbox_fwd_us_per_op": med["gradbox_fwd"] * 1e6,
        "torch_fwd_us_per_op": med["torch_fwd"] * 1e6,
        "fwd_ratio": med["gradbox_fwd"] / med["torch_fwd"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ops", type=int, default=2000)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--json", help="write the results to this file")
    a = p.parse_args()
    r = run(a.ops, a.reps)
    print(f"per-op overhead (forward + backward, {r['ops']} small ops, median of {r['reps']}):")
    print(f"  gradbox {r['gradbox_us_per_op']:6.2f} us/op   (forward alone {r['gradbox_fwd_us_per_op']:.2f})")
    print(f"  PyTorch {r['torch_us_per_op']:6.2f} us/op   (forward alone {r['torch_fwd_us_per_op']:.2f})")
    print(f"  ratio gradbox/PyTorch: {r['ratio']:.2f}x  (forward alone {r['fwd_ratio']:.2f}x; target <= 1.5x)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)


if __name__ == "__main__":
    main()
