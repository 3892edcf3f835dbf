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


def descend(
    f: Objective,
    start: tuple[float, float],
    steps: int,
    make_opt: Callable[[list[gb.Tensor]], gb.optim.Optimizer],
    lr_at: Callable[[int], float] | None = None,
    state: str | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Iterates theta_0..theta_steps of a gb.optim optimizer (``make_opt(params)``) on f; with
    ``lr_at``, the learning rate of step k is set to lr_at(k) before the step. With ``state``, also
    that entry of the optimizer's state after each step (e.g. RMSprop's ``square_avg``)."""
    t = gb.tensor(np.array(start, dtype=float), dtype=gb.float64, requires_grad=True)
    opt = make_opt([t])
    path, kept = [t.detach().numpy().copy()], []
    for k in range(steps):
        if lr_at is not None:
            for group in opt.param_groups:
                group["lr"] = lr_at(k)
        opt.zero_grad()
        f(t).backward()
        opt.step()
        path.append(t.detach().numpy().copy())
        if state is not None:
            kept.append(opt.state[t][state].numpy().copy())
    return (np.array(path), np.array(kept)) if state is not None else np.array(path)


def heavy_ball(
    f: Objective, start: tuple[float, float], steps: int, lr_at: Callable[[int], float], b_at: Callable[[int], float]
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
    """f at each point of a path."""
    with gb.no_grad():
        return np.array([f(gb.tensor(p, dtype=gb.float64)).item() for p in path])


def sharpness(h: np.ndarray, square_avg: np.ndarray, lrs: np.ndarray, eps: float) -> np.ndarray:
    """lambda_max(P_k H) of each RMSProp step k, P_k = diag(lr_k / (sqrt(v_k) + eps)) from the running
    mean v_k of g^2 recorded after the step (``square_avg``): the step is stable while it is below 2."""
    out = []
    for v, lr in zip(square_avg, lrs):
        root = np.sqrt(lr / (np.sqrt(v) + eps))
        out.append(float(np.linalg.eigvalsh(root[:, None] * h * root[None, :]).max()))  # P^1/2 H P^1/2 ~ P H
    return np.array(out)


def rmsprop_cycle(h: np.ndarray, loss: np.ndarray, square_avg: np.ndarray, lr: float, alpha: float, eps: float) -> dict:
    """RMSProp at a constant rate on f = 1/2 t^T H t: the sharpness of each step, the step where it
    first passes 2, where the loss stops falling, and the spike that follows."""
    sharp = sharpness(h, square_avg, np.full(len(square_avg), lr), eps)
    above = sharp > 2
    cross = int(np.argmax(above))  # step k: theta_(k+1) = theta_k - P_k g_k
    ups = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    later = [int(u) for u in ups if u > cross]
    spike = cross + int(np.argmax(loss[cross:] > 1e3 * loss[: cross + 1].min()))
    turn = int(np.argmin(loss[:spike]))
    top = spike + int(np.argmax(loss[spike : (later[0] if later else len(loss))]))
    window = 50
    return {
        "lr": lr, "alpha": alpha, "sharpness": sharp, "cross": cross, "crossings": int(above[0]) + len(ups),
        "next_cross": later[0] if later else None, "turn": turn, "spike": top, "spike_loss": float(loss[top]),
        "loss_at_cross": float(loss[cross]), "loss_at_turn": float(loss[turn]),
        "sharpness_after_spike": float(sharp[top : (later[0] if later else len(sharp))].min()),
        "decreasing_before_cross": bool(np.all(np.diff(loss[: cross + 1]) < 0)),
        "growth": float((sharp[cross] / sharp[cross - window]) ** (1 / window)), "growth_bound": 1 / math.sqrt(alpha),
    }  # fmt: skip


def _bounce_text(b: dict, distance: float) -> str:
    if not b["bouncing"]:
        return f" RMSProp's last {b['window']} steps are {b['step_min']:.3g} to {b['step_max']:.3g} long: still moving."
    return (
        f" RMSProp ends bouncing across the valley: over the last {b['window']} steps every step has length "
        f"{b['step_min']:.5f} to {b['step_max']:.5f}, i.e. a sqrt(2) = {b['a_sqrt2']:.5f} (each coordinate moves by a: "
        f"|g_i|/sqrt(v_i) -> 1 when |g_i| repeats), and theta_(k+2) is within {b['period2']:.1e} of theta_k "
        f"(period 2): with a constant rate it stalls {distance:.3g} from the minimum instead of converging."
    )


def bounce(path: np.ndarray, lr: float, window: int = 200) -> dict:
    """The last ``window`` steps of a path: step lengths against lr sqrt(2) (RMSProp moving each
    coordinate by lr), and how far theta_(k+2) is from theta_k (a period-2 bounce)."""
    tail = path[-window - 2 :]
    steps = np.linalg.norm(np.diff(tail, axis=0), axis=1)
    return {"window": window, "step_min": float(steps.min()), "step_max": float(steps.max()),
            "a_sqrt2": lr * math.sqrt(2.0), "period2": float(np.linalg.norm(tail[2:] - tail[:-2], axis=1).max()),
            "bouncing": bool(np.all(np.abs(steps / (lr * math.sqrt(2.0)) - 1) < 0.01))}  # fmt: skip


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
    q_steps, r_steps = 300, 3000  # cheap enough for the quick run too; 300 steps show two of RMSProp's cycles
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
    qp = {k: descend(quad, q0, q_steps, m) for k, m in quad_methods.items() if k != "RMSProp"}
    qp["RMSProp"], square_avg = descend(quad, q0, q_steps, quad_methods["RMSProp"], state="square_avg")
    qp = {k: qp[k] for k in quad_methods}  # the legend's order
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
    rms = rmsprop_cycle(h, qv["RMSProp"], square_avg, lr=0.1, alpha=0.99, eps=1e-8)
    decay = lambda k: 0.1 * 0.99 ** (k / 2)  # a_k = a alpha^(k/2): cancels the decay of sqrt(v) once g is small
    dpath, dsq = descend(quad, q0, q_steps, quad_methods["RMSProp"], lr_at=decay, state="square_avg")
    dloss = values(quad, dpath)
    rms["decayed"] = {"sharpness": sharpness(h, dsq, np.array([decay(k) for k in range(q_steps)]), 1e-8), "loss": dloss,
                      "decreasing": bool(np.all(np.diff(dloss) < 0)), "final_loss": float(dloss[-1])}  # fmt: skip
    rms["decayed"]["max_sharpness"] = float(rms["decayed"]["sharpness"].max())
    rms["rosenbrock"] = bounce(rp["RMSProp"], lr=1e-2)
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
        "rmsprop": rms,
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
        f"RMSProp (a = 0.1, alpha = 0.99) does not settle at a constant rate. Its step is P g with P = diag(a/sqrt(v)), "
        f"so it is stable while the largest eigenvalue of P H is below 2. As the gradients shrink, v (a running mean "
        f"of g^2) shrinks by at most a factor alpha per step, so a/sqrt(v) grows by up to 1/sqrt(alpha) = {rms['growth_bound']:.5f} "
        f"per step (measured {rms['growth']:.5f}): lambda_max(P H) rises from {rms['sharpness'][0]:.2f} and passes 2 "
        f"at step {rms['cross']}. From then on each step multiplies that mode by |1 - lambda_max| > 1 (barely above 1 at first); the "
        f"loss, {rms['loss_at_cross']:.1e} there, keeps falling until the growing mode overtakes the rest at step {rms['turn']} "
        f"({rms['loss_at_turn']:.1e}), then jumps to {rms['spike_loss']:.2g} at step {rms['spike']}. The large "
        f"gradients refill v, lambda_max(P H) drops to {rms['sharpness_after_spike']:.2f} and the loss falls again, "
        f"until the next crossing (step {rms['next_cross']}): {rms['crossings']} crossings in {q_steps} steps, a "
        f"cycle, not a bug. With the rate decayed as a_k = a alpha^(k/2), which cancels v's decay, lambda_max(P H) "
        f"never exceeds {rms['decayed']['max_sharpness']:.2f}, the loss "
        f"{'falls at every step' if rms['decayed']['decreasing'] else 'still rises at some steps'} and reaches {rms['decayed']['final_loss']:.1e} at step {q_steps}.\n"
        f"Rosenbrock from {r0}, {r_steps} steps (GD and momentum a = 1e-3 with b = 0.9, RMSProp 1e-2, Adam 5e-2): distance to the "
        f"minimum (1, 1): "
        + ", ".join(f"{k} {v:.3g}" for k, v in sorted(dist.items(), key=lambda kv: kv[1]))
        + "."
        + _bounce_text(rms["rosenbrock"], dist["RMSProp"])
    )
    rescaled_gap = np.linalg.norm(vel - hb_rescaled, axis=1)
    return Result(finding, numbers, _figure(numbers, qp, rp, qv, rv, quad, gap, rescaled_gap, big_k))


def _contours(ax, f: Objective, xs, ys, levels):
    xx, yy = np.meshgrid(xs, ys)
    pts = gb.tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=gb.float64)
    with gb.no_grad():
        zz = np.array([f(pts[i]).item() for i in range(len(pts))]).reshape(xx.shape)
    ax.contour(xx, yy, zz, levels=levels, colors="0.6", linewidths=0.8)


def _figure(numbers, qp, rp, qv, rv, quad, gap, rescaled_gap, big_k):
    fig, axes = plot.figure(3, 2, height=9.5, title="Optimizers on an ill-conditioned quadratic and on Rosenbrock")
    colors = dict(zip(list(qp), plot.COLORS))
    rms = numbers["rmsprop"]
    a = axes[0]
    _contours(a, quad, np.linspace(-5.5, 1.5, 36), np.linspace(-5.5, 3.5, 46), np.geomspace(0.02, 200, 14))
    for k, p in qp.items():
        if k != "heavy ball (by hand)":
            a.plot(p[:, 0], p[:, 1], color=colors[k], lw=1.4, marker=".", ms=3, label=k)
    a.plot(0, 0, "k*", ms=12)
    a.set(xlabel="θ₁", ylabel="θ₂", title=f"quadratic, condition number {numbers['quadratic']['eigenvalues'][1]:g}")
    a.set(xlim=(-5.5, 1.5), ylim=(-4.2, 2.0))  # about the panel's shape, so equal axes hardly shrink it
    a.set_aspect("equal")
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
    c.semilogy(np.maximum(gap, 1e-17), color=plot.COLORS[3], label=f"rate ×{numbers['rate_drop']:g} from step {big_k}")
    c.semilogy(np.maximum(rescaled_gap, 1e-17), color=plot.COLORS[2], ls="--",
               label="same, heavy ball with b·a_k/a_(k−1)")  # fmt: skip
    c.axvline(big_k, color="k", ls=":", lw=1)
    c.set(xlabel="step k", ylabel="‖θ_velocity − θ_heavy ball‖ (log scale)", ylim=(3e-18, 30),
          title="the two momentum forms (0 drawn at 1e-17)")  # fmt: skip
    c.legend(fontsize=9, loc="center right")
    d = axes[3]
    for k, v in qv.items():
        if k != "heavy ball (by hand)":
            d.semilogy(v, color=colors[k], label=k)
    n = len(qv["gradient descent"]) - 1
    ks = np.arange(n + 1)
    f0 = qv["gradient descent"][0]
    d.semilogy(ks, f0 * numbers["gd_slow_rate_theory"] ** (2 * ks), "k:", lw=1.2, label="(1 − aμ)^(2k)")
    d.semilogy(ks, f0 * numbers["momentum_rate_theory"] ** (2 * ks), "k--", lw=1.2, label="momentum rate^(2k)")
    d.set(xlabel="step k", ylabel="f(θ_k) (log scale)", title="quadratic: loss per step", ylim=(1e-14, 1e9))
    d.legend(fontsize=9, loc="upper right", framealpha=0.95)
    e = axes[4]
    for k, v in rv.items():
        e.semilogy(np.maximum(v, 1e-16), color=colors[k], label=k)
    e.set(xlabel="step k", ylabel="f(x_k, y_k) (log scale)", title="Rosenbrock: loss per step")
    e.legend(fontsize=9, loc="lower left")
    g = axes[5]
    sharp = np.asarray(rms["sharpness"])
    g.plot(np.arange(len(sharp)), sharp, color=colors["RMSProp"], label="λ_max(P H) of RMSProp's step (left axis)")
    dec = rms["decayed"]
    g.plot(np.asarray(dec["sharpness"]), color=colors["RMSProp"], ls="--", lw=1.5, label="same, rate a·α^(k/2) (left)")
    g.axhline(2.0, color="k", ls="--", lw=1.2, label="2: beyond it the stiff direction grows")
    g.axvline(rms["cross"], color="0.4", ls=":", lw=1.2)
    g.set(xlabel="step k", ylabel="λ_max(P H), P = diag(a/√v)", ylim=(0, 6.5),
          title=f"RMSProp on the quadratic: unstable from step {rms['cross']}")  # fmt: skip
    g2 = g.twinx()
    g2.semilogy(qv["RMSProp"], color="0.35", lw=1.3, label="RMSProp loss f(θ_k) (right axis)")
    g2.semilogy(np.asarray(dec["loss"]), color="0.35", ls="--", lw=1.2, label="its loss with the decaying rate (right)")
    g2.set(ylabel="f(θ_k) (log scale)", ylim=(1e-10, 1e10))
    g2.grid(False)
    h1, l1 = g.get_legend_handles_labels()
    h2, l2 = g2.get_legend_handles_labels()
    g.legend(h1 + h2, l1 + l2, fontsize=9, loc="upper left", framealpha=0.95)
    return fig
