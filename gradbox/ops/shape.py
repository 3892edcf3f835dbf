"""Ops that move elements without changing them: reshape, permute, broadcast, flip, pad, cat.

Each backward is the inverse movement applied to g (reshape back, inverse permutation,
sum over the broadcast dims, flip again, crop the padding, split the concatenation).
"""

from __future__ import annotations

import numpy as np

from gradbox.autograd.function import Function
from gradbox.autograd.opmath import OpMath, op
from gradbox.ops._util import as_tensor, norm_dim, promote, shape_arg
from gradbox.ops.index import getitem
from gradbox.tensor import Tensor


class Reshape(Function):
    math = OpMath("y = x with a new shape (same elements in row-major order)", grads=("reshape(g, x.shape)",))

    view = True  # NumPy returns a view where it can: the result shares memory with x

    def forward(self, x, shape):
        return np.reshape(x, shape)

    def backward(self, g):
        return reshape(g, self.input_shapes[0])


class Permute(Function):
    math = OpMath(
        "y = x with dims reordered by p: y.shape[i] = x.shape[p[i]]",
        grads=("permute(g, p^-1)",),
        note="p^-1 is the inverse permutation (argsort(p)).",
    )

    view = True  # NumPy returns a view where it can: the result shares memory with x

    def forward(self, x, dims):
        self.dims = dims
        return np.transpose(x, dims)

    def backward(self, g):
        return permute(g, tuple(np.argsort(self.dims)))


class Expand(Function):
    """The engine sums over the broadcast dims for every op (``sum_to``), so backward hands g back unchanged."""

    math = OpMath("y = x broadcast to a larger shape (a view)", grads=("g summed over the broadcast dims",))

    view = True  # NumPy returns a view where it can: the result shares memory with x

    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, g):
        return g


class SumTo(Function):
    math = OpMath(
        "y = x summed down to shape (the adjoint of broadcasting)",
        grads=("g broadcast to x.shape",),
        note="x's extra leading dims are summed away, and every dim where shape has 1 is summed (kept as 1).",
    )

    def forward(self, x, shape):
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
        return np.sum(x, axis=axes, keepdims=True).reshape(shape) if axes else x.reshape(shape)

    def backward(self, g):
        return expand(g, self.input_shapes[0])


class Flip(Function):
    math = OpMath("y = x reversed along dims", grads=("flip(g, dims)",))

    view = True  # NumPy returns a view where it can: the result shares memory with x

    def forward(self, x, dims):
        self.dims = dims
        return np.flip(x, dims)

    def backward(self, g):
        return flip(g, self.dims)


class Pad(Function):
    math = OpMath(
        "y = x with value added around it by the pad amounts; negative amounts crop",
        grads=("pad(g, -amounts): g with the padding cropped off (and zeros where x was cropped)",),
        note="The amounts follow PyTorch: (left, right) of the last dim first, then of the one before, ...",
    )

    def forward(self, x, pad, value):
        self.pad = pad
        n = len(pad) // 2
        width = [(0, 0)] * (x.ndim - n) + [(max(pad[2 * i], 0), max(pad[2 * i + 1], 0)) for i in reversed(range(n))]
        out = np.pad(x, width, constant_values=value) if any(w != (0, 0) for w in width) else x
        crop = [slice(None)] * (x.ndim - n) + [
            slice(-min(pad[2 * i], 0), out.shape[x.ndim - 1 - i] + min(pad[2 * i + 1], 0)) for i in reversed(range(n))
        ]
        return out[tuple(crop)]

    def backward(self, g):
        return pad(g, tuple(-p for p in self.pad))


class Cat(Function):
    math = OpMath(
        "y = [x_1, ..., x_k] joined along dim",
        grads=("g[o_j : o_j + n_j] along dim: the slice of g where x_j sits",),
        inputs=("x_j",),
        note="One gradient per input: n_j is x_j's size along dim and o_j = n_1 + ... + n_(j-1) its offset.",
    )

    def forward(self, *xs, dim):
        self.dim = dim
        return np.concatenate(xs, axis=dim)

    def backward(self, g):
        grads, start = [], 0
        for shape in self.input_shapes:
            idx = [slice(None)] * len(shape)
            idx[self.dim] = slice(start, start + shape[self.dim])
            start += shape[self.dim]
            grads.append(g[tuple(idx)])
        return tuple(grads)


# ---- functional forms -------------------------------------------------------------------


def _check_new_shape(shape: tuple, op: str) -> None:
    for i, s in enumerate(shape):
        if s < -1:
            raise RuntimeError(f"{op}: invalid shape dimension {s} at index {i} of shape {list(shape)}")
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred (-1), got shape {list(shape)}")


@op(
    Reshape,
    summary="x with a new shape (one size may be -1); a view when the layout allows, else a copy.",
)
def reshape(x: Tensor, *shape) -> Tensor:
    shape = shape_arg(shape, "reshape")
    _check_new_shape(shape, "reshape")
    src = x._data.shape
    if shape == src:
        return x
    try:
        return Reshape.apply(x, shape=shape)
    except ValueError:
        raise RuntimeError(
            f"reshape: shape {list(shape)} is invalid for input of size {x._data.size} (shape {src})"
        ) from None


@op(
    Reshape,
    summary="x with a new shape, sharing its memory; raises when the elements of x are not laid out for it "
    "(e.g. after a transpose), as in PyTorch: ``reshape`` copies then.",
)
def view(x: Tensor, *shape) -> Tensor:
    shape = shape_arg(shape, "view")
    _check_new_shape(shape, "view")
    probe = x._data.view()
    try:
        probe.shape = shape  # NumPy refuses (AttributeError) exactly when a copy would be needed
    except AttributeError:
        raise RuntimeError(
            f"view: view size is not compatible with input tensor's size and stride (at least one dimension spans "
            f"across two contiguous subspaces): shape {tuple(x._data.shape)} to {list(shape)}. Use .reshape(...) "
            "instead."
        ) from None
    except ValueError:
        raise RuntimeError(
            f"view: shape {list(shape)} is invalid for input of size {x._data.size} (shape {x._data.shape})"
        ) from None
    return Reshape.apply(x, shape=probe.shape)


@op(
    OpMath(
        "y = x with dims start_dim..end_dim merged into one",
        grads=("reshape(g, x.shape)",),
        note="Computed as reshape.",
    ),
    summary="Merge dims start_dim..end_dim into one (a 0-d x becomes shape (1,)).",
)
def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    shape = x._data.shape
    if not shape:
        norm_dim(start_dim, 0, "flatten"), norm_dim(end_dim, 0, "flatten")  # 0 and -1 only, as in PyTorch
        return reshape(x, (1,))
    s = norm_dim(start_dim, len(shape), "flatten")
    e = norm_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, shape[:s] + (-1 if 0 not in shape else int(np.prod(shape[s : e + 1])),) + shape[e + 1 :])


@op(
    OpMath(
        "y = x with dim split into dims of the given sizes", grads=("reshape(g, x.shape)",), note="Computed as reshape."
    ),
    summary="Split dim into several dims of the given sizes (one may be -1).",
)
def unflatten(x: Tensor, dim: int, sizes) -> Tensor:
    shape = x._data.shape
    d = norm_dim(dim, len(shape), "unflatten")
    return reshape(x, shape[:d] + tuple(sizes) + shape[d + 1 :])


@op(Permute, summary="x with its dims reordered by ``dims`` (a permutation); x itself for the identity.")
def permute(x: Tensor, *dims) -> Tensor:
    dims = shape_arg(dims, "permute")
    n = x._data.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute: got {len(dims)} dims {dims} for a tensor with {n} dimensions")
    dims = tuple(norm_dim(d, n, "permute") for d in dims)
    if sorted(dims) != list(range(n)):
        raise RuntimeError(f"permute: dims {dims} repeat a dimension")
    if dims == tuple(range(n)):
        return x
    return Permute.apply(x, dims=dims)


@op(
    OpMath("y = x with dims dim0 and dim1 swapped", grads=("transpose(g, dim0, dim1)",), note="Computed as permute."),
    summary="Swap two dims of x (``transpose`` = ``swapaxes``).",
)
def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    n = x._data.ndim
    if n < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    p = list(range(n))
    a, b = norm_dim(dim0, n, "transpose"), norm_dim(dim1, n, "transpose")
    p[a], p[b] = p[b], p[a]
    return permute(x, p)


swapaxes = transpose


@op(
    OpMath(
        "y = x^T", grads=("g^T",), note="For 2-D x (computed as transpose(x, 0, 1)); a 0-d or 1-D x is returned as is."
    ),
    summary="Transpose of a matrix (at most 2 dims).",
)
def t(x: Tensor) -> Tensor:
    if x._data.ndim > 2:
        raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, got {x._data.ndim}")
    return transpose(x, 0, -1) if x._data.ndim == 2 else x


@op(Expand, summary="x broadcast to ``sizes`` as a view: -1 keeps a size, new dims go in front.")
def expand(x: Tensor, *sizes) -> Tensor:
    if not sizes:
        raise TypeError("expand: missing the target sizes (expand(*sizes))")
    sizes = shape_arg(sizes, "expand")
    src = x._data.shape
    if len(sizes) < len(src):
        raise RuntimeError(
            f"expand: the number of sizes ({len(sizes)}) must be >= the tensor's dimensions ({len(src)}), shape {src}"
        )
    lead = len(sizes) - len(src)
    shape = tuple(src[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    for i, s in enumerate(shape):
        if s < 0:
            raise RuntimeError(
                f"expand: the expanded size {sizes[i]} is not allowed in a leading, non-existing dimension {i}"
                if i < lead
                else f"expand: invalid size {s} for dimension {i}; target sizes {list(sizes)}, tensor shape {src}"
            )
    for i, s in enumerate(src):
        if s != 1 and s != shape[lead + i]:
            raise RuntimeError(
                f"expand: the expanded size {shape[lead + i]} must match the existing size {s} "
                f"at non-singleton dimension {lead + i}; target sizes {list(sizes)}, tensor shape {src}"
            )
    if shape == src:
        return x
    return Expand.apply(x, shape=shape)


@op(Expand, summary="x broadcast to ``shape`` (as ``expand``).")
def broadcast_to(x: Tensor, shape) -> Tensor:
    return expand(x, tuple(shape))


@op(Expand, summary="x broadcast to the shape of ``other`` (as ``expand``).")
def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return expand(x, other._data.shape)


@op(SumTo, summary="Sum x down to ``shape``, undoing broadcasting; the engine applies it to every gradient.")
def sum_to(x: Tensor, shape: tuple) -> Tensor:
    if x._data.shape == tuple(shape):
        return x
    return SumTo.apply(x, shape=tuple(shape))


@op(
    OpMath(
        "y = x without its size-1 dims (all of them, or those among dim)",
        grads=("reshape(g, x.shape)",),
        note="Computed as reshape.",
    ),
    summary="Drop size-1 dims: all of them, or those among ``dim`` (an int or a tuple).",
)
def squeeze(x: Tensor, dim=None) -> Tensor:
    shape = x._data.shape
    if dim is None:
        return reshape(x, tuple(s for s in shape if s != 1))
    dims = dim if isinstance(dim, tuple | list) else (dim,)
    ds = {norm_dim(d, len(shape), "squeeze") for d in dims}
    return reshape(x, tuple(s for i, s in enumerate(shape) if not (i in ds and s == 1)))


@op(
    OpMath("y = x with a size-1 dim inserted at dim", grads=("reshape(g, x.shape)",), note="Computed as reshape."),
    summary="Insert a size-1 dim at position ``dim``.",
)
def unsqueeze(x: Tensor, dim: int) -> Tensor:
    shape = x._data.shape
    d = norm_dim(dim, len(shape) + 1, "unsqueeze")
    return reshape(x, shape[:d] + (1,) + shape[d:])


@op(Flip, summary="x reversed along ``dims`` (an int or a sequence of ints).")
def flip(x: Tensor, dims) -> Tensor:
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    dims = tuple(norm_dim(d, x._data.ndim, "flip") for d in dims)
    return Flip.apply(x, dims=dims)


@op(
    OpMath(
        "y = x padded by the pad amounts: with a constant value, or by 'reflect', 'replicate' or 'circular' "
        "indexing into x",
        grads=(
            "constant: pad(g, -amounts), g with the padding cropped off; other modes: g scatter-added back "
            "onto the source positions of every copy",
        ),
        note="The amounts follow PyTorch: (left, right) of the last dim first, then of the one before, ...; "
        "negative amounts crop (constant mode).",
    )
)
def pad(x: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad)/2 dims with a constant, or by 'reflect', 'replicate' or 'circular' indexing.

    The non-constant modes gather with index arrays (``getitem``), one dim at a time."""
    if mode != "constant":
        return _pad_by_index(x, pad, mode)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x._data.ndim:
        raise RuntimeError(
            f"pad: padding length {len(pad)} must be even and at most 2 * ndim ({2 * x._data.ndim}); shape {x._data.shape}"
        )
    for i in range(len(pad) // 2):
        size = x._data.shape[-1 - i]
        if size + pad[2 * i] + pad[2 * i + 1] < 0:
            raise RuntimeError(f"pad: padding {pad} makes dimension {x._data.ndim - 1 - i} (size {size}) negative")
    if not any(pad):
        return x
    return Pad.apply(x, pad=pad, value=0 if value is None else value)


@op(
    Cat,
    summary="Join tensors along an existing dim (dtypes are promoted); a single tensor is returned as is. "
    "(``cat`` = ``concatenate``).",
)
def cat(tensors, dim: int = 0) -> Tensor:
    tensors = [as_tensor(t, "cat") for t in tensors]
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of tensors")
    if len({t._data.dtype for t in tensors}) > 1:
        tensors = promote("cat", *tensors)
    for i, t in enumerate(tensors):
        if t._data.ndim == 0:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated")
    # PyTorch's legacy rule: 1-D empty tensors (shape (0,)) are skipped, whatever the others' shape
    kept = [t for t in tensors if t._data.shape != (0,)]
    if not kept:
        return tensors[0]
    tensors = kept
    ref = tensors[0]._data.shape
    d = norm_dim(dim, len(ref), "cat")
    for i, t in enumerate(tensors):
        s = t._data.shape
        if len(s) != len(ref) or any(a != b for j, (a, b) in enumerate(zip(s, ref)) if j != d):
            raise RuntimeError(f"cat: tensor {i} has shape {s}, which does not match {ref} outside dimension {d}")
    if len(tensors) == 1:
        return tensors[0]
    return Cat.apply(*tensors, dim=d)


concatenate = cat


@op(
    OpMath(
        "y = [x_1, ..., x_k] stacked along a new dim",
        grads=("g[j] along dim: the j-th slice of g",),
        inputs=("x_j",),
        note="Computed as cat of unsqueeze(x_j, dim); all x_j have the same shape.",
    ),
    summary="Stack same-shaped tensors along a new dim.",
)
def stack(tensors, dim: int = 0) -> Tensor:
    tensors = [as_tensor(t, "stack") for t in tensors]
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of tensors")
    ref = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != ref:
            raise RuntimeError(
                f"stack: expects each tensor to be equal size, but got {ref} at entry 0 and {t._data.shape} at entry {i}"
            )
    d = norm_dim(dim, len(ref) + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


@op(
    OpMath(
        "(y_1, ..., y_k) = consecutive slices of x along dim",
        grads=("g_1, ..., g_k laid back side by side along dim (zeros for a piece with no gradient)",),
        note="Computed by indexing x (getitem), so the gradient is the index scatter-add.",
    ),
    summary="Cut x along ``dim`` into pieces of ``split_size`` (the last may be smaller) or of the given sizes.",
)
def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    if x._data.ndim == 0:
        raise RuntimeError("split: expected at least a 1-dimensional tensor, got a 0-d one")
    d = norm_dim(dim, x._data.ndim, "split")
    n = x._data.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step < 0 or (step == 0 and n):
            raise RuntimeError(
                f"split: split_size must be positive (0 only for an empty dimension), got {step} for dimension {d} of size {n}"
            )
        sizes = [min(step, n - s) for s in range(0, n, step)] if step else [0]
        sizes = sizes or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split: sections {sizes} sum to {sum(sizes)}, but dimension {d} has size {n}")
    out, start = [], 0
    for s in sizes:
        idx = [slice(None)] * x._data.ndim
        idx[d] = slice(start, start + s)
        out.append(x[tuple(idx)])
        start += s
    return tuple(out)


@op(
    OpMath(
        "(y_1, ..., y_k) = x cut into pieces of size ceil(n / chunks) along dim (the last may be smaller)",
        grads=("g_1, ..., g_k laid back side by side along dim (zeros for a piece with no gradient)",),
        note="n is x's size along dim; k may be less than chunks. Computed as split.",
    ),
    summary="Cut x along ``dim`` into (at most) ``chunks`` pieces.",
)
def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
    if x._data.ndim == 0:
        raise RuntimeError("chunk: expected at least a 1-dimensional tensor, got a 0-d one")
    n = x._data.shape[norm_dim(dim, x._data.ndim, "chunk")]
    if n == 0:  # as PyTorch: ``chunks`` empty pieces
        return tuple(x for _ in range(chunks))
    return split(x, -(-n // chunks), dim)


@op(
    OpMath(
        "y = x tiled: sizes[i] copies along dim i",
        grads=("g summed over the copies",),
        note="Extra leading sizes add dims. Computed by expanding a new axis before each dim, then merging "
        "(reshape, expand, reshape).",
    ),
    summary="Tile x ``sizes[i]`` times along each dim i.",
)
def repeat(x: Tensor, *sizes) -> Tensor:
    sizes = shape_arg(sizes, "repeat")
    src = x._data.shape
    if len(sizes) < len(src):
        raise RuntimeError(
            f"repeat: number of repeat dims ({len(sizes)}) can not be smaller than the tensor's ({len(src)})"
        )
    src = (1,) * (len(sizes) - len(src)) + src
    y = reshape(x, tuple(v for s in src for v in (1, s)))
    y = expand(y, tuple(v for r, s in zip(sizes, src) for v in (r, s)))
    return reshape(y, tuple(r * s for r, s in zip(sizes, src)))


@op(
    OpMath(
        "y = x with dim source moved to position destination (the others keep their order)",
        grads=("movedim(g, destination, source)",),
        note="Computed as permute.",
    ),
    summary="Move one dim of x to another position.",
)
def movedim(x: Tensor, source, destination) -> Tensor:
    n = x._data.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: source ({len(src)} dims) and destination ({len(dst)} dims) must match in length")
    src = [norm_dim(s, n, "movedim") for s in src]
    dst = [norm_dim(d, n, "movedim") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in source {src} or destination {dst}")
    order = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(n) if i not in src)
    order = [next(rest) if o is None else o for o in order]
    return permute(x, order)


class Clone(Function):
    math = OpMath("y = a copy of x", grads=("g",), local=("1",))

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g


@op(Clone, summary="A copy of x with its own data; the gradient flows through unchanged.")
def clone(x: Tensor) -> Tensor:
    return Clone.apply(x)


@op(
    OpMath(
        "y = reshape(x, other.shape)",
        grads=("reshape(g, x.shape)",),
        note="other only gives the shape and gets no gradient.",
    ),
    summary="x reshaped to the shape of ``other`` (``view_as`` = ``reshape_as``).",
)
def view_as(x: Tensor, other: Tensor) -> Tensor:
    return reshape(x, other._data.shape)


reshape_as = view_as


def _pad_index(size: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Source index of each output position. In circular mode negative amounts crop first and the
    positive ones then wrap around the cropped range (as PyTorch does); the other modes index
    the whole input."""
    if mode != "circular":
        return _pad_index_cropped(size, lo, hi, mode)
    kept = size + min(lo, 0) + min(hi, 0)
    if kept <= 0:
        raise RuntimeError(f"pad: padding ({lo}, {hi}) crops a dimension of size {size} to nothing")
    return max(-lo, 0) + _pad_index_cropped(kept, max(lo, 0), max(hi, 0), mode)


def _pad_index_cropped(size: int, lo: int, hi: int, mode: str) -> np.ndarray:
    j = np.arange(-lo, size + hi)
    if mode == "reflect":
        if lo >= size or hi >= size:
            raise RuntimeError(
                f"pad: padding ({lo}, {hi}) should be smaller than the input dimension {size} in reflect mode"
            )
        period = 2 * (size - 1) if size > 1 else 1
        j = np.abs(j) % period
        return np.where(j >= size, period - j, j)
    if mode == "replicate":
        return np.clip(j, 0, size - 1)
    if mode == "circular":
        if lo > size or hi > size:
            raise RuntimeError(
                f"pad: padding ({lo}, {hi}) should be at most the input dimension {size} in circular mode"
            )
        return j % size
    raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")


def _pad_by_index(x: Tensor, pad, mode: str) -> Tensor:
    y = x
    for i in range(len(pad) // 2):
        dim = x._data.ndim - 1 - i
        lo, hi = int(pad[2 * i]), int(pad[2 * i + 1])
        if lo == 0 and hi == 0:
            continue
        idx = _pad_index(x._data.shape[dim], lo, hi, mode)
        y = getitem(y, (slice(None),) * dim + (Tensor._wrap(idx),))
    return y
