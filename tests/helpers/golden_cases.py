"""Golden files and examples, shared by the tests of every output format.

Each format's test file parametrizes over `cases(...)` and calls `assert_current`; `MOBYCI_UPDATE_GOLDEN=1`
rewrites the expected files instead (read the diff before committing).
"""

from __future__ import annotations

import os
from pathlib import Path

from mobyci.emit.render import render_pipeline
from mobyci.load.reader import LoadedSpec, load_text
from tests.helpers import EXAMPLES, ROOT

GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("MOBYCI_UPDATE_GOLDEN") == "1"


def cases(golden_name: str, example_path: str) -> list[tuple[str, Path, Path]]:
    """(id, spec, expected output) for every golden case and every example."""
    found = [(f"golden/{d.name}", d / "spec.yaml", d / golden_name) for d in sorted(GOLDEN.iterdir())]
    found += [(f"examples/{d.name}", d / "mobyci.yaml", d / example_path) for d in sorted(EXAMPLES.iterdir())]
    return found


def load_case(spec: Path) -> LoadedSpec:
    # The spec's path relative to its case's root, as a user would run it there.
    return load_text(spec.read_text(), spec.name, base=spec.parent)


def assert_current(spec: Path, expected: Path, fmt: str, test_file: str) -> None:
    regenerate = f"MOBYCI_UPDATE_GOLDEN=1 pytest {test_file}"
    text = render_pipeline(load_case(spec), fmt)
    if UPDATE:
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_text(text)
    assert expected.exists(), f"missing {expected}: {regenerate}"
    assert text == expected.read_text(), f"stale: regenerate with {regenerate}"
