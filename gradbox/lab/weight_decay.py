"""Experiment 6, ``weight-decay``: an L2 penalty is weight decay under SGD, not under Adam;
AdamW decouples the decay from the adaptive step."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import gradbox as gb
from gradbox.lab import plot
from gradbox.lab.registry import Result, Settings, experiment
from gradbox.lab.runner import thin


def train(
    x: gb.Tensor, y: gb.Tensor, make_opt: Callable, steps: int, l2: float = 0.0, shrink: float = 0.0
) -> tuple[np.ndarray, object]:
    """Full-batch least squares L(w) = ||x w - y||^2 / (2N) (+ l2/2 ||w||^2 in the loss) from w = 0;
    ``shrink``: multiply w by (1 - shrink) by hand before each optimizer step. The iterates, and the optimizer."""
    w = gb.zeros(x.shape[1], dtype=gb.float64, requires_grad=True)
    opt = make_opt([w])
    path = [w.detach().numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        loss = ((x @ w - y) ** 2).mean() / 2
        if l2:
            loss = loss + l2 / 2 * (w * w).sum()
        loss.backward()
        if shrink:
            with gb.no_grad():
                w.mul_(1 - shrink)
        opt.step()
        path.append(w.detach().numpy().copy())
    return np.array(path), opt


@experiment(
    "weight-decay",
    "L2 penalty = weight decay under SGD, not under Adam; AdamW decouples it",
    "An L2 penalty (lambda/2)||w||^2 equals weight decay under SGD (w <- (1 - a lambda) w - a g), not under Adam; "
    "AdamW decouples it.",
)
def run(s: Settings) -> Result:
    rng = np.random.default_rng(s.seed)
    n, scales, lam = 200, np.array([0.3, 1.0, 3.0]), 0.5
    xn = rng.normal(size=(n, len(scales))) * scales
    w_true = np.array([2.0, -1.5, 1.0])
    yn = xn @ w_true + 0.1 * rng.normal(size=n)
    x, y = gb.tensor(xn, dtype=gb.float64), gb.tensor(yn, dtype=gb.float64)
    steps = 400 if s.quick else 1500
    a, alpha = 0.1, 0.02
    sgd = lambda wd=0.0: lambda p: gb.optim.SGD(p, lr=a, weight_decay=wd)
    runs = {
        "SGD, L2 in the loss": train(x, y, sgd(), steps, l2=lam),
        "SGD(weight_decay)": train(x, y, sgd(lam), steps),
        "SGD, w *= 1 - a lambda by hand": train(x, y, sgd(), steps, shrink=a * lam),
        "Adam, L2 in the loss": train(x, y, lambda p: gb.optim.Adam(p, lr=alpha), steps, l2=lam),
        "Adam(weight_decay)": train(x, y, lambda p: gb.optim.Adam(p, lr=alpha, weight_decay=lam), steps),
        "AdamW(weight_decay)": train(x, y, lambda p: gb.optim.AdamW(p, lr=alpha, weight_decay=lam), steps),
        "Adam, w *= 1 - a lambda by hand": train(x, y, lambda p: gb.optim.Adam(p, lr=alpha), steps, shrink=alpha * lam),
    }
    paths = {k: p for k, (p, _) in runs.items()}
    gram = xn.T @ xn / n
    ridge = np.linalg.solve(gram + lam * np.eye(len(scales)), xn.T @ yn / n)
    ols = np.linalg.solve(gram, xn.T @ yn / n)
    diff = lambda u, v: float(np.abs(paths[u] - paths[v]).max())
    adam_opt = runs["Adam, L2 in the loss"][1]
    v = next(iter(adam_opt.state.values()))["exp_avg_sq"].numpy()
    vhat = v / (1 - 0.999**steps)
    eff = alpha * lam / (np.sqrt(vhat) + 1e-8)  # the L2 term's share of Adam's step, per weight and unit of w
    final = {k: p[-1] for k, p in paths.items()}
    numbers = {
        "lambda": lam, "sgd_lr": a, "adam_lr": alpha, "steps": steps, "feature_scales": scales, "w_true": w_true,
        "ridge": ridge, "least_squares": ols, "final": final,
        "sgd_l2_vs_weight_decay": diff("SGD, L2 in the loss", "SGD(weight_decay)"),
        "sgd_l2_vs_by_hand": diff("SGD, L2 in the loss", "SGD, w *= 1 - a lambda by hand"),
        "adam_l2_vs_adam_weight_decay": diff("Adam, L2 in the loss", "Adam(weight_decay)"),
        "adamw_vs_by_hand": diff("AdamW(weight_decay)", "Adam, w *= 1 - a lambda by hand"),
        "adam_l2_vs_adamw": diff("Adam, L2 in the loss", "AdamW(weight_decay)"),
        "distance_to_ridge": {k: float(np.linalg.norm(w - ridge)) for k, w in final.items()},
        "adam_l2_effective_decay": eff, "adamw_decay": alpha * lam,
        "norms": {k: thin(np.linalg.norm(p, axis=1)) for k, p in paths.items()},
    }  # fmt: skip
    d = numbers["distance_to_ridge"]
    fmt = lambda w: np.array2string(np.asarray(w), precision=3, separator=", ")
    finding = (
        f"Least squares on {n} samples, features scaled {fmt(scales)} (so their gradients differ in size), "
        f"lambda = {lam}, full batch from w = 0, {steps} steps; SGD a = {a}, Adam/AdamW a = {alpha}.\n"
        f"SGD: L2 in the loss, SGD(weight_decay=lambda) and w <- (1 - a lambda) w - a g by hand give the same "
        f"iterates (largest difference {numbers['sgd_l2_vs_weight_decay']:.1e} and {numbers['sgd_l2_vs_by_hand']:.1e}), "
        f"and end at the ridge solution {fmt(ridge)} (distance {d['SGD, L2 in the loss']:.1e}).\n"
        f"Adam: L2 in the loss equals Adam(weight_decay) ({numbers['adam_l2_vs_adam_weight_decay']:.1e}: PyTorch's "
        f"Adam adds lambda w to the gradient) but not decoupled decay: AdamW's iterates differ by up to "
        f"{numbers['adam_l2_vs_adamw']:.3f}. AdamW equals Adam with w <- (1 - a lambda) w applied by hand before each "
        f"step ({numbers['adamw_vs_by_hand']:.1e}).\n"
        f"Why: Adam divides the penalty's gradient lambda w by sqrt(v) like the rest of the gradient, so the pull "
        f"towards 0 on weight i is a lambda w_i / sqrt(v_i), coefficients {fmt(eff)} at the end of training against "
        f"AdamW's a lambda = {alpha * lam:g} for every weight: {fmt(eff / (alpha * lam))} times AdamW's, strongest "
        f"on the feature with the smallest gradients. The two also end in different places: Adam + L2 at the "
        f"minimiser of the penalised loss, the ridge solution (distance {d['Adam, L2 in the loss']:.1e}), AdamW at "
        f"{fmt(final['AdamW(weight_decay)'])}, {d['AdamW(weight_decay)']:.3f} from it (unpenalised least squares: "
        f"{fmt(ols)})."
    )
    return Result(finding, numbers, _figure(numbers, paths, ridge, ols, w_true))


def _figure(numbers, paths, ridge, ols, w_true):
    fig, (a, b, c) = plot.figure(3, title="L2 penalty and weight decay: equal under SGD, not under Adam", height=4.9)
    pairs = [
        ("SGD: L2 vs SGD(weight_decay)", "SGD, L2 in the loss", "SGD(weight_decay)"),
        ("SGD: L2 vs (1 − aλ)w by hand", "SGD, L2 in the loss", "SGD, w *= 1 - a lambda by hand"),
        ("Adam: L2 vs Adam(weight_decay)", "Adam, L2 in the loss", "Adam(weight_decay)"),
        ("Adam: L2 vs AdamW", "Adam, L2 in the loss", "AdamW(weight_decay)"),
        ("AdamW vs Adam + (1 − aλ)w by hand", "AdamW(weight_decay)", "Adam, w *= 1 - a lambda by hand"),
    ]
    # wide to thin, so that curves that coincide all stay visible
    for width, color, (label, u, v) in zip((5, 3.5, 2.5, 2, 1.5), plot.COLORS, pairs):
        a.semilogy(np.maximum(np.abs(paths[u] - paths[v]).max(axis=1), 1e-18), color=color, lw=width, label=label)
    a.set(
        xlabel="step",
        ylabel="max |w − w'| over weights (log scale)",
        title="how far the iterates differ (0 drawn at 1e-18)",
        ylim=(1e-19, 10),
    )
    a.legend(fontsize=8.5, loc="center right")
    for color, key in zip(plot.COLORS, ("SGD, L2 in the loss", "Adam, L2 in the loss", "AdamW(weight_decay)")):
        b.plot(np.linalg.norm(paths[key], axis=1), color=color, label=key)
    b.axhline(np.linalg.norm(ridge), color="k", ls="--", lw=1.2, label="‖ridge solution‖")
    b.set(xlabel="step", ylabel="‖w‖", title="weight norm during training")
    b.legend(fontsize=9, loc="lower right")
    labels = ["true w", "least squares", "ridge", "SGD + L2", "Adam + L2", "AdamW"]
    vals = [w_true, ols, ridge, numbers["final"]["SGD, L2 in the loss"], numbers["final"]["Adam, L2 in the loss"],
            numbers["final"]["AdamW(weight_decay)"]]  # fmt: skip
    idx = np.arange(len(ridge))
    width = 0.8 / len(labels)
    for i, (lab, v) in enumerate(zip(labels, vals)):
        c.bar(idx + (i - len(labels) / 2 + 0.5) * width, v, width, label=lab, color=plot.COLORS[i])
    c.set_xticks(idx, [f"w{i + 1} (scale {sc:g})" for i, sc in enumerate(numbers["feature_scales"])])
    c.set(ylabel="final weight", title="where each run ends")
    c.axhline(0, color="k", lw=0.8)
    c.set_ylim(min(0.0, float(np.min(vals))) * 1.15 - 0.1, float(np.max(vals)) * 1.35)
    c.legend(fontsize=8.5, ncol=2, loc="upper center")
    return fig
