"""``docs/lab.md`` from the lab's results: every picture with its claim and its finding."""

from __future__ import annotations

from collections.abc import Sequence

from gradbox.lab.registry import Result

INTRO = """# The lab

The claims of a deep learning course, each reproduced by an experiment that computes its finding
with gradbox and draws it. Nothing below is written by hand: `python docs/make_lab.py` runs every
experiment on its full settings (seed {seed}) and writes this page and the pictures in `docs/lab/`
(the numbers behind each picture are in `docs/lab/NAME.json`).

```sh
python -m gradbox lab                          # list the experiments
python -m gradbox lab optimizers --out runs/lab  # run one: prints its finding, writes the PNG and JSON
python -m gradbox lab --all --quick            # all of them on the quick settings (seconds; the tests use them)
```

Each experiment has a test (`tests/test_lab.py`) that asserts its claim from the numbers computed
on the quick settings.

| # | experiment | claim |
|---|---|---|
{rows}
"""


def _split_details(finding: str) -> tuple[str, str]:
    """The finding, with worked lines (from a line starting 'Worked lines') set apart."""
    lines = finding.splitlines()
    for i, ln in enumerate(lines):
        if ln.startswith("Worked lines"):
            return "\n".join(lines[:i]), "\n".join(lines[i:])
    return finding, ""


def markdown(results: Sequence[Result], image_dir: str = "lab") -> str:
    """The page: an index, then per experiment its claim, picture and finding (with its settings)."""
    seed = results[0].settings.seed if results else 0
    rows = "\n".join(f"| {i} | [`{r.name}`](#{i}-{r.name}) | {r.title} |" for i, r in enumerate(results, 1))
    parts = [INTRO.format(seed=seed, rows=rows)]
    for i, r in enumerate(results, 1):
        main, details = _split_details(r.finding)
        mode = "quick" if r.settings.quick else "full"
        parts.append(
            f"## {i}. {r.name}\n\n**{r.title}.** {r.claim}\n\n"
            f'<img src="{image_dir}/{r.name}.png" alt="{r.title}" width="100%">\n\n'
            f"Finding ({mode} settings, seed {r.settings.seed}; `python -m gradbox lab {r.name}`):\n\n"
            f"```text\n{main}\n```\n"
        )
        if details:
            parts.append(f"<details><summary>Worked lines</summary>\n\n```text\n{details}\n```\n\n</details>\n")
    return "\n".join(parts)
