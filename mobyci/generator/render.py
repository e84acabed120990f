"""Spec -> Plan -> pipeline text: the pure functions behind `mobyci render` and `mobyci plan`."""

from __future__ import annotations

import shlex

from mobyci.generator.plan import Plan, Rewrite, build_plan
from mobyci.schemas.load import LoadedSpec


def make_plan(loaded: LoadedSpec, system: str = "gitlab") -> Plan:
    """The plan for one CI system (gitlab, buildkite, github)."""
    from mobyci.generator.rules import build_rules

    rewrites = tuple(Rewrite(r.id, r.title, tuple(r.files)) for r in build_rules(loaded))
    return build_plan(loaded, rewrites, system)


# Where each format's file conventionally lives: named in the header when rendering to stdout.
DEFAULT_OUTPUTS = {
    "gitlab": ".gitlab-ci.yml",
    "buildkite": ".buildkite/pipeline.yml",
    "github": ".github/workflows/mobyci.yml",
}


def render_command(spec_path: str, fmt: str, output: str | None) -> str:
    """The exact command that regenerates a file, for its header.

    Rendering to stdout names the conventional path, so `mobyci render > .gitlab-ci.yml` and
    `mobyci render -o .gitlab-ci.yml` write the same bytes and `--check` accepts either.
    """
    words = ["mobyci", "render", shlex.quote(spec_path)]
    if fmt != "gitlab":
        words += ["--format", fmt]
    return " ".join([*words, "-o", shlex.quote(output or DEFAULT_OUTPUTS[fmt])])


def render_pipeline(loaded: LoadedSpec, fmt: str, output: str | None = None) -> str:
    return render_pipeline_with_command(loaded, fmt, render_command(loaded.path, fmt, output))


def render_pipeline_with_command(loaded: LoadedSpec, fmt: str, command: str) -> str:
    """The pipeline, with `command` named in its header as the way to regenerate it."""
    from mobyci.generator.patchscript import build_patch_script

    plan = make_plan(loaded, fmt)
    if fmt == "gitlab":
        from mobyci.generator.gitlab import render_gitlab

        return render_gitlab(loaded, plan, build_patch_script(loaded), command)
    if fmt == "buildkite":
        from mobyci.generator.buildkite import render_buildkite

        return render_buildkite(loaded, plan, build_patch_script(loaded), command)
    if fmt == "github":
        from mobyci.generator.github import render_github

        return render_github(loaded, plan, build_patch_script(loaded), command)
    raise ValueError(f"unknown format {fmt}")
