"""Figures for the lab: matplotlib ``Figure`` objects (no pyplot state, Agg when saved), in one
style sized for the docs, where a picture is shown about 900 pixels wide."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

STYLE = {
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "legend.fontsize": 10,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "figure.titlesize": 15,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 2.0,
    "savefig.dpi": 100,
}
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The lab's matplotlib settings, for building and saving its figures."""
    import matplotlib  # deferred: only the lab's figures need matplotlib (~0.3 s to import)

    with matplotlib.rc_context(STYLE):
        yield


def figure(
    ncols: int = 1, nrows: int = 1, width: float = 14.0, height: float = 4.6, title: str = "", **kw: Any
) -> tuple[Any, list[Any]]:
    """A constrained-layout Figure and its axes (a flat list), ``width`` x ``height`` inches."""
    from matplotlib.figure import Figure  # deferred: see style()

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    if title:
        fig.suptitle(title, fontweight="bold")
    return fig, [ax for row in axes for ax in row]


def mosaic(
    layout: list[list[str]], width: float = 14.0, height: float = 8.0, title: str = "", **kw: Any
) -> tuple[Any, dict[str, Any]]:
    """A constrained-layout Figure laid out by ``subplot_mosaic`` (panels spanning cells) and its
    axes by name."""
    from matplotlib.figure import Figure  # deferred: see style()

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplot_mosaic(layout, **kw)
    if title:
        fig.suptitle(title, fontweight="bold")
    return fig, axes


def save(fig: Any, path: str | os.PathLike) -> Path:
    """Write ``fig`` as a PNG (written to a temporary name, then renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with style():
        fig.savefig(tmp, format="png", metadata={"Software": None})
    os.replace(tmp, path)
    return path


def annotate_grid(ax: Any, values: Any, fmt: str = "{:g}", cmap: str = "coolwarm", title: str = "") -> None:
    """Show a small 2-D array as coloured cells with each value written in its cell."""
    a = np.asarray(values, dtype=float)
    lim = float(np.abs(a).max()) or 1.0
    ax.imshow(a, cmap=cmap, vmin=-lim, vmax=lim)
    for (i, j), v in np.ndenumerate(a):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=10 if a.shape[1] <= 6 else 8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title, fontsize=11)
