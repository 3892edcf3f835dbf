"""Where the convolutional networks' gap to PyTorch lies: each convolution layer of the benchmark
models timed alone, gradbox against PyTorch CPU (oneDNN), each framework in its own fresh
process, float32, 2 threads.

For each layer: milliseconds and achieved GFLOP/s (2 multiply-adds per output term) of the
forward, the input gradient and the weight gradient, the median of the repetitions, next to
this machine's float32 matrix-multiply rate (1024^3, both cores) as the roofline. A first
layer's input gradient is not timed: training never asks for it (the images need no gradient).

    python benchmarks/conv_layers.py [--reps 20] [--only lenet5,cifar_cnn,...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

# model: [(layer, input shape (N, C, H, W), weight shape (O, C, kh, kw), padding, stride, first layer)]
LAYERS = {
    "lenet5_64": [
        ("conv1 1->6 5x5 pad 2", (64, 1, 28, 28), (6, 1, 5, 5), 2, 1, True),
        ("conv2 6->16 5x5", (64, 6, 14, 14), (16, 6, 5, 5), 0, 1, False),
    ],
    "mnist_cnn": [
        ("conv1 1->32 3x3", (64, 1, 28, 28), (32, 1, 3, 3), 0, 1, True),
        ("conv2 32->64 3x3", (64, 32, 26, 26), (64, 32, 3, 3), 0, 1, False),
    ],
    "cifar_cnn": [
        ("conv1 3->32 3x3", (64, 3, 32, 32), (32, 3, 3, 3), 1, 1, True),
        ("conv2 32->64 3x3", (64, 32, 16, 16), (64, 32, 3, 3), 1, 1, False),
        ("conv3 64->128 3x3", (64, 64, 8, 8), (128, 64, 3, 3), 1, 1, False),
    ],
    "resnet18": [  # small-input ResNet-18 at batch 32: one 3x3 convolution of each stage
        ("layer1 64->64 3x3", (32, 64, 32, 32), (64, 64, 3, 3), 1, 1, False),
        ("layer2 128->128 3x3", (32, 128, 16, 16), (128, 128, 3, 3), 1, 1, False),
        ("layer3 256->256 3x3", (32, 256, 8, 8), (256, 256, 3, 3), 1, 1, False),
        ("layer4 512->512 3x3", (32, 512, 4, 4), (512, 512, 3, 3), 1, 1, False),
        ("layer2 64->128 3x3 stride 2", (32, 64, 32, 32), (128, 64, 3, 3), 1, 2, False),
    ],
}


def _median_ms(fn, reps: int) -> float:
    fn()
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def _passes(framework: str, x, w, g, pad: int, stride: int):
    """The forward, input-gradient and weight-gradient calls of one layer in one framework."""
    if framework == "gradbox":
        from gradbox.ops import conv
        from gradbox.ops.window import Geometry

        # the three ops as a training step runs them: the forward keeps its Winograd transform
        # or its small im2col matrix for the two gradients
        geo = Geometry(((stride, stride), ((pad, pad), (pad, pad)), (1, 1), 1))
        op = conv.Conv()
        op.forward(x, w, geo=geo)
        return (
            lambda: op.forward(x, w, geo=geo),
            lambda: conv.ConvInput().forward(g, w, geo=geo, x_shape=x.shape, u=op.u),
            lambda: conv.ConvWeight().forward(x, g, geo=geo, w_shape=w.shape, cols=op.cols),
        )
    import torch

    torch.set_num_threads(2)
    xt, wt, gt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(g)
    geometry = ([stride] * 2, [pad] * 2, [1, 1], False, [0, 0], 1)

    def forward():
        with torch.no_grad():
            torch.nn.functional.conv2d(xt, wt, None, stride, pad)

    return (
        forward,
        lambda: torch.ops.aten.convolution_backward(gt, xt, wt, None, *geometry, [True, False, False]),
        lambda: torch.ops.aten.convolution_backward(gt, xt, wt, None, *geometry, [False, True, False]),
    )


def probe(framework: str, model: str, reps: int) -> list[dict]:
    """Child process: the three passes of every layer of ``model`` in one framework."""
    rng = np.random.default_rng(0)
    rows = []
    for name, xs, ws, pad, stride, first in LAYERS[model]:
        x = rng.standard_normal(xs).astype(np.float32)
        w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(np.float32)
        out = [(s + 2 * pad - k) // stride + 1 for s, k in zip(xs[2:], ws[2:])]
        g = rng.standard_normal((xs[0], ws[0], *out)).astype(np.float32)
        fwd, igrad, wgrad = _passes(framework, x, w, g, pad, stride)
        row = {"layer": name, "macs": int(np.prod(g.shape)) * int(np.prod(ws[1:]))}
        for key, fn in (("forward", fwd), ("input_grad", None if first else igrad), ("weight_grad", wgrad)):
            row[key] = None if fn is None else _median_ms(fn, reps)
        rows.append(row)
    return rows


def _env(framework: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2")
    if framework == "torch":
        env["GRADBOX_MALLOC_TUNING"] = "0"
    return env


def _child(framework: str, model: str, reps: int) -> list[dict]:
    out = subprocess.run(
        [sys.executable, __file__, "--probe", framework, model, "--reps", str(reps)],
        capture_output=True, text=True, env=_env(framework), check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--only", default=",".join(LAYERS))
    ap.add_argument("--json", default=None)
    ap.add_argument("--probe", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        print(json.dumps(probe(*args.probe, args.reps)))
        return
    models = [m for m in args.only.split(",") if m]
    unknown = [m for m in models if m not in LAYERS]
    if unknown:
        raise SystemExit(f"conv_layers.py: unknown model(s) {unknown}; choose from {list(LAYERS)}")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from run import matmul_gflops

    roof = matmul_gflops()
    print(f"float32 matrix-multiply rate (1024^3, this process's BLAS threads): {roof:.0f} GFLOP/s\n")
    print(f"{'layer':34s} {'pass':12s} {'gradbox ms':>10s} {'GFLOP/s':>8s} {'PyTorch ms':>10s} {'GFLOP/s':>8s} {'ratio':>6s}")
    result = {"roofline_gflops": roof, "models": {}}
    for model in models:
        gb_rows, pt_rows = _child("gradbox", model, args.reps), _child("torch", model, args.reps)
        result["models"][model] = {"gradbox": gb_rows, "torch": pt_rows}
        print(model)
        for a, b in zip(gb_rows, pt_rows):
            for key in ("forward", "input_grad", "weight_grad"):
                if a[key] is None:
                    continue
                ga, gb_ = (2 * a["macs"] / r[key] / 1e6 for r in (a, b))
                print(
                    f"  {a['layer']:32s} {key:12s} {a[key]:10.2f} {ga:8.0f} {b[key]:10.2f} {gb_:8.0f} "
                    f"{b[key] / a[key]:5.2f}x"
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
