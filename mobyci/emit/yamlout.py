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
    """ruamel's emitter, with its per-character Python loops taken out of the common cases.

    Emitting was most of a render's time, character by character: the analysis of each scalar (whose result
    ruamel ignores for a '|' literal block: it forces allow_block), and the writers of literal blocks and plain
    scalars. Here a literal block is not analysed, other scalars are analysed once per distinct value (jobs
    repeat many lines), and a literal block or a plain one-line scalar that fits the line is written whole.
    Anything else goes to ruamel as before. tests/test_yamlout.py compares the bytes with ruamel's emitter.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._analyses: dict[str, ScalarAnalysis] = {}

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
        known = self._analyses.get(scalar)
        if known is None:
            known = self._analyses[scalar] = super().analyze_scalar(scalar)
        # A fresh object each time: ruamel sets attributes on the analysis it is given.
        return ScalarAnalysis(**vars(known))

    def write_plain(self, text: Any, split: Any = True) -> None:
        if (
            self.root_context
            or self.encoding
            or not text
            or self.column + len(text) + 1 > self.best_width
            or any(c in text for c in "\n\x85\u2028\u2029")
        ):
            super().write_plain(text, split)
            return
        # As ruamel does for a scalar that needs no wrapping: a separating space unless one was just written.
        if not self.whitespace:
            self.stream.write(" ")
            self.column += 1
        self.whitespace = False
        self.indention = False
        self.stream.write(text)
        self.column += len(text)

    def write_literal(self, text: Any, comment: Any = None) -> None:
        if self.root_context or self.encoding or any(c in text for c in "\x85\u2028\u2029"):
            super().write_literal(text, comment)
            return
        hints, _, indicator = self.determine_block_hints(text)
        self.write_indicator("|" + hints + (comment if isinstance(comment, str) else ""), True)
        if indicator == "+":
            self.open_ended = True
        self.write_line_break()
        # As ruamel does: every line at the current indent, empty lines without spaces, and a line break after the
        # last line whether or not the text ends with one (the header's chomping indicator records which).
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        pad = " " * (self.indent or 0)
        self.stream.write("".join(f"{pad}{line}\n" if line else "\n" for line in lines))
        self.line += len(lines)
        self.column = 0
        self.whitespace = True
        self.indention = True


def dump(data: dict[str, Any]) -> str:
    yaml = YAML(typ="rt", pure=True)
    yaml.Emitter = _Emitter
    yaml.width = 4096  # never fold long shell lines: a folded line is a different command
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(_prepare(data), buffer)
    return buffer.getvalue()
