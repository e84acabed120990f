"""Read a spec file: bytes -> YAML with positions -> validated Spec -> checked against its family.

Every problem comes back located (`file:line:col: key.path: message`); nothing here prints.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, NamedTuple

from mobyci.errors import Problem, SpecError
from mobyci.families import Release
from mobyci.load import yamlpos
from mobyci.specmodel import compiled, core
from mobyci.specmodel.checks import check_spec
from mobyci.specmodel.compiled import Spec
from mobyci.specmodel.fields import EMBED_DELIMITER_RE
from mobyci.specmodel.frozen import Frozen


class LoadedSpec(NamedTuple):
    spec: Spec
    release: Release
    path: str  # as the user named it, for messages and generated headers
    warnings: tuple[str, ...] = ()  # each one line, `file:line:col: key: warning: …`
    document: yamlpos.Document | None = None  # where each value stands in the file, for later stages' problems
    # sha256 of the spec's bytes: generated files record it, so a check without mobyci can tell they are stale.
    digest: str = ""

    def problem(self, at: tuple[str | int, ...], message: str) -> Problem:
        """A problem a later stage finds (the plan's platform limits), located like the loader's own."""
        line, col = self.document.position(at) if self.document is not None else (0, 0)
        return Problem(self.path, line, col, yamlpos.dotted(at), message)


STDIN = "-"  # the spec name that reads the spec from standard input
STDIN_NAME = "<stdin>"  # how messages name it


def load_file(path: str, systems: tuple[str, ...] | None = None) -> LoadedSpec:
    """Load and validate a spec file (`-`: standard input); raises SpecError with every problem found.

    `systems`: the CI systems the command renders or plans for, judged when the spec's `outputs:` names none
    (specmodel/checks.py check_spec); None: the default system, what `mobyci render` writes."""
    if path == STDIN:
        import sys

        data = sys.stdin.buffer.read(yamlpos.MAX_BYTES + 1)
        if len(data) > yamlpos.MAX_BYTES:
            raise SpecError([Problem(STDIN_NAME, 0, 0, "", f"a spec is limited to {yamlpos.MAX_BYTES} bytes")])
        return _load_bytes(data, STDIN_NAME, systems)
    file = Path(path)
    try:
        if file.is_dir():
            raise SpecError([Problem(path, 0, 0, "", "is a directory: name the spec file inside it")])
        size = file.stat().st_size
        if size > yamlpos.MAX_BYTES:
            raise SpecError(
                [Problem(path, 0, 0, "", f"is {size} bytes; a spec is limited to {yamlpos.MAX_BYTES} bytes")]
            )
        data = file.read_bytes()
    except FileNotFoundError:
        raise SpecError(
            [Problem(path, 0, 0, "", "no such file: create one with `mobyci init` or name another")]
        ) from None
    except OSError as exc:
        raise SpecError([Problem(path, 0, 0, "", f"cannot read: {exc.strerror or exc}")]) from None
    return _load_bytes(data, path, systems)


def _load_bytes(data: bytes, path: str, systems: tuple[str, ...] | None) -> LoadedSpec:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col_of_byte(data, exc.start)
        raise SpecError([Problem(path, line, col, "", "is not UTF-8 text: save it as UTF-8")]) from None
    return load_text(text, path, systems=systems)


def _line_col_of_byte(data: bytes, offset: int) -> tuple[int, int]:
    before = data[:offset]
    return before.count(b"\n") + 1, offset - (before.rfind(b"\n") + 1) + 1


def load_text(
    text: str, filename: str = "mobyci.yaml", base: Path | None = None, systems: tuple[str, ...] | None = None
) -> LoadedSpec:
    """`base`: the directory repository paths in the spec are relative to (default: the spec's own); `systems`: as
    for load_file."""
    if len(text.encode("utf-8", "surrogatepass")) > yamlpos.MAX_BYTES:
        raise SpecError([Problem(filename, 0, 0, "", f"a spec is limited to {yamlpos.MAX_BYTES} bytes")])
    doc, problems = yamlpos.parse(text, filename)
    if doc is None:
        raise SpecError(problems)
    try:
        spec = validate_data(doc.data)
    except core.ValidationError as exc:
        errors = _one_branch(exc.errors(), doc.data)
        problems = [_problem(filename, doc, error) for error in errors]
        later = _later_problems(filename, doc, errors, systems)
        raise SpecError(sorted([*problems, *later], key=lambda p: (p.line, p.col)) if later else problems) from None
    release, findings, found_warnings = check_spec(spec, systems=systems)
    findings += _embed_delimiters(doc.data)
    if spec.tls.ca_certs:
        from mobyci.specmodel.cafiles import ca_file_findings

        findings += ca_file_findings(spec, Path(filename).parent if base is None else base)
    if findings:
        raise SpecError(
            [Problem(filename, *doc.position(loc), yamlpos.dotted(loc), message) for loc, message in findings]
        )
    assert release is not None  # check_spec reports a problem whenever it cannot resolve the release
    if spec.proxy.mode == "dockerfile-env":
        found_warnings.append(
            (
                ("proxy", "mode"),
                "dockerfile-env writes the proxy into the Dockerfile as ENV; it persists in the dev image and its "
                "history. Prefer the default, build-args.",
            )
        )
    # Located like problems, `file:line:col: key: warning: …`, so editors and CI logs point at the key.
    warnings = [
        str(Problem(filename, *doc.position(loc), yamlpos.dotted(loc), f"warning: {message}"))
        for loc, message in found_warnings
    ]
    import hashlib

    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return LoadedSpec(spec, release, filename, tuple(warnings), doc, digest)


def _embed_delimiters(data: Any, at: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], str]]:
    """Every value that holds a line mobyci ends an embedded text with: in a job's heredoc it would end it early."""
    if isinstance(data, str):
        found = EMBED_DELIMITER_RE.search(data)
        return (
            [(at, f"contains {found.group(0)}, which ends a text mobyci embeds in the pipeline: remove it")]
            if found
            else []
        )
    if isinstance(data, dict):
        return [f for key, value in data.items() for f in _embed_delimiters(value, (*at, str(key)))]
    if isinstance(data, list):
        return [f for index, value in enumerate(data) for f in _embed_delimiters(value, (*at, index))]
    return []


def validate_data(data: Any) -> Spec:
    """The spec in `data` (plain YAML values), validated; raises core.ValidationError."""
    spec: Spec = _validator().validate_python(data)
    return spec


@functools.cache
def _validator() -> core.SchemaValidator:
    # The committed schema is plain data that every pydantic-core since the oldest one pyproject admits reads the
    # same way (CI runs the whole suite, which compares its verdicts with the models', on the oldest and the
    # pinned pydantic). Only a pydantic-core that refuses it pays for building the schema from the models.
    try:
        return core.SchemaValidator(compiled.SCHEMA)
    except core.SchemaError:
        from mobyci.specmodel.compile import live_schema

        return core.SchemaValidator(live_schema(vars(compiled)))


# A union member as pydantic names it in an error's loc: a validator function on str, or a model class.
_BRANCH = re.compile(r"^(function-\w+\[.*\]|list\[.*\]|[A-Z][A-Za-z]+)$")


def _later_problems(
    filename: str, doc: yamlpos.Document, errors: list[Any], systems: tuple[str, ...] | None
) -> list[Problem]:
    """When every error is an unknown key, the checks that need the whole spec (a ref that is no release, a distro
    the family lacks) run on it without those keys: one run reports every problem, not the typo alone. `systems`:
    as for load_file, so these are the problems a run without the typo would report."""
    if not errors or any(error["type"] != "extra_forbidden" for error in errors):
        return []
    data = _without(doc.data, [tuple(error["loc"]) for error in errors])
    try:
        spec = validate_data(data)
    except core.ValidationError:
        return []
    _, findings, _ = check_spec(spec, systems=systems)
    return [Problem(filename, *doc.position(loc), yamlpos.dotted(loc), message) for loc, message in findings]


def _without(data: Any, locations: list[tuple[Any, ...]]) -> Any:
    """A copy of `data` without the keys at `locations`."""
    import copy

    trimmed = copy.deepcopy(data)
    for loc in locations:
        parent = trimmed
        for part in loc[:-1]:
            parent = parent[part] if isinstance(parent, (dict, list)) else None
        if isinstance(parent, dict):
            parent.pop(loc[-1], None)
    return trimmed


def _one_branch(errors: list[Any], data: Any) -> list[Any]:
    """Errors of a value that may be a string, a mapping (mirrors.apt) or a list (ci.github.runs_on) come once per
    union member: keep the member the value's own type chose, and drop the member's name from the key path."""
    kept = []
    for error in errors:
        loc = tuple(error["loc"])
        at = next((i for i, part in enumerate(loc) if isinstance(part, str) and _BRANCH.match(part)), None)
        if at is None:
            kept.append(error)
            continue
        value = _input_at(data, loc, at)
        chosen = (
            isinstance(value, list)
            if loc[at].startswith("list[")
            else isinstance(value, dict)
            if not loc[at].startswith("function-")
            else not isinstance(value, (dict, list))
        )
        if chosen:
            kept.append({**error, "loc": loc[:at] + loc[at + 1 :]})
    return kept or errors


def _input_at(data: Any, loc: tuple[Any, ...], at: int) -> Any:
    """The value at loc[:at] in the document's data."""
    value = data
    for part in loc[:at]:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _problem(filename: str, doc: yamlpos.Document, error: Any) -> Problem:
    loc: tuple[str | int, ...] = tuple(error["loc"])
    kind: str = error["type"]
    if loc and loc[-1] == "[key]":
        # A bad mapping key (mirrors.git's source URL): point at the key itself.
        line, col = doc.position(loc[:-1], key=True)
        return Problem(filename, line, col, yamlpos.dotted(loc[:-1]), _message(kind, error, None))
    if kind == "extra_forbidden":
        line, col = doc.position(loc, key=True)
        return Problem(filename, line, col, yamlpos.dotted(loc), _unknown_key(loc))
    line, col = doc.position(loc)
    raw = doc.raw.get(loc)
    if kind == "string_type" and raw is not None and error.get("input") is not None:
        as_text = _as_text_problem(doc, loc, raw)
        if as_text is not None:
            # "quote it" would give a value the field refuses too (timeout: 90 -> "90"): say what it needs.
            message = f"expected a string, got {_yaml_type(error.get('input'))}; {as_text}"
            return Problem(filename, line, col, yamlpos.dotted(loc), message)
    return Problem(filename, line, col, yamlpos.dotted(loc), _message(kind, error, raw))


def _as_text_problem(doc: yamlpos.Document, loc: tuple[str | int, ...], raw: str) -> str | None:
    """What the field says of `raw` written as a string, or None when it takes it."""
    import copy

    data = copy.deepcopy(doc.data)
    parent: Any = data
    for part in loc[:-1]:
        parent = parent[part] if isinstance(parent, (dict, list)) else None  # type: ignore[index]
    if not isinstance(parent, (dict, list)):
        return None
    parent[loc[-1]] = raw  # type: ignore[index]
    try:
        validate_data(data)
    except core.ValidationError as exc:
        for error in _one_branch(exc.errors(), data):
            if tuple(error["loc"]) == loc:
                return _message(error["type"], error, None)
    return None


def _message(kind: str, error: Any, raw: str | None) -> str:
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind.startswith("mobyci_"):
        return str(error["msg"])
    if kind == "missing":
        return "required key is missing"
    if kind == "string_type":
        hint = f': quote it ("{raw}")' if raw is not None and value is not None else ""
        return f"expected a string, got {_yaml_type(value)}{hint}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {_yaml_type(value)}"
    if kind == "bool_type":
        return f"expected true or false, got {_yaml_type(value)}"
    if kind == "list_type":
        return f"expected a list, got {_yaml_type(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of keys, got {_yaml_type(value)}"
    if kind == "literal_error":
        import difflib  # only a spec with problems pays for it

        choices = [c.strip().strip("'") for c in str(ctx.get("expected", "")).replace(" or ", ",").split(",")]
        choices = [c for c in choices if c]
        close = difflib.get_close_matches(str(value), choices, n=1)
        suggestion = f"; did you mean '{close[0]}'?" if close else ""
        return f"'{value}' is not one of: {', '.join(choices)}{suggestion}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)"
    if kind == "string_too_short":
        return "must not be empty"
    return str(error["msg"])


def _yaml_type(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ('{value}')"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    import difflib  # only a spec with problems pays for it

    key = str(loc[-1])
    here: tuple[str, ...] = ()
    for part in loc[:-1]:
        here = (*here[:-1], f"{here[-1]}[]") if isinstance(part, int) and here else (*here, str(part))
    # Sibling blocks of one section (mirrors.ubuntu and mirrors.apt) name different upstreams with the same
    # words: mirrors.ubuntu.security is not a misplaced mirrors.apt.security, so no "belongs under" there.
    elsewhere = [
        path
        for path in _key_paths(Spec, ())
        if path[-1] == key and path[:-1] != here and not (len(here) >= 2 and path[:-2] == here[:-1])
    ]
    if elsewhere:
        places = " or ".join(f"{'.'.join(path[:-1]) or 'the top level'} ({'.'.join(path)})" for path in elsewhere)
        return f"unknown key '{key}' here; it belongs under {places}: move it there"
    allowed = _allowed_keys(loc[:-1])
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.7)
    if close:
        return f"unknown key '{key}'; did you mean '{close[0]}'?"
    return f"unknown key '{key}'; allowed here: {', '.join(allowed)}"


def _key_paths(model: type[Frozen], prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every key path of the spec (moby.ref, ci.gitlab.tags, …), for "it belongs under" hints."""
    paths: list[tuple[str, ...]] = []
    for name in model.field_names:
        paths.append((*prefix, name))
        nested = model.nested_models.get(name)
        if nested is not None:
            # targets is a list of mappings: its keys live in each entry.
            paths += _key_paths(nested, (*prefix, f"{name}[]" if name == "targets" else name))
    return paths


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    model: type[Frozen] | None = Spec
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        model = model.nested_models.get(part) if part in model.field_names else None
    return list(model.field_names) if model else []
