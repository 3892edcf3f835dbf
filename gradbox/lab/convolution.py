"""Experiment 7, ``conv-vs-correlation``: what a "convolution" layer computes (a correlation),
convolution by its definition, and why the difference vanishes once the filter is learned."""

from __future__ import annotations

import numpy as np

import gradbox as gb
from gradbox.lab import plot
from gradbox.lab.registry import Result, Settings, experiment


def correlate(x: np.ndarray, k: np.ndarray, pad: int = 0) -> np.ndarray:
    """Cross-correlation by its definition: out[i, j] = sum_(m, n) x_p[i + m, j + n] k[m, n] (x_p: x zero-padded)."""
    xp = np.pad(x, pad)
    kh, kw = k.shape
    out = np.zeros((xp.shape[0] - kh + 1, xp.shape[1] - kw + 1), dtype=np.result_type(x, k))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = sum(xp[i + m, j + n] * k[m, n] for m in range(kh) for n in range(kw))
    return out


def convolve_full(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Convolution by its definition: (x * k)[i, j] = sum_(m, n) x[i - m, j - n] k[m, n], every i, j where a
    term is non-zero (the "full" output, (H + kh - 1) x (W + kw - 1))."""
    h, w = x.shape
    kh, kw = k.shape
    out = np.zeros((h + kh - 1, w + kw - 1), dtype=np.result_type(x, k))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for m in range(kh):
                for n in range(kw):
                    if 0 <= i - m < h and 0 <= j - n < w:
                        out[i, j] += x[i - m, j - n] * k[m, n]
    return out


def convolve(x: np.ndarray, k: np.ndarray, pad: int = 0) -> np.ndarray:
    """The full convolution cropped like a correlation with ``pad`` zeros: rows kh-1-pad .. H-1+pad."""
    kh, kw = k.shape
    full = convolve_full(x, k)
    return full[kh - 1 - pad : x.shape[0] + pad, kw - 1 - pad : x.shape[1] + pad]


def conv2d(x: np.ndarray, k: np.ndarray, pad: int = 0) -> np.ndarray:
    """gradbox's F.conv2d (what every library calls convolution) on one single-channel image."""
    out = gb.nn.functional.conv2d(
        gb.tensor(x[None, None], dtype=gb.float64), gb.tensor(k[None, None], dtype=gb.float64), padding=pad
    )
    return out.numpy()[0, 0]


def table(a: np.ndarray) -> str:
    return "\n".join("    " + " ".join(f"{int(round(v)):4d}" for v in row) for row in np.asarray(a))


@experiment(
    "conv-vs-correlation",
    "Libraries compute correlation and call it convolution",
    "Correlation and convolution of a small integer image, with and without zero padding; convolution = "
    "correlation with the flipped kernel; libraries implement correlation because the filter is learned, so the "
    "flip is absorbed.",
)
def run(s: Settings) -> Result:
    rng = np.random.default_rng(s.seed)
    x = rng.integers(0, 10, (5, 5)).astype(float)
    k = rng.integers(-2, 3, (3, 3)).astype(float)
    while np.array_equal(k, k[::-1, ::-1]) or not k.any():  # a kernel its flip would not reproduce
        k = rng.integers(-2, 3, (3, 3)).astype(float)
    flip = k[::-1, ::-1]
    out = {}
    for pad in (0, 1):
        out[f"correlation, padding {pad}"] = correlate(x, k, pad)
        out[f"convolution, padding {pad}"] = convolve(x, k, pad)
    checks = {
        "conv2d_is_correlation": max(float(np.abs(conv2d(x, k, p) - correlate(x, k, p)).max()) for p in (0, 1)),
        "convolution_is_flipped_correlation": max(
            float(np.abs(convolve(x, k, p) - correlate(x, flip, p)).max()) for p in (0, 1)
        ),
        "conv2d_flipped_is_convolution": max(
            float(np.abs(conv2d(x, flip, p) - convolve(x, k, p)).max()) for p in (0, 1)
        ),
        "convolution_minus_correlation": float(
            np.abs(out["convolution, padding 0"] - out["correlation, padding 0"]).max()
        ),
        "convolution_commutes": float(np.abs(convolve_full(x, k) - convolve_full(k, x)).max()),
        "correlation_commutes": float(np.abs(correlate(x, k, 2) - correlate(k, x, 4)).max()),  # full outputs
        "correlation_swapped_is_flipped": float(np.abs(correlate(k, x, 4) - correlate(x, k, 2)[::-1, ::-1]).max()),
    }
    learned = learn_convolution(k, steps=60 if s.quick else 200, seed=s.seed)
    numbers = {"image": x, "kernel": k, "flipped_kernel": flip, "outputs": out, **checks, "learning": learned}
    lines = [
        f"image x (5x5):\n{table(x)}",
        f"kernel k (3x3):\n{table(k)}",
        f"correlation (what F.conv2d computes), no padding (3x3):\n{table(out['correlation, padding 0'])}",
        f"convolution by its definition sum x[i-m, j-n] k[m, n], no padding (3x3):\n{table(out['convolution, padding 0'])}",
        f"correlation, zero padding 1 (5x5):\n{table(out['correlation, padding 1'])}",
        f"convolution, zero padding 1 (5x5):\n{table(out['convolution, padding 1'])}",
        f"F.conv2d equals the correlation by its definition (largest difference {checks['conv2d_is_correlation']:g}); "
        f"convolution equals correlation with the kernel flipped in both axes ({checks['convolution_is_flipped_correlation']:g}), "
        f"with or without padding; without the flip the two differ by up to {checks['convolution_minus_correlation']:g}. "
        f"Convolution commutes (x * k = k * x, full outputs: {checks['convolution_commutes']:g}); correlation does not "
        f"(swapping x and k changes the output by up to {checks['correlation_commutes']:g}: it comes out rotated by 180 "
        f"degrees, to {checks['correlation_swapped_is_flipped']:g}).",
        f"Learned: a Conv2d(1, 1, 3, bias=False) trained by SGD to reproduce the true convolution with k on random "
        f"images reaches loss {learned['loss'][-1]:.1e} with weight {np.array2string(np.round(learned['weight'], 3) + 0.0, separator=', ')}".replace(
            "\n", ""
        )
        + f", which is flip(k) to {learned['distance_to_flip'][-1]:.1e} (and {learned['distance_to_k']:.2f} from k "
        f"itself): the layer learns the flipped filter, so computing correlation loses nothing.",
    ]
    return Result("\n".join(lines), numbers, _figure(x, k, flip, out, learned, checks))


def learn_convolution(k: np.ndarray, steps: int, seed: int) -> dict:
    """Fit nn.Conv2d (a correlation) to targets made by true convolution with ``k``; track its weight."""
    rng = np.random.default_rng(seed + 1)
    images = rng.normal(size=(16, 1, 10, 10))
    targets = np.stack([convolve(im[0], k)[None] for im in images])
    layer = gb.nn.Conv2d(1, 1, 3, bias=False).double()
    opt = gb.optim.SGD(layer.parameters(), lr=0.4)
    xs, ys = gb.tensor(images, dtype=gb.float64), gb.tensor(targets, dtype=gb.float64)
    flip = k[::-1, ::-1]
    losses, dist = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = gb.nn.functional.mse_loss(layer(xs), ys)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        dist.append(float(np.abs(layer.weight.detach().numpy()[0, 0] - flip).max()))
    w = layer.weight.detach().numpy()[0, 0]
    return {"loss": np.array(losses), "distance_to_flip": np.array(dist), "weight": w,
            "distance_to_k": float(np.abs(w - k).max())}  # fmt: skip


def _figure(x, k, flip, out, learned, checks):
    fig, axes = plot.figure(
        5, 2, height=7.2, title="Correlation (what conv layers compute) vs convolution (the flipped kernel)"
    )
    plot.annotate_grid(axes[0], x, "{:.0f}", cmap="Greys", title="image x")
    axes[0].images[0].set_clim(-2, 12)
    plot.annotate_grid(axes[1], k, "{:.0f}", title="kernel k")
    plot.annotate_grid(axes[2], flip, "{:.0f}", title="flip(k), both axes reversed")
    plot.annotate_grid(
        axes[3], np.round(learned["weight"], 2) + 0.0, "{:.2f}", title="Conv2d weight learned\nfrom true convolutions"
    )
    e = axes[4]
    e.semilogy(learned["loss"], label="loss (MSE)")
    e.semilogy(learned["distance_to_flip"], label="max |W − flip(k)|")
    e.set(xlabel="SGD step", ylabel="value (log scale)", title="learning the filter")
    e.legend(fontsize=9)
    for ax, key in zip(axes[5:9], out):
        plot.annotate_grid(ax, out[key], "{:.0f}", title=key.replace(", ", "\n"))
    f = axes[9]
    f.axis("off")
    f.text(
        0.0, 0.5,
        "convolution:  Σ x[i−m, j−n] k[m, n]\ncorrelation:  Σ x[i+m, j+n] k[m, n]\n\nmax |F.conv2d(x, k) − correlation|\n"
        f"  = {checks['conv2d_is_correlation']:g}\nmax |F.conv2d(x, flip k) − convolution|\n"
        f"  = {checks['conv2d_flipped_is_convolution']:g}",
        fontsize=9.5, va="center", family="monospace",
    )  # fmt: skip
    return fig
