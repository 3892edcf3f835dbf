import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Reproducible in CI: the same examples every run; locally `HYPOTHESIS_PROFILE=dev` explores.
settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=15, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The repository's data folder (as `make run` uses): MNIST is built there once and cached."""
    return ROOT / "data"
