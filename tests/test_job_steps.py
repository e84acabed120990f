"""The Plan's typed job steps and how each CI system translates them: every step of every job of every golden spec
is in that system's rendered job, in the plan's order (a step an emitter dropped or reordered fails here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mobyci.emit.buildkite import step_key
from mobyci.emit.github import job_id
from mobyci.emit.render import make_plan, render_pipeline
from mobyci.plan import model as p
from mobyci.specmodel.fields import var_ref_name
from tests.helpers.golden_cases import GOLDEN, cases, load_case
from tests.helpers.outputs import meaning

_CASES = [(name, spec) for name, spec, _ in cases("gitlab-ci.yml", ".gitlab-ci.yml")]
_PATCH_LINE = f"> {p.PATCH_SCRIPT} <<'{p.PATCH_EOF}'"


def _job_text(system: str, doc: dict[str, Any], job: p.Job) -> tuple[str, list[dict[str, Any]]]:
    """The shell the system runs for `job` (its run block on GitHub) and, on GitHub, its action steps."""
    if system == "gitlab":
        return "\n".join(doc[job.name]["script"]), []
    if system == "buildkite":
        step = next(s for s in doc["steps"] if isinstance(s, dict) and s.get("key") == step_key(job.name))
        return "\n".join(step["commands"]), []
    steps = doc["jobs"][job_id(job.name)]["steps"]
    run = next(s for s in steps if s.get("name") == job.title)
    return run["run"], [s for s in steps if s is not run]


@pytest.mark.parametrize("system", ["gitlab", "buildkite", "github"])
@pytest.mark.parametrize("spec", [spec for _, spec in _CASES], ids=[name for name, _ in _CASES])
def test_every_step_is_translated_in_the_plans_order(spec: Path, system: str) -> None:
    loaded = load_case(spec)
    plan = make_plan(loaded, system)
    doc = meaning(system, render_pipeline(loaded, system))
    for job in plan.jobs:
        text, actions = _job_text(system, doc, job)
        at = 0
        for step in job.steps:
            match step:
                case p.Run() | p.TrustCA():
                    for line in step.lines:
                        found = text.find(line, at)
                        assert found >= 0, f"{job.name}: {line!r} missing or out of order on {system}"
                        at = found + len(line)
                case p.WritePatch():
                    found = text.find(_PATCH_LINE, at)
                    assert found >= 0, f"{job.name}: the patch script is not written before its later steps"
                    at = found
                case p.CreateBuilder():
                    if system == "github":
                        assert any("docker/setup-buildx-action" in a.get("uses", "") for a in actions)
                        found = text.find(f'{p.CACHE_VAR}="type=gha', at)
                    elif system == "buildkite" and loaded.spec.ci.buildkite.cache is None:
                        continue  # no cache configured: bake builds on the agent daemon's own builder
                    else:
                        found = text.find("docker buildx create", at)
                    assert found >= 0, f"{job.name}: no builder created before its later steps on {system}"
                    at = found
                case p.FetchArtifacts():
                    for need in step.needs:
                        if not plan.job(need).artifacts:
                            continue
                        if system == "gitlab":
                            assert need in doc[job.name]["needs"]
                        elif system == "buildkite":
                            found = text.find(f"buildkite-agent artifact download --step {step_key(need)} ", at)
                            assert found >= 0, f"{job.name}: the artifacts of {need} are not downloaded first"
                            at = found
                        else:
                            names = [a.get("name") for a in actions]
                            assert f"Download the artifacts of {need}" in names, names


def test_jobs_fetch_the_artifacts_of_every_job_they_need() -> None:
    """GitLab's `needs:` brings artifacts by itself; the other systems rely on the FetchArtifacts step."""
    for _, spec in _CASES:
        for job in make_plan(load_case(spec), "buildkite").jobs:
            assert set(job.artifact_needs) == set(job.needs), job.name


def test_a_bake_job_creates_its_builder_before_anything_else() -> None:
    plan = make_plan(load_case(GOLDEN / "28-dind-ca" / "spec.yaml"), "gitlab")
    bake = [job for job in plan.jobs if job.build_cache]
    assert bake, "28-dind-ca builds with bake"
    for job in bake:
        assert isinstance(job.steps[0], p.CreateBuilder), job.steps


@pytest.mark.parametrize("system", ["gitlab", "buildkite", "github"])
@pytest.mark.parametrize("spec", [spec for _, spec in _CASES], ids=[name for name, _ in _CASES])
def test_the_environment_mobyci_plan_shows_is_the_pipeline_s(spec: Path, system: str) -> None:
    # `mobyci plan` lists the environment; the rendered file must set exactly that (GitLab once showed NO_PROXY
    # without the instance and registry hosts its pipeline adds).
    from mobyci.report.view import plan_data

    loaded = load_case(spec)
    shown = [(e["name"], e["value"]) for e in plan_data(make_plan(loaded, system))["environment"]]
    doc = meaning(system, render_pipeline(loaded, system))
    # Buildkite and GitHub set literal values in the pipeline's env and export those read from CI variables or
    # secrets in every job's shell (with a message naming the variable when it is unset); GitLab sets them in
    # `variables:` but for the logins, which it exports in the scripts (its services get every YAML variable).
    if system == "gitlab":
        env = doc["variables"]
        runs = "\n".join(line for job in doc.values() if isinstance(job, dict) for line in job.get("script", []))
    elif system == "github":
        env = doc.get("env", {})
        runs = "\n".join(s.get("run", "") for job in doc["jobs"].values() for s in job["steps"])
    else:
        env = doc.get("env", {})
        runs = "\n".join(c for s in doc["steps"] if isinstance(s, dict) for c in s.get("commands", []))
    exports = [line for line in runs.splitlines() if line.startswith("export ")]
    for name, value in shown:
        read = var_ref_name(value) or value  # a CI variable's name, or the literal value
        exported = any(line.startswith(f"export {name}=") and read in line for line in exports)
        assert str(env.get(name)) == value or exported, (name, value)


# A job that stops when a variable is unset (`${NAME:?set …}`) reads a variable the user must create.
_GUARDED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):\?")


@pytest.mark.parametrize("system", ["gitlab", "buildkite", "github"])
@pytest.mark.parametrize("spec", [spec for _, spec in _CASES], ids=[name for name, _ in _CASES])
def test_every_variable_a_job_stops_without_is_one_mobyci_plan_says_to_create(spec: Path, system: str) -> None:
    # Buildkite's dev image repository (MOBYCI_DEV_IMAGE) was named in the file's header but not by `mobyci plan`.
    from mobyci.report.view import plan_data

    loaded = load_case(spec)
    listed = set(plan_data(make_plan(loaded, system))["ci_variables"])
    guarded = set(_GUARDED.findall(render_pipeline(loaded, system)))
    assert guarded <= listed, sorted(guarded - listed)
