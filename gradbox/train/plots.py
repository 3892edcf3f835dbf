"""Training curves: loss and accuracy against epochs, written atomically as a PNG (Agg backend).

The training curve is the running mean over each ~2% of an epoch (so a one-epoch run still
shows learning); validation points are the end-of-epoch evaluations.
"""

from __future__ import annotations

import os
from pathlib import Path


def plot_curves(
    history: list[dict], path: str | os.PathLike, steps: list[dict] | None = None, val_name: str = "validation"
) -> Path:
    import matplotlib  # deferred: matplotlib adds ~0.3 s to import gradbox, and its backend is set first

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # deferred: after the backend is chosen

    path = Path(path)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, vkey, scale in ((ax_loss, "loss", "val_loss", 1.0), (ax_acc, "acc", "val_acc", 100.0)):
        if steps:
            ax.plot([s["epoch"] for s in steps], [scale * s[key] for s in steps], label="train (running mean)", lw=1.2)
        else:
            ax.plot(
                [h["epoch"] for h in history], [scale * h[f"train_{key}"] for h in history], marker="o", label="train"
            )
        vals = [(h["epoch"], scale * h[vkey]) for h in history if h.get(vkey) is not None]
        if vals:
            ax.plot(*zip(*vals), marker="o", ls="--", label=val_name)
            ex, ey = vals[-1]
            ax.annotate(
                f"{ey:.2f}%" if key == "acc" else f"{ey:.4f}",
                (ex, ey),
                textcoords="offset points",
                xytext=(-10, 8),
                ha="right",
            )
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_loss.set(title="loss", xlabel="epoch", ylabel="cross-entropy", yscale="log")
    ax_acc.set(title="accuracy", xlabel="epoch", ylabel="%")
    lo = min([100 * s["acc"] for s in steps[len(steps) // 10 :]] if steps else [90.0])
    ax_acc.set_ylim(max(0.0, min(lo, 90.0)), 100.5)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path
