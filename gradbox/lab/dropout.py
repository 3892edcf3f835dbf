"""Experiment 4, ``dropout-homogeneity``: dropout commutes with positively homogeneous
activations, and the 1/(1-p) scaling makes test-time dropout the identity."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

import gradbox as gb
from gradbox.lab import plot
from gradbox.lab.registry import Result, Settings, experiment

ACTIVATIONS = {
    "ReLU": gb.nn.ReLU(),
    "LeakyReLU(0.1)": gb.nn.LeakyReLU(0.1),
    "sigmoid": gb.nn.Sigmoid(),
    "tanh": gb.nn.Tanh(),
}


def same_mask(f: Callable[[], gb.Tensor], seed: int) -> np.ndarray:
    """``f()`` with gradbox's generator reseeded first, so every dropout inside draws the same mask."""
    gb.manual_seed(seed)
    return f().numpy()


@experiment(
    "dropout-homogeneity",
    "Dropout commutes with ReLU, not with sigmoid; at test time it is the identity",
    "Dropout then activation equals activation then dropout for positively homogeneous activations (ReLU, "
    "LeakyReLU), not for sigmoid or tanh; and dropout at test time is the identity because of the 1/(1-p) scaling "
    "in training.",
)
def run(s: Settings) -> Result:
    p = 0.5
    rows, cols, draws = (64, 64, 400) if s.quick else (128, 128, 4000)
    z = gb.randn(rows, cols, dtype=gb.float64) * 2.0
    zn = z.numpy()
    drop = gb.nn.Dropout(p)
    numbers: dict = {"p": p, "shape": [rows, cols], "draws": draws}
    pairs, commute = {}, {}
    for k, (name, g) in enumerate(ACTIVATIONS.items()):
        first = same_mask(lambda g=g: g(drop(z)), s.seed + 100 + k)  # dropout, then the activation
        second = same_mask(lambda g=g: drop(g(z)), s.seed + 100 + k)  # the activation, then the same mask
        c = 1.0 / (1.0 - p)
        homog = float(np.abs(g(z * c).numpy() - c * g(z).numpy()).max())  # g(c z) - c g(z), c = 1/(1-p)
        commute[name] = {
            "max_abs_difference": float(np.abs(first - second).max()),
            "g(0)": float(g(gb.zeros(1, dtype=gb.float64)).item()),
            "homogeneity_error": homog,
        }
        pairs[name] = (first.ravel(), second.ravel())
    numbers["commute"] = commute
    drop.eval()
    eval_diff = float(np.abs(drop(z).numpy() - zn).max())
    drop.train()
    ks = np.unique(np.round(np.logspace(0, math.log10(draws), 25)).astype(int))
    sums = {key: np.zeros_like(zn) for key in ("scaled", "unscaled", "ReLU after dropout", "sigmoid after dropout")}
    errs: dict[str, list[float]] = {key: [] for key in sums}
    targets = {
        "scaled": zn,
        "unscaled": zn,
        "ReLU after dropout": np.maximum(zn, 0),
        "sigmoid after dropout": 1 / (1 + np.exp(-zn)),
    }
    rms = lambda a: float(np.sqrt(np.mean(a**2)))
    for i in range(1, draws + 1):
        d = drop(z).numpy()
        sums["scaled"] += d
        sums["unscaled"] += d * (1 - p)  # the same mask without the 1/(1-p)
        sums["ReLU after dropout"] += np.maximum(d, 0)
        sums["sigmoid after dropout"] += 1 / (1 + np.exp(-d))
        if i in ks:
            for key in sums:
                errs[key].append(rms(sums[key] / i - targets[key]) / rms(targets[key]))
    theory = math.sqrt(p / (1 - p)) / np.sqrt(ks)  # RMS of the mean of K scaled draws, relative to rms(z)
    numbers.update(
        eval_max_abs_difference=eval_diff, K=ks, relative_rms_error=errs, theory_scaled=theory,
        unscaled_mean_over_z=float(np.sum(sums["unscaled"] * zn) / np.sum(zn * zn) / draws),
    )  # fmt: skip
    lines = [f"p = {p}, z ~ N(0, 4) of shape {rows}x{cols} in float64; the same Bernoulli mask m/(1-p) on both sides:"]
    for name, c in commute.items():
        lines.append(
            f"  {name:15s} max |g(dropout(z)) - dropout(g(z))| = {c['max_abs_difference']:.3g}   "
            f"(g(0) = {c['g(0)']:g}, max |g({1 / (1 - p):g}z) - {1 / (1 - p):g} g(z)| = {c['homogeneity_error']:.3g})"
        )
    e = {k: v[-1] for k, v in errs.items()}
    yes = [n for n, c in commute.items() if c["max_abs_difference"] <= 1e-12]
    no = [n for n in commute if n not in yes]
    numbers["commuting"], numbers["not_commuting"] = yes, no
    lines += [
        f"Commute: {', '.join(yes) or 'none'}: for them g(0) = 0 and g(c z) = c g(z) (c >= 0), so "
        f"g(m z / (1-p)) = m g(z) / (1-p) entry by entry. Do not: {', '.join(no) or 'none'}: not homogeneous "
        "(and sigmoid(0) = 0.5), so the order matters.",
        f"Test time: nn.Dropout in eval mode returns z unchanged (max difference {eval_diff:g}). That is right "
        f"because training-mode outputs average to z: after {ks[-1]} masks the mean is within {100 * e['scaled']:.2f}% "
        f"(RMS, relative) of z, as sqrt(p/((1-p)K)) = {100 * theory[-1]:.2f}% predicts. Without the 1/(1-p) "
        f"factor the average is {numbers['unscaled_mean_over_z']:.3f} z (error {100 * e['unscaled']:.1f}%), so "
        f"an identity at test time would be wrong by a factor 1-p.",
        f"Homogeneity also carries the expectation through: the mean of ReLU(dropout(z)) tends to ReLU(z) "
        f"({100 * e['ReLU after dropout']:.2f}% after {ks[-1]} masks), the mean of sigmoid(dropout(z)) does not reach "
        f"sigmoid(z) ({100 * e['sigmoid after dropout']:.1f}%).",
    ]
    return Result("\n".join(lines), numbers, _figure(pairs, ks, errs, theory, p))


def _figure(pairs, ks, errs, theory, p):
    fig, (a, b, c) = plot.figure(
        3, title=f"Dropout (p = {p}) and the activation: which order, and the test-time rule", height=4.9
    )
    for ax, names in ((a, ("ReLU", "LeakyReLU(0.1)")), (b, ("sigmoid", "tanh"))):
        lo, hi = 0.0, 0.0
        for size, color, name in zip((16, 5), plot.COLORS[1:] if ax is b else plot.COLORS, names):
            u, v = pairs[name]
            sel = slice(None, None, max(1, len(u) // 3000))
            # the first series drawn larger, so that it shows under the second where they coincide
            ax.scatter(u[sel], v[sel], s=size, alpha=0.5, color=color, label=name)
            lo, hi = min(lo, u.min(), v.min()), max(hi, u.max(), v.max())
        ax.plot([lo, hi], [lo, hi], color="k", lw=1, ls="--", label="equal")
        ax.set(xlabel="g(dropout(z))", ylabel="dropout(g(z)), same mask", title=f"{' and '.join(names)}")
        ax.legend(loc="upper left", markerscale=3)
    labels = {
        "scaled": "mean of dropout(z) → z",
        "unscaled": "mean without 1/(1-p) → (1-p) z",
        "ReLU after dropout": "mean of ReLU(dropout(z)) → ReLU(z)",
        "sigmoid after dropout": "mean of sigmoid(dropout(z)) vs sigmoid(z)",
    }
    styles = {  # the first and third curves nearly coincide: a wide solid line under a dashed one
        "scaled": {"lw": 4.0, "alpha": 0.6},
        "ReLU after dropout": {"lw": 1.6, "ls": "--", "marker": "o", "ms": 3},
    }
    for color, (key, label) in zip(plot.COLORS, labels.items()):
        c.loglog(ks, errs[key], color=color, label=label, **styles.get(key, {"marker": "o", "ms": 3}))
    c.loglog(ks, theory, color="k", ls=":", lw=1.5, label="sqrt(p / ((1-p) K))")
    c.set(xlabel="number of dropout masks K (log scale)", ylabel="relative RMS error of the mean (log scale)",
          title="averaging training-mode outputs")  # fmt: skip
    c.legend(fontsize=9, loc="lower left")
    return fig
