"""Plan -> .gitlab-ci.yml. Knows GitLab; everything about moby comes from the Plan."""

from __future__ import annotations

import re
import shlex
from typing import Any, assert_never

from mobyci.committed.header import with_header
from mobyci.emit import builder
from mobyci.emit.dind import dind_script
from mobyci.emit.gitlab_system import cli_image, dind_image, image, pipeline_variables, settings_of
from mobyci.emit.steps import plain_lines
from mobyci.plan import ca
from mobyci.plan import model as p

# The registry cache of bake jobs: one tag per family, target (platform) and runner architecture.
CACHE_REPOSITORY = "$CI_REGISTRY_IMAGE/mobyci-cache"
_LOGIN = 'printf "%s" "$CI_REGISTRY_PASSWORD" | docker login -u "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY"'
_RETRY_WHEN = ["runner_system_failure", "stuck_or_timeout_failure", "api_failure", "scheduler_failure"]


def render_gitlab(plan: p.Plan) -> str:
    """The pipeline that lives at plan.output.path (relative to the repository root; its check job compares it)."""
    from mobyci.emit.yamlout import dump

    doc, notes = document(plan)
    return with_header(dump(doc), plan.output, notes=notes)


def document(plan: p.Plan) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The pipeline as a mapping, and the notes for its header."""
    settings = settings_of(plan)
    dind = settings.runner == "dind"
    doc: dict[str, Any] = {
        "stages": plan.stages(),
        "workflow": {
            # Merge requests, the default branch and tags; a branch with an open MR runs only the MR pipeline.
            "rules": [
                {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'},
                {"if": "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS", "when": "never"},
                {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"},
                {"if": "$CI_COMMIT_TAG"},
            ],
            "auto_cancel": {"on_new_commit": "interruptible"},
        },
        "variables": _variables(plan, dind),
        "default": _default(plan),
    }
    if dind:
        doc[".mobyci-docker"] = _dind_template(plan)
        # Jobs that only need git, tar and sha256sum: the same image, without a daemon to start.
        doc[".mobyci-tools"] = {"image": doc[".mobyci-docker"]["image"]}
    for job in plan.jobs:
        doc[job.name] = _job(plan, job, dind)
    notes = [f"moby {plan.ref} (family {plan.release.family.name}), runner profile {settings.runner}."]
    if any(j.build_cache for j in plan.jobs):
        notes.append(
            f"Bake jobs cache their BuildKit layers in {CACHE_REPOSITORY}:<family>-<target>-<arch> (mode=max), "
            "on a docker-container builder given the registry mirror and the proxies."
        )
    if plan.ci_variables:
        notes.append(
            "CI/CD variables this pipeline reads (set them in the project settings, masked): "
            + ", ".join(plan.ci_variables)
        )
    if plan.ca_variables:
        notes.append(
            "CA certificates (tls.ca_certs) from CI/CD variables: "
            + ", ".join(plan.ca_variables)
            + (
                " -- of type Variable holding the PEM text: the docker-in-docker service has no access to the "
                "job's files"
                if dind
                else " -- of type File or Variable (PEM text). The runner's Docker daemon trusts the CA only "
                "through its own /etc/docker/certs.d/<registry>/ca.crt and system store"
            )
        )
    return doc, tuple(notes)


def runner_fetches(plan: p.Plan) -> p.RunnerFetches:
    """What this pipeline has GitLab's runner pull (job images, services) and who pulls the jobs' own images,
    read from the document render_gitlab writes, so the fetch inventory cannot drift from it."""
    doc, _ = document(plan)
    pulls: dict[tuple[str, str], list[str]] = {}
    builders, dind, caches, apk = [], [], [], []
    for job in plan.jobs:
        node = doc[job.name]
        template = doc.get(node.get("extends", ""), {})
        image = node.get("image", template.get("image"))
        if image is not None:
            pulls.setdefault(("image", image), []).append(job.name)
        services = [*template.get("services", ()), *node.get("services", ())]
        for service in services:
            pulls.setdefault(("service", service["name"]), []).append(job.name)
        if services:
            dind.append(job.name)  # the only service is docker-in-docker, which DOCKER_HOST points at
        script = [*template.get("before_script", ()), *node["script"]]
        if any("docker buildx create" in line for line in script):
            builders.append(job.name)
        caches += [(job.name, ref) for line in script for ref in _CACHE_REF.findall(line)]
        if any(line.startswith("apk add") for line in script):
            apk.append(job.name)
    through = "ci.gitlab.image_prefix" if settings_of(plan).image_prefix else ""
    fetches = tuple(p.RunnerFetch(kind, ref, tuple(jobs), through) for (kind, ref), jobs in pulls.items())
    names = tuple(job.name for job in plan.jobs)
    daemon = "the shell runner's daemon.json, which you set"
    dev_image = doc["variables"].get(p.DEV_IMAGE_VAR, "")
    return p.RunnerFetches(fetches, tuple(builders), tuple(dind), tuple(caches), tuple(apk), names, daemon, dev_image)


_CACHE_REF = re.compile(rf'^{p.CACHE_VAR}="type=registry,ref=([^"]+):"')


def _service_ca_variables(plan: p.Plan) -> tuple[tuple[str, str], ...]:
    """(service variable, CI variable) for each CA the dind service reads: project variables reach services only
    re-assigned in `variables:`."""
    return tuple((f"MOBYCI_SERVICE_CA_{index}", name) for index, name in enumerate(plan.ca_variables, 1))


def _variables(plan: p.Plan, dind: bool) -> dict[str, Any]:
    # YAML variables also reach the dind service, which pulls images and runs BuildKit ADD: that is why
    # project variables are re-assigned here under the names the daemon and the builds read.
    variables: dict[str, Any] = {
        name: value for name, value in pipeline_variables(plan.variables) if name not in _JOB_ONLY
    }
    if dind:
        variables.update((var, f"${name}") for var, name in _service_ca_variables(plan))
    if any(j.registry_login for j in plan.jobs):
        variables[p.DEV_IMAGE_VAR] = "$CI_REGISTRY_IMAGE/moby-dev"
        variables[p.DEV_TAG_VAR] = "$CI_PIPELINE_ID"
    if dind:
        variables.update(
            {
                "DOCKER_TLS_CERTDIR": "/certs",
                "DOCKER_HOST": "tcp://docker:2376",
                "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": "/certs/client",
            }
        )
    return variables


def proxy_guards(plan: p.Plan) -> list[str]:
    """Lines that stop a job at once, naming the variable (never its value), when a proxy CI variable is unset or
    empty: GitLab passes protected variables only to protected branches and tags, not to merge-request pipelines."""
    return [
        f': "${{{name}:?set the CI/CD variable {name} (a protected variable is absent on merge-request pipelines '
        'and unprotected branches)}"'
        for name in plan.ci_variables
    ]


def _default(plan: p.Plan) -> dict[str, Any]:
    default: dict[str, Any] = {"interruptible": True, "timeout": _duration(plan.timeout_seconds)}
    if plan.retry:
        default["retry"] = {"max": plan.retry, "when": list(_RETRY_WHEN)}
    tags = settings_of(plan).tags
    if tags:
        default["tags"] = list(tags)
    return default


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return " ".join(x for x in parts if x) or f"{seconds}s"


def _dind_template(plan: p.Plan) -> dict[str, Any]:
    settings = settings_of(plan)
    service: dict[str, Any] = {"name": image(settings, dind_image(settings)), "alias": "docker"}
    # The image's own entrypoint, run after the MTU is read and the CA is in place; `command` stays its arguments.
    script = dind_script(plan.registry_mirror, _service_ca_variables(plan))
    service["entrypoint"] = ["sh", "-c", script, "mobyci-dind"]
    if plan.registry_mirror:
        # A literal: GitLab does not expand variables in a service command.
        service["command"] = [f"--registry-mirror={plan.registry_mirror}"]
    # The cli image has git and buildx, but none of the tools the plan's Docker jobs need besides.
    tools = dict.fromkeys(tool for job in plan.jobs if job.docker for tool in job.tools)
    return {
        "image": image(settings, cli_image(settings)),
        "services": [service],
        "before_script": [
            *proxy_guards(plan),
            # apk reaches Alpine's CDN over https: the CA goes into the image's own bundle first.
            *((*plan.ca_lines, f"cat {ca.CA_FILE} >> /etc/ssl/certs/ca-certificates.crt") if plan.ca_lines else ()),
            apk_add_line(plan.alpine_mirror, tuple(tools)),
        ],
    }


def apk_add_line(mirror: str | None, packages: tuple[str, ...]) -> str:
    """`apk add` for the cli image, from `mirror` instead of Alpine's CDN when one is set: its `main`
    repository for the image's own Alpine release (/etc/alpine-release, e.g. 3.21.3 -> v3.21)."""
    if mirror is None:
        return f"apk add --no-cache {' '.join(packages)}"
    main = f'{shlex.quote(mirror)}"/v$(cut -d. -f1,2 /etc/alpine-release)/main"'
    return f"apk add --no-cache --repositories-file /dev/null --repository {main} {' '.join(packages)}"


# The logins the job scripts read. GitLab hands every YAML variable to the job's services too (gitlab-runner gives a
# service the job's variables), and the docker-in-docker service needs none of them: they are exported in the
# scripts from the project's CI variables, which reach the job and not its services.
_JOB_ONLY = (p.GIT_USERNAME_VAR, p.GIT_PASSWORD_VAR, p.REGISTRY_USERNAME_VAR, p.REGISTRY_PASSWORD_VAR)


def _login_exports(plan: p.Plan) -> list[str]:
    refs = dict(plan.variable_refs())
    lines = []
    for name, value in plan.variables:
        if name in _JOB_ONLY:
            ref = refs.get(name)
            lines.append(f'export {name}="${{{ref}}}"' if ref is not None else f"export {name}={shlex.quote(value)}")
    return lines


def _job(plan: p.Plan, job: p.Job, dind: bool) -> dict[str, Any]:
    settings = settings_of(plan)
    out: dict[str, Any] = {"stage": job.stage}
    if job.image is not None:
        out["image"] = image(settings, job.image)
    if job.watches:
        out["rules"] = [{"changes": list(job.watches)}]
    if not job.check_only and dind:
        out["extends"] = ".mobyci-docker" if job.docker else ".mobyci-tools"
    out["needs"] = list(job.needs)
    if job.arch is not None:
        # Replaces default.tags: the runners of that architecture.
        out["tags"] = list(settings.runners[job.arch])
    if job.variables:
        out["variables"] = dict(job.variables)
    if job.matrix:
        out["parallel"] = {"matrix": [{name: list(values) for name, values in job.matrix}]}
    script: list[str] = proxy_guards(plan)
    if not job.check_only:
        script += _login_exports(plan)
    if job.registry_login:
        script.append(_LOGIN)
    for step in job.steps:
        script += _step_lines(plan, job, step)
    out["script"] = script
    if job.artifacts:
        out["artifacts"] = {
            "paths": list(job.artifacts),
            "expire_in": (job.artifacts_kept or plan.artifacts_kept).written,
        }
    return out


def _step_lines(plan: p.Plan, job: p.Job, step: p.Step) -> list[str]:
    """One typed step of the Plan as the job's script lines."""
    match step:
        case p.Run() | p.TrustCA() | p.WritePatch():
            return plain_lines(plan.patch_script, step)
        case p.CreateBuilder():
            # The builder gets the login through the client (buildx hands it the job's registry credentials).
            return [
                *(() if job.registry_login else (_LOGIN,)),
                f'{p.CACHE_VAR}="type=registry,ref={CACHE_REPOSITORY}:" && export {p.CACHE_VAR}',
                *builder.create_lines(plan, "mobyci-$CI_JOB_ID"),
            ]
        case p.FetchArtifacts():
            return []  # `needs:` brings the needed jobs' artifacts
        case _:
            assert_never(step)
