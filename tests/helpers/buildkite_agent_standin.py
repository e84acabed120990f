"""A stand-in for buildkite-agent (no offline agent exists): its upload-time interpolation as a Python model, and
the checks of generated pipelines that Buildkite makes and its official schema cannot.

`interpolate` follows buildkite/interpolate, the library `buildkite-agent pipeline upload` runs over every string
of a pipeline:

- `$NAME` and `${NAME}` are replaced from the uploading job's environment (empty when unset); names start with a
  letter and go on with letters, digits and `_`;
- `${NAME:-word}` (unset or empty), `${NAME-word}` (unset), `${NAME?message}` (the upload fails when unset),
  `${NAME:offset[:length]}`; `word` and `message` may hold further expansions;
- `$$` and `\\$` are a literal `$`; `\\\\` stays two backslashes;
- a `$` followed by anything else is an error. Recent agents pass `$(` through and read a `$` at the very end of a
  string as text; older ones fail on both, and so does `strict` mode (the default), so that a pipeline that
  passes here uploads on every agent.

`expand=False` models what a pipeline *means* with nothing substituted: the escapes are resolved and every
expansion stays as written. (The agent's own `--no-interpolation` sends the text untouched, `$$` included; a
pipeline whose commands are the same in both modes here takes nothing from the uploading environment.)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

KEY_RE = re.compile(r"^[A-Za-z0-9_:-]{1,100}$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MATRIX_REF_RE = re.compile(r"\{\{\s*matrix(?:\.([A-Za-z0-9_]+))?\s*\}\}")
MAX_AUTOMATIC_RETRY = 10
_STEP_KINDS = ("command", "commands", "wait", "block", "input", "trigger", "group")


class InterpolationError(ValueError):
    """What makes `buildkite-agent pipeline upload` fail."""


# --- the interpolation model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expansion:
    name: str
    op: str  # "" | ":-" | "-" | "?" | ":"
    content: tuple[str | Expansion, ...]  # the word of :- and -, the message of ?
    offset: int = 0
    length: int | None = None
    source: str = ""  # the text as written, for expand=False


Item = str | Expansion


class _Parser:
    def __init__(self, text: str, *, strict: bool) -> None:
        self.text = text
        self.pos = 0
        self.strict = strict

    def error(self, message: str) -> InterpolationError:
        return InterpolationError(f"{message} at offset {self.pos} of {self.text!r}")

    def peek(self, ahead: int = 0) -> str:
        index = self.pos + ahead
        return self.text[index] if index < len(self.text) else ""

    def expression(self, stop: str = "") -> list[Item]:
        items: list[Item] = []
        while self.pos < len(self.text):
            if stop and self.peek() in stop:
                break
            rest = self.text[self.pos :]
            if rest.startswith("\\\\"):
                items.append("\\\\")
                self.pos += 2
            elif rest.startswith(("\\$", "$$")):
                items.append("$")
                self.pos += 2
            elif rest.startswith("$("):
                if self.strict:
                    raise self.error("older agents fail on '$(' (write '$$(')")
                items.append("$(")
                self.pos += 2
            elif rest.startswith("$"):
                if len(rest) == 1:
                    if self.strict:
                        raise self.error("a lone '$' ends the string (write '$$')")
                    items.append("$")
                    self.pos += 1
                else:
                    items.append(self.expansion())
            else:
                end = self.pos + 1
                while end < len(self.text) and self.text[end] not in "$\\" + stop:
                    end += 1
                items.append(self.text[self.pos : end])
                self.pos = end
        return items

    def identifier(self) -> str:
        if not self.peek().isalpha():
            got = self.peek() or "the end of the string"
            raise self.error(f"expected a variable name starting with a letter after '$', got {got!r}")
        start = self.pos
        while self.pos < len(self.text) and (self.peek().isalnum() or self.peek() == "_"):
            self.pos += 1
        return self.text[start : self.pos]

    def expansion(self) -> Expansion:
        start = self.pos
        self.pos += 1  # the $
        if self.peek() != "{":
            name = self.identifier()
            return Expansion(name, "", (), source=self.text[start : self.pos])
        self.pos += 1
        name = self.identifier()
        op = ""
        content: list[Item] = []
        offset, length = 0, None
        char = self.peek()
        if char == "}":
            self.pos += 1
            return Expansion(name, "", (), source=self.text[start : self.pos])
        self.pos += 1
        if char == ":" and self.peek() == "-":
            self.pos += 1
            op = ":-"
        elif char in ":?-":
            op = char
        else:
            raise self.error(f"expected an operator after ${{{name}, got {char or 'the end of the string'!r}")
        if op == ":":
            end = self.text.find("}", self.pos)
            if end < 0:
                raise self.error("unterminated ${")
            parts = self.text[self.pos : end].split(":", 1)
            try:
                offset = int(parts[0].strip())
                length = int(parts[1].strip()) if len(parts) > 1 else None
            except ValueError as exc:
                raise self.error(f"bad substring in ${{{name}:…}}") from exc
            self.pos = end
        else:
            content = self.expression(stop="}")
        if self.peek() != "}":
            raise self.error(f"expected '}}' to end ${{{name}")
        self.pos += 1
        return Expansion(name, op, tuple(content), offset, length, self.text[start : self.pos])


def parse(text: str, *, strict: bool = True) -> list[Item]:
    return _Parser(text, strict=strict).expression()


def _expand(items: tuple[Item, ...] | list[Item], env: Mapping[str, str], expand: bool) -> str:
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif not expand:
            out.append(_unescaped_source(item))
        else:
            out.append(_expand_one(item, env))
    return "".join(out)


def _unescaped_source(item: Expansion) -> str:
    # The expansion as written, with escapes inside it resolved the same way as outside.
    if item.op in (":-", "-", "?"):
        return f"${{{item.name}{item.op}{_expand(item.content, {}, False)}}}"
    return item.source


def _expand_one(item: Expansion, env: Mapping[str, str]) -> str:
    value = env.get(item.name)
    if item.op == ":-":
        return value if value else _expand(item.content, env, True)
    if item.op == "-":
        return value if value is not None else _expand(item.content, env, True)
    if item.op == "?":
        if value is None:
            raise InterpolationError(f"${item.name}: {_expand(item.content, env, True) or 'not set'}")
        return value
    if item.op == ":":
        text = value or ""
        start = min(max(item.offset + len(text) if item.offset < 0 else item.offset, 0), len(text))
        if item.length is None:
            return text[start:]
        end = start + item.length if item.length >= 0 else max(len(text) + item.length, start)
        return text[start : min(end, len(text))]
    return value or ""


def interpolate(text: str, env: Mapping[str, str], *, expand: bool = True, strict: bool = True) -> str:
    """One string as `pipeline upload` leaves it; raises InterpolationError where the upload would fail."""
    return _expand(parse(text, strict=strict), env, expand)


def references(text: str) -> list[str]:
    """The variables a string takes from the uploading environment (escaped ones excluded)."""
    found: list[str] = []

    def walk(items: tuple[Item, ...] | list[Item]) -> None:
        for item in items:
            if isinstance(item, Expansion):
                found.append(item.name)
                walk(item.content)

    walk(parse(text, strict=False))
    return found


def interpolate_pipeline(doc: Any, env: Mapping[str, str], *, expand: bool = True, strict: bool = True) -> Any:
    """The whole pipeline as uploaded: the top-level `env` first (its values join the environment for the rest),
    then every other string, mapping keys included."""
    environment = dict(env)

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return interpolate(node, environment, expand=expand, strict=strict)
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {walk(k) if isinstance(k, str) else k: walk(v) for k, v in node.items()}
        return node

    if not isinstance(doc, dict):
        return walk(doc)
    out: dict[str, Any] = {}
    if isinstance(doc.get("env"), dict):
        block = {}
        for name, value in doc["env"].items():
            block[name] = walk(value)
            if expand and isinstance(block[name], str):
                environment[name] = block[name]
        out["env"] = block
    for key, value in doc.items():
        if key != "env":
            out[walk(key)] = walk(value)
    return out


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every string in a document, mapping keys included."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from strings(item, f"{path}[{index}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                yield f"{path}.<key>", key
            yield from strings(value, f"{path}.{key}")


def interpolation_problems(doc: Any) -> list[str]:
    """Strings the upload fails on, and every value the upload would take from its environment."""
    problems = []
    for path, text in strings(doc):
        try:
            parse(text, strict=True)
        except InterpolationError as exc:
            problems.append(f"{path or '.'}: {exc}")
            continue
        for name in references(text):
            problems.append(f"{path or '.'}: ${name} is interpolated at upload (write $${name})")
    return problems


# --- steps -----------------------------------------------------------------------------------------------------


def steps(doc: dict[str, Any]) -> list[Any]:
    """Every step, group members included."""
    out: list[Any] = []
    for step in doc.get("steps") or []:
        out.append(step)
        if isinstance(step, dict) and isinstance(step.get("steps"), list):
            out.extend(step["steps"])
    return out


def _kind(step: Any) -> str | None:
    if isinstance(step, str):
        return step if step in ("wait", "block", "input") else None
    if not isinstance(step, dict):
        return None
    return next((k for k in _STEP_KINDS if k in step), None)


def _depends_on(step: dict[str, Any]) -> list[str]:
    value = step.get("depends_on")
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    return [item["step"] if isinstance(item, dict) else item for item in items]


def _commands(step: dict[str, Any]) -> list[str]:
    value = step.get("commands", step.get("command"))
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def matrix_dimensions(step: dict[str, Any]) -> dict[str, list[Any]]:
    """{dimension: values}; a plain list is the anonymous dimension ''."""
    matrix = step.get("matrix")
    if matrix is None:
        return {}
    if isinstance(matrix, list):
        return {"": matrix}
    setup = matrix.get("setup", {})
    return {"": setup} if isinstance(setup, list) else dict(setup)


def matrix_combinations(step: dict[str, Any]) -> list[dict[str, str]]:
    dims = matrix_dimensions(step)
    if not dims:
        return [{}]
    names = list(dims)
    return [dict(zip(names, map(str, combo), strict=True)) for combo in itertools.product(*dims.values())]


def substitute_matrix(text: str, combination: Mapping[str, str]) -> str:
    return MATRIX_REF_RE.sub(lambda m: combination[m.group(1) or ""], text)


def semantic_problems(doc: Any) -> list[str]:
    """What the schema lets through: keys, dependencies, empty steps, matrix use, concurrency, interpolation."""
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or not doc["steps"]:
        return ["the pipeline has no steps"]
    problems: list[str] = []
    all_steps = steps(doc)
    keys: dict[str, int] = {}
    for index, step in enumerate(all_steps):
        kind = _kind(step)
        name = step.get("key", f"#{index}") if isinstance(step, dict) else f"#{index}"
        if kind is None:
            problems.append(f"step {name}: not a step (empty or unknown)")
            continue
        if not isinstance(step, dict):
            continue
        key = step.get("key")
        if key is None and kind in ("command", "commands"):
            problems.append(f"step {name}: no key (depends_on and artifact downloads need one)")
        if key is not None:
            if key in keys:
                problems.append(f"step {key}: duplicate key")
            keys[key] = index
            if not KEY_RE.match(str(key)):
                problems.append(f"step {key}: key must be letters, digits, '_', ':' or '-', at most 100")
            if UUID_RE.match(str(key)):
                problems.append(f"step {key}: key looks like a UUID")
            if "{{" in str(key):
                problems.append(f"step {key}: matrix values in the key")
        if kind in ("command", "commands") and not any(c.strip() for c in _commands(step)):
            problems.append(f"step {name}: no command")
        dims = matrix_dimensions(step)
        for value in dims.values():
            if not value:
                problems.append(f"step {name}: an empty matrix dimension")
        # A group's members are steps of their own (in all_steps): their matrix references are theirs.
        for path, text in strings({k: v for k, v in step.items() if k not in ("matrix", "steps")}):
            for match in MATRIX_REF_RE.finditer(text):
                if (match.group(1) or "") not in dims:
                    problems.append(f"step {name}{path}: {match.group()} is not a matrix dimension of the step")
        if "{{" in str(step.get("concurrency_group", "")):
            problems.append(f"step {name}: matrix values in the concurrency group")
        if ("concurrency" in step) != ("concurrency_group" in step):
            problems.append(f"step {name}: concurrency and concurrency_group go together")
        retry = step.get("retry", {}).get("automatic") if isinstance(step.get("retry"), dict) else None
        for rule in retry if isinstance(retry, list) else [retry] if isinstance(retry, dict) else []:
            if rule.get("limit", 0) > MAX_AUTOMATIC_RETRY:
                problems.append(f"step {name}: automatic retry limit above {MAX_AUTOMATIC_RETRY}")
    for step in all_steps:
        if isinstance(step, dict):
            for dep in _depends_on(step):
                if dep not in keys:
                    problems.append(f"step {step.get('key')}: depends_on missing step {dep}")
                elif dep == step.get("key"):
                    problems.append(f"step {dep}: depends on itself")
    problems += _cycles(all_steps)
    problems += interpolation_problems(doc)
    return problems


def _cycles(all_steps: list[Any]) -> list[str]:
    graph = {s["key"]: _depends_on(s) for s in all_steps if isinstance(s, dict) and "key" in s}
    state: dict[str, int] = {}
    problems: list[str] = []

    def visit(key: str, trail: tuple[str, ...]) -> None:
        if state.get(key) == 2 or key not in graph:
            return
        if state.get(key) == 1:
            problems.append("depends_on cycle: " + " -> ".join((*trail, key)))
            return
        state[key] = 1
        for dep in graph[key]:
            if dep != key:
                visit(dep, (*trail, key))
        state[key] = 2

    for key in graph:
        visit(key, ())
    return problems


def step_scripts(doc: dict[str, Any], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """{key or key[combination]: the script the agent runs} after upload (with `env`) and matrix expansion.
    The agent joins a step's commands with newlines into one script."""
    uploaded = interpolate_pipeline(doc, env or {})
    out = {}
    for step in steps(uploaded):
        if not isinstance(step, dict) or _kind(step) not in ("command", "commands"):
            continue
        for combination in matrix_combinations(step):
            name = step["key"] + (f"[{','.join(combination.values())}]" if combination else "")
            lines = [substitute_matrix(line, combination) for line in _commands(step)]
            out[name] = "\n".join(lines) + "\n"
    return out
