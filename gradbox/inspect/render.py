"""DOT text to SVG or PNG with a Graphviz layout engine found on this machine.

gradbox depends on ``graphviz-pure``: a PyPI wheel holding one statically linked program, a
Rust port of Graphviz's ``dot`` with its fonts, so rendering works after ``pip install`` on a
fresh machine without system packages. Looked up in order: ``$GRADBOX_DOT`` (a path to any
``dot``-compatible program), ``graphviz-pure`` next to this Python (a venv's ``bin`` need not
be on PATH), ``graphviz-pure`` on PATH, Graphviz's own ``dot`` on PATH. With none of them,
rendering raises :class:`RenderUnavailableError` and the DOT text stays available.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

HOW_TO = (
    "no Graphviz layout engine was found: install the graphviz-pure wheel (`pip install graphviz-pure`, "
    "a dependency of gradbox), or Graphviz's `dot`, or set GRADBOX_DOT to a dot program; "
    "the graph's DOT text is in Graph.source (paste it into any Graphviz viewer)"
)


class RenderUnavailableError(RuntimeError):
    """No program to lay out DOT was found (or it failed)."""


def find_renderer() -> str | None:
    """The path of the program that lays out DOT, or None."""
    env = os.environ.get("GRADBOX_DOT")
    if env:
        return env if (Path(env).exists() or shutil.which(env)) else None
    exe = "graphviz-pure" + (".exe" if sys.platform == "win32" else "")
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        p = Path(folder) / exe
        if p.exists():
            return str(p)
    return shutil.which("graphviz-pure") or shutil.which("dot")


def render(source: str, fmt: str = "svg", timeout: float = 60.0) -> bytes:
    """Lay out DOT ``source`` and render it as ``fmt`` (svg, png)."""
    prog = find_renderer()
    if prog is None:
        raise RenderUnavailableError(HOW_TO)
    try:
        res = subprocess.run(
            [prog, f"-T{fmt}"] + (["-Gdpi=144"] if fmt == "png" else []),
            input=source.encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except OSError as e:
        raise RenderUnavailableError(f"{prog} could not be run ({e}); {HOW_TO}") from None
    if res.returncode != 0 or not res.stdout:
        raise RenderUnavailableError(
            f"{prog} failed (exit {res.returncode}): {res.stderr.decode(errors='replace')[:500]}"
        )
    return res.stdout
