"""YAML text -> plain Python data plus the position of every key and value.

Composes nodes instead of constructing objects so that nothing in the file can run code or build
custom types, duplicate keys and merge keys are caught with their positions, and alias expansion
is bounded (an alias bomb is refused, not expanded).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import composer as _composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from mobyci.errors import Problem

MAX_BYTES = 1024 * 1024  # a spec is a few KiB; anything near this is a mistake or an attack
MAX_VALUES = 10_000  # scalars + collections after alias expansion
MAX_DEPTH = 32

Path = tuple[str | int, ...]
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_YAML_TAG = "tag:yaml.org,2002:"
_YAML_DIRECTIVE_RE = re.compile(r"^%YAML\b", re.MULTILINE)
# Characters no value needs, which would reach terminals and generated files from an escape such as "\x1b":
# controls other than tab and newline (those get a field's own message), surrogates, and the bidirectional
# overrides and isolates that make text read differently from what it is.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_CLIP = 40
# ruamel >= 0.19 stops composing at YAML().max_depth; older releases recurse until RecursionError, which takes
# seconds for a file of 10,000 '[' (both are caught below).
_TOO_DEEP: type[Exception] = getattr(_composer, "MaxDepthExceededError", RecursionError)


@dataclass
class Document:
    data: Any
    key_pos: dict[Path, tuple[int, int]] = field(default_factory=dict)  # 1-based (line, col) of each key
    value_pos: dict[Path, tuple[int, int]] = field(default_factory=dict)  # ... and of each value
    raw: dict[Path, str] = field(default_factory=dict)  # scalar text as written, for "quote it" hints

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Where `path` is, or its nearest existing parent (a missing key is reported at its mapping)."""
        table = self.key_pos if key else self.value_pos
        while path:
            if path in table:
                return table[path]
            if path in self.value_pos:
                return self.value_pos[path]
            path = path[:-1]
        return self.value_pos.get((), (1, 1))


class _Stop(Exception):
    def __init__(self, problem: tuple[int, int, str]) -> None:
        super().__init__(problem[2])
        self.problem = problem


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def parse(text: str, filename: str) -> tuple[Document | None, list[Problem]]:
    """Parse one YAML document; on failure the problems say where and why."""

    def problem(line: int, col: int, message: str) -> list[Problem]:
        return [Problem(filename, line, col, "", message)]

    if text.startswith("\ufeff"):
        text = text[1:]  # editors on Windows add a BOM; it carries no meaning
    if not text.strip() or all(line.lstrip().startswith("#") or not line.strip() for line in text.splitlines()):
        return None, problem(1, 1, "the file is empty: run `mobyci init` for a starter spec")
    yaml = YAML(typ="rt", pure=True)
    yaml.max_depth = MAX_DEPTH + 1  # the root is depth 1
    try:
        root = yaml.compose(text)
    except _TOO_DEEP as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, problem(line, col, "nesting too deep: a spec needs only a few levels")
    except ReaderError as exc:
        line, col = _line_col(text, exc.position)
        return None, problem(line, col, f"unacceptable character {_char(exc.character)}: remove it")
    except MarkedYAMLError as exc:
        from mobyci.load.yamlerrors import describe  # only a broken file pays for it

        return None, problem(*describe(text, exc))
    except YAMLError as exc:
        return None, problem(1, 1, f"YAML syntax error: {exc}")
    except RecursionError:
        return None, problem(1, 1, "nesting too deep: a spec needs only a few levels")
    if yaml.version is not None and tuple(yaml.version) != (1, 2):
        # A %YAML 1.1 directive would make yes/no booleans and 1:20 a number: the spec is YAML 1.2 only.
        found = _YAML_DIRECTIVE_RE.search(text)
        line, col = _line_col(text, found.start()) if found else (1, 1)
        version = ".".join(str(v) for v in yaml.version)
        return None, problem(line, col, f"the spec is YAML 1.2: remove the %YAML {version} directive")
    if root is None:
        return None, problem(1, 1, "the file is empty: run `mobyci init` for a starter spec")
    if not isinstance(root, MappingNode):
        line, col = _pos(root)
        return None, problem(line, col, "the top level must be a mapping of keys (version, moby, targets, …)")
    doc = Document(data=None)
    builder = _Builder(doc)
    try:
        doc.data = builder.build(root, ())
    except _Stop as stop:
        return None, problem(*stop.problem)
    if builder.problems:
        return None, [Problem(filename, line, col, path, msg) for line, col, path, msg in builder.problems]
    return doc, []


def _char(character: object) -> str:
    return repr(chr(character)) if isinstance(character, int) else repr(character)


def _line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


class _Builder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0
        self.problems: list[tuple[int, int, str, str]] = []

    def build(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _Stop((*_pos(node), f"the document expands to more than {MAX_VALUES} values (an alias bomb?)"))
        if len(path) > MAX_DEPTH:
            raise _Stop((*_pos(node), "nesting too deep: a spec needs only a few levels"))
        self.doc.value_pos.setdefault(path, _pos(node))
        tag = _tag(node)
        if isinstance(node, MappingNode):
            self._check_tag(node, tag, "map", path)
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            self._check_tag(node, tag, "seq", path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        self.doc.raw[path] = node.value
        if not self._clean(node, path):
            return node.value
        return self._scalar(node, tag, path)

    def _clean(self, node: ScalarNode, path: Path, *, key: bool = False) -> bool:
        # Keys end up in key paths and messages; no key needs a tab or a line break.
        bad = next((c for c in node.value if _unacceptable(c) or (key and c in "\t\n")), None)
        if bad is not None:
            self._problem(node, path, f"unacceptable character {bad!r}: remove it")
        return bad is None

    def _check_tag(self, node: Node, tag: str, expected: str, path: Path) -> None:
        if tag != _YAML_TAG + expected:
            self._problem(node, path, f"custom YAML tag {_short(tag)} is not allowed: remove it")

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_at: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_tag = _tag(key_node)
            if key_tag == _YAML_TAG + "merge":
                self._problem(key_node, path, "merge keys (<<) are not supported: write the keys out")
                continue
            if not isinstance(key_node, ScalarNode) or key_tag != _YAML_TAG + "str":
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                self._problem(key_node, path, f"keys must be strings, not {shown!s}: quote the key")
                continue
            key = key_node.value
            if not self._clean(key_node, path, key=True):
                continue
            if key in first_at:
                self._problem(
                    key_node,
                    (*path, key),
                    f"duplicate key (first at line {first_at[key]}): keep one",
                )
                continue
            first_at[key] = key_node.start_mark.line + 1
            self.doc.key_pos[(*path, key)] = _pos(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: ScalarNode, tag: str, path: Path) -> Any:
        text = node.value
        kind = tag.removeprefix(_YAML_TAG)
        converters: dict[str, Callable[[], Any]] = {
            "str": lambda: text,
            "null": lambda: _to_null(text),
            "bool": lambda: _to_bool(text),  # YAML 1.2: yes/on stay strings
            "int": lambda: _to_int(text),
            "float": lambda: _to_float(text),
            "timestamp": lambda: text,
        }
        if tag.startswith(_YAML_TAG) and kind in converters:
            try:
                return converters[kind]()
            except ValueError:  # `!!int abc`, or more digits than Python converts (4300)
                shown = text if len(text) <= _CLIP else text[:_CLIP] + "…"
                self._problem(node, path, f"'{shown}' is not a valid !!{kind}: quote it if it is text")
                return text
        self._problem(node, path, f"custom YAML tag {_short(tag)} is not allowed: remove it")
        return text

    def _problem(self, node: Node, path: Path, message: str) -> None:
        self.problems.append((*_pos(node), dotted(path), message))


def _unacceptable(c: str) -> bool:
    return c in _BIDI or (unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n")


def _to_bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError(text)
    return text.lower() == "true"


def _to_null(text: str) -> None:
    if text not in ("", "~", "null", "Null", "NULL"):
        raise ValueError(text)


def _tag(node: Node) -> str:
    # ruamel >= 0.18 wraps tags in a Tag object; older releases used plain strings.
    tag = node.tag
    return str(getattr(tag, "value", tag))


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag


def _to_int(text: str) -> int:
    clean = text.replace("_", "")
    sign = -1 if clean.startswith("-") else 1
    digits = clean.lstrip("+-")
    if digits[:2] in ("0o", "0x", "0b"):
        return sign * int(digits, 0)
    return sign * int(digits, 10)


def _to_float(text: str) -> float:
    lowered = text.lower().replace("_", "")
    specials = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
    if lowered in specials:
        return specials[lowered]
    return float(lowered)


def dotted(path: Path) -> str:
    """`mirrors.git["https://github.com/"]`, `targets[0].name`: a key path as people read it."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += "[" + json.dumps(part, ensure_ascii=False) + "]"
    return out
