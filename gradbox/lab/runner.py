"""Running experiments: one (``run``) or all with a progress bar (``run_all``), each writing
``NAME.png`` (its picture) and ``NAME.json`` (its finding and numbers) to an output folder."""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

import gradbox as gb
from gradbox.lab import plot
from gradbox.lab.registry import EXPERIMENTS, DataUnavailableError, Result, Settings, get

MAX_SEED = 2**63 - 1


def jsonable(v: Any) -> Any:
    """Numbers as JSON: arrays to lists, NumPy scalars to Python ones, non-finite floats to None."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, np.bool_ | bool):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(v) else None
    return v


def thin(a: Any, n: int = 400) -> np.ndarray:
    """Every k-th entry of a long series (the first and last kept) so that at most about n remain:
    the JSON keeps the curves' shape without every step."""
    a = np.asarray(a)
    if len(a) <= n:
        return a
    idx = np.unique(np.r_[np.arange(0, len(a), int(np.ceil(len(a) / n))), len(a) - 1])
    return a[idx]


def check_seed(seed: object) -> int:
    """``seed`` as an int in [0, 2^63 - 1]; a ValueError that says so otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed must be an integer from 0 to 2^63 - 1, got {seed!r}")
    return int(seed)


def check_out(out: str | os.PathLike) -> Path:
    """Make the output folder ``out`` (with its parents) and check that a file can be written in
    it, before anything runs; a ValueError says why not."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"output folder {str(path)!r} is an existing file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".lab-write-check-"):
            pass
    except OSError as e:
        raise ValueError(f"cannot write to the output folder {str(path)!r}: {e.strerror or e}") from None
    return path


def run(
    name: str,
    out: str | os.PathLike | None = None,
    quick: bool = False,
    seed: int = 0,
    data_root: str = "data",
) -> Result:
    """Run the experiment ``name`` (seeded: ``gb.manual_seed(seed)`` first); with ``out``, write
    ``out/NAME.png`` and ``out/NAME.json``. Returns the ``Result``. An unknown name, a bad seed or
    an output folder that cannot be written fail with a ValueError before anything runs."""
    exp = get(name)
    seed = check_seed(seed)
    if out is not None:
        check_out(out)
    settings = Settings(quick=quick, seed=seed, data_root=str(data_root))
    gb.manual_seed(seed)
    start = time.perf_counter()
    with plot.style():
        result = exp.func(settings)
    result.seconds = time.perf_counter() - start
    result.name, result.title, result.claim, result.settings = exp.name, exp.title, exp.claim, settings
    if out is not None:
        write(result, out)
    return result


def write(result: Result, out: str | os.PathLike) -> tuple[Path, Path]:
    """``out/NAME.png`` and ``out/NAME.json`` of a result (the JSON written atomically)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{result.name}.png"
    if result.figure is not None:
        plot.save(result.figure, png)
    doc = {
        "name": result.name,
        "title": result.title,
        "claim": result.claim,
        "settings": asdict(result.settings),
        "seconds": round(result.seconds, 2),
        "finding": result.finding,
        "numbers": jsonable(result.numbers),
    }
    path = out / f"{result.name}.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)
    return png, path


def run_all(
    names: Sequence[str] | None = None,
    out: str | os.PathLike | None = None,
    quick: bool = False,
    seed: int = 0,
    data_root: str = "data",
    progress: bool = True,
    on_result: Callable[[Result], None] | None = None,
    on_error: Callable[[str, DataUnavailableError], None] | None = None,
) -> list[Result]:
    """Run several experiments (default: all, in order) under one progress bar; ``on_result``
    is called with each result as it is done. With ``on_error``, an experiment whose data is
    missing (``DataUnavailableError``) is reported to it and skipped; without, the error stops the run."""
    from tqdm.auto import tqdm  # deferred: only the --all run draws a bar

    names = list(EXPERIMENTS) if names is None else list(names)
    for n in names:
        get(n)  # an unknown name, a bad seed or an unwritable folder fails before anything runs
    check_seed(seed)
    if out is not None:
        check_out(out)
    results = []
    bar = tqdm(names, desc="lab", unit="experiment", disable=not progress, dynamic_ncols=True)
    for n in bar:
        bar.set_postfix_str(n)
        try:
            r = run(n, out=out, quick=quick, seed=seed, data_root=data_root)
        except DataUnavailableError as e:
            if on_error is None:
                bar.close()
                raise
            on_error(n, e)
            continue
        results.append(r)
        if on_result is not None:
            on_result(r)
    bar.close()
    return results
