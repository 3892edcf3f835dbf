"""The package layout is the architecture: each module imports only from its own layer or below.

Layers, bottom to top (README, "What is inside"):
0 core: tensor, dtypes, creation, random, autograd, ops;
1 the torch mirror: nn, optim, utils.data, serialization;
2 vision: torchvision's datasets, transforms, models;
3 tools beyond PyTorch: inspect, lab, onnx, interop, train, testing, and the ``gradbox``
  package itself (its ``__init__`` gathers the public API, tools included);
4 entry points: cli, __main__.

Every import is checked, function-local ones too; a function-local import of a gradbox module
must say which cycle it breaks (a comment with "cycle"), and one of another package must say
why it is deferred (any comment).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "gradbox"

LAYERS = {
    "_dtype": 0,
    "_malloc": 0,
    "_repr": 0,
    "_tensor_methods": 0,
    "_inplace": 0,
    "_device": 0,
    "_numeric": 0,
    "cuda": 0,
    "backends": 0,
    "accelerator": 0,
    "tensor": 0,
    "creation": 0,
    "random": 0,
    "autograd": 0,
    "ops": 0,
    "nn": 1,
    "optim": 1,
    "utils": 1,
    "serialization": 1,
    "vision": 2,
    "inspect": 3,
    "lab": 3,
    "onnx": 3,
    "interop": 3,
    "train": 3,
    "testing": 3,
    "": 3,  # the package root: ``import gradbox`` is the whole public API
    "cli": 4,
    "cli_inspect": 4,
    "__main__": 4,
}
NAMES = {0: "core", 1: "torch mirror", 2: "vision", 3: "tools", 4: "entry points"}


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    """The layer of a gradbox module name (``gradbox.nn.functional`` -> 1)."""
    parts = module.split(".")
    assert parts[0] == "gradbox", module
    top = parts[1] if len(parts) > 1 else ""
    if top not in LAYERS:
        raise AssertionError(f"{module}: top-level name {top!r} has no layer; add it to LAYERS in {__file__}")
    return LAYERS[top]


def _imports(tree: ast.AST, own: str, is_pkg: bool):
    """(line, imported gradbox module, function-local?) for every import of a gradbox module,
    and (line, module) for function-local imports of other packages."""
    local_lines = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    local_lines.add(node.lineno)
    ours, others = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against this module's package
                pkg = own.split(".") if is_pkg else own.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            # ``from gradbox import nn``: the submodule; ``from gradbox import tensor``: likewise
            names = [f"{base}.{a.name}" if base == "gradbox" else base for a in node.names]
        else:
            continue
        local = node.lineno in local_lines
        for name in names:
            if name == "gradbox" or name.startswith("gradbox."):
                if name.startswith("gradbox.") and name.split(".")[1] not in LAYERS:
                    name = "gradbox"  # ``from gradbox import tensor_fn``: a name from the root
                ours.append((node.lineno, name, local))
            elif local:
                others.append((node.lineno, name))
    return sorted(ours), sorted(others)


def _comment_near(lines: list[str], lineno: int) -> str:
    """The comment on the import's line or the line above it."""
    out = []
    for i in (lineno - 2, lineno - 1):
        if 0 <= i < len(lines) and "#" in lines[i]:
            out.append(lines[i].split("#", 1)[1])
    return " ".join(out)


def test_every_module_has_a_layer():
    for path in _modules():
        layer_of(_dotted(path))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG.parent)))
def test_imports_go_down_the_layers(path: Path):
    own = _dotted(path)
    mine = layer_of(own)
    source = path.read_text()
    ours, _ = _imports(ast.parse(source), own, path.name == "__init__.py")
    bad = [
        f"{path.relative_to(PKG.parent)}:{line}: imports {name} ({NAMES[layer_of(name)]}) from {NAMES[mine]}"
        for line, name, _ in ours
        if layer_of(name) > mine
    ]
    assert not bad, "imports from a higher layer:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG.parent)))
def test_function_local_imports_say_why(path: Path):
    own = _dotted(path)
    source = path.read_text()
    lines = source.splitlines()
    ours, others = _imports(ast.parse(source), own, path.name == "__init__.py")
    bad = [
        f"{path.relative_to(PKG.parent)}:{line}: function-local import of {name} without a '# cycle: ...' comment"
        for line, name, local in ours
        if local and "cycle" not in _comment_near(lines, line)
    ]
    bad += [
        f"{path.relative_to(PKG.parent)}:{line}: function-local import of {name} without a comment saying why"
        for line, name in others
        if not _comment_near(lines, line).strip()
    ]
    assert not bad, "\n".join(bad)


def test_the_checker_catches_an_upward_import(tmp_path):
    """The test above can fail: an ops module importing nn (also inside a function) is flagged."""
    src = "def f():\n    from gradbox.nn import functional\n\nimport gradbox.vision.models\n"
    ours, _ = _imports(ast.parse(src), "gradbox.ops.shape", False)
    assert [(n, local) for _, n, local in ours] == [("gradbox.nn", True), ("gradbox.vision.models", False)]
    assert all(layer_of(n) > layer_of("gradbox.ops.shape") for _, n, _ in ours)
    ours, _ = _imports(ast.parse("from . import conv\n"), "gradbox.nn.functional", True)
    assert ours[0][1] == "gradbox.nn.functional"  # relative imports resolve


def test_import_gradbox_imports_no_torch_and_no_testing():
    import subprocess
    import sys

    code = "import sys, gradbox; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx', 'safetensors') or m.startswith('gradbox.testing')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
