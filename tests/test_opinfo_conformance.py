"""PyTorch's operator database as gradbox's conformance suite (issue 10).

``torch.testing._internal.common_methods_invocations.op_db`` lists PyTorch's operators (OpInfos),
each with a generator of sample inputs. ``gradbox.testing.opinfo`` leaves out the categories a
NumPy course framework need not have (``gradbox.testing.opinfo_scope``), looks every other
operator up in gradbox (gb.X, gb.nn.functional.X, gb.linalg.X or the Tensor method) and runs its
float64 samples through both frameworks, comparing the forward values and every input's gradient.

The default run takes the first FAST samples of each OpInfo and asserts the targets on them;
``pytest -m slow`` runs every sample and writes the percentages to benchmarks/opinfo_results.json.
``python -m gradbox.testing.opinfo --failures`` lists what fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import gradbox as gb
from gradbox.testing import opinfo as O
from gradbox.testing.opinfo_scope import OUT_OF_SCOPE, category, markdown_table

ROOT = Path(__file__).resolve().parent.parent
FAST = 3  # samples per OpInfo in the default run
PRESENT_TARGET, SAMPLES_TARGET = 85.0, 97.0

# Public ops added for issue 10 -> the OpInfos whose samples are their parity test against torch. An op
# named differently from its OpInfo is an alias: gb.<op> must be the very callable the OpInfo resolves to.
OPINFO_PARITY = {
    "acos": ("acos",),
    "acosh": ("acosh",),
    "addbmm": ("addbmm",),
    "addcdiv": ("addcdiv",),
    "addcmul": ("addcmul",),
    "addmm": ("addmm",),
    "addmv": ("addmv",),
    "addr": ("addr",),
    "allclose": ("allclose",),
    "aminmax": ("aminmax",),
    "arccos": ("acos",),
    "arccosh": ("acosh",),
    "arcsin": ("asin",),
    "arcsinh": ("asinh",),
    "arctan": ("atan",),
    "arctan2": ("atan2",),
    "arctanh": ("atanh",),
    "argsort": ("argsort",),
    "argwhere": ("argwhere",),
    "asin": ("asin",),
    "asinh": ("asinh",),
    "atan": ("atan",),
    "atan2": ("atan2",),
    "atanh": ("atanh",),
    "atleast_1d": ("atleast_1d",),
    "atleast_2d": ("atleast_2d",),
    "atleast_3d": ("atleast_3d",),
    "baddbmm": ("baddbmm",),
    "bincount": ("bincount",),
    "block_diag": ("block_diag",),
    "broadcast_shapes": ("broadcast_shapes",),
    "broadcast_tensors": ("broadcast_tensors",),
    "bucketize": ("bucketize",),
    "cartesian_prod": ("cartesian_prod",),
    "cdist": ("cdist",),
    "ceil": ("ceil",),
    "channel_shuffle": ("nn.functional.channel_shuffle",),
    "clamp_max": ("clamp_max",),
    "clamp_min": ("clamp_min",),
    "column_stack": ("column_stack",),
    "combinations": ("combinations",),
    "constant_pad_nd": ("constant_pad_nd",),
    "copysign": ("copysign",),
    "corrcoef": ("corrcoef",),
    "cosh": ("cosh",),
    "count_nonzero": ("count_nonzero",),
    "cov": ("cov",),
    "cross": ("cross",),
    "cummax": ("cummax",),
    "cummin": ("cummin",),
    "cumprod": ("cumprod",),
    "cumsum": ("cumsum",),
    "cumulative_trapezoid": ("cumulative_trapezoid",),
    "deg2rad": ("deg2rad",),
    "diag": ("diag",),
    "diag_embed": ("diag_embed",),
    "diagflat": ("diagflat",),
    "diagonal": ("diagonal",),
    "diagonal_scatter": ("diagonal_scatter",),
    "diff": ("diff",),
    "dist": ("dist",),
    "dsplit": ("dsplit",),
    "dstack": ("dstack",),
    "einsum": ("einsum",),
    "equal": ("equal",),
    "erfc": ("erfc",),
    "erfinv": ("erfinv",),
    "exp2": ("exp2",),
    "expm1": ("expm1",),
    "fill": ("fill",),
    "fix": ("trunc",),
    "fliplr": ("fliplr",),
    "flipud": ("flipud",),
    "float_power": ("float_power",),
    "floor": ("floor",),
    "fmax": ("fmax",),
    "fmin": ("fmin",),
    "fmod": ("fmod",),
    "frac": ("frac",),
    "frexp": ("frexp",),
    "gradient": ("gradient",),
    "heaviside": ("heaviside",),
    "histc": ("histc",),
    "histogram": ("histogram",),
    "histogramdd": ("histogramdd",),
    "hsplit": ("hsplit",),
    "hstack": ("hstack",),
    "hypot": ("hypot",),
    "index_add": ("index_add",),
    "index_copy": ("index_copy",),
    "index_fill": ("index_fill",),
    "index_put": ("index_put",),
    "index_reduce": ("index_reduce",),
    "inner": ("inner",),
    "isclose": ("isclose",),
    "isin": ("isin",),
    "isinf": ("isinf",),
    "isneginf": ("isneginf",),
    "isposinf": ("isposinf",),
    "isreal": ("isreal",),
    "kron": ("kron",),
    "kthvalue": ("kthvalue",),
    "ldexp": ("ldexp",),
    "lerp": ("lerp",),
    "log10": ("log10",),
    "log2": ("log2",),
    "logaddexp": ("logaddexp",),
    "logaddexp2": ("logaddexp2",),
    "logcumsumexp": ("logcumsumexp",),
    "logit": ("logit",),
    "logspace": ("logspace",),
    "masked_scatter": ("masked_scatter",),
    "masked_select": ("masked_select",),
    "median": ("median",),
    "meshgrid": ("meshgrid",),
    "mode": ("mode",),
    "msort": ("msort",),
    "mv": ("mv",),
    "nan_to_num": ("nan_to_num",),
    "nanmean": ("nanmean",),
    "nanmedian": ("nanmedian",),
    "nanquantile": ("nanquantile",),
    "nansum": ("nansum",),
    "narrow": ("narrow",),
    "nextafter": ("nextafter",),
    "nonzero": ("nonzero",),
    "nonzero_static": ("nonzero_static",),
    "positive": ("positive",),
    "put": ("put",),
    "quantile": ("quantile",),
    "rad2deg": ("rad2deg",),
    "ravel": ("ravel",),
    "renorm": ("renorm",),
    "repeat_interleave": ("repeat_interleave",),
    "roll": ("roll",),
    "rot90": ("rot90",),
    "round": ("round",),
    "row_stack": ("vstack",),
    "rsub": ("rsub",),
    "scalar_tensor": ("scalar_tensor",),
    "scatter": ("scatter",),
    "scatter_add": ("scatter_add",),
    "scatter_reduce": ("scatter_reduce",),
    "searchsorted": ("searchsorted",),
    "select": ("select",),
    "select_scatter": ("select_scatter",),
    "sgn": ("sgn",),
    "signbit": ("signbit",),
    "sinc": ("sinc",),
    "sinh": ("sinh",),
    "slice_scatter": ("slice_scatter",),
    "sort": ("sort",),
    "split_with_sizes": ("split_with_sizes",),
    "std_mean": ("std_mean",),
    "take": ("take",),
    "take_along_dim": ("take_along_dim",),
    "tan": ("tan",),
    "tensor_split": ("tensor_split",),
    "tensordot": ("tensordot",),
    "tile": ("tile",),
    "topk": ("topk",),
    "trace": ("trace",),
    "trapezoid": ("trapezoid",),
    "trapz": ("trapz",),
    "tril": ("tril",),
    "tril_indices": ("tril_indices",),
    "triu": ("triu",),
    "triu_indices": ("triu_indices",),
    "true_divide": ("true_divide",),
    "trunc": ("trunc",),
    "unbind": ("unbind",),
    "unique": ("unique",),
    "unique_consecutive": ("unique_consecutive",),
    "unravel_index": ("unravel_index",),
    "unsafe_chunk": ("unsafe_chunk",),
    "unsafe_split": ("unsafe_split",),
    "var_mean": ("var_mean",),
    "vdot": ("vdot",),
    "vsplit": ("vsplit",),
    "vstack": ("vstack",),
    "xlogy": ("xlogy",),
}


@pytest.fixture(scope="module")
def db():
    return O.op_db()


@pytest.fixture(scope="module")
def fast(db):
    torch.manual_seed(0)
    return O.run(db, max_samples=FAST)


def _line(s: dict, what: str) -> str:
    return (
        f"OpInfo conformance ({what}): {s['present']}/{s['in_scope']} in-scope operators present "
        f"({s['present_pct']}%), {s['samples_passed']}/{s['samples']} float64 samples pass ({s['samples_pct']}%)"
    )


def test_opinfo_conformance_fast_subset_meets_the_targets(fast):
    s = O.summary(fast)
    print("\n" + _line(s, f"first {FAST} samples per OpInfo"))
    assert s["in_scope"] >= 350, "the scope shrank: the out-of-scope table may be swallowing operators"
    assert s["present_pct"] >= PRESENT_TARGET, f"missing: {s['missing']}"
    failing = [
        f"{r.name}{'.' + r.variant if r.variant else ''}: {r.failures[:1]}" for r in fast if r.passed < r.samples
    ]
    assert s["samples_pct"] >= SAMPLES_TARGET, "\n".join(failing)


@pytest.mark.parametrize("op", sorted(OPINFO_PARITY))
def test_new_op_matches_torch_on_its_opinfo_samples(op, db, fast):
    """The op's OpInfo samples from torch.testing's op_db (the fast subset) give torch's values and gradients;
    an alias is the same callable as the op its OpInfo names."""
    names = OPINFO_PARITY[op]
    assert names, f"gb.{op} has no OpInfo to test it"
    fn = getattr(gb, op)
    by_name = {(r.name, r.variant): r for r in fast}
    for opinfo in (o for o in db if o.name in names):
        if op != opinfo.name:
            assert O.resolve(opinfo.name) is fn, f"gb.{op} is not the callable behind torch's {opinfo.name}"
        r = by_name[(opinfo.name, opinfo.variant_test_name)]
        if r.category is not None:  # out of scope for the percentages (e.g. isreal, a complex op): run it anyway
            r = O.run_opinfo(opinfo, FAST, force=True)
        assert r.present and r.samples > 0, f"{opinfo.name}: no sample ran"
        assert r.passed == r.samples, f"{opinfo.name}.{opinfo.variant_test_name}: {r.failures}"


def test_every_opinfo_is_in_scope_or_in_an_out_of_scope_category_with_a_reason(db):
    names = sorted({o.name for o in db})
    cats = {category(n) for n in names} - {None}
    assert cats <= set(OUT_OF_SCOPE), cats - set(OUT_OF_SCOPE)
    assert all(len(OUT_OF_SCOPE[c][0]) > 20 for c in cats), "every category says why"
    table = markdown_table(names)
    assert table.count("\n") == len(cats) + 1
    for n in ("fft.fft", "special.zeta", "linalg.svd", "bernoulli", "bitwise_and", "_segment_reduce", "view_as_real"):
        assert category(n) is not None and f"`{n}`" in table
    for n in (
        "tan",
        "topk",
        "nn.functional.unfold",
        "linalg.vector_norm",
        "__radd__",
        "einsum",
        "nn.functional.ctc_loss",
    ):
        assert category(n) is None, n


def test_the_harness_fails_a_wrong_value_a_wrong_gradient_and_a_wrong_dtype(db):
    """A deliberately wrong gradbox op must fail its samples: the harness can tell."""
    sin = next(o for o in db if o.name == "sin")

    class Wrong(gb.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return gb.sin(x.detach())

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * gb.sin(x)  # should be cos

    samples = list(sin.sample_inputs("cpu", torch.float64, requires_grad=True))[:3]
    outs = [sin(s.input, *s.args, **s.kwargs) for s in samples]
    assert all(O.run_sample(gb.sin, s, t, "sin") is None for s, t in zip(samples, outs))
    assert all(
        "gradient" in (O.run_sample(Wrong.apply, s, t, "sin") or "") for s, t in zip(samples, outs) if s.input.numel()
    )
    assert all("values differ" in O.run_sample(gb.cos, s, t, "sin") for s, t in zip(samples, outs) if s.input.numel())
    assert "dtype" in O.run_sample(lambda x: gb.sin(x).float(), samples[0], outs[0], "sin")


@pytest.mark.slow
def test_opinfo_conformance_all_samples(db):
    torch.manual_seed(0)
    results = O.run(db)
    s = O.summary(results)
    print("\n" + _line(s, "all samples"))
    out = {k: v for k, v in s.items() if k != "missing"} | {
        "missing": s["missing"],
        "torch": torch.__version__,
        "failing": {
            f"{r.name}{'.' + r.variant if r.variant else ''}": f"{r.passed}/{r.samples}"
            for r in results
            if r.present and r.passed < r.samples
        },
    }
    (ROOT / "benchmarks" / "opinfo_results.json").write_text(json.dumps(out, indent=1) + "\n")
    assert s["present_pct"] >= PRESENT_TARGET
    assert s["samples_pct"] >= SAMPLES_TARGET
