"""What a pipeline's output says about its jobs and their BuildKit steps (gitlab-ci-local + buildx plain progress).

gitlab-ci-local prefixes each line of a job's output with the job's name and ends the job with
`<job> finished in <duration>` (`1.76 s`, `421 ms`, `3 min 10 s`). buildx's plain progress (its default when the
output is not a terminal) numbers each vertex: `#12 [build 3/7] RUN …` names it, `#12 CACHED` says it came from
the cache, `#12 DONE 10.2s` that it ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FINISHED = re.compile(r"^(?P<job>\S+) finished in (?P<took>.+?)\s*$")
_PART = re.compile(r"([\d.]+)\s*(ms|s|min|h)\b")
_UNIT = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0}
# `#12 [build 3/7] RUN …`: a Dockerfile step (not `[internal]` or a cache import).
_NAMED = re.compile(r"^#(?P<id>\d+) \[(?P<stage>[^\]\s]+) (?P<n>\d+)/(?P<of>\d+)\] (?P<what>.*)$")
_STATUS = re.compile(r"^#(?P<id>\d+) (?P<status>CACHED|DONE|ERROR|CANCELED)\b")


@dataclass
class Step:
    stage: str
    index: int  # i of `[stage i/n]`
    total: int  # n
    what: str
    status: str = "?"

    @property
    def name(self) -> str:
        return f"[{self.stage} {self.index}/{self.total}] {self.what}"


@dataclass
class Job:
    name: str
    seconds: float | None = None
    steps: list[Step] = field(default_factory=list)

    def built(self) -> list[str]:
        """The steps that ran (not from the cache)."""
        return [s.name for s in self.steps if s.status == "DONE"]

    def cached(self) -> list[str]:
        return [s.name for s in self.steps if s.status == "CACHED"]


def seconds(text: str) -> float:
    """`1.76 s`, `421 ms`, `3 min 10 s` -> seconds."""
    parts = _PART.findall(text)
    if not parts:
        raise ValueError(f"not a gitlab-ci-local duration: {text!r}")
    return sum(float(number) * _UNIT[unit] for number, unit in parts)


def jobs(output: str) -> dict[str, Job]:
    """Every job of a gitlab-ci-local run, with its wall time and its BuildKit steps (in first-seen order)."""
    found: dict[str, Job] = {}
    steps: dict[tuple[str, str], Step] = {}
    for line in output.splitlines():
        m = _FINISHED.match(line)
        if m:
            found.setdefault(m["job"], Job(m["job"])).seconds = seconds(m["took"])
            continue
        job, sep, rest = line.partition(" > ")
        if not sep or " " in job:
            continue
        entry = found.setdefault(job, Job(job))
        rest = rest.strip()
        if named := _NAMED.match(rest):
            key = (job, named["id"])
            if key not in steps:
                steps[key] = Step(named["stage"], int(named["n"]), int(named["of"]), named["what"].strip())
                entry.steps.append(steps[key])
        elif (status := _STATUS.match(rest)) and (job, status["id"]) in steps:
            steps[(job, status["id"])].status = status["status"]
    return found


def built_twice(pipeline: dict[str, Job]) -> list[str]:
    """Steps that ran (not cached) more than once in one pipeline, across its jobs."""
    seen: dict[str, int] = {}
    for job in pipeline.values():
        for name in job.built():
            seen[name] = seen.get(name, 0) + 1
    return sorted(name for name, count in seen.items() if count > 1)
