"""Spec -> Plan -> pipeline text: the pure functions behind `mobyci render` and `mobyci plan`."""

from __future__ import annotations

from mobyci.generator.plan import Plan, Rewrite, build_plan
from mobyci.schemas.load import LoadedSpec


def make_plan(loaded: LoadedSpec) -> Plan:
    from mobyci.generator.rules import build_rules

    rewrites = tuple(Rewrite(r.id, r.title, tuple(r.files)) for r in build_rules(loaded))
    return build_plan(loaded, rewrites)


def render_pipeline(loaded: LoadedSpec, fmt: str) -> str:
    from mobyci.generator.patch import build_patch_script

    plan = make_plan(loaded)
    if fmt == "gitlab":
        from mobyci.generator.gitlab import render_gitlab

        return render_gitlab(loaded, plan, build_patch_script(loaded))
    raise ValueError(f"unknown format {fmt}")
