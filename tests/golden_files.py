"""Golden-file comparison shared by the explain tests: ``GRADBOX_REGENERATE_GOLDEN=1`` rewrites
the files under tests/golden/explain/ instead of comparing."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden" / "explain"
REGENERATE = os.environ.get("GRADBOX_REGENERATE_GOLDEN") == "1"


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}: run with GRADBOX_REGENERATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} differs from its golden file (regenerate if the change is intended)"
