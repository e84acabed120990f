"""GitLab CI as mobyci knows it outside the emitter: settings, runner profiles, notes, findings, runner fetches.

The spec layers and the plan ask this object (through mobyci/formats.py `ci_system`); gitlab.py writes the file.
Kept light: `mobyci validate` imports it, never the YAML writer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mobyci.formats import BaseSystem, Builder
from mobyci.spec.compiled import GitLab

if TYPE_CHECKING:
    from mobyci.families import Release
    from mobyci.load.reader import LoadedSpec
    from mobyci.plan.model import Job, Plan
    from mobyci.spec.compiled import Spec

    Finding = tuple[tuple[str | int, ...], str]

# The docker-in-docker service, reached by its alias and ports: without these in NO_PROXY the docker CLI would
# send its own connection to the daemon through the proxy. Added for the shell runner too (harmless there).
DIND_NO_PROXY = ("docker", "docker:2375", "docker:2376")


def settings_of(plan: Plan) -> GitLab:
    """The plan's ci.gitlab block, typed."""
    if not isinstance(plan.settings, GitLab):
        raise TypeError(f"a plan for {plan.system} handed to the GitLab emitter")
    return plan.settings


def pipeline_variables(variables: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The plan's variables as a GitLab pipeline sets them: NO_PROXY also names the docker-in-docker service."""
    return tuple(
        (name, ",".join(dict.fromkeys([*DIND_NO_PROXY, *value.split(",")])))
        if name in ("NO_PROXY", "no_proxy")
        else (name, value)
        for name, value in variables
    )


def image(settings: GitLab, name: str) -> str:
    """A job or service image as the pipeline names it. GitLab expands variables in image names, so the
    dependency proxy's prefix variable works as is."""
    return f"{settings.image_prefix}/{name}" if settings.image_prefix else name


def cli_image(settings: GitLab) -> str:
    return f"docker:{settings.docker_version}-cli"


def dind_image(settings: GitLab) -> str:
    return f"docker:{settings.docker_version}-dind"


class _GitLab(BaseSystem):
    name = "gitlab"
    title = "GitLab CI"
    variables_title = "CI/CD variables to create (masked; names only, never values)"

    def settings(self, spec: Spec) -> GitLab:
        return spec.ci.gitlab

    def has_runner(self, spec: Spec, arch: str) -> bool:
        return arch in spec.ci.gitlab.runners

    def runner_fix(self, arch: str) -> str:
        return f"ci.gitlab.runners: {{{arch}: [<runner tag>]}}"

    def findings(self, spec: Spec) -> list[Finding]:
        registry, gitlab = spec.mirrors.registry, spec.ci.gitlab
        if registry is None or urlsplit(registry).path in ("", "/") or gitlab.runner != "dind":
            return []
        if int(gitlab.docker_version.split(".")[0]) < 25:
            return [
                (
                    ("mirrors", "registry"),
                    f"docker {gitlab.docker_version} (ci.gitlab.docker_version) refuses a registry mirror with a "
                    "path: give only https://host[:port], or use docker 25 or newer",
                )
            ]
        return []

    def warnings(self, spec: Spec, release: Release) -> list[Finding]:
        gitlab = spec.ci.gitlab
        mirrored = any(v for v in spec.mirrors.as_dict().values() if v not in (True, None))
        if not mirrored or gitlab.image_prefix is not None or gitlab.runner != "dind":
            return []
        # At the spec's ci.gitlab block when it has one (where image_prefix goes), else at the mirrors that made
        # the warning fire: never at the top of the file. (pydantic records the keys the spec wrote.)
        written: set[str] = getattr(spec, "__pydantic_fields_set__", set())
        has_block = "ci" in written and "gitlab" in getattr(spec.ci, "__pydantic_fields_set__", set())
        return [
            (
                ("ci", "gitlab") if has_block else ("mirrors",),
                f"mirrors are set but ci.gitlab.image_prefix is not: GitLab runners pull docker:"
                f"{gitlab.docker_version}-cli, docker:{gitlab.docker_version}-dind and "
                "python:3.12-slim from Docker Hub; behind a firewall set image_prefix to your registry's Docker "
                "Hub proxy (or $CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX)",
            )
        ]

    def notes(self, loaded: LoadedSpec) -> tuple[str, ...]:
        from mobyci.plan.caveats import BUILDX_013

        spec, release = loaded.spec, loaded.release
        if spec.ci.gitlab.runner != "shell":
            return ()
        bake = release.family.build_style == "bake"
        notes: list[str] = []
        if spec.mirrors.registry:
            daemon_json = f'daemon.json ("registry-mirrors": ["{spec.mirrors.registry}"])'
            notes.append(
                "shell runner: the bake builds get the registry mirror through their own BuildKit builder; pulls by "
                f"the host daemon (the BuildKit image itself) use it only if the host daemon's {daemon_json} has it"
                if bake
                else f"shell runner: the registry mirror can only be set in the host daemon's {daemon_json}; the "
                "pipeline cannot set it"
            )
        if bake and (spec.mirrors.registry or spec.tls.ca_certs):
            notes.append(f"GitLab shell runner: {BUILDX_013}")
        return tuple(notes)

    def builder(self, spec: Spec, bake: bool) -> Builder:
        # Bake jobs always cache here (in the project's registry), on a docker-container builder.
        if bake:
            return "container"
        return "dind" if spec.ci.gitlab.runner == "dind" else "host"

    def registry_mirror_where(self, spec: Spec) -> str:
        if spec.ci.gitlab.runner == "dind":
            return "--registry-mirror of the docker-in-docker service"
        return "not set: the shell runner's daemon.json must list it"

    def alpine_where(self, spec: Spec) -> str:
        return "apk add in the docker-in-docker jobs' docker:cli image"

    def proxy_reaches(self, spec: Spec) -> str:
        return "the docker-in-docker service's pulls"

    def environment(self, variables: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        return pipeline_variables(variables)

    def ca_variable_type(self, plan: Plan) -> str:
        if settings_of(plan).runner == "dind":
            # The service reads it re-assigned in `variables:`: a File variable would give it a path on the job's
            # filesystem, which the service container does not have.
            return "type Variable holding the PEM text, not File (the docker-in-docker service cannot read job files)"
        return "type File or Variable (the PEM text)"

    def job_words(self, job: Job) -> tuple[str, ...]:
        return (f"stage {job.stage}",)


SYSTEM = _GitLab()
