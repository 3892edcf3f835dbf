"""``python -m gradbox``: command-line entry point."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gradbox", description="gradbox command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="a worked backward pass on f = (x*y)*z, printing each node's value and gradient")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from gradbox.demo import autograd_demo

        autograd_demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
