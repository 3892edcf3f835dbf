"""Experiment 5, ``optimizers``: gradient descent, two momentum forms, Nesterov, RMSProp and Adam
on an ill-conditioned quadratic and on the Rosenbrock function."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

import gradbox as gb
from gradbox.lab import plot
from gradbox.lab.registry import Result, Settings, experiment
from gradbox.lab.runner import thin

Objective = Callable[[gb.Tensor], gb.Tensor]


def quadratic(mu: float, big: float, angle: float) -> tuple[np.ndarray, Objective]:
    """H = R diag(mu, big) R^T (R a rotation by ``angle``) and f(t) = 1/2 t^T H t."""
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    h = rot @ np.diag([mu, big]) @ rot.T
    ht = gb.tensor(h, dtype=gb.float64)
    return h, lambda t: 0.5 * (t @ (ht @ t))


def rosenbrock(t: gb.Tensor) -> gb.Tensor:
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1)."""
    x, y = t[0], t[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def descend(f: Objective, start, steps: int, make_opt, lr_at: Callable[[int], float] | None = None) -> np.ndarray:
    """Iterates theta_0..theta_steps of a gb.optim optimizer (``make_opt(params)``) on f; with
    ``lr_at``, the learning rate of step k is set to lr_at(k) before the step."""
    t = gb.tensor(np.array(start, dtype=float), dtype=gb.float64, requires_grad=True)
    opt = make_opt([t])
    path = [t.detach().numpy().copy()]
    for k in range(steps):
        if lr_at is not None:
            for group in opt.param_groups:
                group["lr"] = lr_at(k)
        opt.zero_grad()
        f(t).backward()
        opt.step()
        path.append(t.detach().numpy().copy())
    return np.array(path)


def heavy_ball(
    f: Objective, start, steps: int, lr_at: Callable[[int], float], b_at: Callable[[int], float]
) -> np.ndarray:
    """Polyak's form by hand: theta_(k+1) = theta_k - a_k g_k + b_k (theta_k - theta_(k-1)), theta_(-1) = theta_0,
    with g_k from autograd."""
    prev = cur = np.array(start, dtype=float)
    path = [cur]
    for k in range(steps):
        t = gb.tensor(cur, dtype=gb.float64, requires_grad=True)
        f(t).backward()
        nxt = cur - lr_at(k) * t.grad.numpy() + b_at(k) * (cur - prev)
        prev, cur = cur, nxt
        path.append(cur)
    return np.array(path)


def values(f: Objective, path: np.ndarray) -> np.ndarray:
    with gb.no_grad():
        return np.array([f(gb.tensor(p, dtype=gb.float64)).item() for p in path])


@experiment(
    "optimizers",
    "Gradient descent, momentum (two forms), Nesterov, RMSProp and Adam",
    "Paths of gradient descent, both momentum forms (heavy ball theta_(k+1) = theta_k - a g_k + b (theta_k - "
    "theta_(k-1)) and velocity v = g + b v, theta -= a v: identical iterates at a constant learning rate, parting when "
    "the rate changes), Nesterov, RMSProp and Adam on an ill-conditioned quadratic and on the Rosenbrock function.",
)
def run(s: Settings) -> Result:
    mu, big = 1.0, 50.0
    h, quad = quadratic(mu, big, math.radians(25))
    a, b = 1.2 / big, 0.75  # a past 1/L, so gradient descent zig-zags across the valley
    q_steps, r_steps = (150, 600) if s.quick else (200, 3000)
    q0, r0 = (-4.5, -1.0), (-1.5, 1.8)  # q0: mostly along the slow direction
    sgd = lambda lr, **kw: lambda p: gb.optim.SGD(p, lr=lr, **kw)
    quad_methods = {
        "gradient descent": sgd(a),
        "momentum (velocity form)": sgd(a, momentum=b),
        "Nesterov": sgd(a, momentum=b, nesterov=True),
        "RMSProp": lambda p: gb.optim.RMSprop(p, lr=0.1),
        "Adam": lambda p: gb.optim.Adam(p, lr=0.3),
    }
    rosen_methods = {
        "gradient descent": sgd(1e-3),
        "momentum (velocity form)": sgd(1e-3, momentum=0.9),
        "Nesterov": sgd(1e-3, momentum=0.9, nesterov=True),
        "RMSProp": lambda p: gb.optim.RMSprop(p, lr=1e-2),
        "Adam": lambda p: gb.optim.Adam(p, lr=5e-2),
    }
    qp = {k: descend(quad, q0, q_steps, m) for k, m in quad_methods.items()}
    rp = {k: descend(rosenbrock, r0, r_steps, m) for k, m in rosen_methods.items()}
    qp["heavy ball (by hand)"] = heavy_ball(quad, q0, q_steps, lambda k: a, lambda k: b)
    qv = {k: values(quad, p) for k, p in qp.items()}
    rv = {k: values(rosenbrock, p) for k, p in rp.items()}
    same = float(np.abs(qp["heavy ball (by hand)"] - qp["momentum (velocity form)"]).max())
    # the rate drops 4x at step K: the velocity form carries the old rate inside v
    big_k, drop = 15, 0.25
    lr_at = lambda k: a if k < big_k else a * drop
    vel = descend(quad, q0, q_steps, sgd(a, momentum=b), lr_at=lr_at)
    hb = heavy_ball(quad, q0, q_steps, lr_at, lambda k: b)
    hb_rescaled = heavy_ball(quad, q0, q_steps, lr_at, lambda k: b * lr_at(k) / lr_at(k - 1) if k else b)
    gap = np.linalg.norm(vel - hb, axis=1)
    first = int(np.argmax(gap > 1e-12))
    predicted = b * (drop - 1.0) * (hb[big_k] - hb[big_k - 1])  # theta_(K+1): velocity - heavy ball
    # rates on the quadratic: GD along the slow eigenvector shrinks by 1 - a mu; momentum's modes by sqrt(b)
    evals, evecs = np.linalg.eigh(h)
    slow = evecs[:, 0]
    gd_slow = qp["gradient descent"] @ slow
    gd_rate = float(np.median(gd_slow[1:] / gd_slow[:-1]))
    err = np.linalg.norm(qp["momentum (velocity form)"], axis=1)
    win = 60  # the error oscillates (complex modes): compare its envelopes, the maxima over a window
    mom_rate = float((err[-win:].max() / err[:win].max()) ** (1.0 / (q_steps - win)))
    # theory: each eigenvalue lam gives the recurrence e_(k+1) = (1 + b - a lam) e_k - b e_(k-1)
    mom_theory = max(float(np.abs(np.roots([1.0, -(1 + b - a * lam), b])).max()) for lam in evals)
    dist = {k: float(np.linalg.norm(p[-1] - np.array([1.0, 1.0]))) for k, p in rp.items()}
    numbers = {
        "quadratic": {"H": h, "eigenvalues": evals, "start": q0, "steps": q_steps, "lr": a, "momentum": b,
                      "final_loss": {k: float(v[-1]) for k, v in qv.items()}, "loss": qv, "paths": qp},
        "rosenbrock": {"start": r0, "steps": r_steps, "final_loss": {k: float(v[-1]) for k, v in rv.items()},
                       "distance_to_minimum": dist, "loss": {k: thin(v) for k, v in rv.items()},
                       "paths": {k: thin(v) for k, v in rp.items()}, "stored_every": int(np.ceil(r_steps / 400))},
        "forms_max_difference_constant_lr": same,
        "rate_change_step": big_k, "rate_drop": drop, "first_differing_iterate": first,
        "difference_at_first": vel[big_k + 1] - hb[big_k + 1], "predicted_difference": predicted,
        "max_difference_after_change": float(gap.max()),
        "velocity_vs_rescaled_heavy_ball": float(np.abs(vel - hb_rescaled).max()),
        "gd_slow_rate": gd_rate, "gd_slow_rate_theory": 1 - a * mu,
        "momentum_rate": mom_rate, "momentum_rate_theory": mom_theory, "sqrt_b": math.sqrt(b),
    }  # fmt: skip
    fq = numbers["quadratic"]["final_loss"]
    order = sorted(fq, key=fq.get)
    finding = (
        f"Quadratic f = 1/2 t^T H t, eigenvalues {mu:g} and {big:g} (condition number {big / mu:g}), from {q0}, "
        f"learning rate a = {a * big:g}/L = {a:g}, momentum b = {b}.\n"
        f"Heavy ball (by hand, gradients from autograd) and gb.optim.SGD's velocity form agree to {same:.1e} over "
        f"{q_steps} steps. With the rate cut to {drop:g}a at step {big_k} they agree through iterate {first - 1} and "
        f"part at iterate {first}: the velocity form's step is -a_k g_k + b (a_k/a_(k-1)) (theta_k - theta_(k-1)), "
        f"so the first gap is b (a_k/a_(k-1) - 1)(theta_K - theta_(K-1)) = {np.array2string(predicted, precision=4)} "
        f"(measured {np.array2string(vel[big_k + 1] - hb[big_k + 1], precision=4)}); heavy ball with momentum "
        f"b a_k/a_(k-1) reproduces the velocity form to {numbers['velocity_vs_rescaled_heavy_ball']:.1e}.\n"
        f"Rates: gradient descent shrinks the slow direction by {gd_rate:.6f} per step (1 - a mu = {1 - a * mu:.6f}); "
        f"momentum shrinks the error by {mom_rate:.4f} per step (the largest root of z^2 - (1 + b - a lam) z + b over "
        f"both eigenvalues: {mom_theory:.4f}; sqrt(b) = {math.sqrt(b):.4f} when every mode oscillates). "
        f"Loss after {q_steps} steps: " + ", ".join(f"{k} {fq[k]:.2e}" for k in order) + ".\n"
        f"Rosenbrock from {r0}, {r_steps} steps (GD and momentum a = 1e-3 with b = 0.9, RMSProp 1e-2, Adam 5e-2): distance to the "
        f"minimum (1, 1): " + ", ".join(f"{k} {v:.3g}" for k, v in sorted(dist.items(), key=lambda kv: kv[1])) + "."
    )
    return Result(finding, numbers, _figure(numbers, qp, rp, qv, rv, quad, vel, hb, gap, big_k))


def _contours(ax, f: Objective, xs, ys, levels):
    xx, yy = np.meshgrid(xs, ys)
    pts = gb.tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=gb.float64)
    with gb.no_grad():
        zz = np.array([f(pts[i]).item() for i in range(len(pts))]).reshape(xx.shape)
    ax.contour(xx, yy, zz, levels=levels, colors="0.6", linewidths=0.8)


def _figure(numbers, qp, rp, qv, rv, quad, vel, hb, gap, big_k):
    fig, axes = plot.figure(3, 2, height=9.5, title="Optimizers on an ill-conditioned quadratic and on Rosenbrock")
    colors = dict(zip(list(qp), plot.COLORS))
    a = axes[0]
    _contours(a, quad, np.linspace(-5.5, 1.5, 36), np.linspace(-3.5, 1.5, 26), np.geomspace(0.02, 200, 14))
    for k, p in qp.items():
        if k != "heavy ball (by hand)":
            a.plot(p[:, 0], p[:, 1], color=colors[k], lw=1.4, marker=".", ms=3, label=k)
    a.plot(0, 0, "k*", ms=12)
    a.set(xlabel="θ₁", ylabel="θ₂", title=f"quadratic, condition number {numbers['quadratic']['eigenvalues'][1]:g}")
    a.set_aspect("equal")
    a.set(xlim=(-5.5, 1.5), ylim=(-3.5, 1.5))
    a.legend(fontsize=9, loc="upper left")
    b = axes[1]
    _contours(b, rosenbrock, np.linspace(-2, 2, 41), np.linspace(-1, 3, 41), np.geomspace(0.1, 2000, 14))
    for k, p in rp.items():
        b.plot(p[:, 0], p[:, 1], color=colors[k], lw=1.4, label=k)
    b.plot(1, 1, "k*", ms=12)
    b.set(xlabel="x", ylabel="y", title="Rosenbrock (1-x)² + 100(y-x²)²", xlim=(-2, 2), ylim=(-1, 3))
    b.legend(fontsize=9, loc="lower right")
    c = axes[2]
    const = np.linalg.norm(qp["heavy ball (by hand)"] - qp["momentum (velocity form)"], axis=1)
    c.semilogy(np.maximum(const, 1e-17), color=plot.COLORS[0], label="constant rate")
    c.semilogy(np.maximum(gap, 1e-17), color=plot.COLORS[3], label=f"rate x{numbers['rate_drop']:g} at step {big_k}")
    c.axvline(big_k, color="k", ls=":", lw=1)
    c.set(xlabel="step k", ylabel="‖θ_velocity − θ_heavy ball‖ (log scale)", title="the two momentum forms")
    c.legend(loc="center right")
    d = axes[3]
    for k, v in qv.items():
        if k != "heavy ball (by hand)":
            d.semilogy(v, color=colors[k], label=k)
    n = len(qv["gradient descent"]) - 1
    ks = np.arange(n + 1)
    f0 = qv["gradient descent"][0]
    d.semilogy(ks, f0 * numbers["gd_slow_rate_theory"] ** (2 * ks), "k:", lw=1.2, label="(1 − aμ)^(2k)")
    d.semilogy(ks, f0 * numbers["momentum_rate_theory"] ** (2 * ks), "k--", lw=1.2, label="momentum rate^(2k)")
    d.set(xlabel="step k", ylabel="f(θ_k) (log scale)", title="quadratic: loss per step", ylim=(1e-14, 1e3))
    d.legend(fontsize=9, loc="lower left")
    e = axes[4]
    for k, v in rv.items():
        e.semilogy(np.maximum(v, 1e-16), color=colors[k], label=k)
    e.set(xlabel="step k", ylabel="f(x_k, y_k) (log scale)", title="Rosenbrock: loss per step")
    e.legend(fontsize=9, loc="lower left")
    g = axes[5]
    g.semilogy(np.linalg.norm(vel, axis=1), color=plot.COLORS[1], label="velocity form (gb.optim.SGD)")
    g.semilogy(np.linalg.norm(hb, axis=1), color=plot.COLORS[3], ls="--", label="heavy ball (by hand)")
    g.axvline(big_k, color="k", ls=":", lw=1, label=f"rate x{numbers['rate_drop']:g} from step {big_k}")
    g.set(xlabel="step k", ylabel="‖θ_k − θ*‖ (log scale)", title="after the rate drop the forms part")
    g.legend(fontsize=9, loc="lower left")
    return fig
