"""Spec -> Plan -> pipeline text: the pure functions behind `mobyci render` and `mobyci plan`."""

from __future__ import annotations

import shlex

from mobyci.errors import MobyciError
from mobyci.generator.plan import Plan, Rewrite, build_plan
from mobyci.schemas.load import LoadedSpec


def make_plan(loaded: LoadedSpec, system: str = "gitlab") -> Plan:
    """The plan for one CI system (gitlab, buildkite, github)."""
    from mobyci.generator.rules import build_rules

    rewrites = tuple(Rewrite(r.id, r.title, tuple(r.files)) for r in build_rules(loaded))
    return build_plan(loaded, rewrites, system)


# Where each format's file conventionally lives, relative to the repository root.
DEFAULT_OUTPUTS = {
    "gitlab": ".gitlab-ci.yml",
    "buildkite": ".buildkite/pipeline.yml",
    "github": ".github/workflows/mobyci.yml",
    "gitlab-include": ".gitlab/mobyci.yml",
    "buildkite-group": ".buildkite/mobyci.yml",
}
FORMATS = tuple(DEFAULT_OUTPUTS)


def system_of(fmt: str) -> str:
    """The CI system a format is written for: the drop-in fragments are their system's pipelines reshaped."""
    return {"gitlab-include": "gitlab", "buildkite-group": "buildkite"}.get(fmt, fmt)


def default_output(loaded: LoadedSpec, kind: str) -> str:
    """Where the file of `kind` (a format or "patch") lives: its `outputs:` entry, else the conventional path.

    Rendering to stdout names this path, so `mobyci render > FILE`, `-o FILE` and `--all` write the same bytes.
    """
    listed: str | None = loaded.spec.outputs.as_dict().get(kind.replace("-", "_"))
    if listed is not None:
        return listed
    return "mobyci-patch.sh" if kind == "patch" else DEFAULT_OUTPUTS[kind]


def output_kind(key: str) -> str:
    """The format (or "patch") of an `outputs:` key: gitlab_include -> gitlab-include."""
    return key.replace("_", "-")


def render_command(spec_path: str, fmt: str, output: str) -> str:
    """The command that regenerates a file, for its header: the same whichever way the file was written."""
    words = ["mobyci", "render", shlex.quote(spec_path)]
    if fmt != "gitlab":
        words += ["--format", fmt]
    return " ".join([*words, "-o", shlex.quote(output)])


def render_pipeline(loaded: LoadedSpec, fmt: str, output: str | None = None) -> str:
    """The pipeline of `fmt` that lives at `output` (relative to the repository root; default_output if None)."""
    from mobyci.generator.patchscript import build_patch_script
    from mobyci.schemas.checks import runner_findings
    from mobyci.schemas.yamlpos import dotted

    findings = runner_findings(loaded.spec, (system_of(fmt),))
    if findings:
        raise MobyciError("\n".join(f"{loaded.path}: {dotted(at)}: {message}" for at, message in findings))
    output = output or default_output(loaded, fmt)
    command = render_command(loaded.path, fmt, output)
    plan = make_plan(loaded, system_of(fmt))
    if fmt == "gitlab":
        from mobyci.generator.gitlab import render_gitlab

        return render_gitlab(loaded, plan, build_patch_script(loaded), command, output)
    if fmt == "buildkite":
        from mobyci.generator.buildkite import render_buildkite

        return render_buildkite(loaded, plan, build_patch_script(loaded), command)
    if fmt == "gitlab-include":
        from mobyci.generator.gitlab_include import render_gitlab_include

        return render_gitlab_include(loaded, plan, build_patch_script(loaded), command, output)
    if fmt == "buildkite-group":
        from mobyci.generator.buildkite import render_buildkite_group

        return render_buildkite_group(loaded, plan, build_patch_script(loaded), command)
    if fmt == "github":
        from mobyci.generator.github import render_github

        return render_github(loaded, plan, build_patch_script(loaded), command, output)
    raise ValueError(f"unknown format {fmt}")
