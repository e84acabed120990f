"""The format registry is the one list of formats, and emitters read the Plan alone.

An emitter that reached into the spec (mobyci.load, mobyci.specmodel, LoadedSpec) would again decide things the Plan
should carry, so no emitter module may import it; the registry must name every emitter and nothing else lists formats.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from mobyci import formats
from mobyci.plan.model import Plan
from mobyci.specmodel.compiled import Outputs
from tests.helpers import ROOT

EMITTERS = sorted({entry.module for entry in formats.FORMATS.values()})


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, what) for every import in the module, including those inside functions and TYPE_CHECKING."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _module_path(module: str) -> Path:
    return ROOT / (module.replace(".", "/") + ".py")


@pytest.mark.parametrize("module", EMITTERS)
def test_no_emitter_imports_the_spec(module: str) -> None:
    path = _module_path(module)
    wrong = [
        f"{path.name}:{line}: {name}"
        for line, name in _imports(path)
        if name.startswith(("mobyci.load", "mobyci.specmodel")) or name.endswith(".LoadedSpec")
    ]
    assert wrong == []


def test_the_import_check_sees_a_spec_import(tmp_path: Path) -> None:
    emitter = tmp_path / "emitter.py"
    emitter.write_text("def f():\n    from mobyci.load.reader import LoadedSpec\n    import mobyci.specmodel.fields\n")
    assert _imports(emitter) == [(2, "mobyci.load.reader.LoadedSpec"), (3, "mobyci.specmodel.fields")]


@pytest.mark.parametrize("name", formats.NAMES)
def test_every_format_has_an_emitter_that_takes_a_plan(name: str) -> None:
    emit = formats.emitter(name)
    (parameter,) = inspect.signature(emit).parameters.values()
    assert parameter.annotation in (Plan, "p.Plan", "Plan")


def test_outputs_keys_are_the_formats_and_the_patch_script() -> None:
    # The schema's outputs: block is declared field by field (it is compiled ahead of time): it must name each
    # registered format, and the patch script, and nothing else.
    keys = {entry.outputs_key for entry in formats.FORMATS.values()}
    assert set(Outputs.field_names) == keys | {"patch"}


def test_each_system_has_its_own_format_and_settings_block() -> None:
    from mobyci.specmodel.compiled import CI

    for system in formats.SYSTEMS:
        entry = formats.FORMATS[system]
        assert entry.system == system
        assert entry.settings in CI.field_names
    for entry in formats.FORMATS.values():
        assert entry.system in formats.SYSTEMS


def test_the_registry_imports_no_emitter() -> None:
    # The fast path imports the registry: it must not pull the YAML writer in.
    code = (
        "import sys, mobyci.formats; print(sorted(m for m in sys.modules if m.startswith(('mobyci.emit', 'ruamel'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_emitters_are_imported_on_demand() -> None:
    module = importlib.import_module(formats.FORMATS["github"].module)
    assert formats.emitter("github") is module.render_github
