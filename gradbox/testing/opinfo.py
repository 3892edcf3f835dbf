"""PyTorch's operator database (OpInfo ``op_db``) as gradbox's conformance suite.

Each in-scope OpInfo (see ``opinfo_scope``) is looked up in gradbox (``gb.X``,
``gb.nn.functional.X``, ``gb.linalg.X`` or the Tensor method ``X``); its float64 sample inputs
(``opinfo.sample_inputs("cpu", torch.float64, requires_grad=True)``) are converted to gradbox
tensors and run through both frameworks. A sample passes when gradbox returns PyTorch's values
(same shapes and dtypes; floats to 1e-7, NaNs equal) and the same gradients of every input that
requires grad, for the loss sum(out * w) with random weights w.

``python -m gradbox.testing.opinfo [--max-samples N] [--only NAME ...] [--json PATH]`` prints
the two percentages (operators present, samples passing) and what fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

import gradbox as gb
from gradbox.testing.opinfo_scope import category

RTOL = ATOL = 1e-7
# float32 (and float16) results: what those dtypes can hold
LOOSE = {"float32": (1e-5, 1e-6), "float16": (1e-3, 1e-3)}


class UnsupportedArgumentError(Exception):
    """A sample argument gradbox has no counterpart for (complex dtype, generator, ...)."""


def _method(name: str) -> Callable:
    def call(x, *args, **kwargs):
        return getattr(x, name)(*args, **kwargs)

    return call


def _attr(name: str) -> Callable:
    return lambda x: getattr(x, name)


# OpInfos whose torch callable is a lambda: the same call in gradbox, and what it needs
_F = lambda: gb.nn.functional  # noqa: E731
_CALLS: dict[str, tuple[Callable, Callable[[], object]]] = {
    "einsum": (lambda tensors, equation: gb.einsum(equation, tensors), lambda: hasattr(gb, "einsum")),
    "zero_": (lambda x: x.clone().zero_(), lambda: hasattr(gb.Tensor, "zero_")),
    "where": (lambda x, condition, other, **kw: gb.where(condition, x, other, **kw), lambda: True),
    "nn.functional.embedding": (
        lambda w, idx, **kw: _F().embedding(idx, w, **kw),
        lambda: hasattr(_F(), "embedding"),
    ),
    "nn.functional.embedding_bag": (
        lambda w, idx, **kw: _F().embedding_bag(idx, w, **kw),
        lambda: hasattr(_F(), "embedding_bag"),
    ),
}
for _n in ("T", "H", "mT", "mH"):
    _CALLS[_n] = (_attr(_n), lambda n=_n: hasattr(gb.Tensor, n))
# called as Tensor methods by their OpInfos (torch has no function of that name, or it is another op)
for _n in (
    "item contiguous sum_to_size expand expand_as to reshape_as view view_as bool byte char double float half int "
    "long short new_zeros new_ones new_empty new_full unfold repeat"
).split():
    _CALLS[_n] = (_method(_n), lambda n=_n: callable(getattr(gb.Tensor, n, None)))

# outputs with unspecified values: compared by shape and dtype only
_UNINITIALIZED = {"empty", "empty_like", "new_empty"}


def resolve(name: str) -> Callable | None:
    """The gradbox callable for an OpInfo name, or None when gradbox lacks it."""
    if name in _CALLS:
        fn, needs = _CALLS[name]
        return fn if needs() else None
    for prefix, ns in (("nn.functional.", gb.nn.functional), ("linalg.", getattr(gb, "linalg", None))):
        if name.startswith(prefix):
            f = getattr(ns, name[len(prefix) :], None) if ns is not None else None
            return f if callable(f) else None
    if name.startswith("__") and hasattr(gb.Tensor, name):
        return _method(name)
    f = getattr(gb, name, None)
    if callable(f) and not isinstance(f, gb.dtype | type):
        return f
    if callable(getattr(gb.Tensor, name, None)):
        return _method(name)
    return None


# ---- converting samples -----------------------------------------------------------------


def to_gb(obj, memo: dict):
    """A torch sample argument as gradbox's (tensors keep requires_grad; one gb tensor per torch tensor)."""
    if isinstance(obj, torch.Tensor):
        if id(obj) not in memo:
            if obj.is_complex() or obj.dtype == torch.bfloat16:
                raise UnsupportedArgumentError(f"{obj.dtype} tensor")
            a = obj.detach().resolve_neg().resolve_conj().numpy().copy()
            memo[id(obj)] = (gb.tensor(a, requires_grad=obj.requires_grad), obj)
        return memo[id(obj)][0]
    if isinstance(obj, torch.dtype):
        d = getattr(gb, str(obj).split(".")[-1], None)
        if not isinstance(d, gb.dtype):
            raise UnsupportedArgumentError(f"dtype {obj}")
        return d
    if isinstance(obj, torch.Size):
        return tuple(obj)
    if isinstance(obj, torch.device):
        return obj.type
    if isinstance(obj, torch.memory_format | torch.layout):
        n = str(obj).split(".")[-1]
        return getattr(gb, n, n)
    if isinstance(obj, torch.Generator):
        raise UnsupportedArgumentError("torch.Generator")
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*[to_gb(o, memo) for o in obj])
    if isinstance(obj, list | tuple):
        return type(obj)(to_gb(o, memo) for o in obj)
    if isinstance(obj, dict):
        return {k: to_gb(v, memo) for k, v in obj.items()}
    if isinstance(obj, torch.nn.Module):  # a stateless torch module: gradbox's of the same name and options
        cls = getattr(gb.nn, type(obj).__name__, None)
        if cls is None or any(isinstance(v, torch.Tensor) for v in obj.__dict__.values()) or obj._parameters:
            raise UnsupportedArgumentError(f"torch module {type(obj).__name__}")
        m = cls.__new__(cls)
        gb.nn.Module.__init__(m)
        for k, v in vars(obj).items():
            if not k.startswith("_") and isinstance(v, bool | int | float | str | tuple | type(None)):
                setattr(m, k, v)
        return m
    if callable(obj) and str(getattr(obj, "__module__", "")).startswith("torch"):
        name = getattr(obj, "__name__", "")
        if getattr(torch.nn.functional, name, None) is obj and callable(getattr(gb.nn.functional, name, None)):
            return getattr(gb.nn.functional, name)
        if getattr(torch, name, None) is obj and callable(getattr(gb, name, None)):
            return getattr(gb, name)
        raise UnsupportedArgumentError(f"torch callable {obj}")
    return obj


def _dtype_name(x) -> str:
    return str(x.dtype).split(".")[-1]


def compare(g, t, where: str = "output", shape_only: bool = False) -> str | None:
    """None when gradbox's ``g`` equals torch's ``t`` (recursively), else what differs."""
    if isinstance(t, torch.Tensor):
        if not isinstance(g, gb.Tensor):
            return f"{where}: expected a tensor, got {type(g).__name__}"
        if tuple(g.shape) != tuple(t.shape):
            return f"{where}: shape {tuple(g.shape)} != torch {tuple(t.shape)}"
        if _dtype_name(g) != _dtype_name(t):
            return f"{where}: dtype {_dtype_name(g)} != torch {_dtype_name(t)}"
        if shape_only:
            return None
        ga, ta = g._data, t.detach().resolve_neg().numpy()
        if ta.dtype.kind == "f":
            rtol, atol = LOOSE.get(str(ta.dtype), (RTOL, ATOL))
            ok = np.allclose(ga, ta, rtol=rtol, atol=atol, equal_nan=True)
        else:
            ok = np.array_equal(ga, ta)
        if not ok:
            with np.errstate(invalid="ignore"):
                err = np.nanmax(np.abs(ga.astype(np.float64) - ta.astype(np.float64))) if ga.size else 0
            return f"{where}: values differ (max abs err {err:.3g})"
        return None
    if isinstance(t, list | tuple):
        if not isinstance(g, list | tuple):
            return f"{where}: expected a sequence, got {type(g).__name__}"
        if len(g) != len(t):
            return f"{where}: {len(g)} items != torch {len(t)}"
        for i, (gi, ti) in enumerate(zip(g, t)):
            r = compare(gi, ti, f"{where}[{i}]", shape_only)
            if r:
                return r
        return None
    if isinstance(t, bool | int | float):
        if (
            isinstance(g, gb.Tensor)
            or type(g) is not type(t)
            and not (isinstance(g, int | float) and isinstance(t, float))
        ):
            return f"{where}: expected a Python {type(t).__name__}, got {type(g).__name__}"
        if isinstance(t, float) and math.isnan(t):
            return None if isinstance(g, float) and math.isnan(g) else f"{where}: {g} != torch {t}"
        return (
            None
            if g == t or isinstance(t, float) and math.isclose(g, t, rel_tol=RTOL, abs_tol=ATOL)
            else f"{where}: {g} != torch {t}"
        )
    if t is None:
        return None if g is None else f"{where}: expected None, got {type(g).__name__}"
    return None if g == t else f"{where}: {g!r} != torch {t!r}"


def _tensors(out) -> list:
    if isinstance(out, torch.Tensor | gb.Tensor):
        return [out]
    if isinstance(out, list | tuple):
        return [t for o in out for t in _tensors(o)]
    return []


# ---- running samples --------------------------------------------------------------------


@dataclass
class OpResult:
    name: str
    variant: str
    category: str | None
    present: bool
    samples: int = 0
    passed: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: int = 0  # samples whose torch value depends on the random generator


def run_sample(fn: Callable, sample, t_out, name: str, seed: int = 0) -> str | None:
    """Compare gradbox's ``fn`` on one SampleInput with torch's output ``t_out``; None when they agree."""
    memo: dict = {}
    try:
        g_in = to_gb(sample.input, memo)
        g_args = to_gb(tuple(sample.args), memo)
        g_kwargs = to_gb(dict(sample.kwargs), memo)
    except UnsupportedArgumentError as e:
        return f"unsupported argument: {e}"
    try:
        g_out = fn(g_in, *g_args, **g_kwargs)
    except Exception as e:  # noqa: BLE001 - every failure is a finding, named
        return f"raises {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
    r = compare(g_out, t_out, shape_only=name in _UNINITIALIZED)
    if r:
        return r
    # gradients of every torch tensor that requires grad, for sum(out * w)
    t_leaves = [(g, t) for g, t in memo.values() if t.requires_grad and t.is_floating_point()]
    if not t_leaves:
        return None
    try:
        t_proc = sample.output_process_fn_grad(t_out)
    except Exception:  # noqa: BLE001
        return None
    t_outs = [o for o in _tensors(t_proc) if o.requires_grad and o.is_floating_point() and o.grad_fn is not None]
    if not t_outs:
        return None
    try:
        g_proc = sample.output_process_fn_grad(g_out)
    except Exception:  # noqa: BLE001 - torch-only processing: use the raw outputs
        g_proc = g_out
    g_all = _tensors(g_proc)
    t_all = _tensors(t_proc)
    if len(g_all) != len(t_all):
        return "outputs for the gradient: count differs"
    rng = np.random.default_rng(seed)
    ws = {id(o): rng.standard_normal(tuple(o.shape)) for o in t_outs}
    t_pairs = [(o, torch.tensor(ws[id(o)], dtype=o.dtype)) for o in t_outs]
    t_grads = torch.autograd.grad(
        [o for o, _ in t_pairs], [t for _, t in t_leaves], [w for _, w in t_pairs], allow_unused=True, retain_graph=True
    )
    g_pairs = [
        (go, gb.tensor(ws[id(to)].astype(go._data.dtype)))
        for go, to in zip(g_all, t_all)
        if id(to) in ws and isinstance(go, gb.Tensor) and go.requires_grad
    ]
    g_leaves = [g for g, _ in t_leaves]
    if g_pairs and any(g.requires_grad for g in g_leaves):
        try:
            usable = [g for g in g_leaves if g.requires_grad]
            got = gb.autograd.grad([o for o, _ in g_pairs], usable, [w for _, w in g_pairs], allow_unused=True)
        except Exception as e:  # noqa: BLE001
            return f"backward raises {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
        it = iter(got)
        g_grads = [next(it) if g.requires_grad else None for g in g_leaves]
    else:
        g_grads = [None] * len(g_leaves)
    for i, (gg, tg) in enumerate(zip(g_grads, t_grads)):
        if tg is None:
            continue
        if gg is None:
            if tg.abs().max().item() if tg.numel() else 0:
                return f"gradient of input {i}: missing (torch's is nonzero)"
            continue
        r = compare(gg, tg, f"gradient of input {i}")
        if r:
            return r
    return None


def random_sample(name: str, sample) -> bool:
    """Samples whose torch result depends on the random generator (dropout inside attention): skipped."""
    kw = sample.kwargs
    if name == "nn.functional.scaled_dot_product_attention":
        p = kw.get("dropout_p", sample.args[3] if len(sample.args) > 3 else 0.0)
        return p > 0
    if name == "nn.functional.multi_head_attention_forward":
        p = sample.args[9] if len(sample.args) > 9 else kw.get("dropout_p", 0.0)
        return p > 0 and kw.get("training", True)
    return False


def describe(sample) -> str:
    """A short description of a sample: tensors by dtype and shape, other arguments as they are."""

    def d(o):
        if isinstance(o, torch.Tensor):
            return f"T{tuple(o.shape)}{'' if o.dtype == torch.float64 else ':' + _dtype_name(o)}"
        if isinstance(o, list | tuple):
            return (
                ("[" if isinstance(o, list) else "(")
                + ", ".join(d(i) for i in o)
                + ("]" if isinstance(o, list) else ")")
            )
        return repr(o)[:40]

    kw = ", ".join(f"{k}={d(v)}" for k, v in sample.kwargs.items())
    return f"({d(sample.input)}, {', '.join(d(a) for a in sample.args)}{', ' if kw else ''}{kw})"


def sample_dtype(opinfo) -> torch.dtype:
    """float64 where the OpInfo supports it, else int64, else its first real dtype."""
    for d in (torch.float64, torch.int64):
        if opinfo.supports_dtype(d, "cpu"):
            return d
    real = sorted((d for d in opinfo.supported_dtypes("cpu") if not d.is_complex), key=str)
    return real[0] if real else torch.float64


def run_opinfo(opinfo, max_samples: int | None = None, seed: int = 0, force: bool = False) -> OpResult:
    """Run an OpInfo's samples (the first ``max_samples``); out-of-scope ones only when ``force``."""
    name, variant = opinfo.name, opinfo.variant_test_name
    res = OpResult(name, variant, category(name, variant), False)
    if res.category is not None and not force:
        return res
    fn = resolve(name)
    res.present = fn is not None
    if fn is None:
        return res
    start = time.perf_counter()
    dtype = sample_dtype(opinfo)
    torch.manual_seed(seed)
    rg = opinfo.supports_autograd and dtype.is_floating_point
    try:
        _run_samples(opinfo, fn, opinfo.sample_inputs("cpu", dtype, requires_grad=rg), res, max_samples, seed)
        if rg and res.samples == 0 and res.skipped:
            # every gradient sample is random (attention with dropout): PyTorch's forward-only samples,
            # their float tensors made to require grad
            torch.manual_seed(seed)
            fallback = (_requiring_grad(s) for s in opinfo.sample_inputs("cpu", dtype, requires_grad=False))
            _run_samples(opinfo, fn, fallback, res, max_samples, seed)
    except Exception:  # noqa: BLE001 - torch's own sample generator failing is not gradbox's
        pass
    res.seconds = time.perf_counter() - start
    return res


def _requiring_grad(sample):
    for t in [sample.input, *sample.args, *sample.kwargs.values()]:
        for x in t if isinstance(t, list | tuple) else [t]:
            if isinstance(x, torch.Tensor) and x.is_floating_point() and x.is_leaf:
                x.requires_grad_(True)
    return sample


def _run_samples(opinfo, fn, samples, res: OpResult, max_samples: int | None, seed: int) -> None:
    name = opinfo.name
    for k, sample in enumerate(samples):
        if max_samples is not None and k >= max_samples:
            break
        if random_sample(name, sample):
            res.skipped += 1
            continue
        try:
            with torch.random.fork_rng(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t_out = opinfo(sample.input, *sample.args, **sample.kwargs)
        except Exception:  # noqa: BLE001 - samples torch itself rejects are skipped
            continue
        res.samples += 1
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            why = run_sample(fn, sample, t_out, name, seed + k)
        if why is None:
            res.passed += 1
        elif len(res.failures) < 3:
            res.failures.append(f"{why}  <- {describe(sample)}")


def op_db() -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db as db  # deferred: takes seconds
    return list(db)


def run(
    opinfos: Iterable | None = None, max_samples: int | None = None, only: Iterable[str] | None = None
) -> list[OpResult]:
    only = set(only) if only else None
    out = []
    with contextlib.ExitStack():
        for o in opinfos if opinfos is not None else op_db():
            if only is not None and o.name not in only:
                continue
            out.append(run_opinfo(o, max_samples))
    return out


def summary(results: list[OpResult]) -> dict:
    """Operators (OpInfo names) in scope / present, and the samples of the present ones that pass."""
    names = sorted({r.name for r in results})
    in_scope = sorted({r.name for r in results if r.category is None})
    present = sorted({r.name for r in results if r.category is None and r.present})
    samples = sum(r.samples for r in results if r.present)
    passed = sum(r.passed for r in results if r.present)
    return {
        "operators": len(names),
        "in_scope": len(in_scope),
        "out_of_scope": len(names) - len(in_scope),
        "present": len(present),
        "present_pct": round(100.0 * len(present) / max(len(in_scope), 1), 2),
        "samples": samples,
        "samples_passed": passed,
        "samples_pct": round(100.0 * passed / max(samples, 1), 2),
        "missing": sorted(set(in_scope) - set(present)),
    }


def report(results: list[OpResult]) -> str:
    s = summary(results)
    lines = [
        f"operators: {s['operators']} in op_db, {s['in_scope']} in scope, {s['present']} present ({s['present_pct']}%)",
        f"samples of present operators: {s['samples_passed']}/{s['samples']} pass ({s['samples_pct']}%)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max-samples", type=int, default=None)
    p.add_argument("--only", nargs="*", default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--failures", action="store_true", help="list every failing op with its first reasons")
    p.add_argument("--missing", action="store_true", help="list the in-scope operators gradbox lacks")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    results = run(max_samples=a.max_samples, only=a.only)
    print(report(results))
    print(f"({time.perf_counter() - t0:.1f} s)")
    if a.missing:
        print("missing:", " ".join(summary(results)["missing"]))
    if a.failures:
        for r in results:
            if r.present and r.passed < r.samples:
                print(f"{r.name}{'.' + r.variant if r.variant else ''}: {r.passed}/{r.samples} ({r.seconds:.1f}s)")
                for f in r.failures:
                    print("    ", f)
    if a.json:
        s = summary(results)
        with open(a.json, "w") as fh:
            json.dump({**s, "max_samples": a.max_samples}, fh, indent=1)


if __name__ == "__main__":
    main()
