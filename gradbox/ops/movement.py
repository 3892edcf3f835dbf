"""More ops that move elements without changing them: roll, rot90, tile, repeat_interleave,
narrow, select, unbind, meshgrid, the stack/split families, sliding windows (Tensor.unfold),
broadcasting several tensors, and constant padding.

Each is composed of gradbox's movement ops (indexing, reshape, permute, expand, cat, flip), so
its gradient is the inverse movement of g: elements that were copied add their gradients up.
"""

from __future__ import annotations

import numbers

import numpy as np

from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._util import as_tensor, check_broadcast, norm_dim, promote
from gradbox.ops.index import IndexAdd, getitem
from gradbox.ops.reduce import sum as _sum
from gradbox.ops.shape import cat, expand, flip, pad, permute, reshape, split, transpose
from gradbox.tensor import Size, Tensor

_MOVE = "the inverse movement of g (copies of an element add their gradients)"


def _move(forward: str, note: str = "") -> OpMath:
    return OpMath(forward, grads=(_MOVE,), note=note)


def _int(v, name: str) -> int:
    if isinstance(v, Tensor):
        if v._data.ndim != 0 or v._data.dtype.kind not in "iu":
            raise RuntimeError(f"{name}: expected an integer 0-d tensor, got {v.dtype} of shape {tuple(v.shape)}")
        return int(v.item())
    return int(v)


@op(
    _move(
        "y = x shifted by ``shifts`` along ``dims`` (elements past the end wrap around)",
        "Computed as two slices and cat.",
    )
)
def roll(input: Tensor, shifts, dims=None) -> Tensor:
    x = as_tensor(input, "roll")
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: 0")
        return reshape(roll(reshape(x, (-1,)), shifts[0], 0), x._data.shape)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}")
    for s, d in zip(shifts, dims):
        d = norm_dim(d, x._data.ndim, "roll")
        n = x._data.shape[d] if x._data.ndim else 1
        if n == 0 or s % n == 0:
            continue
        k = s % n
        pre = (slice(None),) * d
        x = cat([getitem(x, pre + (slice(n - k, None),)), getitem(x, pre + (slice(0, n - k),))], d)
    return x


@op(
    _move(
        "y = x rotated by k quarter turns in the plane of dims (from dims[0] towards dims[1])",
        "Computed as flip and transpose.",
    )
)
def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    x = as_tensor(input, "rot90")
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if x._data.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {x._data.ndim}")
    d0, d1 = (norm_dim(d, x._data.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return transpose(flip(x, (d1,)), d0, d1)
    if k == 2:
        return flip(x, (d0, d1))
    if k == 3:
        return flip(transpose(x, d0, d1), (d1,))
    return x.clone()


@op(_move("y = x repeated ``dims`` times along each dim (missing leading reps count as 1)", "Computed as repeat."))
def tile(input: Tensor, dims) -> Tensor:
    x = as_tensor(input, "tile")
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(dims) < x._data.ndim:
        dims = (1,) * (x._data.ndim - len(dims)) + dims
    return x.repeat(*dims)


@op(
    _move(
        "y = each element (or slice along dim) of x repeated repeats[i] times, in place",
        "repeats: an int or one count per element; without dim x is flattened first. Computed as indexing.",
    )
)
def repeat_interleave(input, repeats=None, dim: int | None = None, *, output_size: int | None = None) -> Tensor:
    if repeats is None:  # repeat_interleave(repeats): the indices repeated by themselves
        r = as_tensor(input, "repeat_interleave")._data
        return Tensor._wrap(np.repeat(np.arange(r.size, dtype=np.int64), r.reshape(-1)))
    x = as_tensor(input, "repeat_interleave")
    if dim is None:
        x, d = reshape(x, (-1,)), 0
    else:
        d = norm_dim(dim, x._data.ndim, "repeat_interleave")
        if x._data.ndim == 0:
            x = reshape(x, (1,))
    n = x._data.shape[d]
    r = repeats._data if isinstance(repeats, Tensor) else np.asarray(repeats)
    r = r.reshape(-1) if r.ndim else r
    if r.ndim and r.size not in (1, n):
        raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim ({n}), got {r.size}")
    if (r < 0).any():
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    idx = np.repeat(np.arange(n), r if r.ndim == 0 or r.size == n else r[0])
    return getitem(x, (slice(None),) * d + (Tensor._wrap(idx.astype(np.int64)),))


@op(_move("y = x[start : start + length] along dim (a view)", "Computed as slicing."))
def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    x = as_tensor(input, "narrow")
    d = norm_dim(dim, x._data.ndim, "narrow")
    n = x._data.shape[d]
    s = _int(start, "narrow")
    if not -n <= s <= n:
        raise IndexError(f"narrow: start ({s}) out of range for dimension {d} of size {n}")
    s %= n if n and s < 0 else max(n, 1) + 1
    if s + length > n:
        raise RuntimeError(f"narrow: start ({s}) + length ({length}) exceeds dimension size ({n})")
    return getitem(x, (slice(None),) * d + (slice(s, s + length),))


@op(_move("y = x[index] along dim (the dim is removed; a view)", "Computed as indexing."))
def select(input: Tensor, dim: int, index: int) -> Tensor:
    x = as_tensor(input, "select")
    d = norm_dim(dim, x._data.ndim, "select")
    n = x._data.shape[d]
    i = _int(index, "select")
    if not -n <= i < n:
        raise IndexError(f"select(): index {i} out of range for tensor of size {tuple(x.shape)} at dimension {d}")
    return getitem(x, (slice(None),) * d + (i,))


@op(_move("y = the slices of x along dim, as a tuple", "Computed as select."))
def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    x = as_tensor(input, "unbind")
    d = norm_dim(dim, x._data.ndim, "unbind")
    return tuple(getitem(x, (slice(None),) * d + (i,)) for i in range(x._data.shape[d]))


def _tensors(tensors) -> list[Tensor]:
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    return [as_tensor(t, "meshgrid") for t in tensors]


@op(
    _move(
        "y_k = x_k broadcast over a grid of all the inputs' sizes ('ij': in input order; 'xy': first two swapped)",
        "Computed as reshape and expand: the gradient of x_k sums g_k over the other grid dims.",
    )
)
def meshgrid(*tensors, indexing: str | None = None) -> tuple[Tensor, ...]:
    ts = _tensors(tensors)
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    for t in ts:
        if t._data.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {tuple(t.shape)}")
    flat = [reshape(t, (-1,)) for t in ts]
    swap = indexing == "xy" and len(flat) >= 2
    order = [1, 0] + list(range(2, len(flat))) if swap else list(range(len(flat)))
    sizes = [flat[i]._data.shape[0] for i in order]
    out = []
    for k, t in enumerate(flat):
        pos = order.index(k)
        shape = [1] * len(flat)
        shape[pos] = sizes[pos]
        out.append(expand(reshape(t, tuple(shape)), *sizes))
    return tuple(out)


_AT_LEAST = {
    1: lambda s: s or (1,),
    2: lambda s: {0: (1, 1), 1: (1,) + s}.get(len(s), s),
    3: lambda s: {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}.get(len(s), s),
}


def _atleast(n: int, name: str):
    def f(*tensors):
        many = len(tensors) != 1 or isinstance(tensors[0], list | tuple)
        ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], list | tuple) else tensors
        out = []
        for t in ts:
            t = as_tensor(t, name)
            s = _AT_LEAST[n](tuple(t._data.shape))
            out.append(reshape(t, s) if s != t._data.shape else t)
        return tuple(out) if many else out[0]

    f.__name__ = f.__qualname__ = name
    f.__doc__ = None
    return op(
        _move(f"y = x viewed with at least {n} dims (size-1 dims added as numpy.{name})", "Computed as reshape.")
    )(f)


atleast_1d = _atleast(1, "atleast_1d")
atleast_2d = _atleast(2, "atleast_2d")
atleast_3d = _atleast(3, "atleast_3d")


def _seq(tensors, name: str) -> list[Tensor]:
    ts = [as_tensor(t, name) for t in tensors]
    return promote(name, *ts) if len({t.dtype for t in ts}) > 1 else ts


@op(_move("y = the inputs joined along dim 1 (dim 0 for 1-D inputs)", "Computed as cat."))
def hstack(tensors) -> Tensor:
    ts = atleast_1d(_seq(tensors, "hstack"))
    return cat(list(ts), 0 if ts[0]._data.ndim == 1 else 1)


@op(_move("y = the inputs (at least 2-D) joined along dim 0", "Computed as cat."))
def vstack(tensors) -> Tensor:
    return cat(list(atleast_2d(_seq(tensors, "vstack"))), 0)


row_stack = vstack


@op(_move("y = the inputs (at least 3-D) joined along dim 2", "Computed as cat."))
def dstack(tensors) -> Tensor:
    return cat(list(atleast_3d(_seq(tensors, "dstack"))), 2)


@op(_move("y = the inputs as columns: 0-d and 1-D inputs become (n, 1), joined along dim 1", "Computed as cat."))
def column_stack(tensors) -> Tensor:
    ts = [reshape(t, (-1, 1)) if t._data.ndim <= 1 else t for t in _seq(tensors, "column_stack")]
    return cat(ts, 1)


@op(
    _move(
        "y = the pieces of x along dim: ``indices_or_sections`` equal parts (the first ones one longer), "
        "or cut before each index",
        "Computed as slicing.",
    )
)
def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    x = as_tensor(input, "tensor_split")
    d = norm_dim(dim, x._data.ndim, "tensor_split")
    n = x._data.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios._data.dtype.kind not in "iu" or ios._data.ndim > 1:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to be a zero-dimensional or one-dimensional tensor of int64"
            )
        ios = int(ios.item()) if ios._data.ndim == 0 else [int(i) for i in ios._data]
    if isinstance(ios, numbers.Integral):
        k = int(ios)
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        q, r = divmod(n, k)
        cuts = list(np.cumsum([q + 1] * r + [q] * (k - r))[:-1])
    else:
        cuts = list(ios)
    bounds = [0] + [int(c) for c in cuts] + [n]
    pre = (slice(None),) * d
    return tuple(getitem(x, pre + (slice(a, max(a, b) if b >= 0 else b),)) for a, b in zip(bounds[:-1], bounds[1:]))


def _split_dir(input, ios, dim: int, name: str, min_nd: int) -> tuple[Tensor, ...]:
    x = as_tensor(input, name)
    if x._data.ndim < min_nd:
        raise RuntimeError(
            f"torch.{name} requires a tensor with at least {min_nd} dimension, but got a tensor with {x._data.ndim} dimensions!"
        )
    if isinstance(ios, int) and x._data.shape[dim] % ios:
        raise RuntimeError(
            f"torch.{name} attempted to split along dimension {dim}, but the size of the dimension {x._data.shape[dim]} is not divisible by the split_size {ios}!"
        )
    return tensor_split(x, ios, dim)


@op(_move("y = tensor_split(x, sections, dim 1) (dim 0 for 1-D x); equal parts only", "Computed as slicing."))
def hsplit(input: Tensor, indices_or_sections) -> tuple[Tensor, ...]:
    return _split_dir(input, indices_or_sections, 1 if input.ndim > 1 else 0, "hsplit", 1)


@op(_move("y = tensor_split(x, sections, dim 0) of an at least 2-D x; equal parts only", "Computed as slicing."))
def vsplit(input: Tensor, indices_or_sections) -> tuple[Tensor, ...]:
    return _split_dir(input, indices_or_sections, 0, "vsplit", 2)


@op(_move("y = tensor_split(x, sections, dim 2) of an at least 3-D x; equal parts only", "Computed as slicing."))
def dsplit(input: Tensor, indices_or_sections) -> tuple[Tensor, ...]:
    return _split_dir(input, indices_or_sections, 2, "dsplit", 3)


@op(_move("y = the pieces of x along dim with the given sizes (which sum to its size)", "Computed as split."))
def split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple[Tensor, ...]:
    x = as_tensor(input, "split_with_sizes")
    d = norm_dim(dim, x._data.ndim, "split_with_sizes")
    if sum(split_sizes) != x._data.shape[d]:
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {x._data.shape[d]}, but got split_sizes={list(split_sizes)}"
        )
    return tuple(split(x, list(split_sizes), d))


@op(_move("y = split(x, split_size, dim) (PyTorch's unsafe_ variant: no view aliasing checks)", "Computed as split."))
def unsafe_split(input: Tensor, split_size, dim: int = 0) -> tuple[Tensor, ...]:
    return tuple(split(input, split_size, dim))


@op(_move("y = chunk(x, chunks, dim) (PyTorch's unsafe_ variant: no view aliasing checks)", "Computed as chunk."))
def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    return tuple(input.chunk(chunks, dim))


@op(_move("y = x reversed along dim 1 (left-right)", "Computed as flip."))
def fliplr(input: Tensor) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


@op(_move("y = x reversed along dim 0 (up-down)", "Computed as flip."))
def flipud(input: Tensor) -> Tensor:
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


@op(_move("y = x flattened to 1-D", "Computed as reshape."))
def ravel(input: Tensor) -> Tensor:
    return reshape(as_tensor(input, "ravel"), (-1,))


@op(_move("y_k = x_k broadcast to the common shape of all inputs", "Computed as expand; the engine sums g back."))
def broadcast_tensors(*tensors) -> tuple[Tensor, ...]:
    ts = _tensors(tensors)
    shape = check_broadcast("broadcast_tensors", *[t._data.shape for t in ts])
    return tuple(expand(t, *shape) if t._data.shape != shape else t for t in ts)


@op(OpMath("y = the shape the given shapes broadcast to", grads=None))
def broadcast_shapes(*shapes) -> tuple:
    norm = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    return Size(check_broadcast("broadcast_shapes", *norm))


@op(_move("y = x padded with ``value`` by the pad amounts (last dim first; negative crops)", "Computed as pad."))
def constant_pad_nd(input: Tensor, pad_: tuple = (), value: float = 0) -> Tensor:
    return pad(input, tuple(pad_), "constant", value)


@op(
    _move(
        "y = x with the groups of channels interleaved: (N, g, C/g, ...) -> (N, C/g, g, ...)",
        "Computed as reshape and permute.",
    )
)
def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    x = as_tensor(input, "channel_shuffle")
    if x._data.ndim < 3:
        raise RuntimeError(
            f"channel_shuffle expects input to have at least 3 dimensions, but got input with sizes {list(x.shape)}"
        )
    n, c = x._data.shape[:2]
    if groups <= 0 or c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    rest = x._data.shape[2:]
    y = reshape(x, (n, groups, c // groups) + rest)
    y = permute(y, (0, 2, 1) + tuple(range(3, 3 + len(rest))))
    return reshape(y, x._data.shape)


class Unfold(Function):
    math = OpMath(
        "y[..., i, ..., k] = x[..., i * step + k, ...] along dim: the windows of ``size`` as a new last dim",
        grads=("zeros(x.shape) with every window of g added back at its positions (overlaps add up)",),
    )

    def forward(self, x, dim, size, step):
        n = x.shape[dim] if x.ndim else 1
        count = (n - size) // step + 1
        self.idx = (np.arange(count)[:, None] * step + np.arange(size)[None, :]) if x.ndim else None
        self.dim = dim
        if x.ndim == 0:
            return x.reshape(1)
        taken = np.take(x, self.idx, axis=dim)  # (..., count, size, ...)
        return np.moveaxis(taken, dim + 1, -1)

    def backward(self, g):
        if self.idx is None:
            return reshape(g, ())
        d = self.dim
        shape = self.input_shapes[0]
        gm = g.movedim(-1, d + 1)  # (..., count, size, ...)
        lead = (slice(None),) * d
        idx = lead + (self.idx,)
        target = list(shape)
        return IndexAdd.apply(gm, idx=_adv(idx, len(shape)), shape=tuple(target), advanced=True)


def _adv(idx: tuple, nd: int) -> tuple:
    """Pad a basic+array index to all dims (NumPy keeps the array's dims in place of the indexed one)."""
    return idx + (slice(None),) * (nd - len(idx))


@op(
    Unfold,
    summary="Tensor.unfold: the windows of length ``size`` every ``step`` along ``dimension``, as a new last dim.",
)
def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    x = as_tensor(input, "unfold")
    d = norm_dim(dimension, x._data.ndim, "unfold")
    n = x._data.shape[d] if x._data.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return Unfold.apply(x, dim=d, size=size, step=step)


@op(
    OpMath(
        "y = x summed down to ``size`` (the adjoint of expanding to x's shape)",
        grads=("g broadcast to x.shape",),
        note="Computed as sum.",
    )
)
def sum_to_size(input: Tensor, *size) -> Tensor:
    x = as_tensor(input, "sum_to_size")
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], list | tuple) else tuple(size)
    if not shape and x._data.ndim:
        shape = ()
    try:
        np.broadcast_to(np.empty(shape), x._data.shape)
    except ValueError:
        raise RuntimeError(f"sum_to_size: size {list(shape)} is not expandable to size {list(x.shape)}") from None
    lead = x._data.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and x._data.shape[lead + i] != 1)
    y = _sum(x, dims, keepdim=True) if dims else x
    return reshape(y, shape)
