"""Plan -> .gitlab-ci.yml. Knows GitLab; everything about moby comes from the Plan."""

from __future__ import annotations

import shlex
from typing import Any

from mobyci.generator import builder, ca
from mobyci.generator import plan as p
from mobyci.generator.header import with_header
from mobyci.generator.yamlout import dump
from mobyci.schemas.load import LoadedSpec

# The registry cache of bake jobs: one tag per family, target (platform) and runner architecture.
CACHE_REPOSITORY = "$CI_REGISTRY_IMAGE/mobyci-cache"
_LOGIN = 'printf "%s" "$CI_REGISTRY_PASSWORD" | docker login -u "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY"'
_RETRY_WHEN = ["runner_system_failure", "stuck_or_timeout_failure", "api_failure", "scheduler_failure"]


def render_gitlab(loaded: LoadedSpec, plan: p.Plan, patch_script: str, command: str, output: str) -> str:
    """The pipeline that lives at `output` (relative to the repository root; its check job compares it)."""
    doc, notes = document(loaded, plan, patch_script, output, "gitlab")
    return with_header(dump(doc), spec_path=loaded.path, command=command, notes=notes)


def document(
    loaded: LoadedSpec, plan: p.Plan, patch_script: str, output: str, fmt: str
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The pipeline as a mapping, and the notes for its header; `fmt` names the file in the check job."""
    gitlab = loaded.spec.ci.gitlab
    dind = gitlab.runner == "dind"
    doc: dict[str, Any] = {
        "stages": [s for s in ("check", "prepare", "build", "publish") if any(j.stage == s for j in plan.jobs)],
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
        "default": _default(loaded, plan),
    }
    if dind:
        doc[".mobyci-docker"] = _dind_template(loaded, plan)
        # Jobs that only need git, tar and sha256sum: the same image, without a daemon to start.
        doc[".mobyci-tools"] = {"image": doc[".mobyci-docker"]["image"]}
    for job in plan.jobs:
        doc[job.name] = _job(loaded, plan, job, patch_script, dind, output, fmt)
    notes = [f"moby {plan.ref} (family {plan.release.family.name}), runner profile {gitlab.runner}."]
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


def _service_ca_variables(plan: p.Plan) -> tuple[tuple[str, str], ...]:
    """(service variable, CI variable) for each CA the dind service reads: project variables reach services only
    re-assigned in `variables:`."""
    return tuple((f"MOBYCI_SERVICE_CA_{index}", name) for index, name in enumerate(plan.ca_variables, 1))


def _variables(plan: p.Plan, dind: bool) -> dict[str, Any]:
    # YAML variables also reach the dind service, which pulls images and runs BuildKit ADD: that is why
    # project variables are re-assigned here under the names the daemon and the builds read.
    variables: dict[str, Any] = dict(plan.variables)
    if dind:
        variables.update((var, f"${name}") for var, name in _service_ca_variables(plan))
    for name in ("NO_PROXY", "no_proxy"):
        if name in variables:
            variables[name] = _no_proxy(variables[name])
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


# The GitLab instance (clones, API) and its container registry (host[:port], as docker login and push name it;
# Go's NO_PROXY matching takes a host:port entry for that port): never through the corporate proxy.
_INSTANCE_NO_PROXY = ("$CI_SERVER_HOST", "$CI_REGISTRY")


def _no_proxy(value: str) -> str:
    entries = [*value.split(","), *_INSTANCE_NO_PROXY]
    return ",".join(dict.fromkeys(entries))


def proxy_guards(plan: p.Plan) -> list[str]:
    """Lines that stop a job at once, naming the variable (never its value), when a proxy CI variable is unset or
    empty: GitLab passes protected variables only to protected branches and tags, not to merge-request pipelines."""
    return [
        f': "${{{name}:?set the CI/CD variable {name} (a protected variable is absent on merge-request pipelines '
        'and unprotected branches)}"'
        for name in plan.ci_variables
    ]


def _default(loaded: LoadedSpec, plan: p.Plan) -> dict[str, Any]:
    default: dict[str, Any] = {"interruptible": True, "timeout": _duration(plan.timeout_seconds)}
    if plan.retry:
        default["retry"] = {"max": plan.retry, "when": list(_RETRY_WHEN)}
    if loaded.spec.ci.gitlab.tags:
        default["tags"] = list(loaded.spec.ci.gitlab.tags)
    return default


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return " ".join(x for x in parts if x) or f"{seconds}s"


def _dind_template(loaded: LoadedSpec, plan: p.Plan) -> dict[str, Any]:
    version = loaded.spec.ci.gitlab.docker_version
    service: dict[str, Any] = {"name": _image(loaded, f"docker:{version}-dind"), "alias": "docker"}
    if plan.ca_variables:
        # The service's own entrypoint, run after the CA is in place; `command` stays its arguments ("$@").
        script = ca.dind_script(loaded.spec, _service_ca_variables(plan))
        service["entrypoint"] = ["sh", "-c", script, "mobyci-dind"]
    if loaded.spec.mirrors.registry:
        # A literal: GitLab does not expand variables in a service command.
        service["command"] = [f"--registry-mirror={loaded.spec.mirrors.registry}"]
    return {
        "image": _image(loaded, f"docker:{version}-cli"),
        "services": [service],
        # The cli image has git and buildx but not make or bash, which moby's Makefile needs; the packaging
        # Makefiles call GNU date (coreutils).
        "before_script": [
            *proxy_guards(plan),
            # apk reaches Alpine's CDN over https: the CA goes into the image's own bundle first.
            *((*plan.ca_lines, f"cat {ca.CA_FILE} >> /etc/ssl/certs/ca-certificates.crt") if plan.ca_lines else ()),
            apk_add_line(loaded.spec.mirrors.alpine, ("make", "bash", "coreutils")),
        ],
    }


def _image(loaded: LoadedSpec, name: str) -> str:
    # GitLab expands variables in image names, so the dependency proxy's prefix variable works as is.
    prefix = loaded.spec.ci.gitlab.image_prefix
    return f"{prefix}/{name}" if prefix else name


def apk_add_line(mirror: str | None, packages: tuple[str, ...]) -> str:
    """`apk add` for the cli image, from `mirror` instead of Alpine's CDN when one is set: its `main`
    repository for the image's own Alpine release (/etc/alpine-release, e.g. 3.21.3 -> v3.21)."""
    if mirror is None:
        return f"apk add --no-cache {' '.join(packages)}"
    main = f'{shlex.quote(mirror)}"/v$(cut -d. -f1,2 /etc/alpine-release)/main"'
    return f"apk add --no-cache --repositories-file /dev/null --repository {main} {' '.join(packages)}"


def _job(
    loaded: LoadedSpec, plan: p.Plan, job: p.Job, patch_script: str, dind: bool, output: str, fmt: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"stage": job.stage}
    if job.check_only:
        # pip needs git for a VCS requirement: the full python image has it (FROM buildpack-deps), slim has not.
        vcs = (loaded.spec.ci.mobyci_requirement or "").startswith("git+")
        out["image"] = _image(loaded, "python:3.12" if vcs else "python:3.12-slim")
        out["rules"] = [{"changes": p.checked_files(loaded, output)}]
    elif dind:
        out["extends"] = ".mobyci-docker" if job.docker else ".mobyci-tools"
    out["needs"] = list(job.needs)
    if job.arch is not None:
        # Replaces default.tags: the runners of that architecture.
        out["tags"] = list(loaded.spec.ci.gitlab.runners[job.arch])
    if job.variables:
        out["variables"] = dict(job.variables)
    if job.matrix:
        out["parallel"] = {"matrix": [{name: list(values) for name, values in job.matrix}]}
    script: list[str] = proxy_guards(plan)
    if job.registry_login or job.build_cache:
        script.append(_LOGIN)
    if job.build_cache:
        # The builder gets the login through the client (buildx hands it the job's registry credentials).
        script.append(f'{p.CACHE_VAR}="type=registry,ref={CACHE_REPOSITORY}:" && export {p.CACHE_VAR}')
        script += builder.create_lines(plan, "mobyci-$CI_JOB_ID")
    if job.name == "prepare":
        script.append(p.write_patch_line(patch_script))
    script += job.script
    if job.check_only:
        script.append(p.render_check_line(loaded, fmt, output))
    out["script"] = script
    if job.artifacts:
        out["artifacts"] = {
            "paths": list(job.artifacts),
            "expire_in": job.artifacts_expire_in or plan.artifacts_expire_in,
        }
    return out
