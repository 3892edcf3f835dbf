"""What glibc allocator tuning (gradbox/_malloc.py) buys, measured in fresh processes.

For each workload, alternating runs with the tuning off and on (GRADBOX_MALLOC_TUNING=0/1), each
in its own process: training steps per second (forward, cross-entropy, backward, SGD with
momentum, float32) and the resident memory after the steps. Prints the median speed-up and
the memory each setting keeps.

    python benchmarks/malloc.py [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

WORKLOADS = {  # name: (model, input shape, batch, steps)
    "lenet5-64": ("lenet5", (1, 28, 28), 64, 60),
    "lenet5-128": ("lenet5", (1, 28, 28), 128, 40),
    "mlp-128": ("mlp", (1, 28, 28), 128, 150),
}


def probe(name: str) -> dict:
    """Run in the child: the steps of one workload; report steps/s and RSS."""
    import time

    import numpy as np

    import gradbox as gb
    from gradbox import _malloc

    if os.environ.get("GRADBOX_MALLOC_TUNING") == "1":
        _malloc.tune()
    model_name, shape, batch, steps = WORKLOADS[name]
    gb.manual_seed(0)
    model = gb.vision.models.get_model(model_name)
    opt = gb.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = gb.tensor(rng.standard_normal((batch, *shape)).astype(np.float32))
    y = gb.tensor(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        loss = gb.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    with open("/proc/self/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    return {"steps_per_s": steps / dt, "rss_mib": rss, "tuned": _malloc.applied}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json")
    p.add_argument("--probe", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.probe:
        print(json.dumps(probe(a.probe)))
        return
    results = {}
    for name in WORKLOADS:
        runs: dict[str, list[dict]] = {"0": [], "1": []}
        for _ in range(a.runs):
            for setting in ("0", "1"):
                env = dict(os.environ, GRADBOX_MALLOC_TUNING=setting, OMP_NUM_THREADS="2")
                out = subprocess.run(
                    [sys.executable, __file__, "--probe", name], env=env, capture_output=True, text=True, check=True
                )
                runs[setting].append(json.loads(out.stdout))
        off = statistics.median(r["steps_per_s"] for r in runs["0"])
        on = statistics.median(r["steps_per_s"] for r in runs["1"])
        rss_off = statistics.median(r["rss_mib"] for r in runs["0"])
        rss_on = statistics.median(r["rss_mib"] for r in runs["1"])
        results[name] = {"steps_per_s_off": off, "steps_per_s_on": on, "speedup": on / off, "rss_off": rss_off, "rss_on": rss_on}
        print(
            f"{name:12s} off {off:7.1f} steps/s  on {on:7.1f} steps/s  speed-up {on / off:.2f}x   "
            f"RSS off {rss_off:.0f} MiB  on {rss_on:.0f} MiB"
        )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
