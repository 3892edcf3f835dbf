"""Write docs/lab.md and its pictures: every lab experiment on its full settings, seeded.

    .venv/bin/python docs/make_lab.py [--seed 0] [--quick]

Runs ``gradbox.lab.run_all`` (the same code as ``python -m gradbox lab --all``) into docs/lab/
(NAME.png and NAME.json per experiment) and writes docs/lab.md from the results.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gradbox import lab

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="quick settings (to check the page, not to publish it)")
    ap.add_argument("--data-root", default=str(ROOT / "data"))
    args = ap.parse_args()
    out = DOCS / "lab"
    results = lab.run_all(out=out, quick=args.quick, seed=args.seed, data_root=args.data_root)
    page = DOCS / "lab.md"
    page.write_text(lab.markdown(results, "lab"))
    for r in results:
        print(f"{r.name}: {r.seconds:.1f} s")
    print(f"wrote {page} and {len(results)} pictures in {out}")


if __name__ == "__main__":
    main()
