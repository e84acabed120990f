"""Which Dockerfile stages a target builds, and which stage a fetch's source line belongs to.

A real build runs only the stages its target needs (BuildKit prunes the rest): the stages reachable from the
target through `FROM <stage>`, `COPY --from=<stage>` and `RUN --mount=…,from=<stage>`, with the global ARG
defaults substituted in stage names (moby's `FROM cross-${CROSS}`). A fetch the inventory lists at
`Dockerfile:N` belongs to the stage holding line N; one at another file (an installer, a script) to the stages
that run it: `install.sh <name>` runs `<name>.installer`, and a stage that names a file's path runs that file.
Lines before the first FROM (`# syntax=`, global ARGs) belong to every stage; a global `ARG NAME=<value>` more
precisely to the stages that declare `ARG NAME` again (global_arg_stages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FROM = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(?P<image>\S+)(?:\s+AS\s+(?P<name>\S+))?\s*$", re.IGNORECASE)
_ARG = re.compile(r"^ARG\s+(?P<name>\w+)(?:=(?P<value>.*))?$", re.IGNORECASE)
_FROM_REF = re.compile(r"--from=(?P<ref>[^\s,]+)|[\s,=]from=(?P<mount>[^\s,]+)")
_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_INSTALLER = re.compile(r"install\.sh\s+(\w+)")


@dataclass
class Stage:
    name: str
    first: int  # 1-based line of its FROM
    last: int
    base: str  # the FROM operand, ARGs substituted
    text: str = ""
    needs: set[str] = field(default_factory=set)


def parse(dockerfile: str) -> list[Stage]:
    lines = dockerfile.splitlines()
    args: dict[str, str] = {}
    stages: list[Stage] = []
    joined = _logical_lines(lines)
    for number, line in joined:
        if not stages and (m := _ARG.match(line)):
            args[m["name"]] = (m["value"] or "").strip().strip('"')
        if m := _FROM.match(line):
            base = _VAR.sub(lambda v: args.get(v[1] or v[2], ""), m["image"])
            name = m["name"] or str(len(stages))
            if stages:
                stages[-1].last = number - 1
            stages.append(Stage(name=name, first=number, last=len(lines), base=base))
            continue
        if stages:
            stages[-1].text += line + "\n"
            for ref in _FROM_REF.finditer(line):
                stages[-1].needs.add(_VAR.sub(lambda v: args.get(v[1] or v[2], ""), ref["ref"] or ref["mount"]))
    names = {s.name for s in stages}
    for stage in stages:
        if stage.base in names:
            stage.needs.add(stage.base)
    return stages


def closure(stages: list[Stage], target: str) -> list[str]:
    """The stages `target` needs, itself included, in file order."""
    by_name = {s.name: s for s in stages}
    seen: set[str] = set()
    todo = [target]
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        todo.extend(by_name[name].needs)
    return [s.name for s in stages if s.name in seen]


def stages_of(stages: list[Stage], source: str) -> list[str]:
    """The stages a fetch at `source` (`Dockerfile:13`, `hack/dockerfile/install/tini.installer:10`) belongs to."""
    path, _, line = source.rpartition(":")
    if not line.isdigit():
        return []
    if path == "Dockerfile":
        if stages and int(line) < stages[0].first:
            return [s.name for s in stages]  # the global part (`# syntax=`, ARGs): every stage's build reads it
        return [s.name for s in stages if s.first <= int(line) <= s.last]
    base = path.rsplit("/", 1)[-1]
    if base.endswith(".installer"):
        tool = base.removesuffix(".installer")
        return [s.name for s in stages if tool in _INSTALLER.findall(s.text)]
    return [s.name for s in stages if path in s.text]


def global_arg_stages(dockerfile: str, stages: list[Stage], source: str) -> list[str]:
    """A fetch at a global `ARG NAME=<url>` (before the first FROM: v28.5.2 Dockerfile:14 and :17, docker/cli's
    repository) belongs to the stages that declare `ARG NAME` again, the only ones that can read it (Dockerfile
    reference, "Understand how ARG and FROM interact"); [] for any other line."""
    path, _, line = source.rpartition(":")
    if path != "Dockerfile" or not line.isdigit() or not stages or int(line) >= stages[0].first:
        return []
    m = re.match(r"ARG\s+(\w+)=", dockerfile.splitlines()[int(line) - 1].strip())
    if m is None:
        return []
    declares = re.compile(rf"^ARG\s+{m[1]}\b", re.MULTILINE)
    return [stage.name for stage in stages if declares.search(stage.text)]


def _logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(first line number, the instruction with its continuation lines joined), comments dropped."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not pending and (not text or text.startswith("#")):
            continue
        if not pending:
            start = number
        if text.endswith("\\"):
            pending.append(text[:-1])
            continue
        pending.append(text)
        out.append((start, " ".join(pending)))
        pending = []
    if pending:
        out.append((start, " ".join(pending)))
    return out
