"""Experiment 11, ``backprop-by-hand``: gradients derived by hand and computed with NumPy, beside
autograd's, for a 2-layer ReLU network and for linear regression trained with momentum; and
the graph of f = (x*y)*z drawn with its gradients."""

from __future__ import annotations

import os
import tempfile

import numpy as np

import gradbox as gb
from gradbox.lab import plot
from gradbox.lab.registry import Result, Settings, experiment


def two_layer_by_hand(
    w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray, x: np.ndarray, y: np.ndarray
) -> dict[str, np.ndarray]:
    """z1 = W1 x + b1, a1 = relu(z1), z2 = W2 a1 + b2, L = 1/2 sum ||z2 - y||^2 (columns are samples):
    dz2 = z2 - y, dW2 = dz2 a1^T, db2 = dz2 (summed over samples), da1 = W2^T dz2,
    dz1 = da1 * relu'(z1), dW1 = dz1 x^T, db1 = dz1."""
    z1 = w1 @ x + b1[:, None]
    a1 = np.maximum(z1, 0)
    z2 = w2 @ a1 + b2[:, None]
    dz2 = z2 - y
    da1 = w2.T @ dz2
    dz1 = da1 * (z1 > 0)
    return {"W1": dz1 @ x.T, "b1": dz1.sum(1), "W2": dz2 @ a1.T, "b2": dz2.sum(1), "loss": 0.5 * float((dz2**2).sum())}


def two_layer_autograd(
    w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray, x: np.ndarray, y: np.ndarray
) -> dict[str, np.ndarray]:
    """The same network and loss in gradbox; the gradients by autograd."""
    ps = {
        k: gb.tensor(v, dtype=gb.float64, requires_grad=True)
        for k, v in (("W1", w1), ("b1", b1), ("W2", w2), ("b2", b2))
    }
    xt, yt = gb.tensor(x, dtype=gb.float64), gb.tensor(y, dtype=gb.float64)
    a1 = gb.relu(ps["W1"] @ xt + ps["b1"][:, None])
    z2 = ps["W2"] @ a1 + ps["b2"][:, None]
    loss = 0.5 * ((z2 - yt) ** 2).sum()
    loss.backward()
    return {**{k: p.grad.numpy() for k, p in ps.items()}, "loss": loss.item()}


def regression(x: np.ndarray, y: np.ndarray, lr: float, momentum: float, steps: int) -> dict[str, np.ndarray]:
    """L(w, c) = 1/(2N) ||X w + c - y||^2 trained by momentum (v <- b v + g, theta <- theta - a v), once with the
    gradient by hand (dL/dw = X^T r / N, dL/dc = mean r, r = X w + c - y) in NumPy, once with autograd and
    gb.optim.SGD."""
    n, d = x.shape
    w, c, vw, vc = np.zeros(d), 0.0, np.zeros(d), 0.0
    hand, hand_loss = [np.append(w, c)], []
    for _ in range(steps):
        r = x @ w + c - y
        hand_loss.append(0.5 * float(r @ r) / n)
        gw, gc = x.T @ r / n, float(r.mean())
        vw, vc = momentum * vw + gw, momentum * vc + gc
        w, c = w - lr * vw, c - lr * vc
        hand.append(np.append(w, c))
    wt = gb.zeros(d, dtype=gb.float64, requires_grad=True)
    ct = gb.zeros((), dtype=gb.float64, requires_grad=True)
    opt = gb.optim.SGD([wt, ct], lr=lr, momentum=momentum)
    xt, yt = gb.tensor(x, dtype=gb.float64), gb.tensor(y, dtype=gb.float64)
    auto, auto_loss = [np.append(wt.detach().numpy(), ct.item())], []
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * ((xt @ wt + ct - yt) ** 2).mean()
        loss.backward()
        opt.step()
        auto_loss.append(loss.item())
        auto.append(np.append(wt.detach().numpy(), ct.item()))
    return {
        "hand": np.array(hand),
        "autograd": np.array(auto),
        "hand_loss": np.array(hand_loss),
        "autograd_loss": np.array(auto_loss),
    }


def fxyz() -> tuple[dict, object]:
    """f = (x*y)*z at x = -2, y = 5, z = 3: autograd's gradients, the hand ones (df/dx = y z,
    df/dy = x z, df/dz = x y = q, df/dq = z), and the drawn graph."""
    x, y, z = (gb.tensor(v, dtype=gb.float64, requires_grad=True) for v in (-2.0, 5.0, 3.0))
    q = x * y
    f = q * z
    q.retain_grad()
    f.backward()
    xv, yv, zv = -2.0, 5.0, 3.0
    out = {
        "f": f.item(), "q": q.item(),
        "autograd": {"x": x.grad.item(), "y": y.grad.item(), "z": z.grad.item(), "q": q.grad.item()},
        "hand": {"x": yv * zv, "y": xv * zv, "z": xv * yv, "q": zv},
    }  # fmt: skip
    return out, gb.inspect.draw_graph(f, params={"x": x, "y": y, "z": z, "q": q, "f": f})


@experiment(
    "backprop-by-hand",
    "Backpropagation by hand equals autograd",
    "A 2-layer ReLU network with squared loss, and linear regression trained with momentum: the hand-derived "
    "gradients (dW2 = dz2 a1^T, db2 = dz2, da1 = W2^T dz2, dz1 = da1 * relu'(z1), ...) computed with NumPy beside "
    "autograd's, equal; and the graph f = (x*y)*z drawn with its gradients.",
)
def run(s: Settings) -> Result:
    rng = np.random.default_rng(s.seed)
    d, h, o, batch = 4, 5, 3, 6
    w1, b1 = rng.normal(size=(h, d)), rng.normal(size=h)
    w2, b2 = rng.normal(size=(o, h)), rng.normal(size=o)
    x, y = rng.normal(size=(d, batch)), rng.normal(size=(o, batch))
    hand, auto = two_layer_by_hand(w1, b1, w2, b2, x, y), two_layer_autograd(w1, b1, w2, b2, x, y)
    diffs = {k: float(np.abs(hand[k] - auto[k]).max()) for k in ("W1", "b1", "W2", "b2")}
    n, dd = 64, 3
    xr = rng.normal(size=(n, dd)) * np.array([1.0, 2.0, 0.5])
    w_true, c_true = np.array([1.5, -0.7, 2.0]), 0.3
    yr = xr @ w_true + c_true + 0.1 * rng.normal(size=n)
    reg = regression(xr, yr, lr=0.05, momentum=0.9, steps=60 if s.quick else 150)
    reg_diff = float(np.abs(reg["hand"] - reg["autograd"]).max())
    exact = np.linalg.lstsq(np.c_[xr, np.ones(n)], yr, rcond=None)[0]
    g, graph = fxyz()
    fx_diff = max(abs(g["hand"][k] - g["autograd"][k]) for k in g["hand"])
    numbers = {
        "network": {"sizes": [d, h, o], "batch": batch, "hand": hand, "autograd": auto, "max_abs_difference": diffs},
        "regression": {
            **reg,
            "max_abs_difference": reg_diff,
            "least_squares": exact,
            "true": np.append(w_true, c_true),
        },
        "fxyz": {**g, "max_abs_difference": fx_diff},
    }
    fmt = lambda a: np.array2string(np.asarray(a), precision=4, separator=", ", suppress_small=True)
    lines = [
        f"2-layer ReLU network {d}-{h}-{o}, batch of {batch} (columns), L = 1/2 sum ||z2 - y||^2 = {hand['loss']:.4f}. "
        "By hand, in NumPy: dz2 = z2 - y; dW2 = dz2 a1^T; db2 = dz2 summed over the batch; da1 = W2^T dz2; "
        "dz1 = da1 * [z1 > 0]; dW1 = dz1 x^T; db1 = dz1 summed.",
        "  largest |hand - autograd|: " + ", ".join(f"d{k} {v:.1e}" for k, v in diffs.items()),
        f"  e.g. db2 by hand {fmt(hand['b2'])}, by autograd {fmt(auto['b2'])}",
        f"Linear regression (N = {n}, 3 features), L = 1/(2N) ||X w + c - y||^2, dL/dw = X^T r / N, dL/dc = mean r, "
        f"momentum 0.9, learning rate 0.05: the NumPy loop and gb.optim.SGD with autograd give the same iterates "
        f"over {len(reg['hand_loss'])} steps (largest difference {reg_diff:.1e}); the loss falls from "
        f"{reg['hand_loss'][0]:.3f} to {reg['hand_loss'][-1]:.4f}, (w, c) = {fmt(reg['hand'][-1])} against the least "
        f"squares solution {fmt(exact)}.",
        f"f = (x*y)*z at x = -2, y = 5, z = 3: q = x y = {g['q']:g}, f = {g['f']:g}; by hand df/dx = y z = "
        f"{g['hand']['x']:g}, df/dy = x z = {g['hand']['y']:g}, df/dz = x y = {g['hand']['z']:g}, df/dq = z = "
        f"{g['hand']['q']:g}; autograd agrees to {fx_diff:g}.",
    ]
    return Result("\n".join(lines), numbers, _figure(hand, auto, reg, graph))


def _figure(hand, auto, reg, graph):
    fig, ax = plot.mosaic(
        [["a", "b"], ["c", "c"]], height=9.0, title="Backpropagation by hand (NumPy) vs autograd",
        height_ratios=[1.0, 0.85],
    )  # fmt: skip
    a, b, c = ax["a"], ax["b"], ax["c"]
    for color, k in zip(plot.COLORS, ("W1", "b1", "W2", "b2")):
        a.scatter(np.ravel(hand[k]), np.ravel(auto[k]), s=30, color=color, label=f"d{k}", alpha=0.8)
    lim = max(float(np.abs(np.concatenate([np.ravel(hand[k]) for k in ("W1", "b1", "W2", "b2")])).max()), 1e-9) * 1.1
    a.plot([-lim, lim], [-lim, lim], "k--", lw=1, label="equal")
    a.set(xlabel="gradient entry by hand (NumPy)", ylabel="gradient entry by autograd",
          title="2-layer ReLU network: every gradient entry")  # fmt: skip
    a.legend(loc="upper left")
    steps = np.arange(len(reg["hand_loss"]))
    b.semilogy(steps, reg["hand_loss"], color=plot.COLORS[0], lw=3, label="NumPy, gradient by hand")
    b.semilogy(steps, reg["autograd_loss"], color=plot.COLORS[1], ls="--", label="autograd + gb.optim.SGD")
    b.set(xlabel="step", ylabel="loss 1/(2N)‖Xw + c − y‖² (log scale)", title="linear regression with momentum 0.9")
    b.legend(loc="upper right")
    c.axis("off")
    c.set_title("f = (x·y)·z at x = −2, y = 5, z = 3: gb.inspect.draw_graph, values and gradients ∂f/∂·")
    graph.rankdir = "LR"  # left to right: the graph fills the wide bottom row
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fxyz.png")
        try:
            saved = graph.save(path)
            import matplotlib.image  # deferred: see plot.style()

            c.imshow(matplotlib.image.imread(str(saved)))
        except Exception as e:  # noqa: BLE001 - no renderer: show the DOT text's gist instead of failing the experiment
            c.text(0, 0.5, f"graph rendering unavailable ({type(e).__name__}); DOT text:\n" + graph.source[:600],
                   fontsize=7, family="monospace", va="center")  # fmt: skip
    return fig
