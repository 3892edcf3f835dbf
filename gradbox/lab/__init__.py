"""``gradbox.lab``: the claims of a deep learning course, reproduced as runnable experiments.

Each experiment computes its finding with gradbox (nothing is written down in advance), says it
in plain words with the numbers that support it, and draws a picture::

    from gradbox import lab
    r = lab.run("logsumexp", out="runs/lab", quick=True)   # writes logsumexp.png and logsumexp.json
    print(r.finding)

``python -m gradbox lab`` lists them; ``python -m gradbox lab NAME`` runs one, ``--all`` all;
``docs/make_lab.py`` runs the full settings and writes ``docs/lab.md``.
"""

from gradbox.lab import (  # noqa: F401 - importing a module registers its experiments
    backprop,
    bias_variance,
    convolution,
    costs,
    depth,
    dropout,
    fields,
    optimizers,
    smoothmax,
    weight_decay,
)
from gradbox.lab.command import add_parser, command
from gradbox.lab.registry import (
    EXPERIMENTS,
    DataUnavailableError,
    Experiment,
    Result,
    Settings,
    close_names,
    experiment,
    get,
)
from gradbox.lab.report import markdown
from gradbox.lab.runner import check_out, check_seed, jsonable, run, run_all, write

# the course's order, in which they are listed and run
ORDER = (
    "logsumexp",
    "vanishing-gradients",
    "init-variance",
    "dropout-homogeneity",
    "optimizers",
    "weight-decay",
    "conv-vs-correlation",
    "receptive-field",
    "architecture-costs",
    "bias-variance",
    "backprop-by-hand",
)
if set(ORDER) != set(EXPERIMENTS):
    raise RuntimeError(
        f"gradbox.lab.ORDER and the registered experiments differ: {sorted(set(ORDER) ^ set(EXPERIMENTS))}"
    )
EXPERIMENTS.update([(n, EXPERIMENTS.pop(n)) for n in ORDER])

__all__ = [
    "EXPERIMENTS",
    "ORDER",
    "DataUnavailableError",
    "Experiment",
    "Result",
    "Settings",
    "add_parser",
    "check_out",
    "check_seed",
    "close_names",
    "command",
    "experiment",
    "get",
    "jsonable",
    "markdown",
    "run",
    "run_all",
    "write",
]
