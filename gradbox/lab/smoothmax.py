"""Experiment 1, ``logsumexp``: log-sum-exp is a smooth maximum and its gradient a soft argmax."""

from __future__ import annotations

import numpy as np

import gradbox as gb
from gradbox.lab import plot
from gradbox.lab.registry import Result, Settings, experiment


def smooth_max(x: np.ndarray, b: float) -> tuple[float, np.ndarray]:
    """f = (1/b) log sum_i exp(b x_i) with gradbox, and its gradient df/dx by autograd."""
    xt = gb.tensor(x, dtype=gb.float64, requires_grad=True)
    f = gb.logsumexp(xt * b, 0) / b
    f.backward()
    return f.item(), xt.grad.numpy().copy()


@experiment(
    "logsumexp",
    "Log-sum-exp is a smooth maximum",
    "(1/b) log sum exp(b x) tends to max x as b grows, bounded by max x <= f <= max x + (log n)/b, and its "
    "gradient (a softmax of b x) tends to the one-hot vector of the argmax.",
)
def run(s: Settings) -> Result:
    rng = np.random.default_rng(s.seed)
    n = 6
    x = np.round(rng.normal(0.0, 1.0, n), 2)
    while np.sort(x)[-1] - np.sort(x)[-2] < 0.05:  # a clear argmax, so the limit is one-hot
        x = np.round(rng.normal(0.0, 1.0, n), 2)
    bs = np.logspace(-2, 2, 21 if s.quick else 121)  # past b ~ 100, f - max x drops below float64's resolution
    fs, grads, softmaxes = [], [], []
    for b in bs:
        f, g = smooth_max(x, float(b))
        fs.append(f)
        grads.append(g)
        softmaxes.append(gb.softmax(gb.tensor(x * b, dtype=gb.float64), 0).numpy())
    fs, grads, softmaxes = np.array(fs), np.array(grads), np.array(softmaxes)
    mx, k = float(x.max()), int(x.argmax())
    gap = fs - mx
    bound = np.log(n) / bs
    onehot = np.eye(n)[k]
    dist = np.abs(grads - onehot).sum(axis=1)
    second = float(np.sort(x)[-2])
    numbers = {
        "x": x,
        "n": n,
        "max_x": mx,
        "argmax": k,
        "mean_x": float(x.mean()),
        "b": bs,
        "f": fs,
        "gap": gap,
        "bound": bound,
        "grad": grads,
        "softmax_bx": softmaxes,
        "grad_minus_softmax_max": float(np.abs(grads - softmaxes).max()),
        "grad_to_onehot_l1": dist,
        "min_gap": float(gap.min()),
        "max_gap_over_bound": float((gap / bound).max()),
        "gap_decreasing": bool(np.all(np.diff(gap) <= 1e-15)),
    }
    lo, hi = 0, len(bs) - 1
    finding = (
        f"x = {np.array2string(x, separator=', ')} (n = {n}, max x = {mx:g} at index {k}, next largest {second:g}). "
        f"At each of the {len(bs)} values of b from {bs[lo]:g} to {bs[hi]:g}, max x <= f <= max x + (log n)/b holds: "
        f"the gap f - max x is never negative (smallest {gap.min():.2e}) and never more than "
        f"{100 * numbers['max_gap_over_bound']:.1f}% of (log n)/b. At b = {bs[lo]:g}, f = {fs[lo]:.4g}, close to "
        f"mean x + (log n)/b = {x.mean() + np.log(n) / bs[lo]:.4g}, so the upper bound is almost tight for small b. "
        f"At b = {bs[hi]:g}, f - max x = {gap[hi]:.2e}: once b (max x - {second:g}) >> 1 the gap falls like "
        f"exp(-b x {mx - second:.2f}) / b, far below (log n)/b = {bound[hi]:.3g}.\n"
        f"The gradient from autograd equals softmax(b x) to within {numbers['grad_minus_softmax_max']:.1e}. Its L1 "
        f"distance to the one-hot vector e_{k} falls from {dist[lo]:.3f} at b = {bs[lo]:g} to {dist[hi]:.1e} at "
        f"b = {bs[hi]:g}."
    )
    return Result(finding, numbers, _figure(x, bs, fs, gap, bound, grads, mx, k))


def _figure(x, bs, fs, gap, bound, grads, mx, k):
    fig, (a, b, c) = plot.figure(3, title="Log-sum-exp: a smooth maximum whose gradient is a soft argmax")
    a.semilogx(bs, fs, color=plot.COLORS[0], label="f = (1/b) log Σ exp(b x)")
    a.axhline(mx, color="k", ls="--", lw=1.5, label="max x (lower bound)")
    a.semilogx(bs, mx + bound, color=plot.COLORS[3], ls=":", label="max x + (log n)/b (upper bound)")
    a.fill_between(bs, mx, mx + bound, color=plot.COLORS[3], alpha=0.08)
    a.set_ylim(float(x.min()) - 0.2, mx + 3.0)  # f ~ mean x + (log n)/b runs off the top for small b
    a.set(xlabel="sharpness b (log scale)", ylabel="value", title="f lies between the bounds")
    a.legend(loc="upper right")
    pos = gap > 0
    b.loglog(bs[pos], gap[pos], color=plot.COLORS[0], label="f - max x (measured)")
    b.loglog(bs, bound, color=plot.COLORS[3], ls=":", label="(log n)/b")
    b.set_ylim(max(gap[pos].min(), 1e-20) / 3, bound.max() * 3)
    b.set(xlabel="sharpness b (log scale)", ylabel="gap f - max x (log scale)", title="the gap vanishes as b grows")
    b.legend(loc="lower left")
    for i in range(len(x)):
        c.semilogx(
            bs, grads[:, i], color=plot.COLORS[i], lw=2.6 if i == k else 1.5,
            label=f"∂f/∂x{i} (x{i} = {x[i]:g}){'  argmax' if i == k else ''}",
        )  # fmt: skip
    c.set(xlabel="sharpness b (log scale)", ylabel="gradient component = softmax(b x)_i", title="gradient → one-hot")
    c.set_ylim(-0.03, 1.03)
    c.legend(loc="center left", fontsize=9)
    return fig
