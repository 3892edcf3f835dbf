"""grid_sample (sampling an image at arbitrary points) and ctc_loss (the connectionist temporal
classification loss), with PyTorch's signatures and conventions. Both compose gradbox ops, so
their gradients (to the image and to the sampling grid; to the log-probabilities) are the
compositions', the ones PyTorch's hand-written kernels compute.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from gradbox import ops
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._util import const
from gradbox.ops.elementwise import Clamp
from gradbox.tensor import Tensor


def _unnormalize(c: Tensor, size: int, align_corners: bool) -> Tensor:
    return (c + 1.0) * ((size - 1) / 2.0) if align_corners else ((c + 1.0) * size - 1.0) / 2.0


def _clip(c: Tensor, size: int) -> Tensor:
    dt = c._data.dtype.type
    return Clamp.apply(c, lo=dt(0), hi=dt(size - 1), strict=True)  # no gradient at or beyond the edges


def _reflect(c: Tensor, twice_low: int, twice_high: int) -> Tensor:
    if twice_low == twice_high:
        return c * 0.0
    lo, span = twice_low / 2.0, (twice_high - twice_low) / 2.0
    a = ops.abs(c - lo)
    extra = ops.fmod(a, span)
    even = const(np.floor(a._data / span) % 2 == 0)
    return ops.where(even, extra + lo, (span - extra) + lo)


def _pad_coord(c: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    if padding_mode == "border":
        return _clip(c, size)
    if padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (size - 1)) if align_corners else _reflect(c, -1, 2 * size - 1)
        return _clip(c, size)
    return c


def _pad_index(i: np.ndarray, size: int, padding_mode: str, align_corners: bool) -> np.ndarray:
    """An integer tap position through the padding (bicubic's get_value_bounded)."""
    return _pad_coord(Tensor._wrap(i.astype(np.float64)), size, padding_mode, align_corners)._data


def _cubic(t: Tensor) -> list[Tensor]:
    a = -0.75

    def near(x):
        return ((x * (a + 2) - (a + 3)) * x) * x + 1.0

    def far(x):
        return ((x * a - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]


@op(
    OpMath(
        "y[n, c, p] = sum over the taps t around the point grid[n, p] of w_t(grid) * x[n, c, t]",
        grads=("the tap weights times g, added onto x's taps", "g * x_t * dw_t/dgrid, summed over taps and channels"),
        inputs=("x", "grid"),
        note="grid holds (x, y[, z]) in [-1, 1]; bilinear: 2^d taps, nearest: 1, bicubic (2-D): 16 taps of the "
        "A = -0.75 kernel; padding 'zeros' (outside taps count 0), 'border' or 'reflection'. As PyTorch.",
    )
)
def grid_sample(
    input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros", align_corners: bool | None = None
) -> Tensor:
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(
            f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: '{mode}'"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or 'reflection', but got: '{padding_mode}'"
        )
    ac = bool(align_corners)
    d = input.ndim - 2
    if d not in (2, 3) or grid.ndim != d + 2 or grid.shape[-1] != d or grid.shape[0] != input.shape[0]:
        raise RuntimeError(
            f"grid_sample(): expected a 4-D or 5-D input and a grid (N, ..., {d}), got {tuple(input.shape)} and {tuple(grid.shape)}"
        )
    if mode == "bicubic" and d != 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    n = input.shape[0]
    spatial = input.shape[2:]
    out = tuple(grid.shape[1:-1])
    coords = []
    for i, size in enumerate(spatial):  # grid's last entry is the last spatial dim (x -> W)
        c = _unnormalize(ops.select(grid, -1, d - 1 - i), size, ac)
        coords.append(c if mode == "bicubic" else _pad_coord(c, size, padding_mode, ac))
    n_idx = np.arange(n).reshape((n,) + (1,) * len(out))
    n_idx = np.broadcast_to(n_idx, (n,) + out)
    dt = input._data.dtype

    def gather(idx: list[np.ndarray], weight: Tensor) -> Tensor:
        inside = np.ones((n,) + out, dtype=bool)
        safe = []
        for ix, size in zip(idx, spatial):
            inside &= (ix >= 0) & (ix <= size - 1)
            safe.append(np.clip(ix, 0, size - 1).astype(np.int64))
        vals = ops.getitem(input, (Tensor._wrap(n_idx), slice(None), *[Tensor._wrap(s) for s in safe]))  # (N, *out, C)
        w = weight * const(inside.astype(dt))
        return vals * ops.unsqueeze(w, -1)

    total = None
    if mode == "nearest":
        idx = [np.rint(c._data).astype(np.int64) for c in coords]
        total = gather(idx, Tensor._wrap(np.ones((n,) + out, dtype=dt)))
    elif mode == "bilinear":
        lows = [np.floor(c._data) for c in coords]
        fracs = [c - const(lo) for c, lo in zip(coords, lows)]
        for corner in itertools.product((0, 1), repeat=d):
            w = None
            for k, f in zip(corner, fracs):
                part = f if k else 1.0 - f
                w = part if w is None else w * part
            term = gather([(lo + k).astype(np.int64) for lo, k in zip(lows, corner)], w)
            total = term if total is None else total + term
    else:
        lows = [np.floor(c._data) for c in coords]
        taps = [_cubic(c - const(lo)) for c, lo in zip(coords, lows)]
        for ky, kx in itertools.product(range(4), repeat=2):
            iy = _pad_index(lows[0] - 1 + ky, spatial[0], padding_mode, ac)
            ix = _pad_index(lows[1] - 1 + kx, spatial[1], padding_mode, ac)
            term = gather([iy.astype(np.int64), ix.astype(np.int64)], taps[0][ky] * taps[1][kx])
            total = term if total is None else total + term
    return ops.movedim(total, -1, 1)


def _logsumexp(parts: list[Tensor]) -> Tensor:
    """log sum exp over a few same-shape tensors that may be -inf, with 0 gradient where all are -inf."""
    m = np.maximum.reduce([p._data for p in parts])
    m = np.where(np.isfinite(m), m, 0).astype(m.dtype)
    s = None
    for p in parts:
        e = ops.exp(p - const(m))
        s = e if s is None else s + e
    empty = const(s._data == 0)
    return ops.where(empty, -np.inf, ops.log(ops.where(empty, 1.0, s)) + const(m))


@op(
    OpMath(
        "l_n = -log sum over the alignments of target n to the T_n frames of prod_t p_t(symbol), blanks allowed",
        grads=("the gradient of the forward (alpha) recursion in log space",),
        note="As PyTorch, the gradient takes log_probs to be log_softmax outputs (it adds exp(log_probs)). "
        "log_probs (T, N, C) (or (T, C)); blank is a class index; 'mean' divides each loss by its target length "
        "and averages; zero_infinity turns impossible alignments' inf into 0 (and their gradient into 0).",
    )
)
def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    batched = log_probs.ndim == 3
    lp = log_probs if batched else ops.unsqueeze(log_probs, 1)
    t_max, n, _ = lp.shape
    in_len = np.asarray(
        input_lengths._data if isinstance(input_lengths, Tensor) else input_lengths, dtype=np.int64
    ).reshape(-1)
    tg_len = np.asarray(
        target_lengths._data if isinstance(target_lengths, Tensor) else target_lengths, dtype=np.int64
    ).reshape(-1)
    tg = targets._data
    if not batched and tg.ndim == 1:
        tg = tg.reshape(1, -1)
    if tg.ndim == 1:  # concatenated targets
        offs = np.concatenate([[0], np.cumsum(tg_len)[:-1]])
        rows = [tg[o : o + k] for o, k in zip(offs, tg_len)]
    else:
        rows = [tg[i, :k] for i, k in enumerate(tg_len)]
    s_max = 2 * int(tg_len.max(initial=0)) + 1
    ext = np.full((n, s_max), blank, dtype=np.int64)  # blank, l1, blank, l2, ..., blank
    skip = np.zeros((n, s_max), dtype=bool)  # may come from s - 2 (a label differing from the one before)
    for i, r in enumerate(rows):
        ext[i, 1 : 2 * len(r) : 2] = r
        for j in range(1, len(r)):
            skip[i, 2 * j + 1] = r[j] != r[j - 1]
    valid = np.arange(s_max)[None, :] < (2 * tg_len[:, None] + 1)
    b_idx = np.arange(n)[:, None]
    emit = ops.getitem(
        lp, (slice(None), Tensor._wrap(np.broadcast_to(b_idx, (n, s_max))), Tensor._wrap(ext))
    )  # (T, N, S)
    dt = lp._data.dtype
    neg = np.full((n, s_max), -np.inf, dtype=dt)
    start = np.where(
        (np.arange(s_max)[None, :] < 2) & valid & (np.arange(s_max)[None, :] < 2 * tg_len[:, None] + 1), 0.0, -np.inf
    )
    alpha = ops.getitem(emit, 0) + const(start.astype(dt))
    for t in range(1, t_max):
        prev1 = ops.pad(alpha, (1, 0), value=-math.inf)[:, :s_max]
        prev2 = ops.pad(alpha, (2, 0), value=-math.inf)[:, :s_max]
        prev2 = ops.where(const(skip), prev2, -math.inf)
        new = _logsumexp([alpha, prev1, prev2]) + ops.getitem(emit, t)
        new = ops.where(const(valid), new, const(neg))
        alpha = ops.where(const(np.broadcast_to((t < in_len)[:, None], (n, s_max))), new, alpha)
    last = np.clip(2 * tg_len, 0, s_max - 1)
    end1 = ops.getitem(alpha, (Tensor._wrap(np.arange(n)), Tensor._wrap(last)))
    end2 = ops.getitem(alpha, (Tensor._wrap(np.arange(n)), Tensor._wrap(np.clip(last - 1, 0, s_max - 1))))
    end2 = ops.where(const(tg_len > 0), end2, -math.inf)
    loss = -_logsumexp([end1, end2])
    # PyTorch's gradient takes log_probs to be log_softmax outputs: it carries an extra exp(log_probs) per
    # frame used (which the softmax normalisation cancels). A zero-valued term adds exactly that.
    frames = const((np.arange(t_max)[:, None] < in_len[None, :]).astype(lp._data.dtype)[..., None])
    p = ops.exp(lp) * frames
    loss = loss + ops.sum(p - const(p._data), (0, 2))
    if zero_infinity:
        loss = ops.where(const(np.isinf(loss._data)), 0.0, loss)
    if reduction == "mean":
        return ops.mean(loss / const(np.maximum(tg_len, 1).astype(lp._data.dtype)))
    if reduction == "sum":
        return ops.sum(loss)
    if reduction != "none":
        raise ValueError(f"ctc_loss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return loss if batched else ops.reshape(loss, ())
