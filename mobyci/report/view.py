"""`mobyci plan` output: JSON for scripts, Mermaid for merge requests, text for people.

A reading of the Plan and its CI system only: the mirrors and proxies as written, for where each applies (notes.py),
come from the Plan's Network, not from the spec."""

from __future__ import annotations

import json
import re
from typing import Any

from mobyci.formats import ci_system
from mobyci.plan.model import Job, Plan
from mobyci.report.notes import applied_mirrors, ca_places


def plan_data(plan: Plan) -> dict[str, Any]:
    """A stable JSON document: keys and order only change with a new `schema_version`."""
    release = plan.release
    return {
        "schema_version": 2,
        "spec": plan.output.spec_path,
        "system": plan.system,
        "moby": {
            "repo": plan.repo,
            "clone_url": plan.clone_url,
            "ref": plan.ref,
            "family": release.family.name,
            "version": None if release.version is None else str(release.version),
            "build_style": release.family.build_style,
        },
        "jobs": [
            {
                "name": job.name,
                "stage": job.stage,
                "title": job.title,
                "needs": list(job.needs),
                "matrix": {name: list(values) for name, values in job.matrix},
                "artifacts": list(job.artifacts),
                "build_cache": job.build_cache,
            }
            for job in plan.jobs
        ],
        "rewrites": [
            {"id": r.id, "title": r.title, "files": list(r.files), **({"notes": list(r.notes)} if r.notes else {})}
            for r in plan.rewrites
        ],
        "environment": [{"name": name, "value": value} for name, value in _environment(plan)],
        "build_args": list(plan.build_args),
        "ci_variables": list(dict.fromkeys([*plan.ci_variables, *plan.ca_variables, *_own_names(plan)])),
        "ca_variables": [{"name": name, "type": ca_variable_type(plan)} for name in plan.ca_variables],
        "mirrors_and_proxies": [{"key": a.key, "value": a.value, "where": a.where} for a in applied_mirrors(plan)],
        "registry_mirror": plan.registry_mirror,
        "notes": list(plan.notes),
        "packages": [{"what": what, "value": value, "from": source} for what, value, source in plan.packages],
        "ca_installed": list(ca_places(plan)),
        "package_images": [
            {"job": i.job, "runner_arch": i.arch, "mirror": i.mirror, "hosts_reached": list(i.hosts)}
            for i in plan.package_images
        ],
    }


def ca_variable_type(plan: Plan) -> str:
    """What a CA variable of tls.ca_certs must hold on the plan's CI system."""
    return ci_system(plan.system).ca_variable_type(plan)


def plan_json(plan: Plan) -> str:
    return json.dumps(plan_data(plan), indent=2, ensure_ascii=False) + "\n"


def plan_mermaid(plan: Plan) -> str:
    def node(name: str) -> str:
        return name.replace("-", "_")

    lines = ["flowchart LR"]
    for job in plan.jobs:
        label = job.name
        if job.matrix:
            label += " x " + ", ".join(str(len(values)) for _, values in job.matrix)
        lines.append(f'    {node(job.name)}["{label}"]')
    for job in plan.jobs:
        lines += [f"    {node(need)} --> {node(job.name)}" for need in job.needs]
    return "\n".join(lines) + "\n"


_KEY_WIDTH = 22  # a longer key puts its text on the next line


def plan_text(plan: Plan, width: int = 80) -> str:
    """The plan for a person, laid out in `width` columns; words are never broken and no line ends in spaces."""
    sections = _sections(plan)
    out: list[str] = []
    for title, rows in sections:
        out.append(title)
        out += layout(rows, width)
        out.append("")
    return "\n".join(out)


def _sections(plan: Plan) -> list[tuple[str, list[tuple[str, str]]]]:
    release = plan.release
    family = release.family
    system = ci_system(plan.system)
    overview = [
        ("moby", f"{plan.repo} @ {plan.ref}"),
        ("clone from", plan.clone_url),
        ("family", f"{family.name} ({family.build_style}, Debian {release.debian})"),
    ]
    if release.facts is not None:
        overview.append(("Go", f"{release.facts.go_version} (Dockerfile:{release.facts.go_line})"))
    if release.variant is not None:
        overview.append(("variant", release.variant.note))
    jobs = [(job.name, _job_text(plan, job)) for job in plan.jobs]
    mirrors = applied_mirrors(plan)
    applied = [(a.key, f"{a.value}: {a.where}") for a in mirrors] or [("-", "no mirrors or proxies")]
    rewrites = [
        (r.id, f"{r.title}: {', '.join(r.files)}" + "".join(f" (note: {note})" for note in r.notes))
        for r in plan.rewrites
    ] or [("-", "no mirror rewrites")]
    env = list(_environment(plan)) or [("-", "no proxy or build environment")]
    sections = [
        (f"Build (for {system.title})", overview),
        (system.jobs_title, jobs),
        ("Mirrors and proxies (where each applies)", applied),
    ]
    if plan.packages:
        sections.append(("Packages built with (what, from)", [(w, f"{v}; {f}") for w, v, f in plan.packages]))
    if plan.package_images:
        sections.append(
            (
                "Package images (runner; mirror; hosts reached directly)",
                [
                    (
                        i.job,
                        f"{i.arch + ' runner' if i.arch else 'default runner'}; {i.mirror or 'no mirror'}; "
                        f"{', '.join(i.hosts) or '-'}",
                    )
                    for i in plan.package_images
                ],
            )
        )
    own = system.own_variables(plan)
    if plan.ci_variables or plan.ca_variables or own:
        used = [
            (name, ", ".join(a.key for a in mirrors if _refers_to(a.value, name)) or "the spec")
            for name in plan.ci_variables
            if name not in plan.ca_variables
        ]
        used += [(name, f"tls.ca_certs: {ca_variable_type(plan)}") for name in plan.ca_variables]
        used += list(own)
        sections.append((system.variables_title, used))
    sections += [("Patch rules (applied to the moby tree)", rewrites), ("Environment (as written)", env)]
    if plan.build_args:
        sections.append(("Build args passed from the environment", [("", ", ".join(plan.build_args))]))
    places = ca_places(plan)
    if places:
        sections.append(("Corporate CA (tls.ca_certs) is trusted by", [("-", place) for place in places]))
    if plan.notes:
        sections.append(("Notes", [("-", note) for note in plan.notes]))
    return sections


def _own_names(plan: Plan) -> list[str]:
    """The variables the plan's system reads that the spec does not name (Buildkite's dev image repository)."""
    return [name for name, _ in ci_system(plan.system).own_variables(plan)]


def _environment(plan: Plan) -> tuple[tuple[str, str], ...]:
    """The pipeline-wide variables as the plan's CI system sets them."""
    return ci_system(plan.system).environment(plan.variables)


def _refers_to(value: str, name: str) -> bool:
    return any(f"{ref}" in value for ref in (f"${name}", f"${{{name}}}"))


def _job_text(plan: Plan, job: Job) -> str:
    facts = list(ci_system(plan.system).job_words(job))
    if job.needs:
        facts.append("needs " + ", ".join(job.needs))
    facts += [f"{name}: {', '.join(values)}" for name, values in job.matrix]
    if job.build_cache:
        facts.append("build cache")
    return job.title + (f" ({'; '.join(facts)})" if facts else "")


def layout(rows: list[tuple[str, str]], width: int) -> list[str]:
    import textwrap

    key_width = min(_KEY_WIDTH, max((len(key) for key, _ in rows), default=0))
    indent = 2 + key_width + 2 if key_width else 2
    lines: list[str] = []
    for key, text in rows:
        column = max(20, width - indent)
        wrapped = textwrap.wrap(text, width=column, break_long_words=False, break_on_hyphens=False) or [""]
        wrapped = [piece for part in wrapped for piece in _after_commas(part, column)]
        first = f"  {key.ljust(key_width)}  " if key_width else "  "
        if len(key) > key_width or len(first) + len(wrapped[0]) > width:
            # The key alone on its line; a word longer than the text column (a URL, a host list) moves left
            # as far as it must, never cut.
            lines.append(f"  {key}".rstrip())
            first = " " * indent
        for index, part in enumerate(wrapped):
            lead = first if index == 0 else " " * indent
            if len(lead) + len(part) > width:
                lead = " " * max(0, min(4, width - len(part)))
            lines.append((lead + part).rstrip())
    return lines


def _after_commas(part: str, column: int) -> list[str]:
    """A word longer than the column that is a list (NO_PROXY's hosts) broken after its commas, each piece as long
    as fits; any other word is left whole."""
    if len(part) <= column or "," not in part:
        return [part]
    pieces: list[str] = []
    for item in re.split(r"(?<=,)", part):
        if pieces and len(pieces[-1]) + len(item) <= column:
            pieces[-1] += item
        else:
            pieces.append(item)
    return pieces
