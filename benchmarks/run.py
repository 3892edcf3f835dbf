"""Training throughput of gradbox against PyTorch CPU, each framework in its own fresh process.

For each model, the same training step (forward, cross-entropy, backward, SGD with momentum)
on the same float32 batch and the same weights. By default every timing runs in a fresh child
process holding one framework only (PyTorch's process keeps glibc's default allocator: gradbox's
malloc tuning is switched off there), alternating gradbox, PyTorch, gradbox, ... so the
allocator and thread-pool state of one framework cannot bleed into the other's timing.
``--same-process`` keeps the older mode: both frameworks in this process, interleaved.

Reported: images/s of each (median of the repetitions), the ratio gradbox/PyTorch (higher is
better), achieved GFLOP/s against this machine's float32 matrix-multiply rate, the peak memory
of a training step in each framework (a child process per framework and model, peak RSS growth
during the steps), the load average while it ran, and the per-op overhead of benchmarks/overhead.py
(there the ratio is a cost: lower is better).

    python benchmarks/run.py [--reps 5] [--json results.json] [--only mlp,lenet5,lenet5_64,mnist_cnn,cifar_cnn,resnet18]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# name: (input shape, batch size, steps per timing, target ratio); each timing spans ~0.2-3 s:
# shorter ones (20 LeNet-5 steps, ~0.25 s) swung the ratio by 0.3 between runs on this VM
MODELS = {
    "mlp": ((1, 28, 28), 128, 100, 1.0),
    "lenet5": ((1, 28, 28), 128, 60, 1.0),
    "lenet5_64": ((1, 28, 28), 64, 100, 1.0),
    "mnist_cnn": ((1, 28, 28), 64, 10, 1.0),
    "cifar_cnn": ((3, 32, 32), 64, 10, 1.0),
    "resnet18": ((3, 32, 32), 32, 3, 1.0),
}

LABELS = {
    "mlp": "MLP 784-256-256-10",
    "lenet5": "LeNet-5, 1x28x28",
    "lenet5_64": "LeNet-5, 1x28x28",
    "mnist_cnn": "pytorch/examples MNIST CNN",
    "cifar_cnn": "CIFAR CNN (3 conv-bn-relu blocks)",
    "resnet18": "ResNet-18, 3x32x32",
}


def sequential(nn, name: str):
    """The two plain CNNs of issue 15, written once for either framework's ``nn``."""
    if name == "mnist_cnn":  # github.com/pytorch/examples mnist/main.py
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10),
        )  # fmt: skip
    layers, cin = [], 3
    for c in (32, 64, 128):
        layers += [nn.Conv2d(cin, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
        cin = c
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


def build(framework: str, name: str):
    """The model in gradbox, and the same weights in a hand-built torch model when asked."""
    import gradbox as gb

    gb.manual_seed(0)
    g = {
        "mlp": lambda: gb.vision.models.mlp(),
        "lenet5": lambda: gb.vision.models.lenet5(),
        "lenet5_64": lambda: gb.vision.models.lenet5(),
        "resnet18": lambda: gb.vision.models.resnet18(num_classes=10, small_input=True),
        "mnist_cnn": lambda: sequential(gb.nn, "mnist_cnn"),
        "cifar_cnn": lambda: sequential(gb.nn, "cifar_cnn"),
    }[name]()
    if framework == "gradbox":
        return g
    import torch

    from gradbox.testing import torch_reference as ref

    t = {
        "mlp": ref.mlp,
        "lenet5": ref.LeNet5,
        "lenet5_64": ref.LeNet5,
        "resnet18": lambda: ref.ResNet18(10, small_input=True),
        "mnist_cnn": lambda: sequential(torch.nn, "mnist_cnn"),
        "cifar_cnn": lambda: sequential(torch.nn, "cifar_cnn"),
    }[name]()
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in g.state_dict().items()})
    return t


def macs_per_image(name: str) -> int:
    """Multiply-accumulates of one forward pass, counted with forward hooks on Conv2d/Linear."""
    import gradbox as gb

    model = build("gradbox", name)
    shape = MODELS[name][0]
    total = [0]

    def hook(m, inputs, out):
        if isinstance(m, gb.nn.Conv2d):
            k = int(np.prod(m.kernel_size)) * m.in_channels // m.groups
            total[0] += int(np.prod(out.shape[1:])) * k
        elif isinstance(m, gb.nn.Linear):
            total[0] += m.in_features * m.out_features

    for m in model.modules():
        if isinstance(m, gb.nn.Conv2d | gb.nn.Linear):
            m.register_forward_hook(hook)
    with gb.no_grad():
        model(gb.zeros(1, *shape))
    return total[0]


def make_step(framework: str, name: str):
    shape, batch, _, _ = MODELS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *shape)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    model = build(framework, name)
    if framework == "gradbox":
        import gradbox as m
    else:
        import torch as m
    xt, yt = m.tensor(x), m.tensor(y)
    opt = m.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = m.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss

    return step


def matmul_gflops(n: int = 1024, reps: int = 5) -> float:
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = a.T.copy()
    a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n**3 / min(times) / 1e9


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_probe(framework: str, name: str) -> None:
    """Child process: resident memory added by training (model, optimizer state, activations,
    gradients), i.e. peak RSS sampled during the steps minus RSS after the imports; JSON out."""
    import threading

    if framework == "torch":
        import torch  # noqa: F401 - imported before the baseline, like gradbox below
    import gradbox  # noqa: F401
    from gradbox.ops import _compiled

    _compiled.load()  # numba and its kernels' code: library memory, like torch's import, not the step's
    base = _rss_mib()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mib())
            time.sleep(0.0005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    step = make_step(framework, name)
    for _ in range(4):
        step()
    done.set()
    t.join()
    print(json.dumps({"peak_mib": peak[0] - base, "base_mib": base}))


def _child_env(framework: str, threads: int) -> dict:
    env = dict(
        os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads)
    )
    if framework == "torch":  # PyTorch's process keeps glibc's allocator defaults
        env["GRADBOX_MALLOC_TUNING"] = "0"
    return env


def _child(framework: str, args: list[str], threads: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args, "--threads", str(threads)],
        capture_output=True,
        text=True,
        env=_child_env(framework, threads),
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def timing_probe(framework: str, name: str) -> None:
    """Child process: images/s of one timed run of a model's steps after two warm-up steps; JSON out."""
    _, batch, steps, _ = MODELS[name]
    step = make_step(framework, name)
    step()
    step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    print(json.dumps({"img_s": steps * batch / (time.perf_counter() - t)}))


def _separate_process_ips(name: str, reps: int, threads: int) -> dict[str, list[float]]:
    ips: dict[str, list[float]] = {"gradbox": [], "torch": []}
    for _ in range(reps):
        for fw in ("gradbox", "torch"):  # alternating fresh processes: gradbox, torch, gradbox, ...
            ips[fw].append(_child(fw, ["--timing-probe", fw, name], threads)["img_s"])
    return ips


def _same_process_ips(name: str, reps: int) -> dict[str, list[float]]:
    _, batch, steps, _ = MODELS[name]
    fns = {fw: make_step(fw, name) for fw in ("gradbox", "torch")}
    for fn in fns.values():  # warm-up
        fn()
        fn()
    ips: dict[str, list[float]] = {"gradbox": [], "torch": []}
    for _ in range(reps):
        for fw, fn in fns.items():  # interleaved: gradbox, torch, gradbox, ...
            t = time.perf_counter()
            for _ in range(steps):
                fn()
            ips[fw].append(steps * batch / (time.perf_counter() - t))
    return ips


def run(names: list[str], reps: int, threads: int, same_process: bool = False) -> dict:
    import overhead
    import torch

    torch.set_num_threads(threads)
    results = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "threads": threads,
            "numpy": np.__version__,
            "torch": torch.__version__,
            "mode": "same process" if same_process else "separate processes",
        },
        "loadavg_start": os.getloadavg(),
    }
    results["matmul_gflops"] = matmul_gflops()
    # The per-op microbenchmark runs first: after the 2-thread ResNet-18 steps this VM was seen
    # to run small Python-bound ops markedly slower for a while (both frameworks, unevenly).
    results["overhead"] = overhead.run(2000, max(reps, 3))
    for name in names:
        _, batch, _, target = MODELS[name]
        ips = _same_process_ips(name, reps) if same_process else _separate_process_ips(name, reps, threads)
        med = {fw: statistics.median(v) for fw, v in ips.items()}
        flops_per_image = 3 * 2 * macs_per_image(name)  # forward + backward (about twice the forward)
        mem = {fw: _child(fw, ["--memory-probe", fw, name], threads)["peak_mib"] for fw in ("gradbox", "torch")}
        results[name] = {
            "batch": batch,
            "gradbox_img_s": med["gradbox"],
            "torch_img_s": med["torch"],
            "ratio": med["gradbox"] / med["torch"],
            "target_ratio": target,
            "gradbox_gflops": med["gradbox"] * flops_per_image / 1e9,
            "torch_gflops": med["torch"] * flops_per_image / 1e9,
            "gradbox_peak_mib": mem["gradbox"],
            "torch_peak_mib": mem["torch"],
            "memory_ratio": mem["gradbox"] / mem["torch"],
            "loadavg": os.getloadavg(),
            "reps": ips,
        }
    ratios = [results[n]["ratio"] for n in names]
    results["geomean_ratio"] = float(np.exp(np.mean(np.log(ratios)))) if ratios else None
    results["loadavg_end"] = os.getloadavg()
    return results


def print_table(r: dict) -> None:
    m = r["machine"]
    print(
        f"machine: {m['processor']}, {m['cpus']} CPUs, {m['threads']} threads; numpy {m['numpy']}, torch {m['torch']}; {m['mode']}"
    )
    la, lb = r["loadavg_start"], r["loadavg_end"]
    print(
        f"load average (1/5/15 min): start {la[0]:.2f}/{la[1]:.2f}/{la[2]:.2f}, end {lb[0]:.2f}/{lb[1]:.2f}/{lb[2]:.2f}"
    )
    print(f"float32 matmul (NumPy, 1024^3): {r['matmul_gflops']:.1f} GFLOP/s\n")
    head = f"{'model':<11}{'batch':>6}{'gradbox img/s':>15}{'PyTorch img/s':>15}{'ratio':>8}{'target':>8}{'GFLOP/s gb/pt':>16}{'peak MiB gb/pt':>17}{'mem ratio':>10}{'load 1m':>8}"
    print(head)
    for name in MODELS:
        if name not in r:
            continue
        x = r[name]
        print(
            f"{name:<11}{x['batch']:>6}{x['gradbox_img_s']:>15.0f}{x['torch_img_s']:>15.0f}{x['ratio']:>7.2f}x{x['target_ratio']:>7.1f}x"
            f"{x['gradbox_gflops']:>8.1f}/{x['torch_gflops']:<7.1f}{x['gradbox_peak_mib']:>8.0f}/{x['torch_peak_mib']:<8.0f}{x['memory_ratio']:>9.2f}x"
            f"{x['loadavg'][0]:>8.2f}"
        )
    if r.get("geomean_ratio"):
        print(f"geometric mean of the ratios: {r['geomean_ratio']:.2f}x (target >= 1.2x)")
    o = r["overhead"]
    print(
        f"\nper-op overhead: gradbox {o['gradbox_us_per_op']:.2f} us, PyTorch {o['torch_us_per_op']:.2f} us, cost ratio {o['ratio']:.2f}x (target <= 1.5x)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=3, help="timed repetitions per framework (median reported, >= 3)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both frameworks")
    p.add_argument("--only", default=",".join(MODELS), help="comma-separated subset of: " + ", ".join(MODELS))
    p.add_argument("--json", help="write the results to this file")
    p.add_argument(
        "--same-process", action="store_true", help="both frameworks in this process, interleaved (the older mode)"
    )
    p.add_argument("--memory-probe", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    p.add_argument("--timing-probe", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    a = p.parse_args()
    probe = a.memory_probe or a.timing_probe
    if probe:
        if probe[0] == "torch":
            import torch

            torch.set_num_threads(a.threads)
        (memory_probe if a.memory_probe else timing_probe)(*probe)
        return
    names = [n for n in a.only.split(",") if n]
    unknown = set(names) - set(MODELS)
    if unknown:
        p.error(f"unknown model(s) {sorted(unknown)}; choose from {', '.join(MODELS)}")
    r = run(names, max(a.reps, 3), a.threads, a.same_process)
    print_table(r)
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
