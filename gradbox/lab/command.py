"""``python -m gradbox lab``: list the experiments, run one, or run all under one progress bar."""

from __future__ import annotations

import argparse
import sys

from gradbox.lab.registry import EXPERIMENTS, Result
from gradbox.lab.runner import run, run_all


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``lab`` subcommand to an argparse sub-parsers object."""
    p = sub.add_parser(
        "lab",
        help="the claims of a deep learning course as runnable experiments with pictures",
        description="Without NAME, list the experiments. With NAME, run it: print its finding with the numbers that "
        "support it and write NAME.png and NAME.json to --out. --all runs every experiment.",
    )
    p.add_argument("name", nargs="?", default=None, metavar="NAME", help="the experiment to run (omit to list them)")
    p.add_argument("--all", action="store_true", help="run every experiment, with one progress bar")
    p.add_argument("--out", default="runs/lab", help="folder for the pictures and numbers (default: runs/lab)")
    p.add_argument("--quick", action="store_true", help="small settings that finish in seconds (the tests use them)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default: 0)")
    p.add_argument("--data-root", default="data", help="where datasets are stored and cached (default: ./data)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar with --all")
    return p


def _report(r: Result, out: str, stream=None) -> None:
    stream = stream or sys.stdout
    print(
        f"== {r.name}: {r.title} ({r.seconds:.1f} s{', quick' if r.settings.quick else ''}, seed {r.settings.seed})",
        file=stream,
    )
    print(r.finding, file=stream)
    print(f"-> {out}/{r.name}.png, {out}/{r.name}.json\n", file=stream)


def command(args: argparse.Namespace) -> int:
    """Run the ``lab`` subcommand; returns the exit status."""
    if args.all and args.name:
        print("error: lab: give an experiment NAME or --all, not both", file=sys.stderr)
        return 2
    if not args.all and not args.name:
        width = max(map(len, EXPERIMENTS))
        for e in EXPERIMENTS.values():
            print(f"{e.name:{width}}  {e.title}")
        return 0
    kw = {"out": args.out, "quick": args.quick, "seed": args.seed, "data_root": args.data_root}
    if args.all:
        from tqdm.auto import tqdm  # deferred: only --all draws a bar

        results = run_all(
            progress=not args.no_progress, on_result=lambda r: tqdm.write(f"done: {r.name} ({r.seconds:.1f} s)"), **kw
        )
        for r in results:
            _report(r, args.out)
        print(
            f"{len(results)} experiments in {sum(r.seconds for r in results):.1f} s; pictures and numbers in {args.out}"
        )
        return 0
    if args.name not in EXPERIMENTS:
        print(
            f"error: lab: no experiment named {args.name!r}; the experiments are: {', '.join(EXPERIMENTS)}",
            file=sys.stderr,
        )
        return 2
    _report(run(args.name, **kw), args.out)
    return 0
