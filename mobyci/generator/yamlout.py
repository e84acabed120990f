"""Data -> YAML text with ruamel: the only way generated pipelines are written (never string templates)."""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.emitter import RoundTripEmitter, ScalarAnalysis
from ruamel.yaml.events import ScalarEvent
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import LiteralScalarString, SingleQuotedScalarString

_STR = "tag:yaml.org,2002:str"
# GitLab (Ruby Psych) and other CI parsers read YAML 1.1, where plain yes/no/on/off, 12:30 or 0777 are not
# strings. ruamel writes YAML 1.2 and would leave them plain, so quote what a 1.1 reader would re-type.
_YAML11 = VersionedResolver(version=(1, 1))


def _retyped_by_yaml11(value: str) -> bool:
    return bool(_YAML11.resolve(ScalarNode, value, (True, False)) != _STR)


def _prepare(value: Any) -> Any:
    if isinstance(value, str):
        if "\n" in value:
            return LiteralScalarString(value)
        return SingleQuotedScalarString(value) if _retyped_by_yaml11(value) else value
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    return value


class _Emitter(RoundTripEmitter):
    """ruamel's emitter, minus the character-by-character analysis of literal blocks.

    ruamel writes a scalar whose style is '|' as a literal block whatever the analysis finds (it forces
    allow_block), so analysing the embedded patch script -- about 15 KB of shell -- only cost time: most of a
    render's. Every other scalar is analysed as before. The golden files pin the bytes this writes.
    """

    def analyze_scalar(self, scalar: Any) -> Any:
        if isinstance(self.event, ScalarEvent) and self.event.style == "|" and "\n" in scalar:
            return ScalarAnalysis(
                scalar=scalar,
                empty=False,
                multiline=True,
                allow_flow_plain=False,
                allow_block_plain=False,
                allow_single_quoted=False,
                allow_double_quoted=True,
                allow_block=True,
            )
        return super().analyze_scalar(scalar)


def dump(data: dict[str, Any]) -> str:
    yaml = YAML(typ="rt", pure=True)
    yaml.Emitter = _Emitter
    yaml.width = 4096  # never fold long shell lines: a folded line is a different command
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(_prepare(data), buffer)
    return buffer.getvalue()
