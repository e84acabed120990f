"""Data -> YAML text with ruamel: the only way generated pipelines are written (never string templates)."""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString


def _literal_multiline(value: Any) -> Any:
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)
    if isinstance(value, dict):
        return {k: _literal_multiline(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_literal_multiline(v) for v in value]
    return value


def dump(data: dict[str, Any]) -> str:
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 4096  # never fold long shell lines: a folded line is a different command
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(_literal_multiline(data), buffer)
    return buffer.getvalue()
