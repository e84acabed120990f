"""The BuildKit steps of each job of a gitlab-ci-local run, from buildx's plain progress output.

gitlab-ci-local prefixes each line a job prints with `<job> > ` (the name padded to the longest job's).
buildx's plain progress (its default when the output is not a terminal) numbers each vertex: `#12 [build 3/7]
RUN …` names a Dockerfile step, `#12 CACHED` says it came from the cache, `#12 DONE 10.2s` that it ran. (Job
wall times: pipeline.job_seconds.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# `#12 [build 3/7] RUN …`: a Dockerfile step (not `[internal]`, not a cache import or export).
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


def steps(output: str) -> dict[str, list[Step]]:
    """job -> its Dockerfile steps, in the order buildx first named them, each with its last status."""
    found: dict[str, list[Step]] = {}
    by_id: dict[tuple[str, str], Step] = {}
    for line in output.splitlines():
        job, sep, rest = line.partition(" > ")
        job = job.strip()  # gitlab-ci-local pads job names to the longest one's width
        if not sep or not job or " " in job:
            continue
        rest = rest.strip()
        if named := _NAMED.match(rest):
            key = (job, named["id"])
            if key not in by_id:
                by_id[key] = Step(named["stage"], int(named["n"]), int(named["of"]), named["what"].strip())
                found.setdefault(job, []).append(by_id[key])
        elif (status := _STATUS.match(rest)) and (job, status["id"]) in by_id:
            by_id[(job, status["id"])].status = status["status"]
    return found


def built(job_steps: list[Step]) -> list[str]:
    """The steps that ran (not from the cache)."""
    return [s.name for s in job_steps if s.status == "DONE"]


def cached(job_steps: list[Step]) -> list[str]:
    return [s.name for s in job_steps if s.status == "CACHED"]


def built_twice(pipeline: dict[str, list[Step]]) -> list[str]:
    """Steps that ran (not cached) more than once in one pipeline, across its jobs."""
    seen: dict[str, int] = {}
    for job_steps in pipeline.values():
        for name in built(job_steps):
            seen[name] = seen.get(name, 0) + 1
    return sorted(name for name, count in seen.items() if count > 1)
