"""The package's folders are layers: a module imports only from its own layer and the layers below it.

Run-time imports count, at any depth (a function's lazy import is a dependency all the same); imports under
`if TYPE_CHECKING:` do not (they name types for mypy and run nothing). The CI systems' objects are reached from
below only through the registry (mobyci/formats.py `ci_system`), which imports them by name when asked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

# Lowest first. The README's data flow (load -> specmodel -> plan -> patch -> emit) is the order data moves in; the
# imports run the other way where a stage needs an earlier one's types or rules: the loader builds the spec's
# model (specmodel/ below load/), the plan embeds patch rules (patch/ below plan/), and the header of a committed file
# is written by the patch script and the emitters alike (committed/ low, beside the registry).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("mobyci.__init__", "mobyci.errors", "mobyci.formats", "mobyci.templates", "mobyci.committed"),
    ("mobyci.families",),
    ("mobyci.specmodel",),
    ("mobyci.load",),
    ("mobyci.patch",),
    ("mobyci.plan",),
    ("mobyci.emit",),
    ("mobyci.report",),
    ("mobyci.commands", "mobyci.facts", "mobyci.precompile"),
    ("mobyci.cli",),
    ("mobyci.fastpath",),
    ("mobyci.__main__",),
)
# Known imports against the layers, each with its reason; the list only shrinks.
EXCEPTIONS = {
    # Distro archives share the apt mirror's reading of mirrors.apt (a lazy import; the packaging tables'
    # owners keep it there for now).
    ("mobyci.families.packaging_data", "mobyci.specmodel.apt"),
}


def _layer(module: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    # The package's own __init__ keeps its name: "mobyci" alone would be the prefix of every module.
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 2 else parts)


def _package_member(name: str) -> str:
    package = ROOT / "mobyci"
    is_module = (package / f"{name}.py").exists() or (package / name).is_dir()
    return f"mobyci.{name}" if is_module else "mobyci.__init__"


def _runtime_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every mobyci import that runs, at any depth, skipping `if TYPE_CHECKING:` blocks."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "mobyci":
                # `from mobyci import commands` imports a module; `from mobyci import __version__`, the package.
                found.extend((node.lineno, _package_member(alias.name)) for alias in node.names)
            else:
                found.append((node.lineno, node.module))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return [(line, module) for line, module in found if module.split(".")[0] == "mobyci" and module != "mobyci"]


def _sources() -> list[Path]:
    return sorted((ROOT / "mobyci").rglob("*.py"))


def _upward(path: Path) -> list[str]:
    importer = _module_name(path)
    rank = _layer(importer)
    return [
        f"{path.relative_to(ROOT)}:{line}: {importer} imports {module}"
        for line, module in _runtime_imports(ast.parse(path.read_text(encoding="utf-8")))
        if _layer(module) > rank and (importer, module) not in EXCEPTIONS
    ]


def test_no_module_imports_from_a_higher_layer() -> None:
    assert [problem for path in _sources() for problem in _upward(path)] == []


def test_every_exception_is_still_needed() -> None:
    imports = {
        (_module_name(path), module)
        for path in _sources()
        for _, module in _runtime_imports(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert imports >= EXCEPTIONS


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from mobyci.emit.gitlab import x\n", [(1, "mobyci.emit.gitlab")]),
        ("def f():\n    import mobyci.emit.github\n", [(2, "mobyci.emit.github")]),
        ("from mobyci import commands\n", [(1, "mobyci.commands")]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mobyci.plan.model import Plan\n", []),
    ],
)
def test_the_check_reads_imports_at_any_depth_but_not_for_types(source: str, found: list[tuple[int, str]]) -> None:
    assert _runtime_imports(ast.parse(source)) == found


# The layers below the emitters ask a CI system's object (formats.ci_system) and never name a system themselves.
# specmodel/compiled.py is exempt: generated from the registry, it declares each system's block as the spec's keys.
_NEUTRAL = ("load", "specmodel", "plan", "patch", "families")
_GENERATED = {Path("mobyci/specmodel/compiled.py")}


def _system_names(source: str) -> list[tuple[int, str]]:
    """(line, name) of every string constant that spells a CI system, format or `outputs:` key of the registry."""
    from mobyci import formats

    names = {*formats.SYSTEMS, *formats.FORMATS, *(entry.outputs_key for entry in formats.FORMATS.values())}
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and node.value in names
    ]


def test_no_neutral_layer_names_a_ci_system() -> None:
    sources = [path for layer in _NEUTRAL for path in sorted((ROOT / "mobyci" / layer).rglob("*.py"))]
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name!r}"
        for path in sources
        if path.relative_to(ROOT) not in _GENERATED
        for line, name in _system_names(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_system_name_check_finds_a_comparison() -> None:
    source = 'def f(system):\n    """Not for gitlab."""\n    return system == "buildkite" or system in ("github",)\n'
    assert _system_names(source) == [(3, "buildkite"), (3, "github")]


# The views read the Plan and its CI system only: the spec's mirrors, proxy, CA and targets reach them through the
# Plan (plan/network.py), so that what `mobyci plan` says is what the pipeline was built from. Imports for types count
# here too: a view that takes a LoadedSpec reads the spec, whether or not the import runs.
_SPEC_READERS = ("mobyci.load", "mobyci.specmodel.checks")


def _every_import(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every mobyci import, `if TYPE_CHECKING:` blocks included."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return [(line, module) for line, module in found if module.split(".")[0] == "mobyci"]


def _spec_reads(source: str) -> list[tuple[int, str]]:
    return [
        (line, module)
        for line, module in _every_import(ast.parse(source))
        if any(module == reader or module.startswith(reader + ".") for reader in _SPEC_READERS)
    ]


def test_no_view_imports_the_spec_loader_or_its_checks() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted((ROOT / "mobyci" / "report").rglob("*.py"))
        for line, module in _spec_reads(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from mobyci.load.reader import LoadedSpec\n", [(1, "mobyci.load.reader.LoadedSpec")]),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mobyci.load.reader import LoadedSpec\n",
            [(3, "mobyci.load.reader.LoadedSpec")],
        ),
        ("def f():\n    from mobyci.specmodel import checks\n", [(2, "mobyci.specmodel.checks")]),
        ("import mobyci.specmodel.checks\n", [(1, "mobyci.specmodel.checks")]),
        ("from mobyci.specmodel.apt import describe\nfrom mobyci.plan.model import Plan\n", []),
    ],
)
def test_the_view_check_finds_the_spec_s_readers_even_for_types(source: str, found: list[tuple[int, str]]) -> None:
    assert _spec_reads(source) == found
