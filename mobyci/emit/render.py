"""Spec -> Plan -> pipeline text: the pure functions behind `mobyci render` and `mobyci plan`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mobyci.errors import SpecError
from mobyci.formats import DEFAULT, FORMATS, PATCH_OUTPUT
from mobyci.load.reader import LoadedSpec
from mobyci.plan.build import build_plan
from mobyci.plan.model import Plan, Rewrite

if TYPE_CHECKING:
    from mobyci.patch.rules import Rule


def make_plan(
    loaded: LoadedSpec,
    system: str = DEFAULT,
    *,
    fmt: str | None = None,
    output: str | None = None,
    patch_script: str = "",
    rules: list[Rule] | None = None,
) -> Plan:
    """The plan for one CI system (gitlab, buildkite, github), as the file of `fmt` (default: the system's own
    format) at `output` (relative to the repository root; default: its `outputs:` entry or usual path).

    A plan to emit needs `patch_script` (build_patch_script); one that is only shown does not, and skips its cost.
    `rules`: the spec's patch rules when the caller has them already (default: built here).
    Raises SpecError, located in the spec, when the plan breaks a CI system's limits."""
    from mobyci.patch.rules import build_rules
    from mobyci.plan import limits

    fmt = fmt or system
    output = output or default_output(loaded, fmt)
    rewrites = tuple(
        Rewrite(r.id, r.title, tuple(r.files), r.notes) for r in (build_rules(loaded) if rules is None else rules)
    )
    plan = build_plan(
        loaded,
        rewrites,
        FORMATS[fmt].system,
        fmt=fmt,
        output=output,
        patch_script=patch_script,
    )
    limits.check(loaded, plan)
    return plan


def default_output(loaded: LoadedSpec, kind: str) -> str:
    """Where the file of `kind` (a format or "patch") lives: its `outputs:` entry, else the conventional path.

    Rendering to stdout names this path, so `mobyci render > FILE`, `-o FILE` and `--all` write the same bytes.
    """
    listed: str | None = loaded.spec.outputs.as_dict().get(kind.replace("-", "_"))
    if listed is not None:
        return listed
    return PATCH_OUTPUT if kind == "patch" else FORMATS[kind].default_output


def output_kind(key: str) -> str:
    """The format (or "patch") of an `outputs:` key: gitlab_include -> gitlab-include."""
    return key.replace("_", "-")


def render_pipeline(loaded: LoadedSpec, fmt: str, output: str | None = None) -> str:
    """The pipeline of `fmt` that lives at `output` (relative to the repository root; default_output if None)."""
    from mobyci.formats import emitter
    from mobyci.specmodel.checks import system_findings

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt}")
    system = FORMATS[fmt].system
    findings = system_findings(loaded.spec, (system,))
    if findings:
        # Located like validate's problems: a spec that does not name this system in `outputs:` was validated
        # for the systems it names, so only rendering this system's file finds these.
        raise SpecError([loaded.problem(at, message) for at, message in findings])
    return emitter(fmt)(pipeline_plan(loaded, fmt, output))


def pipeline_plan(loaded: LoadedSpec, fmt: str = DEFAULT, output: str | None = None) -> Plan:
    """The plan the pipeline of `fmt` is rendered from, with its patch script (its emitter writes the script into
    the prepare job): what `render` emits and `plan --fetches` reads."""
    from mobyci.patch.rules import build_rules
    from mobyci.patch.script import build_patch_script

    rules = build_rules(loaded)  # once: the script and the plan's list of rewrites both come from them
    return make_plan(
        loaded,
        FORMATS[fmt].system,
        fmt=fmt,
        output=output,
        patch_script=build_patch_script(loaded, rules=rules),
        rules=rules,
    )
