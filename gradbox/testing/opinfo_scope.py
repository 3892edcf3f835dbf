"""Which of PyTorch's OpInfo operators (``op_db``) gradbox leaves out, and why.

An operator is an OpInfo ``name`` (its variants share it). Everything not listed here is in
scope: gradbox should have it with PyTorch's signature (``gb.X``, ``gb.nn.functional.X`` or the
Tensor method) and give PyTorch's float64 values and input gradients on its sample inputs.
Pure data (no torch import), so the README table and the tests read one list.
"""

from __future__ import annotations

# category -> (why it is left out, exact names, name prefixes)
OUT_OF_SCOPE: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "fft": (
        "Fourier transforms and spectral windows: a signal-processing subject of its own, not needed to learn or "
        "train networks.",
        ("stft", "istft"),
        ("fft.", "signal.windows."),
    ),
    "special": (
        "Special functions (gamma, Bessel, zeta, orthogonal polynomials): numerical analysis beyond a deep "
        "learning course; erf, erfc and erfinv, which networks use, are in scope.",
        ("lgamma", "digamma", "polygamma", "mvlgamma", "i0", "igamma", "igammac"),
        ("special.",),
    ),
    "complex": (
        "Complex numbers: gradbox's dtypes are real (bool, ints, floats); these ops only mean something for "
        "complex tensors.",
        (
            "complex",
            "polar",
            "view_as_complex",
            "view_as_real",
            "conj",
            "conj_physical",
            "resolve_conj",
            "resolve_neg",
            "angle",
            "real",
            "imag",
            "cdouble",
            "cfloat",
            "chalf",
            "isreal",
        ),
        (),
    ),
    "sparse": ("Sparse tensor layouts.", ("to_sparse",), ("sparse.",)),
    "bitwise": (
        "Bit operations and integer number theory on the bits of integers (shifts, and/or/xor of bit patterns, "
        "gcd/lcm, hashing); gradbox's logical_and/or/xor cover bools.",
        (
            "bitwise_and",
            "bitwise_or",
            "bitwise_xor",
            "bitwise_not",
            "bitwise_left_shift",
            "bitwise_right_shift",
            "__rand__",
            "__ror__",
            "__rxor__",
            "gcd",
            "lcm",
            "hash_tensor",
        ),
        (),
    ),
    "random": (
        "Random samplers and random layers: their values depend on PyTorch's generator, so no sample can be "
        "compared; gradbox has its own seeded rand/randn/randint/dropout.",
        (
            "bernoulli",
            "cauchy",
            "exponential",
            "geometric",
            "log_normal",
            "normal",
            "uniform",
            "multinomial",
            "rand_like",
            "randint",
            "randint_like",
            "randn",
            "randn_like",
            "nn.functional.dropout",
            "nn.functional.dropout2d",
            "nn.functional.dropout3d",
            "nn.functional.alpha_dropout",
            "nn.functional.feature_alpha_dropout",
            "nn.functional.rrelu",
            "nn.functional.fractional_max_pool2d",
            "nn.functional.fractional_max_pool3d",
            "svd_lowrank",
            "pca_lowrank",
        ),
        (),
    ),
    "linalg decomposition": (
        "Matrix decompositions, solvers, inverses and determinants (LU, QR, Cholesky, SVD, eigen, lstsq): "
        "LAPACK territory with gradients of their own; products, norms and other non-decomposition linalg "
        "ops are in scope.",
        (
            "cholesky",
            "cholesky_inverse",
            "cholesky_solve",
            "geqrf",
            "ormqr",
            "lu",
            "lu_solve",
            "lu_unpack",
            "qr",
            "svd",
            "pinverse",
            "triangular_solve",
            "logdet",
            "matrix_exp",
            "linalg.cholesky",
            "linalg.cholesky_ex",
            "linalg.cond",
            "linalg.det",
            "linalg.eig",
            "linalg.eigh",
            "linalg.eigvals",
            "linalg.eigvalsh",
            "linalg.householder_product",
            "linalg.inv",
            "linalg.inv_ex",
            "linalg.ldl_factor",
            "linalg.ldl_factor_ex",
            "linalg.ldl_solve",
            "linalg.lstsq",
            "linalg.lu",
            "linalg.lu_factor",
            "linalg.lu_factor_ex",
            "linalg.lu_solve",
            "linalg.matrix_rank",
            "linalg.pinv",
            "linalg.qr",
            "linalg.slogdet",
            "linalg.solve",
            "linalg.solve_ex",
            "linalg.solve_triangular",
            "linalg.svd",
            "linalg.svdvals",
            "linalg.tensorinv",
            "linalg.tensorsolve",
        ),
        (),
    ),
    "private/aten": (
        "Private or compiler-facing ATen entry points (leading underscore, torch.ops.aten, CUDA jiterator, "
        "native_* kernels, backward kernels, the *_copy view variants for graph compilers, fp8 scaled matmul); "
        "gradbox has the public op each one implements.",
        (
            "native_batch_norm",
            "native_group_norm",
            "native_layer_norm",
            "native_dropout_backward",
            "max_pool2d_with_indices_backward",
            "grid_sampler_2d",
            "grid_sampler_3d",
            "alias_copy",
            "as_strided_copy",
            "diagonal_copy",
            "expand_copy",
            "narrow_copy",
            "permute_copy",
            "split_with_sizes_copy",
            "squeeze_copy",
            "t_copy",
            "transpose_copy",
            "unbind_copy",
            "unfold_copy",
            "unsqueeze_copy",
            "view_copy",
            "slice",
        ),
        ("_", "torch.", "jiterator_"),
    ),
    "memory layout": (
        "Raw strides and storage resizing (as_strided, empty_strided, resize_): they expose PyTorch's memory "
        "model; gradbox's tensors are NumPy arrays and their views.",
        (
            "as_strided",
            "as_strided_scatter",
            "empty_strided",
            "new_empty_strided",
            "resize_",
            "resize_as_",
            "empty_permuted",
        ),
        (),
    ),
    "masked": (
        "torch.masked, the prototype MaskedTensor reductions; the ordinary reductions and masked_fill/"
        "masked_select/where are in scope.",
        (),
        ("masked.",),
    ),
    "dtype": ("bfloat16: NumPy has no bfloat16 dtype.", ("bfloat16",), ()),
}

# (name, variant) pairs outside scope although their operator is in it: complex-only or CUDA-only variants
OUT_OF_SCOPE_VARIANTS: dict[tuple[str, str], str] = {
    ("nn.functional.silu", "complex"): "complex",
    ("nn.functional.batch_norm", "without_cudnn"): "private/aten",
}


def category(name: str, variant: str = "") -> str | None:
    """The out-of-scope category of an OpInfo (name, variant_test_name), or None when in scope."""
    if (name, variant) in OUT_OF_SCOPE_VARIANTS:
        return OUT_OF_SCOPE_VARIANTS[(name, variant)]
    for cat, (_, names, prefixes) in OUT_OF_SCOPE.items():
        if name in names or any(name.startswith(p) and not name.startswith("__") for p in prefixes):
            return cat
    return None


def markdown_table(names: list[str]) -> str:
    """The README table: category | ops | why, for the out-of-scope names among ``names``."""
    rows = ["| category | ops left out | why |", "|---|---|---|"]
    for cat, (why, _, _) in OUT_OF_SCOPE.items():
        ops = sorted({n for n in names if category(n) == cat})
        if ops:
            rows.append(f"| {cat} | {len(ops)}: {', '.join(f'`{o}`' for o in ops)} | {why} |")
    return "\n".join(rows)
