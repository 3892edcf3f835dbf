"""The lab's registry: each experiment is a function of its settings that returns a ``Result``.

An experiment module decorates its ``run(settings)`` with ``@experiment(name, title, claim)``;
``gradbox.lab`` imports the modules in the course's order, so ``EXPERIMENTS`` lists them so.
"""

from __future__ import annotations

import difflib
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


class DataUnavailableError(RuntimeError):
    """An experiment cannot run here because the data it needs is missing (the message says
    where it was looked for and how to get it); ``run_all`` can skip it and go on."""


def close_names(name: str) -> list[str]:
    """The experiment names closest to a misspelt ``name`` (also matching a prefix or a part)."""
    low = name.lower().replace("_", "-").strip()
    close = difflib.get_close_matches(low, list(EXPERIMENTS), n=3, cutoff=0.5)
    parts = [n for n in EXPERIMENTS if low and len(low) >= 3 and (low in n or n.startswith(low))]
    return list(dict.fromkeys(close + parts))[:3]


def unknown_name_message(name: str) -> str:
    """'no experiment named ...', the closest names, and the list."""
    close = close_names(name)
    hint = f" (did you mean {' or '.join(repr(n) for n in close)}?)" if close else ""
    return f"no experiment named {name!r}{hint}. The experiments are: {', '.join(EXPERIMENTS)}"


def get(name: str) -> Experiment:
    """The experiment called ``name``; a ValueError names the closest ones and lists all otherwise."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ValueError(unknown_name_message(name)) from None
