"""Plan -> Buildkite pipeline.yml. Knows Buildkite; everything about moby comes from the Plan.

`buildkite-agent pipeline upload` interpolates `$NAME` and `${NAME…}` in every string of the pipeline from the
*uploading* job's environment, and fails on a `$` followed by anything but a letter, `{` or another `$`. So:

- every `$` the shell should see is written `$$` (upload turns it back into `$`): nothing is substituted at
  upload, and the same file works committed as `.buildkite/pipeline.yml` or piped from `mobyci render`;
- CI variables that hold proxies are read by the commands at run time (`export HTTP_PROXY="$$CORP_HTTP_PROXY"`),
  never through `env:`: step env values are interpolated at upload and not expanded at run time;
- literal values (a proxy URL without credentials, NO_PROXY, VERSION) go in the pipeline's `env:`.
"""

from __future__ import annotations

import math
import re
import shlex
from typing import Any, assert_never

from mobyci.committed.header import with_header
from mobyci.emit import builder
from mobyci.emit.buildkite_system import SYSTEM, settings_of
from mobyci.emit.steps import write_patch_line
from mobyci.plan import model as p

KEY_PREFIX = "mobyci-"
# -1: the agent was lost; 255: the agent was stopped (forced shutdown, spot instance reclaimed).
RETRY_EXIT_STATUSES = (-1, 255)
_BACKSLASH_MARK = "@MOBYCI_BACKSLASH@"
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_:-]+")
# A backslash run right before a `$`: upload reads `\\` as two backslashes and `\$` as `$`.
_BACKSLASHES_BEFORE_DOLLAR = re.compile(r"\\+(?=\$)")


class UploadEscapeError(ValueError):
    """A text that no pipeline string can carry through upload-time interpolation unchanged."""


def can_escape(text: str) -> bool:
    """Whether `escape(text)` exists: upload keeps `\\\\` as is and eats the backslash of `\\$`, so a single
    (odd) backslash right before a `$` cannot be written at all."""
    return all(len(run) % 2 == 0 for run in _BACKSLASHES_BEFORE_DOLLAR.findall(text))


def escape(text: str) -> str:
    """`text` as written in a pipeline so that the agent's upload-time interpolation gives it back unchanged."""
    if not can_escape(text):
        raise UploadEscapeError(
            f"cannot write {text!r} in a Buildkite pipeline: a backslash right before a '$' does not survive "
            "upload-time interpolation"
        )
    return text.replace("$", "$$")


def step_key(job_name: str) -> str:
    """A stable step key from a job name: prefixed so a dynamic upload cannot collide with the bootstrap step."""
    name = _KEY_UNSAFE.sub("-", job_name).strip("-") or "job"
    return (name if name.startswith(KEY_PREFIX) else KEY_PREFIX + name)[:100]


def render_buildkite(plan: p.Plan) -> str:
    from mobyci.emit.yamlout import dump

    env, steps = _env_and_steps(plan)
    doc: dict[str, Any] = {}
    if env:
        doc["env"] = env
    doc["steps"] = steps
    return with_header(dump(doc), plan.output, notes=_notes(plan))


def runner_fetches(plan: p.Plan) -> p.RunnerFetches:
    """Who pulls the jobs' own images on Buildkite (the agent's daemon, or the builder a step creates), read from
    the steps render_buildkite writes. The agents run the commands on their hosts: no job image, no service."""
    _, steps = _env_and_steps(plan)
    jobs = [job for job in plan.jobs if not job.check_only]
    builders, caches = [], []
    for job, step in zip(jobs, steps, strict=True):
        commands = [_unescape(line) for line in step["commands"]]
        if any("docker buildx create" in line for line in commands):
            builders.append(job.name)
        caches += [(job.name, ref) for line in commands for ref in _CACHE_REF.findall(line)]
    names = tuple(job.name for job in jobs)
    daemon = "the agents' daemon.json, which you set"
    dev_image = f"${p.DEV_IMAGE_VAR}" if any(job.registry_login for job in jobs) else ""  # the agents' own
    return p.RunnerFetches((), tuple(builders), (), tuple(caches), (), names, daemon, dev_image)


_CACHE_REF = re.compile(rf'^{p.CACHE_VAR}="type=registry,ref=([^"]+):"')


def _unescape(text: str) -> str:
    """A command as the agent runs it: the upload-time escape of `$` undone."""
    return text.replace("$$", "$")


GROUP_KEY = "mobyci"


def render_buildkite_group(plan: p.Plan) -> str:
    """The same steps as one group step, for `buildkite-agent pipeline upload` from an existing pipeline.

    Nothing outside the group: the pipeline-wide env moves into each step, so the upload leaves the host's
    environment alone; step keys already start with mobyci-, and the group's own key is `mobyci`, so another
    step can `depends_on: mobyci`. Groups do not nest (Buildkite's group step docs), hence one level.
    """
    from mobyci.emit.yamlout import dump

    env, steps = _env_and_steps(plan)
    for step in steps:
        if env:
            step["env"] = {**env, **step.get("env", {})}
    group = {"group": escape(f"mobyci: moby {plan.ref}"), "key": GROUP_KEY, "steps": steps}
    return with_header(dump({"steps": [group]}), plan.output, notes=_notes(plan))


def _env_and_steps(plan: p.Plan) -> tuple[dict[str, str], list[dict[str, Any]]]:
    keys = {job.name: step_key(job.name) for job in plan.jobs}
    if len(set(keys.values())) != len(keys):
        raise ValueError(f"two jobs map to the same Buildkite step key: {sorted(keys.values())}")
    env = {name: escape(value) for name, value in plan.literal_variables()}
    steps = [_step(plan, job, keys) for job in plan.jobs]
    return env, steps


def _step(plan: p.Plan, job: p.Job, keys: dict[str, str]) -> dict[str, Any]:
    buildkite = settings_of(plan)
    name = job.name
    if job.matrix:
        name += " " + " ".join(f"{{{{matrix.{dimension}}}}}" for dimension, _ in job.matrix)
    step: dict[str, Any] = {"label": escape(f"{name}: {job.title}"), "key": keys[job.name]}
    if job.needs:
        step["depends_on"] = [keys[need] for need in job.needs]
    step["commands"] = [escape(line) for line in _commands(plan, job, keys)]
    if job.variables:
        step["env"] = {name: escape(value) for name, value in job.variables}
    if job.matrix:
        # Matrix values reach the shell through the commands (the one attribute every agent interpolates
        # them in); step keys and concurrency groups must not contain them.
        step["matrix"] = {"setup": {name: list(values) for name, values in job.matrix}}
    if job.artifacts:
        step["artifact_paths"] = [_upload_glob(path) for path in job.artifacts]
    queue = buildkite.runners[job.arch] if job.arch is not None else buildkite.queue
    if queue:
        step["agents"] = {"queue": queue}
    step["timeout_in_minutes"] = max(1, math.ceil(plan.timeout_seconds / 60))
    if plan.retry:
        step["retry"] = {"automatic": [{"exit_status": s, "limit": plan.retry} for s in RETRY_EXIT_STATUSES]}
    if buildkite.concurrency_group:
        # One build of this ref at a time per step (groups are organisation-wide, hence the repository in the
        # name); a matrix step keeps its own jobs parallel.
        step["concurrency_group"] = escape(f"mobyci/{_repo_slug(plan.repo)}@{plan.ref}/{keys[job.name]}")
        step["concurrency"] = math.prod(len(values) for _, values in job.matrix) if job.matrix else 1
    return step


def _commands(plan: p.Plan, job: p.Job, keys: dict[str, str]) -> list[str]:
    """The step's shell lines as the shell should see them (escaped for upload by the caller)."""
    lines = [f"export {name}={shlex.quote(f'{{{{matrix.{name}}}}}')}" for name, _ in job.matrix]
    for name, ref in plan.variable_refs():
        # Fails early, naming the variable (never its value), when the agent does not provide it.
        lines.append(f'export {name}="${{{ref}:?set {ref} in the agent environment or as a Buildkite secret}}"')
    if job.registry_login:
        lines += [
            f'export {p.DEV_IMAGE_VAR}="${{{p.DEV_IMAGE_VAR}:?set {p.DEV_IMAGE_VAR} in the agent environment: '
            'a repository on a registry the agents are logged in to}"',
            f'export {p.DEV_TAG_VAR}="$BUILDKITE_BUILD_ID"',
        ]
    for step in job.steps:
        lines += _step_lines(plan, step, keys)
    return lines


def _step_lines(plan: p.Plan, step: p.Step, keys: dict[str, str]) -> list[str]:
    """One typed step of the Plan as the step's command lines."""
    match step:
        case p.Run() | p.TrustCA():
            return list(step.lines)
        case p.WritePatch():
            return [_write_patch(plan.patch_script)]
        case p.CreateBuilder():
            cache = settings_of(plan).cache
            if cache is None:
                return []  # no ci.buildkite.cache: bake builds on the agent daemon's own builder, uncached
            # The agents are logged in to the cache registry (their job, like the dev image's); the builder gets
            # the login through the client. After the exports: the builder's container takes the proxies from them.
            return [
                f'{p.CACHE_VAR}="type=registry,ref={cache}:" && export {p.CACHE_VAR}',
                *builder.create_lines(plan, "mobyci-$BUILDKITE_JOB_ID"),
            ]
        case p.FetchArtifacts():
            return [
                f"buildkite-agent artifact download --step {keys[need]} {shlex.quote(_download_query(path))} ."
                for need in step.needs
                for path in plan.job(need).artifacts
            ]
        case _:
            assert_never(step)


def _write_patch(patch_script: str) -> str:
    body = patch_script.rstrip("\n")
    if _BACKSLASH_MARK in body:
        raise ValueError(f"the patch script contains {_BACKSLASH_MARK}")
    plain = write_patch_line(body)  # also refuses a script that holds the heredoc delimiter
    if can_escape(body):
        return plain
    # Upload cannot carry a backslash right before a `$` (the script has `\$((` in its evals): that backslash is
    # written as a marker and sed puts it back. Everything else in the heredoc is the script as `mobyci patch`
    # prints it, with `$` doubled.
    marked = _BACKSLASHES_BEFORE_DOLLAR.sub(_mark_odd_run, body)
    return f"sed 's/{_BACKSLASH_MARK}/\\\\/g' > {p.PATCH_SCRIPT} <<'{p.PATCH_EOF}'\n{marked}\n{p.PATCH_EOF}"


def _mark_odd_run(match: re.Match[str]) -> str:
    run = match.group()
    return run if len(run) % 2 == 0 else run[:-1] + _BACKSLASH_MARK


def _upload_glob(path: str) -> str:
    return f"{path}**/*" if path.endswith("/") else path


def _download_query(path: str) -> str:
    return f"{path}**" if path.endswith("/") else path


def _repo_slug(repo: str) -> str:
    slug = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", repo)
    slug = re.sub(r"^[^@/]+@", "", slug).replace(":", "/")
    return slug.removesuffix(".git").strip("/")


def _notes(plan: p.Plan) -> tuple[str, ...]:
    notes = [
        f"moby {plan.ref} (family {plan.release.family.name}), Buildkite.",
        "Upload it with interpolation on (the default): every runtime dollar sign is written doubled, and "
        "--no-interpolation would hand those to the shell as they are.",
    ]
    agent_env = [ref for _, ref in plan.variable_refs()] + list(plan.ca_variables)
    agent_env += [name for name, _ in SYSTEM.own_variables(plan)]
    if agent_env:
        notes.append(
            "Agent environment this pipeline reads at run time (environment hook or Buildkite secrets; add them "
            "to the agent's redacted-vars): " + ", ".join(dict.fromkeys(agent_env))
        )
    if any(job.registry_login for job in plan.jobs):
        notes.append(
            f"The dev image is pushed to {p.DEV_IMAGE_VAR}; logging the agents in to that registry is the agent's "
            "job (a pre-command hook or the docker-login plugin)."
        )
    if plan.ca_lines:
        notes.append(
            "tls.ca_certs: each CA variable holds a file path on the agent or the PEM text; the agents' Docker daemon "
            "trusts the CA only through its own /etc/docker/certs.d/<registry>/ca.crt and system store."
        )
    if plan.registry_mirror:
        notes.append(
            "The registry mirror can only be set in each agent's own Docker daemon (daemon.json "
            f'"registry-mirrors": ["{plan.registry_mirror}"]); this pipeline cannot set it.'
        )
    if not any(job.check_only for job in plan.jobs):
        notes.append(
            "No check step: the spec lists no committed file under outputs:, so this pipeline is rendered (and the "
            "spec validated) by the step that uploads it; see docs/buildkite.md."
        )
    notes.append(
        f"Artifacts are kept as the organisation's retention says (ci.artifacts_expire_in "
        f"{plan.artifacts_kept.written!r} applies to GitLab and GitHub Actions only)."
    )
    cache = settings_of(plan).cache
    if cache and any(job.build_cache for job in plan.jobs):
        # Without it, the plan's own note says there is no cache.
        notes.append(
            f"Bake jobs cache their BuildKit layers in {cache}:<family>-<target>-<arch> on a docker-container builder "
            "given the registry mirror and the proxies; the agents must be logged in to that registry."
        )
    notes += plan.notes
    return tuple(notes)
