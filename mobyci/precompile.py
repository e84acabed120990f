"""Regenerate the committed precompiled files that keep `validate` and `render` fast:

- mobyci/specmodel/compiled.py: the spec's run-time classes and pydantic-core schema, from specmodel/model.py;
- mobyci/templates/patch_sh.py: the patch script template compiled by jinja2, from templates/patch.sh.j2.

    python -m mobyci.precompile

Tests fail while either file is stale, and each names this command.
"""

from __future__ import annotations

from mobyci.patch import template
from mobyci.specmodel import compile as spec_compiler


def main() -> None:
    for path, text in (
        (spec_compiler.TARGET, spec_compiler.source()),
        (template.PRECOMPILED, template.precompiled_source()),
    ):
        path.write_text(text, encoding="utf-8")
        print(f"{path}: written")


if __name__ == "__main__":
    main()
