"""Test modules share code only through tests/helpers: no test module imports another, nor conftest, nor a
helper by its old place (tests.pipeline_tools)."""

from __future__ import annotations

import ast

from tests.helpers import ROOT


def _imported_modules(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_test_module_imports_another() -> None:
    offenders = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        modules = _imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        bad = sorted(m for m in modules if m.startswith("tests.") and not m.startswith("tests.helpers"))
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}, "move what they share into tests/helpers/"


def test_the_check_sees_an_import_of_a_test_module() -> None:
    tree = ast.parse("from tests.test_fuzz import FORMATS\nimport tests.conftest\nfrom tests import pipeline_tools\n")
    assert {"tests.test_fuzz", "tests.conftest", "tests.pipeline_tools"} <= _imported_modules(tree)
