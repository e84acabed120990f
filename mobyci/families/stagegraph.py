"""A moby Dockerfile's stage graph, and which stages run each fetch of the tree scan (fetchscan.py).

BuildKit builds only the stages the target needs (Dockerfile reference, "Multi-stage builds": "BuildKit only
builds the stages that the target stage depends on"): the target, and every stage it names by `FROM <stage>`,
`COPY --from=<stage>` or `RUN --mount=…,from=<stage>`, recursively. Stage names may hold ARGs (moby v20.10.27
`Dockerfile:120` `FROM cross-${CROSS} as dev-base`, v28.5.2 `Dockerfile:202` `FROM containerd-${TARGETOS}`):
a dependency keeps its text and is resolved when a build's ARG values are known; an ARG without one (the
platform ARGs BuildKit sets per platform) stands for every stage whose name fits.

A fetch at `Dockerfile:N` belongs to the stage holding line N, with three exceptions:
- the `# syntax=` frontend is pulled for every build, whatever the target;
- a global ARG's default (v28.5.2 `Dockerfile:14` `ARG DOCKERCLI_REPOSITORY="https://github.com/docker/cli.git"`)
  is used only by the stages that declare that ARG again (`Dockerfile:234` in the dockercli stage), or read it in
  their FROM line, as the reference says an ARG before the first FROM is outside every stage but the FROM lines;
  the same for a global ARG whose default reads it;
- apt's archive and Go's module proxy are listed once, at their first use (fetchscan._implicit), but every stage
  that runs `apt-get`/`go install` reaches them; a file's `go-sumdb` entry is reached by the stages of that file's
  `go install`s.
A fetch in another file belongs to the stages that run it: `install.sh <name>` runs `<name>.installer` (19.03
names it through `ENV INSTALL_BINARY_NAME`, v19.03.12 `Dockerfile:212-217`), and a stage that names a file's path
runs that file (`COPY contrib/download-frozen-image-v2.sh /`, `--mount=source=hack/dockerfile/cli.sh`). A fetch
no stage runs belongs to none: no Dockerfile build reaches it.

`graph()` builds the stored form for a tree; fetches.json's lists have theirs in stagegraph.json, written with
them by `python -m mobyci.families.fetchscan`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib import resources
from typing import NamedTuple

from mobyci.families.fetchscan import DOCKERFILE, GO_PROXY, Fetch

EVERY = "*"  # a fetch of every build (the frontend, a line outside every stage)

_FROM = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(?P<image>\S+)(?:\s+AS\s+(?P<name>\S+))?\s*$", re.IGNORECASE)
_ARG = re.compile(r"^ARG\s+(?P<rest>.*)$", re.IGNORECASE)
_ARG_ITEM = re.compile(r"""(?P<name>[A-Za-z_]\w*)(?:=(?P<value>"[^"]*"|'[^']*'|\S*))?""")
_ENV = re.compile(r"^ENV\s+(?P<name>[A-Za-z_]\w*)[=\s]\s*(?P<value>\S+)\s*$", re.IGNORECASE)
# `COPY --from=<stage>`, `RUN --mount=from=<stage>,…` or `--mount=type=bind,from=<stage>`.
_FROM_REF = re.compile(r"(?:--|[\s,=])from=(?P<ref>[^\s,]+)")
_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_ANY_VAR = re.compile(r"\$\{[^}]*\}|\$\w+")
_IMAGE = re.compile(r"[/:@]")  # a character of image references that stage names never have
_INSTALL = re.compile(r"install\.sh\s+(\w+)")


class Stage(NamedTuple):
    name: str
    line: int  # its FROM
    # The stages it needs, as the Dockerfile writes them (ARGs unresolved), with the line that says so.
    needs: tuple[tuple[str, int], ...]


class Graph(NamedTuple):
    stages: tuple[Stage, ...]
    args: tuple[tuple[str, str], ...]  # the global ARG defaults the stage names use
    fetches: tuple[tuple[str, ...], ...]  # per fetch of the list, in its order: the stages that run it

    def data(self) -> dict[str, object]:
        """As stagegraph.json stores it."""
        return {
            "args": dict(self.args),
            "stages": [[s.name, s.line, [list(n) for n in s.needs]] for s in self.stages],
            "fetches": [list(f) for f in self.fetches],
        }


class _Parsed(NamedTuple):
    stages: list[Stage]
    last: list[int]  # each stage's last line
    text: list[str]  # each stage's instructions, its ENV values expanded
    declared: list[set[str]]  # the ARGs each stage declares, or its FROM line reads
    args: dict[str, str]  # global ARG defaults, expanded
    written: dict[str, str]  # global ARG defaults as written (which other ARGs each one reads)
    arg_lines: dict[int, list[str]]  # line of a global ARG instruction -> the names it declares


def graph(fetches: list[Fetch], read: Callable[[str], str | None]) -> Graph:
    """The stage graph of a tree (`read(path)`: a file's text, None when absent) and the stages of each fetch."""
    parsed = _parse(read(DOCKERFILE) or "")
    by_file = {f.file: [g for g in fetches if g.file == f.file and g.kind == "go-module"] for f in fetches}
    per_fetch = tuple(tuple(_stages_of(parsed, f, by_file[f.file])) for f in fetches)
    used = {a or b for s in parsed.stages for ref, _ in s.needs for a, b in _VAR.findall(ref)}
    args = tuple((k, v) for k, v in parsed.args.items() if k in used)
    return Graph(tuple(parsed.stages), args, per_fetch)


def _stages_of(parsed: _Parsed, fetch: Fetch, modules: list[Fetch]) -> list[str]:
    if not parsed.stages:
        return [EVERY]  # no stage to tell them apart: every build may run it
    names = [s.name for s in parsed.stages]
    if fetch.kind == "go-sumdb" and modules:
        found = {s for m in modules for s in _stages_of(parsed, m, [])}
        return [n for n in names if n in found]
    if fetch.file != DOCKERFILE:
        return [n for n, text in zip(names, parsed.text, strict=True) if _runs(text, fetch.file)]
    if fetch.by == "frontend":
        return [EVERY]
    if fetch.line < parsed.stages[0].line:
        declared = parsed.arg_lines.get(fetch.line)
        if declared is None:
            return [EVERY]
        # The ARG whose default holds the endpoint (a line may declare several).
        users = _arg_users(parsed, {n for n in declared if fetch.endpoint in parsed.written[n]} or set(declared))
        return [n for n, declared in zip(names, parsed.declared, strict=True) if declared & users]
    here = [s.name for s, last in zip(parsed.stages, parsed.last, strict=True) if s.line <= fetch.line <= last]
    needle = {"apt": "apt-get ", "go-modules": "go install "}.get(fetch.kind)
    if needle and fetch.endpoint in ("http://deb.debian.org/debian", GO_PROXY):
        here += [n for n, text in zip(names, parsed.text, strict=True) if needle in text]
    return [n for n in names if n in here]


def _arg_users(parsed: _Parsed, names: set[str]) -> set[str]:
    """`names` and the global ARGs whose defaults use them (`ARG GOLANG_IMAGE="golang:${GO_VERSION}-…"`)."""
    users = set(names)
    changed = True
    while changed:
        changed = False
        for other, value in parsed.written.items():
            if other not in users and any((a or b) in users for a, b in _VAR.findall(value)):
                users.add(other)
                changed = True
    return users


def _runs(text: str, path: str) -> bool:
    base = path.rsplit("/", 1)[-1]
    if base.endswith(".installer"):
        return base.removesuffix(".installer") in _INSTALL.findall(text)
    if base == "install.sh":
        return bool(_INSTALL.search(text))
    return path in text


def _parse(dockerfile: str) -> _Parsed:
    parsed = _Parsed([], [], [], [], {}, {}, {})
    env: dict[str, str] = {}
    needs: list[tuple[str, int]] = []
    lines = dockerfile.splitlines()
    for number, line in _logical_lines(lines):
        found = _FROM.match(line)
        if found:
            if parsed.stages:
                _close(parsed, needs, number - 1)
            name = found["name"] or str(len(parsed.stages))
            parsed.stages.append(Stage(name, number, ()))
            parsed.text.append("")
            # A FROM line reads the global ARGs without declaring them again (`FROM ${GOLANG_IMAGE} AS base`).
            parsed.declared.append({a or b for a, b in _VAR.findall(found["image"])})
            needs, env = [(found["image"], number)], {}
            continue
        arg = _ARG.match(line)
        if not parsed.stages:
            if arg:
                for item in _ARG_ITEM.finditer(arg["rest"]):
                    # Expanded with the defaults before it, as BuildKit does (`GOLANG_IMAGE="golang:${GO_VERSION}…"`).
                    value = (item["value"] or "").strip("\"'")
                    parsed.written[item["name"]] = value
                    parsed.args[item["name"]] = _VAR.sub(lambda v: parsed.args.get(v[1] or v[2], v[0]), value)
                    parsed.arg_lines.setdefault(number, []).append(item["name"])
            continue
        if arg:
            parsed.declared[-1].update(item["name"] for item in _ARG_ITEM.finditer(arg["rest"]))
        declared = _ENV.match(line)
        if declared:
            env[declared["name"]] = declared["value"].strip("\"'")
        parsed.text[-1] += _expand(line, env) + "\n"
        needs += [(ref["ref"], number) for ref in _FROM_REF.finditer(line)]
    if parsed.stages:
        _close(parsed, needs, len(lines))
    # A FROM names a stage only when it is one (or may be, through an ARG): the others are images.
    names = [s.name for s in parsed.stages]
    for i, stage in enumerate(parsed.stages):
        kept = tuple((ref, at) for ref, at in stage.needs if ref in names or ("$" in ref and not _IMAGE.search(ref)))
        parsed.stages[i] = stage._replace(needs=tuple(dict.fromkeys(kept)))
    return parsed


def _expand(line: str, env: dict[str, str]) -> str:
    return _VAR.sub(lambda v: env.get(v[1] or v[2], v[0]), line)


def _close(parsed: _Parsed, needs: list[tuple[str, int]], last: int) -> None:
    parsed.stages[-1] = parsed.stages[-1]._replace(needs=tuple(needs))
    parsed.last.append(last)


def _logical_lines(lines: list[str]) -> Iterable[tuple[int, str]]:
    """(first line number, the instruction with its continuation lines joined); comments and blanks dropped."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if not pending:
            start = number
        pending.append(text.removesuffix("\\"))
        if not text.endswith("\\"):
            yield start, " ".join(pending)
            pending = []
    if pending:
        yield start, " ".join(pending)


def built(graph: Graph, target: str, args: Mapping[str, str]) -> set[str]:
    """The stages a build of `target` ("": the last stage) runs, with `args` over the global ARG defaults."""
    if not graph.stages:
        return set()
    names = [s.name for s in graph.stages]
    by_name = {s.name: s for s in graph.stages}
    values = {**dict(graph.args), **args}
    todo = [target or names[-1]]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        for ref, _ in by_name[name].needs:
            todo += _matching(ref, values, names)
    return seen


def _matching(ref: str, values: Mapping[str, str], names: list[str]) -> list[str]:
    """The stages `ref` may name: its ARGs resolved; an ARG with no value (or one that is itself an expression)
    fits any text."""
    resolved = _VAR.sub(lambda v: _value(values.get(v[1] or v[2])), ref)
    pattern = _ANY_VAR.sub("*", resolved)
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def _value(value: str | None) -> str:
    return "*" if value is None or "$" in value else value


@cache
def _stored() -> dict[str, dict[str, object]]:
    text = resources.files("mobyci.families").joinpath("stagegraph.json").read_text("utf-8")
    data: dict[str, dict[str, object]] = json.loads(text)
    return data


def stored(tag: str) -> Graph | None:
    """The stored graph of a tag whose fetch list fetches.json stores."""
    data = _stored().get(tag)
    if data is None:
        return None
    stages = tuple(
        Stage(str(name), int(line), tuple((str(r), int(at)) for r, at in needs))
        for name, line, needs in data["stages"]  # type: ignore[attr-defined]
    )
    args = tuple(data["args"].items())  # type: ignore[attr-defined]
    fetches = tuple(tuple(f) for f in data["fetches"])  # type: ignore[attr-defined]
    return Graph(stages, args, fetches)


def render(graphs: Mapping[str, Graph]) -> str:
    """stagegraph.json: one tag a line block, stable order."""
    rows = [f"{json.dumps(tag)}:{json.dumps(g.data(), separators=(',', ':'))}" for tag, g in sorted(graphs.items())]
    return "{\n" + ",\n".join(rows) + "\n}\n"
