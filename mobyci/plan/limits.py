"""Platform limits, held against the Plan's own job list: a spec whose pipeline GitLab or Buildkite would reject
is refused by `mobyci validate` (and by `render` and `plan`), at the spec key that causes it.

The jobs counted are the ones the Plan builds, so there is one derivation of the pipeline's shape; every CI
system's limits are checked whatever the format, because the same spec may be rendered for each of them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from mobyci.errors import SpecError
from mobyci.load.reader import LoadedSpec
from mobyci.plan.model import Plan

Loc = tuple[str | int, ...]
Finding = tuple[Loc, str]


class Shape(NamedTuple):
    """A pipeline as the platforms count it: jobs, matrices and needs, each tied to the spec key behind it."""

    jobs: int  # jobs of one pipeline run, a matrix counted as every job it creates
    matrices: tuple[tuple[Loc, tuple[int, ...]], ...] = ()  # (spec key, values in each dimension)
    needs: tuple[tuple[Loc, int], ...] = ()  # (spec key, jobs one job waits for, a matrix counted in full)


def shape(plan: Plan) -> Shape:
    """The plan's pipeline as the platforms count it. The job that waits for the most jobs is the one a needs limit
    can break; build jobs come from `targets`, so that is where it is reported."""
    sizes = {job.name: math.prod(len(values) for _, values in job.matrix) for job in plan.jobs}
    matrices = tuple(
        (job.matrix_key or ("targets",), tuple(len(values) for _, values in job.matrix))
        for job in plan.jobs
        if job.matrix
    )
    widest = max((sum(sizes[name] for name in job.needs) for job in plan.jobs), default=0)
    return Shape(jobs=sum(sizes.values()), matrices=matrices, needs=((("targets",), widest),) if widest else ())


def check(loaded: LoadedSpec, plan: Plan | None = None) -> None:
    """Raise SpecError, located in the spec file, when the plan (default: the spec's plan) breaks a platform limit."""
    if plan is None:
        from mobyci.plan.build import build_plan

        plan = build_plan(loaded)
    findings = limit_findings(shape(plan))
    if findings:
        raise SpecError([loaded.problem(at, message) for at, message in findings])


def limit_findings(shape: Shape) -> list[Finding]:
    """Every platform limit (mobyci/formats.py) the shape breaks, at the spec key that causes it."""
    from mobyci.formats import system_limits

    limits = [limit for _, limit in system_limits()]

    def broken(what: str, count: int) -> list[str]:
        return [
            limit.message.format(count=count, most=limit.most)
            for limit in limits
            if limit.what == what and count > limit.most
        ]

    findings: list[Finding] = []
    for at, dimensions in shape.matrices:
        counts = {
            "matrix_jobs": math.prod(dimensions),
            "matrix_dimensions": len(dimensions),
            "matrix_values": max(dimensions, default=0),
        }
        findings += [(at, message) for what, count in counts.items() for message in broken(what, count)]
    for at, count in shape.needs:
        findings += [(at, message) for message in broken("needs", count)]
    findings += [(("targets",), message) for message in broken("jobs", shape.jobs)]
    return findings
