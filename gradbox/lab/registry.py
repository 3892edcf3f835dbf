"""The lab's registry: each experiment is a function of its settings that returns a ``Result``.

An experiment module decorates its ``run(settings)`` with ``@experiment(name, title, claim)``;
``gradbox.lab`` imports the modules in the course's order, so ``EXPERIMENTS`` lists them so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Settings:
    """How an experiment runs: ``quick`` (seconds, for the tests) or full (for the docs'
    pictures), the ``seed`` of every random draw, and where datasets live (``data_root``)."""

    quick: bool = False
    seed: int = 0
    data_root: str = "data"


@dataclass
class Result:
    """What an experiment found: ``finding`` (plain words with the numbers that support it),
    ``numbers`` (everything computed, JSON-able: written next to the picture) and ``figure``
    (a matplotlib Figure). The runner fills ``name``, ``title``, ``claim``, ``settings`` and
    ``seconds``."""

    finding: str
    numbers: dict[str, Any]
    figure: Any = None
    name: str = ""
    title: str = ""
    claim: str = ""
    settings: Settings = field(default_factory=Settings)
    seconds: float = 0.0


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its command-line ``name``, a one-line ``title``, the ``claim``
    of the course it reproduces, and the function that runs it."""

    name: str
    title: str
    claim: str
    func: Callable[[Settings], Result]


EXPERIMENTS: dict[str, Experiment] = {}


def experiment(
    name: str, title: str, claim: str
) -> Callable[[Callable[[Settings], Result]], Callable[[Settings], Result]]:
    """Register ``func(settings) -> Result`` under ``name``."""

    def register(func: Callable[[Settings], Result]) -> Callable[[Settings], Result]:
        if name in EXPERIMENTS:
            raise ValueError(f"experiment {name!r} is registered twice")
        EXPERIMENTS[name] = Experiment(name, title, claim, func)
        return func

    return register


def get(name: str) -> Experiment:
    """The experiment called ``name``; a ValueError lists the names otherwise."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ValueError(f"no experiment named {name!r}; the experiments are: {', '.join(EXPERIMENTS)}") from None
