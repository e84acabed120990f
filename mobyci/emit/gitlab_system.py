"""GitLab CI as mobyci knows it outside the emitter: settings, runner profiles, notes, findings, runner fetches.

The spec layers and the plan ask this object (through mobyci/formats.py `ci_system`); gitlab.py writes the file.
Kept light: `mobyci validate` imports it, never the YAML writer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mobyci.formats import BAKE_BUILDER, HOST_CA_PLACE, BaseSystem, Builder, builder_ca_place
from mobyci.specmodel.compiled import GitLab
from mobyci.specmodel.fields import var_ref_name
from mobyci.specmodel.references import variable_values

if TYPE_CHECKING:
    from mobyci.families import Release
    from mobyci.load.reader import LoadedSpec
    from mobyci.plan.model import Job, Plan
    from mobyci.specmodel.compiled import Spec

    Finding = tuple[tuple[str | int, ...], str]

# The docker-in-docker service, reached by its alias and ports: without these in NO_PROXY the docker CLI would
# send its own connection to the daemon through the proxy. Added for the shell runner too (harmless there).
DIND_NO_PROXY = ("docker", "docker:2375", "docker:2376")


# Names the pipeline itself assigns from the user's variables: re-using them would make
# `HTTP_PROXY: $HTTP_PROXY`, which GitLab does not pass on to services.
_RESERVED_PROXY_NAMES = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY", "all_proxy"}
)

# An engine pulls through --registry-mirror with the credentials of the image's own registry (docker.io), never
# the mirror's: moby v28.5.2 registry/service.go:132-137 resolves the login by the reference's domain, and
# distribution/pull_v2.go:77 hands that one to every endpoint, mirrors included; a mirror that refuses is skipped
# for the next endpoint, Docker Hub (distribution/pull.go:109-133).
DIND_MIRROR_LOGIN = (
    "GitLab's docker-in-docker service (ci.gitlab.runner: dind) pulls through its --registry-mirror without this "
    "login: an engine sends a mirror the credentials of the image's own registry (docker.io), and when the mirror "
    "refuses it falls back to Docker Hub (moby v28.5.2 registry/service.go:132-137, distribution/pull.go:109-133). "
    "The engine's own pulls (the builder's BuildKit image, the package images' golang and distro bases) then go to "
    "Docker Hub; only BuildKit's pulls in the build jobs use the login. Let the mirror serve anonymous pulls, or "
    "allow Docker Hub through the proxy (docs/mirrors.md)"
)


def settings_of(plan: Plan) -> GitLab:
    """The plan's ci.gitlab block, typed."""
    if not isinstance(plan.settings, GitLab):
        raise TypeError(f"a plan for {plan.system} handed to the GitLab emitter")
    return plan.settings


# The GitLab instance (clones, API) and its container registry (host[:port], as docker login and push name it;
# Go's NO_PROXY matching takes a host:port entry for that port): never through the corporate proxy.
_INSTANCE_NO_PROXY = ("$CI_SERVER_HOST", "$CI_REGISTRY")


def pipeline_variables(variables: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The plan's variables as a GitLab pipeline sets them: NO_PROXY also names the docker-in-docker service and
    the instance with its registry. What the pipeline's `variables:` and `mobyci plan` both say."""
    return tuple(
        (name, ",".join(dict.fromkeys([*DIND_NO_PROXY, *value.split(","), *_INSTANCE_NO_PROXY])))
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
    runners_title = "GitLab shell runners"

    def settings(self, spec: Spec) -> GitLab:
        return spec.ci.gitlab

    def has_runner(self, spec: Spec, arch: str) -> bool:
        return arch in spec.ci.gitlab.runners

    def runner_fix(self, arch: str) -> str:
        return f"ci.gitlab.runners: {{{arch}: [<runner tag>]}}"

    def findings(self, spec: Spec) -> list[Finding]:
        found = _reserved_names(spec)
        registry, gitlab = spec.mirrors.registry, spec.ci.gitlab
        if registry is None or urlsplit(registry).path in ("", "/") or gitlab.runner != "dind":
            return found
        if int(gitlab.docker_version.split(".")[0]) < 25:
            found.append(
                (
                    ("mirrors", "registry"),
                    f"docker {gitlab.docker_version} (ci.gitlab.docker_version) refuses a registry mirror with a "
                    "path: give only https://host[:port], or use docker 25 or newer",
                )
            )
        return found

    def warnings(self, spec: Spec, release: Release) -> list[Finding]:
        return [*self._image_prefix_warnings(spec), *_mirror_login_warnings(spec, release)]

    def _image_prefix_warnings(self, spec: Spec) -> list[Finding]:
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

    def registry_mirror_where(self, plan: Plan) -> str:
        if settings_of(plan).runner == "dind":
            return "--registry-mirror of the docker-in-docker service"
        return "not set: the shell runner's daemon.json must list it"

    def alpine_where(self, plan: Plan) -> str:
        return "apk add in the docker-in-docker jobs' docker:cli image"

    def proxy_reaches(self, plan: Plan) -> str:
        return "the docker-in-docker service's pulls"

    def environment(self, variables: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        return pipeline_variables(variables)

    def ca_variable_type(self, plan: Plan) -> str:
        if settings_of(plan).runner == "dind":
            # The service reads it re-assigned in `variables:`: a File variable would give it a path on the job's
            # filesystem, which the service container does not have.
            return "type Variable holding the PEM text, not File (the docker-in-docker service cannot read job files)"
        return "type File or Variable (the PEM text)"

    def ca_places(self, plan: Plan) -> tuple[str, ...]:
        builder = (builder_ca_place(BAKE_BUILDER),) if plan.builder == "container" else ()
        if settings_of(plan).runner == "dind":
            dind = "GitLab dind: the docker-in-docker service (system bundle and /etc/docker/certs.d/<registry>/ca.crt)"
            return (dind, *builder)
        return (*builder, f"{self.runners_title}: {HOST_CA_PLACE}")

    def job_words(self, job: Job) -> tuple[str, ...]:
        return (f"stage {job.stage}",)


def _reserved_names(spec: Spec) -> list[Finding]:
    """CI variables named like the proxy variables the pipeline assigns from them (and the image prefix)."""
    values = variable_values(spec)
    if spec.ci.gitlab.image_prefix is not None:
        values.append((("ci", "gitlab", "image_prefix"), spec.ci.gitlab.image_prefix))
    return [
        (
            at,
            f"the CI variable must not be called {name}: GitLab passes YAML variables to the docker-in-docker "
            f"service only under a different name. Rename it in your CI settings (e.g. CORP_{name.upper()})",
        )
        for at, name in ((at, var_ref_name(value)) for at, value in values)
        if name in _RESERVED_PROXY_NAMES
    ]


def _mirror_login_warnings(spec: Spec, release: Release) -> list[Finding]:
    """A login-protected registry mirror that the docker-in-docker service's own pulls cannot log in to."""
    mirrors = spec.mirrors
    bake = release.family.build_style == "bake"
    if mirrors.registry_auth is None or mirrors.registry is None or not bake or spec.ci.gitlab.runner != "dind":
        return []
    return [(("mirrors", "registry_auth"), DIND_MIRROR_LOGIN)]


SYSTEM = _GitLab()
