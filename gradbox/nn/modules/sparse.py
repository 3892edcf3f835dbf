"""Embedding: a lookup table of learnable rows."""

from __future__ import annotations

import numpy as np

from gradbox.nn import functional as F
from gradbox.nn import init
from gradbox.nn.modules.linear import check_sizes, empty_param
from gradbox.nn.modules.module import Module
from gradbox.nn.parameter import Parameter


class Embedding(Module):
    """y = W[idx], W (num_embeddings, embedding_dim) ~ N(0, 1); the padding_idx row starts at 0
    and receives no gradient."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm=None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight=None,
        _freeze: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        check_sizes("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx %= num_embeddings
        self.padding_idx, self.max_norm = padding_idx, max_norm
        if _weight is None:
            self.weight = empty_param((num_embeddings, embedding_dim), dtype)
            init.normal_(self.weight)
            if padding_idx is not None:
                self.weight._data[padding_idx] = 0
        else:
            self.weight = Parameter(np.asarray(getattr(_weight, "_data", _weight)), requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None) -> Embedding:
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx=padding_idx, _weight=embeddings.detach(), _freeze=freeze)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm)
