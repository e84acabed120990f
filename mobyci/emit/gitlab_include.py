"""Plan -> GitLab jobs to `include:` from an existing .gitlab-ci.yml (the drop-in form of gitlab.py's pipeline).

An included file's top-level keywords merge into the host's, the host winning (GitLab's `include` docs): so the
fragment has no `workflow`, `default`, `stages` or global `variables` that would change the host's pipeline or be
lost in it. What the full pipeline sets globally goes into one hidden job, `.mobyci`, which every job extends;
`inherit` keeps the host's `default:` (image, before_script, services…) and global variables out of these jobs.
Job names and stages start with `mobyci-`; the host lists the stages in its own `stages:` (README).
"""

from __future__ import annotations

from typing import Any

from mobyci.committed.header import with_header
from mobyci.emit.gitlab import document
from mobyci.plan import model as p

PREFIX = "mobyci-"
BASE = ".mobyci"


def stage_names(plan: p.Plan) -> list[str]:
    """The stages the host must list, in order."""
    return [_prefixed(stage) for stage in plan.stages()]


def _prefixed(name: str) -> str:
    return name if name.startswith(PREFIX) else PREFIX + name


def render_gitlab_include(plan: p.Plan) -> str:
    from mobyci.emit.yamlout import dump

    full, notes = document(plan)
    base: dict[str, Any] = {"inherit": {"default": False, "variables": False}}
    base.update(full["default"])
    base["variables"] = full["variables"]
    doc: dict[str, Any] = {BASE: base}
    jobs = {job.name for job in plan.jobs}
    for name, body in full.items():
        if name in ("stages", "workflow", "variables", "default"):
            continue
        if name.startswith("."):  # the dind templates: now based on .mobyci
            doc[name] = {"extends": BASE, **body}
            continue
        job = dict(body)
        job["stage"] = _prefixed(job["stage"])
        job["needs"] = [_prefixed(need) if need in jobs else need for need in job["needs"]]
        if "extends" not in job:
            job = {"extends": BASE, **job}
        doc[_prefixed(name)] = job
    notes = (*notes, f"Include it from .gitlab-ci.yml and add to your stages: {', '.join(stage_names(plan))}.")
    return with_header(dump(doc), plan.output, notes=notes)
