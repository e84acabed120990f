"""mobyci.specmodel.core loads pydantic-core's extension without its package: validation must not need the package,
a later `import pydantic_core` must share the same classes, and any failure must fall back to the plain import."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import EXAMPLES, ROOT

SEED = EXAMPLES / "seed-19.03" / "mobyci.yaml"


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return done.stdout.strip()


def test_validation_runs_without_the_pydantic_core_package() -> None:
    code = (
        "import sys\nfrom mobyci.load.reader import load_file\n"
        f"loaded = load_file({str(SEED)!r})\n"
        "print(loaded.release.family.name, 'pydantic_core' in sys.modules, 'pydantic_core.core_schema' in sys.modules)"
    )
    assert _run(code) == "19.03 False False"


def test_a_later_package_import_shares_the_extension() -> None:
    code = (
        "from mobyci.specmodel import core\nimport pydantic_core\n"
        "print(core.ValidationError is pydantic_core.ValidationError, core.SchemaValidator is "
        "pydantic_core.SchemaValidator, core.VERSION == pydantic_core.__version__)"
    )
    assert _run(code) == "True True True"


def test_a_failed_direct_load_falls_back_to_the_package() -> None:
    # The direct load fails (as on an implementation without this extension): the ordinary import takes over.
    code = (
        "import importlib.machinery as m\n"
        "class Refusing(m.ExtensionFileLoader):\n    def create_module(self, spec):\n        raise ImportError('no')\n"
        "m.ExtensionFileLoader = Refusing\n"
        "import sys\nfrom mobyci.load.reader import load_file\n"
        f"print(load_file({str(SEED)!r}).release.family.name, 'pydantic_core' in sys.modules)"
    )
    assert _run(code) == "19.03 True"


def test_refused_values_still_raise_the_extension_s_error() -> None:
    code = (
        "from mobyci.errors import SpecError\nfrom mobyci.load.reader import load_text\n"
        "try:\n    load_text('version: 1\\nmoby: {ref: v27.5.1}\\nci: {retry: 9}\\ntargets: [binary]\\n')\n"
        "except SpecError as exc:\n    print(exc.problems[0])\n"
    )
    assert _run(code) == "mobyci.yaml:3:13: ci.retry: must be between 0 and 2, got 9"
