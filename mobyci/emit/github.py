"""Plan -> .github/workflows/mobyci.yml. Knows GitHub Actions; everything about moby comes from the Plan.

Script injection is the classic GitHub Actions hole: GitHub substitutes `${{ … }}` into `run:` text before the
shell sees it. So no `${{` is ever written into a `run:` block. Secrets and matrix values reach the shell through
the step's `env:` (`CORP_HTTP_PROXY: ${{ secrets.CORP_HTTP_PROXY }}`) and the script reads them as shell variables
(`export HTTP_PROXY="$CORP_HTTP_PROXY"`). Expressions appear only in `with:`, `env:`, `name:`, `concurrency:`
and artifact names, where GitHub passes them as data.
"""

from __future__ import annotations

import math
import posixpath
import re
import shlex
from typing import Any, assert_never

from mobyci.committed.header import with_header
from mobyci.emit import builder
from mobyci.emit.github_system import ACTIONS, job_actions, settings_of, uses
from mobyci.emit.steps import plain_lines
from mobyci.plan import ca
from mobyci.plan import model as p

BUILDX_STEP_ID = "buildx"
# The builder setup-buildx-action created, by name: buildx looks a named builder up and fails when it is missing,
# where an unnamed lookup would fall back to the runner daemon's own builder (no mirror, no builder proxies).
BUILDX_BUILDER_EXPR = f"${{{{ steps.{BUILDX_STEP_ID}.outputs.name }}}}"
CACHE_SCOPE = "mobyci-"  # gha cache scope prefix; the key names family, target (platform) and architecture
DEV_REGISTRY = "ghcr.io"
# Pushes to the default branch and tags build; pull requests build the merge result. GitHub cannot name "the
# default branch" in `on:`, so the usual names are listed.
PUSH_BRANCHES = ("main", "master")
_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# GitHub keeps artifacts at most 90 days (public repositories; private ones can be set to 400).
_MAX_RETENTION_DAYS = 90


def job_id(name: str) -> str:
    ident = _JOB_ID_UNSAFE.sub("-", name).strip("-") or "job"
    return ident if re.match(r"[A-Za-z_]", ident) else f"j-{ident}"


def render_github(plan: p.Plan) -> str:
    from mobyci.emit.yamlout import dump

    text = dump(_document(plan))
    return with_header(_pin_comments(text), plan.output, notes=_notes(plan))


def _document(plan: p.Plan) -> dict[str, Any]:
    ids = {job.name: job_id(job.name) for job in plan.jobs}
    if len(set(ids.values())) != len(ids):
        raise ValueError(f"two jobs map to the same GitHub job id: {sorted(ids.values())}")
    secrets = _secret_variables(plan)
    doc: dict[str, Any] = {
        "name": "mobyci",
        "on": {
            "push": {"branches": list(PUSH_BRANCHES), "tags": ["**"]},
            "pull_request": None,
            "workflow_dispatch": None,
        },
        # Read-only by default; only the jobs that use the dev image on ghcr.io get packages access.
        "permissions": {"contents": "read"},
        # A newer push to the same branch or pull request supersedes a running build.
        "concurrency": {"group": "mobyci-${{ github.ref }}", "cancel-in-progress": True},
    }
    literals = dict(plan.literal_variables())
    env = {name: value for name, value in literals.items() if name not in _case_pairs(plan)}
    if env:
        doc["env"] = env
    # bash -eo pipefail for every run block, the same -e semantics as GitLab's job scripts.
    doc["defaults"] = {"run": {"shell": "bash"}}
    doc["jobs"] = {ids[job.name]: _job(plan, job, ids, secrets) for job in plan.jobs}
    return doc


def runner_fetches(plan: p.Plan) -> p.RunnerFetches:
    """The actions this workflow has the runner fetch and who pulls the jobs' own images, read from the document
    render_github writes. Every Docker job sets up a docker-container builder (setup-buildx-action); everything
    else with Docker (that builder's own image, `docker run`) is the runner's own daemon, with no mirror but what
    its daemon.json says."""
    doc = _document(plan)
    used: dict[str, list[str]] = {}
    builders, caches = [], []
    for job in plan.jobs:
        steps = doc["jobs"][job_id(job.name)]["steps"]
        for step in steps:
            if "uses" in step:
                used.setdefault(step["uses"], []).append(job.name)
        if any(step.get("uses") == uses("setup-buildx") for step in steps):
            builders.append(job.name)
        if any(f'{p.CACHE_VAR}="type=gha' in step.get("run", "") for step in steps):
            caches.append((job.name, "gha"))
    fetches = tuple(p.RunnerFetch("action", ref, tuple(dict.fromkeys(jobs))) for ref, jobs in used.items())
    runs = "\n".join(step.get("run", "") for job in doc["jobs"].values() for step in job["steps"])
    dev_image = next(iter(re.findall(rf'^export {p.DEV_IMAGE_VAR}="([^"]+)"', runs, re.MULTILINE)), "")
    names = tuple(job.name for job in plan.jobs)
    return p.RunnerFetches(fetches, tuple(builders), (), tuple(caches), (), names, dev_image=dev_image)


def _pin_comments(text: str) -> str:
    """`uses: owner/repo@sha` -> `uses: owner/repo@sha # vX.Y.Z` (ruamel cannot attach comments to plain data)."""
    for repo, sha, version in ACTIONS.values():
        text = text.replace(f"uses: {repo}@{sha}\n", f"uses: {repo}@{sha} # {version}\n")
    return text


def _case_pairs(plan: p.Plan) -> set[str]:
    """Variables set in both cases (HTTP_PROXY, http_proxy): GitHub's `env:` keys are case-insensitive, so these
    are exported by the run blocks instead."""
    lower = [name.lower() for name, _ in plan.variables]
    return {name for name, _ in plan.variables if lower.count(name.lower()) > 1}


def _secret_variables(plan: p.Plan) -> list[tuple[str, str]]:
    """(name the build reads, repository secret) for every pipeline variable that refers to a CI variable."""
    out = list(plan.variable_refs())
    for ref in [*(ref for _, ref in out), *plan.ca_variables]:
        if ref.upper().startswith("GITHUB_"):
            # github_system.py's findings refuse it in the spec, located: reaching here is a bug.
            raise ValueError(f"the CI variable {ref} cannot be a GitHub secret")
    return out


def _job(plan: p.Plan, job: p.Job, ids: dict[str, str], secrets: list[tuple[str, str]]) -> dict[str, Any]:
    name = job.name
    if job.matrix:
        name += " (" + ", ".join(f"${{{{ matrix.{dim} }}}}" for dim, _ in job.matrix) + ")"
    name += f": {job.title}"
    out: dict[str, Any] = {"name": name}
    if job.needs:
        out["needs"] = [ids[need] for need in job.needs]
    if job.registry_login:
        # The dev image lives in the repository's ghcr.io package: the job that builds it pushes, the others pull.
        # A job's permissions replace the workflow's: every scope it does not name becomes none, so contents: read
        # is named again for actions/checkout (docs.github.com, "Assigning permissions to jobs").
        out["permissions"] = {"contents": "read", "packages": "write" if job.dev_image == "push" else "read"}
    github = settings_of(plan)
    labels = github.runners[job.arch] if job.arch is not None else _labels(github.runs_on)
    out["runs-on"] = labels[0] if len(labels) == 1 else list(labels)
    out["timeout-minutes"] = max(1, math.ceil(plan.timeout_seconds / 60))
    if job.matrix:
        out["strategy"] = {"fail-fast": False, "matrix": {dim: list(values) for dim, values in job.matrix}}
    if job.variables:
        out["env"] = dict(job.variables)
    steps: list[dict[str, Any]] = []
    actions = job_actions(plan, job)
    uses_ca = bool(plan.ca_lines) and (job.docker or job.reads_ca)
    steps += _workspace(plan, job, ids, actions)
    if "login" in actions:
        steps.append(
            {
                "name": f"Log in to {DEV_REGISTRY}",
                "uses": uses("login"),
                "with": {
                    "registry": DEV_REGISTRY,
                    "username": "${{ github.actor }}",
                    "password": "${{ secrets.GITHUB_TOKEN }}",
                },
            }
        )
    if "github-runtime" in actions:
        steps.append({"name": "Expose the GitHub Actions cache service to buildx", "uses": uses("github-runtime")})
    ca_env = {name: f"${{{{ secrets.{name} }}}}" for name in plan.ca_variables} if uses_ca else {}
    if "setup-buildx" in actions:
        if plan.ca_lines:
            # Before the builder starts: buildx copies the CA file named in its config into the builder.
            step: dict[str, Any] = {
                "name": "Trust the corporate CA (tls.ca_certs)",
                "run": "\n".join(plan.ca_lines) + "\n",
            }
            if ca_env:
                step["env"] = dict(ca_env)
            steps.append(step)
        steps.append(_setup_buildx(plan, secrets))
        if plan.ca_lines:
            steps.append(
                {
                    "name": "The builder trusts the corporate CA for ADD and git sources",
                    "run": "\n".join(builder.trust_lines()) + "\n",
                    "env": {builder.BUILDER_VAR: BUILDX_BUILDER_EXPR},
                }
            )
    run: dict[str, Any] = {"name": job.title, "run": _script(plan, job, secrets)}
    env = {ref: f"${{{{ secrets.{ref} }}}}" for _, ref in secrets}
    if job.reads_ca:
        env.update(ca_env)
    env.update({dim: f"${{{{ matrix.{dim} }}}}" for dim, _ in job.matrix})
    if job.docker:
        env[builder.BUILDER_VAR] = BUILDX_BUILDER_EXPR
    if env:
        run["env"] = env
    steps.append(run)
    if "upload-artifact" in actions:
        steps.append(_upload(plan, job, ids[job.name]))
    out["steps"] = steps
    return out


def _workspace(plan: p.Plan, job: p.Job, ids: dict[str, str], actions: tuple[str, ...]) -> list[dict[str, Any]]:
    """The job's first steps: the repository checked out, or an empty workspace; then the artifacts it needs."""
    if "checkout" in actions:
        steps = [{"name": "Check out the repository", "uses": uses("checkout"), "with": {"persist-credentials": False}}]
    else:
        # A self-hosted runner keeps the workspace between runs, and only actions/checkout cleans it: a job that
        # does not check out would otherwise untar over, and upload, what an earlier run left.
        steps = [{"name": "Start from an empty workspace", "run": "find . -mindepth 1 -delete\n"}]
    for need in job.artifact_needs:
        steps += _downloads(plan.job(need), ids[need])
    return steps


def _labels(runs_on: str | list[str]) -> list[str]:
    """ci.github.runs_on as a list of labels (one label, or a list like runners' values)."""
    return [runs_on] if isinstance(runs_on, str) else list(runs_on)


def _script(plan: p.Plan, job: p.Job, secrets: list[tuple[str, str]]) -> str:
    lines: list[str] = []
    refs, pairs = dict(secrets), _case_pairs(plan)
    for name, value in plan.variables:
        if name in refs:
            # Fails early, naming the secret (never its value): pull requests from forks get no secrets.
            lines.append(f'export {name}="${{{refs[name]}:?set the repository secret {refs[name]}}}"')
        elif name in pairs:
            lines.append(f"export {name}={shlex.quote(value)}")
    if job.registry_login:
        # ghcr.io wants lower case; GITHUB_REPOSITORY keeps the owner's capitals.
        lines += [
            f'export {p.DEV_IMAGE_VAR}="{DEV_REGISTRY}/${{GITHUB_REPOSITORY,,}}/moby-dev"',
            f'export {p.DEV_TAG_VAR}="$GITHUB_RUN_ID"',
        ]
    for step in job.steps:
        lines += _step_lines(plan, step)
    text = "\n".join(lines) + "\n"
    if "${{" in text:
        # GitHub would substitute it into the script before the shell runs: script injection.
        raise ValueError(f"job {job.name}: a run block must not contain '${{{{'")
    return text


def _step_lines(plan: p.Plan, step: p.Step) -> list[str]:
    """One typed step of the Plan as lines of the job's run block (the builder and the artifacts the job needs
    are action steps before it: _job)."""
    match step:
        case p.Run() | p.TrustCA() | p.WritePatch():
            return plain_lines(plan.patch_script, step)
        case p.CreateBuilder():
            return [f'{p.CACHE_VAR}="type=gha,scope={CACHE_SCOPE}" && export {p.CACHE_VAR}']
        case p.FetchArtifacts():
            return []
        case _:
            assert_never(step)


def _setup_buildx(plan: p.Plan, secrets: list[tuple[str, str]]) -> dict[str, Any]:
    """A docker-container builder: it does not inherit the daemon's proxies or mirrors, so both are given here."""
    # `docker build` (moby's Makefiles) loads its image into the daemon, as with the daemon's own builder.
    opts = ["default-load=true"]
    refs, values = dict(secrets), dict(plan.variables)
    for name in builder.driver_env(plan):
        source = f"${{{{ secrets.{refs[name]} }}}}" if name in refs else values[name]
        # buildx reads each driver option as a CSV record: quoted, NO_PROXY's commas stay in the value.
        opts.append(f'"env.{name}={source}"')
    step: dict[str, Any] = {"name": "Set up a BuildKit builder", "id": BUILDX_STEP_ID, "uses": uses("setup-buildx")}
    inputs: dict[str, Any] = {"driver-opts": "\n".join(opts) + "\n"}
    config = builder.buildkitd_config(plan, ca_path=_CA_PATH if plan.ca_lines else None)
    if config:
        inputs["buildkitd-config-inline"] = config
    step["with"] = inputs
    return step


# Where the CA step writes the CA (the job's work tree); an expression is allowed in `with:`.
_CA_PATH = "${{ github.workspace }}/" + ca.CA_FILE


def _artifact_name(job: p.Job, job_ident: str) -> str:
    # Matrix jobs upload one artifact each; names cannot hold the '/' of a platform, so the job index is used.
    return f"{job_ident}-matrix-${{{{ strategy.job-index }}}}" if job.matrix else job_ident


def _artifact_root(paths: tuple[str, ...]) -> str:
    """The directory upload-artifact makes the artifact's root: a lone directory itself, else the common parent."""
    if len(paths) == 1 and paths[0].endswith("/"):
        return paths[0].rstrip("/")
    parents = [posixpath.dirname(path.rstrip("/")) for path in paths]
    return posixpath.commonpath(parents) if all(parents) else "."


def _upload(plan: p.Plan, job: p.Job, job_ident: str) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "name": _artifact_name(job, job_ident),
        "path": "\n".join(job.artifacts) + "\n",
        "if-no-files-found": "error",
        # A re-run of a job that succeeded uploads under the same name: without overwrite it fails with a conflict.
        "overwrite": True,
    }
    days = _retention_days(job.artifacts_kept or plan.artifacts_kept)
    if days is not None:
        inputs["retention-days"] = days
    return {"name": "Upload " + ", ".join(job.artifacts), "uses": uses("upload-artifact"), "with": inputs}


def _downloads(need: p.Job, need_ident: str) -> list[dict[str, Any]]:
    if not need.artifacts:
        return []
    inputs: dict[str, Any]
    inputs = {"pattern": f"{need_ident}-matrix-*", "merge-multiple": True} if need.matrix else {"name": need_ident}
    inputs["path"] = _artifact_root(need.artifacts)
    return [{"name": f"Download the artifacts of {need.name}", "uses": uses("download-artifact"), "with": inputs}]


def _retention_days(kept: p.Retention) -> int | None:
    seconds = kept.seconds
    if seconds is None:
        return None  # the repository's own retention setting
    days = math.ceil(seconds / 86400)
    return min(max(days, 1), _MAX_RETENTION_DAYS)


def _notes(plan: p.Plan) -> tuple[str, ...]:
    runs_on = ", ".join(_labels(settings_of(plan).runs_on))
    notes = [f"moby {plan.ref} (family {plan.release.family.name}), GitHub Actions on {runs_on}."]
    secrets = list(dict.fromkeys([*(ref for _, ref in _secret_variables(plan)), *plan.ca_variables]))
    if secrets:
        notes.append(
            "Repository secrets this workflow reads (Settings -> Secrets and variables -> Actions): "
            + ", ".join(secrets)
        )
    if any(job.registry_login for job in plan.jobs):
        notes.append(
            f"The dev image is shared through {DEV_REGISTRY}/<owner>/<repo>/moby-dev with the workflow's GITHUB_TOKEN "
            "(packages: write in prepare only); pull requests from forks cannot push it."
        )
    if plan.registry_mirror:
        notes.append(
            "The registry mirror reaches BuildKit (buildkitd-config-inline); pulls by the runner's own Docker daemon "
            f'(the BuildKit image, docker pull/run) use it only if the runner\'s daemon.json has "registry-mirrors": '
            f'["{plan.registry_mirror}"].'
        )
    if plan.retry:
        notes.append(
            f"ci.retry ({plan.retry}) does not apply: GitHub Actions has no automatic retry; re-run failed jobs."
        )
    days = _retention_days(plan.artifacts_kept)
    notes.append(
        "Build artifacts are kept "
        + (f"{days} days (retention-days)." if days is not None else "as the repository's retention setting says.")
    )
    notes += plan.notes
    return tuple(notes)
