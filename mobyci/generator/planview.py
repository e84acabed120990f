"""`mobyci plan` output: JSON for scripts, Mermaid for merge requests, text for people."""

from __future__ import annotations

import json
from typing import Any

from mobyci.generator.plan import Plan


def plan_data(plan: Plan) -> dict[str, Any]:
    """A stable JSON document: keys and order only change with a new `schema_version`."""
    release = plan.release
    return {
        "schema_version": 2,
        "spec": plan.spec_path,
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
        "rewrites": [{"id": r.id, "title": r.title, "files": list(r.files)} for r in plan.rewrites],
        "environment": [{"name": name, "value": value} for name, value in plan.variables],
        "build_args": list(plan.build_args),
        "ci_variables": list(plan.ci_variables),
        "registry_mirror": plan.registry_mirror,
        "notes": list(plan.notes),
        "packages": [{"what": what, "value": value, "from": source} for what, value, source in plan.packages],
        "ca_installed": list(plan.ca_places),
    }


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


def plan_text(plan: Plan) -> list[tuple[str, list[tuple[str, ...]]]]:
    """Sections of (title, rows) for a person; the CLI lays them out (rich on a terminal)."""
    release = plan.release
    family = release.family
    overview: list[tuple[str, ...]] = [
        ("moby", f"{plan.repo} @ {plan.ref}"),
        ("clone from", plan.clone_url),
        ("family", f"{family.name} ({family.build_style}, Debian {release.debian})"),
    ]
    if release.facts is not None:
        overview.append(("Go", f"{release.facts.go_version} (Dockerfile:{release.facts.go_line})"))
    if release.variant is not None:
        overview.append(("variant", release.variant.note))
    jobs: list[tuple[str, ...]] = [
        (
            job.name,
            job.stage,
            ", ".join(job.needs) or "-",
            job.title
            + (f" [{'; '.join(f'{n}: {len(v)} values' for n, v in job.matrix)}]" if job.matrix else "")
            + (" (build cache)" if job.build_cache else ""),
        )
        for job in plan.jobs
    ]
    rewrites: list[tuple[str, ...]] = [(r.id, r.title, ", ".join(r.files)) for r in plan.rewrites] or [
        ("-", "no mirror rewrites", "")
    ]
    env: list[tuple[str, ...]] = [(name, value) for name, value in plan.variables] or [
        ("-", "no proxy or build environment")
    ]
    sections: list[tuple[str, list[tuple[str, ...]]]] = [
        ("Build", list(overview)),
        ("Jobs (name, stage, needs, what)", jobs),
        ("Patch rules (id, what, files)", rewrites),
        ("Environment (CI variable names, never values)", env),
    ]
    if plan.packages:
        sections.append(("Packages built with (what, from)", [(f"{w} {v}", f) for w, v, f in plan.packages]))
    if plan.build_args:
        sections.append(("Build args passed from the environment", [(a,) for a in plan.build_args]))
    if plan.ca_places:
        sections.append(("Corporate CA (tls.ca_certs) is trusted by", [(place,) for place in plan.ca_places]))
    if plan.notes:
        sections.append(("Notes", [(n,) for n in plan.notes]))
    return sections
