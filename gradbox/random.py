"""gradbox's own random number generator (NumPy's PCG64), seeded by ``gb.manual_seed``."""

from __future__ import annotations

from typing import Any

import numpy as np

_DEFAULT_SEED = 67280421310721  # PyTorch's initial CPU seed: runs are reproducible by default


class Generator:
    """A random stream, as ``torch.Generator``: ``manual_seed``, ``initial_seed``, ``get_state``/``set_state``."""

    def __init__(self, device: str = "cpu") -> None:
        self._seed = _DEFAULT_SEED
        self.rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self.rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict[str, Any]:
        return {"seed": self._seed, "bit_generator": self.rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        self._seed = state["seed"]
        self.rng.bit_generator.state = state["bit_generator"]


default_generator = Generator()


def _gen(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).rng


def manual_seed(seed: int) -> Generator:
    """Seed gradbox's default generator (creation functions, init, dropout, shuffling)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict[str, Any]:
    return default_generator.get_state()


def set_rng_state(state: dict[str, Any]) -> None:
    default_generator.set_state(state)
