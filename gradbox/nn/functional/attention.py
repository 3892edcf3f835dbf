"""Attention and bags of embeddings with PyTorch's signatures: scaled_dot_product_attention,
multi_head_attention_forward (PyTorch's own algorithm, step by step), embedding_bag.
Each composes gradbox ops (matmul, softmax, where, indexing), so the gradient is the composition's.
"""

from __future__ import annotations

import math

import numpy as np

from gradbox import ops
from gradbox.autograd.opmath import OpMath, op
from gradbox.nn.functional.dropout import dropout
from gradbox.ops._util import const
from gradbox.tensor import Tensor


def _safe_softmax(scores: Tensor) -> Tensor:
    """softmax over the last dim with fully masked rows (all -inf) giving 0, as PyTorch's math path."""
    dead = np.all(np.isneginf(scores._data), axis=-1, keepdims=True)
    if not dead.any():
        return ops.softmax(scores, -1)
    safe = ops.where(const(np.broadcast_to(dead, scores._data.shape)), 0.0, scores)
    return ops.where(const(np.broadcast_to(dead, scores._data.shape)), 0.0, ops.softmax(safe, -1))


@op(
    OpMath(
        "y = softmax(q k^T * scale + mask) v",
        grads=(
            "the gradient of that composition",
            "the gradient of that composition",
            "the gradient of that composition",
        ),
        inputs=("q", "k", "v"),
        note="scale = 1/sqrt(E) by default; a bool mask keeps True positions (others -inf), a float mask is added; "
        "is_causal masks the upper triangle; fully masked rows give 0; enable_gqa repeats k, v over head groups.",
    )
)
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    lq, lk = query.shape[-2], key.shape[-2]
    sc = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = ops.repeat_interleave(key, rep, -3)
        value = ops.repeat_interleave(value, rep, -3)
    bias = None
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(
                "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"
            )
        keep = np.tril(np.ones((lq, lk), dtype=bool))
        bias = np.where(keep, 0.0, -np.inf).astype(query._data.dtype)
    elif attn_mask is not None and attn_mask._data.dtype == np.bool_:
        bias = np.where(attn_mask._data, 0.0, -np.inf).astype(query._data.dtype)
    s = math.sqrt(sc)
    scores = ops.matmul(query * s, ops.transpose(key, -2, -1) * s)
    if bias is not None:
        scores = scores + const(bias)
    elif attn_mask is not None:
        scores = scores + attn_mask
    weights = _safe_softmax(scores)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return ops.matmul(weights, value)


def _canonical_mask(mask, dtype) -> Tensor | None:
    if mask is None:
        return None
    if mask._data.dtype == np.bool_:
        return Tensor._wrap(np.where(mask._data, -np.inf, 0.0).astype(dtype))
    return mask


@op(
    OpMath(
        "y = out_proj(concat_h softmax(q_h k_h^T / sqrt(d) + mask) v_h), q, k, v the input projections",
        grads=("the gradient of that composition",),
        note="PyTorch's algorithm: (L, N, E) inputs (or unbatched (L, E)); returns (output, the attention weights "
        "averaged over heads, or per head, or None).",
    )
)
def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
):
    batched = query.ndim == 3
    if not batched:
        query, key, value = ops.unsqueeze(query, 1), ops.unsqueeze(key, 1), ops.unsqueeze(value, 1)
        if key_padding_mask is not None:
            key_padding_mask = ops.unsqueeze(key_padding_mask, 0)
    tgt_len, bsz, embed_dim = query.shape
    dt = query._data.dtype
    key_padding_mask = _canonical_mask(key_padding_mask, dt)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint.")
    attn_mask = _canonical_mask(attn_mask, dt)
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if not use_separate_proj_weight:
        wq, wk, wv = ops.chunk(in_proj_weight, 3)
    else:
        wq, wk, wv = q_proj_weight, k_proj_weight, v_proj_weight
    bq = bk = bv = None
    if in_proj_bias is not None:
        bq, bk, bv = ops.chunk(in_proj_bias, 3)
    lin = ops.linalg.linear
    q, k, v = lin(query, wq, bq), lin(key, wk, bk), lin(value, wv, bv)
    if attn_mask is not None and attn_mask.ndim == 2:
        attn_mask = ops.unsqueeze(attn_mask, 0)
    if bias_k is not None and bias_v is not None:
        k = ops.cat([k, bias_k.repeat(1, bsz, 1)])
        v = ops.cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = ops.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = ops.pad(key_padding_mask, (0, 1))
    q = ops.transpose(ops.reshape(q, (tgt_len, bsz * num_heads, head_dim)), 0, 1)
    k = ops.transpose(ops.reshape(k, (k.shape[0], bsz * num_heads, head_dim)), 0, 1) if static_k is None else static_k
    v = ops.transpose(ops.reshape(v, (v.shape[0], bsz * num_heads, head_dim)), 0, 1) if static_v is None else static_v
    if add_zero_attn:
        zeros = Tensor._wrap(np.zeros((bsz * num_heads, 1, head_dim), dtype=dt))
        k, v = ops.cat([k, zeros], 1), ops.cat([v, zeros], 1)
        if attn_mask is not None:
            attn_mask = ops.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = ops.pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]
    if key_padding_mask is not None:
        kpm = ops.reshape(
            ops.expand(ops.reshape(key_padding_mask, (bsz, 1, 1, src_len)), bsz, num_heads, 1, src_len),
            (bsz * num_heads, 1, src_len),
        )
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0
    q_scaled = q * math.sqrt(1.0 / float(head_dim))
    scores = ops.matmul(q_scaled, ops.transpose(k, -2, -1))
    if attn_mask is not None:
        scores = scores + attn_mask
    w = ops.softmax(scores, -1)
    if dropout_p > 0.0:
        w = dropout(w, dropout_p, True)
    out = ops.reshape(ops.transpose(ops.matmul(w, v), 0, 1), (tgt_len * bsz, embed_dim))
    out = ops.reshape(lin(out, out_proj_weight, out_proj_bias), (tgt_len, bsz, -1))
    weights = None
    if need_weights:
        weights = ops.reshape(w, (bsz, num_heads, tgt_len, src_len))
        if average_attn_weights:
            weights = ops.mean(weights, 1)
        if not batched:
            weights = ops.squeeze(weights, 0)
    if not batched:
        out = ops.squeeze(out, 1)
    return out, weights


@op(
    OpMath(
        "y_b = sum / mean / max over the bag b of the weight rows its indices pick (times per_sample_weights in 'sum')",
        grads=("g_b added to each picked row (scaled by its weight, or 1/|b|; for max the argmax row only)",),
        note="Bags come from offsets (1-D input) or are the rows of a 2-D input; padding_idx entries are left out; an "
        "empty bag gives zeros. Computed from indexing, matmul and amax.",
    )
)
def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm=None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            f"embedding_bag: per_sample_weights was not None. per_sample_weights is only supported for mode='sum' (got mode='{mode}')"
        )
    if max_norm is not None:
        raise NotImplementedError(
            "embedding_bag: max_norm (renormalising weight rows in place) is not supported by gradbox"
        )
    idx = input._data
    psw = per_sample_weights
    if idx.ndim == 2:
        n_bags, width = idx.shape
        starts = np.arange(n_bags) * width
        flat = idx.reshape(-1)
        psw = None if psw is None else ops.reshape(psw, (-1,))
    else:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        flat = idx
        starts = offsets._data.astype(np.int64)
        if include_last_offset:
            starts = starts[:-1]
        n_bags = starts.size
    if padding_idx is not None:
        padding_idx %= weight.shape[0]
    ends = np.append(starts[1:], flat.size) if n_bags else starts
    if include_last_offset and idx.ndim == 1 and n_bags:
        ends[-1] = int(offsets._data[-1])
    rows = ops.getitem(weight, Tensor._wrap(flat.astype(np.int64)))  # (n, D)
    keep = np.ones(flat.size, dtype=bool) if padding_idx is None else flat != padding_idx
    if mode == "max":
        dim = weight.shape[1]
        outs = []
        for a, b in zip(starts, ends):
            sel = np.arange(a, b)[keep[a:b]]
            outs.append(
                ops.amax(rows[Tensor._wrap(sel)], 0)
                if sel.size
                else Tensor._wrap(np.zeros(dim, dtype=weight._data.dtype))
            )
        return ops.stack(outs, 0) if outs else Tensor._wrap(np.zeros((0, dim), dtype=weight._data.dtype))
    m = np.zeros((n_bags, flat.size), dtype=weight._data.dtype)
    for bag, (a, b) in enumerate(zip(starts, ends)):
        sel = np.arange(a, b)[keep[a:b]]
        m[bag, sel] = 1.0 / max(sel.size, 1) if mode == "mean" else 1.0
    if psw is not None:
        return ops.matmul(const(m) * ops.reshape(psw, (1, -1)), rows)
    return ops.matmul(const(m), rows)
