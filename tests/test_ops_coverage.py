"""Every public op (``gb.ops.__all__``, each one ``gb.<name>``) has a parity test against PyTorch.

An op counts as tested when it is a key of one of the op tables in ``PARITY_TABLES`` (a
module-level dict run by a test parametrized over it) or an entry of ``PARITY_TESTS`` (a test
function whose source names the op). Both are read from the test files' source (ast), so a
renamed test, a dropped table entry or a new op without a test fails here, naming the op.
A new op gets its test as an entry of a table in ``tests/test_ops_parity.py``.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

import gradbox as gb

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_OPS = tuple(gb.ops.__all__)

# "file::TABLE" -> the test parametrized over the table's keys; a key that is a public op's name
# is that op's parity test (other keys, such as UNARY's "clamp_min", are variants of an op).
PARITY_TABLES = {
    "tests/test_ops_elementwise.py::UNARY": "test_unary_matches_torch",
    "tests/test_ops_elementwise.py::BINARY": "test_binary_broadcasting_matches_torch",
    "tests/test_ops_reduce.py::REDUCTIONS": "test_reductions_match_torch",
    "tests/test_ops_parity.py::DIFFERENTIABLE": "test_differentiable_ops_match_torch",
    "tests/test_ops_parity.py::VALUES": "test_non_differentiable_ops_match_torch_values_and_dtypes",
    "tests/test_opinfo_conformance.py::OPINFO_PARITY": "test_new_op_matches_torch_on_its_opinfo_samples",
}
# Tables holding nothing but public ops, each entry calling gb.<name> (or naming it as a string).
STRICT_TABLES = ("tests/test_ops_parity.py::DIFFERENTIABLE", "tests/test_ops_parity.py::VALUES")

# op -> its parity test in a file other than the tables above.
_WHERE = "tests/test_ops_elementwise.py::test_where_and_masked_fill_match_torch"
_INDEX = "tests/test_ops_shape.py::test_advanced_indexing_scatter_adds_repeated_indices_like_torch"
_MAXMIN = "tests/test_ops_reduce.py::test_max_min_with_dim_return_values_and_indices_like_torch"
_SOFTMAX = "tests/test_ops_reduce.py::test_softmax_family_matches_torch"
_RESHAPE = "tests/test_ops_shape.py::test_reshape_view_flatten_match_torch"
_PERMUTE = "tests/test_ops_shape.py::test_permute_transpose_T_match_torch"
_EXPAND = "tests/test_ops_shape.py::test_expand_squeeze_unsqueeze_repeat_match_torch"
_FLIP = "tests/test_ops_shape.py::test_flip_and_pad_match_torch"
_CAT = "tests/test_ops_shape.py::test_cat_stack_split_chunk_match_torch"
PARITY_TESTS = {
    "where": _WHERE,
    "masked_fill": _WHERE,
    "gather": _INDEX,
    "index_select": _INDEX,
    "matmul": "tests/test_ops_shape.py::test_matmul_matches_torch_including_vectors_and_batches",
    "max": _MAXMIN,
    "min": _MAXMIN,
    "prod": "tests/test_ops_reduce.py::test_prod_matches_torch_with_and_without_zeros",
    "softmax": _SOFTMAX,
    "log_softmax": _SOFTMAX,
    "reshape": _RESHAPE,
    "view": _RESHAPE,
    "flatten": _RESHAPE,
    "permute": _PERMUTE,
    "transpose": _PERMUTE,
    "movedim": _PERMUTE,
    "expand": _EXPAND,
    "squeeze": _EXPAND,
    "unsqueeze": _EXPAND,
    "repeat": _EXPAND,
    "flip": _FLIP,
    "pad": _FLIP,
    "cat": _CAT,
    "stack": _CAT,
    "split": _CAT,
    "chunk": _CAT,
}


@functools.cache
def _parse(path: str) -> tuple[str, ast.Module] | None:
    file = ROOT / path
    if not file.is_file():
        return None
    src = file.read_text()
    return src, ast.parse(src)


def function_source(path: str, name: str) -> str | None:
    """The source of the module-level function ``name`` in ``path`` with its decorators, or None."""
    parsed = _parse(path)
    if parsed is None:
        return None
    src, tree = parsed
    lines = src.splitlines()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "\n".join(lines[first - 1 : node.end_lineno])
    return None


def table_entries(path: str, name: str) -> dict[str, str] | None:
    """The string keys of the module-level dict ``name`` in ``path``, each with its value's source."""
    parsed = _parse(path)
    if parsed is None:
        return None
    src, tree = parsed
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and isinstance(node.value, ast.Dict):
            return {
                k.value: ast.get_source_segment(src, v)
                for k, v in zip(node.value.keys, node.value.values)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            }
    return None


def mentions(src: str, op: str, test_name: str = "") -> bool:
    """The source calls or names the op: ``gb.<op>``/``x.<op>``, the string ``"<op>"``, or the test's name has it."""
    return bool(
        re.search(rf"\.{re.escape(op)}\b", src)
        or re.search(rf"""["']{re.escape(op)}["']""", src)
        or f"_{op}_" in f"_{test_name}_"
    )


def runs_torch(src: str) -> bool:
    """The test compares with PyTorch: it calls the oracle's ``check`` or calls torch directly."""
    return bool(re.search(r"\bcheck(_module)?\(|\btorch\.", src))


def covered_ops(tests: dict = PARITY_TESTS, tables: dict = PARITY_TABLES) -> dict[str, list[str]]:
    """op name -> where its parity tests are (table entries and PARITY_TESTS), public or not."""
    found: dict[str, list[str]] = {}
    for ref in tables:
        path, table = ref.split("::")
        for key in table_entries(path, table) or {}:
            found.setdefault(key, []).append(f"{ref}[{key!r}]")
    for op, ref in tests.items():
        found.setdefault(op, []).append(ref)
    return found


def missing_parity(public=PUBLIC_OPS, tests: dict = PARITY_TESTS, tables: dict = PARITY_TABLES) -> list[str]:
    """(a) The public ops that no table entry and no PARITY_TESTS entry covers."""
    covered = covered_ops(tests, tables)
    return [op for op in public if op not in covered]


def reference_problems(
    public=PUBLIC_OPS, tests: dict = PARITY_TESTS, tables: dict = PARITY_TABLES, strict=STRICT_TABLES
) -> list[str]:
    """(b) every referenced table and test exists, compares with torch and names its op;
    (c) PARITY_TESTS and the strict tables name only public ops."""
    problems = []
    for ref, test in tables.items():
        path, table = ref.split("::")
        entries = table_entries(path, table)
        src = function_source(path, test)
        if entries is None:
            problems.append(f"{ref}: {path} has no module-level dict {table}")
            continue
        if src is None:
            problems.append(f"{ref}: the test {path}::{test} that runs it does not exist")
            continue
        if not re.search(rf"parametrize\([^)]*\b{table}\b", src):
            problems.append(f"{ref}: {path}::{test} is not parametrized over {table}")
        if not runs_torch(src):
            problems.append(f"{ref}: {path}::{test} does not compare with torch")
        for key, entry in entries.items():
            if ref not in strict:
                continue
            if key not in public:
                problems.append(f"{ref}[{key!r}]: {key!r} is not a public op (gb.ops.__all__)")
            elif not mentions(entry, key):
                problems.append(f"{ref}[{key!r}]: the entry does not call gb.{key}")
    for op, ref in tests.items():
        if op not in public:
            problems.append(f"PARITY_TESTS[{op!r}]: {op!r} is not a public op (gb.ops.__all__)")
        path, test = ref.split("::")
        src = function_source(path, test)
        if src is None:
            problems.append(f"PARITY_TESTS[{op!r}]: {ref} does not exist")
            continue
        if not mentions(src, op, test):
            problems.append(f"PARITY_TESTS[{op!r}]: {ref} does not mention {op}")
        if not runs_torch(src):
            problems.append(f"PARITY_TESTS[{op!r}]: {ref} does not compare with torch")
    return problems


def test_every_public_op_has_a_parity_test_against_torch():
    missing = missing_parity()
    assert not missing, (
        f"public ops without a parity test against torch: {missing}; add each to a table in "
        "tests/test_ops_parity.py (or its existing test to PARITY_TESTS in tests/test_ops_coverage.py)"
    )


def test_every_referenced_parity_test_exists_compares_with_torch_and_names_its_op():
    problems = [p for p in reference_problems() if "is not a public op" not in p]
    assert not problems, "\n".join(problems)


def test_the_mapping_and_the_op_tables_name_only_public_ops():
    problems = [p for p in reference_problems() if "is not a public op" in p]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", PUBLIC_OPS)
def test_every_public_op_is_gb_dot_its_name(name):
    assert callable(getattr(gb, name, None)), f"gb.ops.__all__ lists {name!r}, but gb.{name} is missing"


def test_the_meta_test_reports_what_is_missing_stale_or_not_public():
    assert missing_parity() == []
    assert missing_parity(PUBLIC_OPS + ("frobnicate",)) == ["frobnicate"]
    assert missing_parity(tests={k: v for k, v in PARITY_TESTS.items() if k != "matmul"}) == ["matmul"]
    tables = {k: v for k, v in PARITY_TABLES.items() if not k.endswith("::DIFFERENTIABLE")}
    assert "amax" in missing_parity(tables=tables) and "erf" in missing_parity(tables=tables)

    assert reference_problems() == []
    stale = {
        "matmul": "tests/test_ops_shape.py::test_that_was_renamed",
        "where": "tests/test_ops_shape.py::test_flip_and_pad_match_torch",
        "frobnicate": _FLIP,
    }
    problems = reference_problems(tests=stale)
    assert any("PARITY_TESTS['matmul']" in p and "does not exist" in p for p in problems)
    assert any("PARITY_TESTS['where']" in p and "does not mention where" in p for p in problems)
    assert any("PARITY_TESTS['frobnicate']" in p and "not a public op" in p for p in problems)
    not_public = reference_problems(public=tuple(op for op in PUBLIC_OPS if op != "erf"))
    assert not_public == ["tests/test_ops_parity.py::DIFFERENTIABLE['erf']: 'erf' is not a public op (gb.ops.__all__)"]
    gone = reference_problems(tables={"tests/test_ops_parity.py::NO_SUCH_TABLE": "test_differentiable_ops_match_torch"})
    assert gone == [
        "tests/test_ops_parity.py::NO_SUCH_TABLE: tests/test_ops_parity.py has no module-level dict NO_SUCH_TABLE"
    ]
    unrun = reference_problems(tables={"tests/test_ops_parity.py::VALUES": "test_differentiable_ops_match_torch"})
    assert unrun == [
        "tests/test_ops_parity.py::VALUES: tests/test_ops_parity.py::test_differentiable_ops_match_torch "
        "is not parametrized over VALUES"
    ]


def test_mentions_needs_the_op_called_named_or_in_the_test_name():
    assert mentions("check(gb.amax, torch.amax, x)", "amax")
    assert mentions('for op in ["eq", "ne"]:', "ne")
    assert mentions("check(lambda a, b: a @ b, ...)", "matmul", "test_matmul_matches_torch")
    assert not mentions("check(gb.amin, torch.amin, x)", "amax")
    assert not mentions("x.transpose(0, 1)", "t")
    assert not mentions("gb.minimum(a, b)", "min", "test_minimum_matches_torch")
