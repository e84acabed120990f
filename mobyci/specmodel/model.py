"""The spec, `mobyci.yaml` version 1, as pydantic models.

Models check single values; checks.py does what needs several values at once (the family of the ref,
platforms and distros for that family). Field descriptions are the reference documentation: they go into
the JSON Schema that editors use (`mobyci schema`); README's spec table says the same for readers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WrapValidator, create_model

from mobyci.families.targets import TargetName
from mobyci.formats import FORMATS
from mobyci.specmodel import fields

DEFAULT_REPO = "https://github.com/moby/moby.git"


class _Model(BaseModel):
    # strict: a YAML number is never silently turned into a string ("19.03" vs 19.03 matters).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Url = Annotated[str, AfterValidator(fields.check_url)]
GitUrl = Annotated[str, AfterValidator(fields.check_git_url)]
ProxyValue = Annotated[str, AfterValidator(fields.check_proxy)]
NoProxyEntry = Annotated[str, AfterValidator(fields.check_no_proxy_entry)]
Duration = Annotated[str, AfterValidator(fields.check_duration)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\s]+$"), WrapValidator(fields.one_word)]
Name = Annotated[NonEmpty, AfterValidator(fields.check_name)]  # reaches YAML, Buildkite and GitHub expressions


class Moby(_Model):
    """Which moby to build."""

    repo: Annotated[str, AfterValidator(fields.check_repo_url)] = Field(
        DEFAULT_REPO,
        description="Git URL of the moby repository or fork to build (https, ssh, or git@host:path). "
        "Fetched through mirrors.git when a rule matches it.",
    )
    ref: Annotated[str, AfterValidator(fields.check_ref)] = Field(
        description="What to build: a release tag (v19.03.12, v27.5.1, docker-v29.7.2), a branch, "
        "or a full 40-character commit id.",
    )
    family: Annotated[str | None, BeforeValidator(fields.family_number)] = Field(
        None,
        description="The moby release family the ref builds like: 19.03, 20.10, 23.0, 24.0, 25-28, 29, or a "
        "release version such as 26.1 or 23.0.6. Derived from a release tag; required for a branch or commit.",
    )


class Login(_Model):
    """A login named by CI variables: the values stay in your CI settings and are read when the job runs."""

    username: Annotated[str, AfterValidator(fields.check_login_username)] = Field(
        description="User name: a plain name (ci-bot) or a CI variable reference ($MIRROR_USER)."
    )
    password: Annotated[str, AfterValidator(fields.check_secret_ref)] = Field(
        description="Password or token: a CI variable reference only ($MIRROR_TOKEN), masked in your CI settings."
    )


class UbuntuMirrors(_Model):
    """Ubuntu archives: amd64 and i386 packages live on the archive, every other architecture on ports."""

    archive: Url | None = Field(
        None,
        description="Mirror of archive.ubuntu.com/ubuntu (https://mirrors.example.com/ubuntu); security.ubuntu.com "
        "is taken from it too (the same archive layout carries the -security pockets).",
    )
    ports: Url | None = Field(
        None,
        description="Mirror of ports.ubuntu.com/ubuntu-ports (https://mirrors.example.com/ubuntu-ports), used by "
        "package images of arm64, armhf and other non-x86 runners.",
    )


AptUrl = Annotated[str, AfterValidator(fields.check_apt_url)]


class AptMirrors(_Model):
    """Separate apt repositories (Nexus, Artifactory and other proxies serve one repository per URL)."""

    debian: AptUrl | None = Field(
        None,
        description="Root of a Debian archive (serves dists/<release>), e.g. "
        "https://nexus.example.com/repository/debian-proxy.",
    )
    security: AptUrl | None = Field(
        None,
        description="Root of debian-security (serves dists/<release>-security), e.g. "
        "https://nexus.example.com/repository/debian-security-proxy. Default: debian's sibling /debian-security.",
    )
    archive: AptUrl | None = Field(
        None,
        description="A mirror of archive.debian.org's layout (serves /debian and /debian-security), used for "
        "releases whose Debian is archived, e.g. https://mirrors.tuna.tsinghua.edu.cn/debian-archive.",
    )


class Mirrors(_Model):
    """Where the build fetches from instead of the public hosts. Every key is optional."""

    apt: Annotated[str, AfterValidator(fields.check_apt)] | AptMirrors | None = Field(
        None,
        description="Debian mirror: a host (mirrors.example.com) or URL without path (https://mirrors.example.com) "
        "serving /debian and /debian-security; a URL with a path, the root of a Debian archive "
        "(https://deb.mirror.example.com/debian; debian-security is its sibling /debian-security); 'archive' for "
        "archive.debian.org; or a mapping of separate repositories {debian: URL, security: URL, archive: URL}. "
        "A release whose Debian is archived (19.03: buster) needs 'archive' or archive: URL.",
    )
    git: dict[GitUrl, GitUrl] = Field(
        default_factory=dict,
        description="Git URL rewrites. A key ending in '/' rewrites every URL with that prefix "
        "(https://github.com/ -> https://gitee.com/); any other key is one exact repository URL and wins "
        "over prefixes (https://github.com/opencontainers/runc.git -> https://gitee.com/mirrors/runc.git).",
    )
    git_auth: Login | None = Field(
        None,
        description="Login for the git mirrors (the https targets of mirrors.git): the pipeline's own clones "
        "send it as an HTTP Authorization header, from CI variables at run time. Clones inside moby's Docker "
        "build cannot carry it: the mirror must serve those repositories without a login.",
    )
    downloads: dict[Url, Url] = Field(
        default_factory=dict,
        description="URL prefix rewrites for plain downloads, e.g. https://download.docker.com/linux/static -> "
        "https://mirrors.example.com/docker-ce/linux/static.",
    )
    registry: Annotated[str, AfterValidator(fields.check_registry)] | None = Field(
        None,
        description="Docker Hub mirror (https://host[:port], no credentials). Used by the docker-in-docker "
        "daemon and by moby's frozen-image download script.",
    )
    registry_auth: Login | None = Field(
        None,
        description="Login for the registry mirror (a Harbor or Nexus proxy cache): `docker login "
        "--password-stdin` in the build jobs of BuildKit families (23.0 on), from CI variables at run time.",
    )
    registry_tokens: bool = Field(
        True,
        description="Whether the registry mirror serves Docker Hub's token flow. Set false for a mirror that "
        "serves images anonymously without tokens: the frozen-image script then skips the token request.",
    )
    goproxy: Annotated[str, AfterValidator(fields.check_goproxy)] | None = Field(
        None,
        description="GOPROXY for Go tool installs inside the build (https://goproxy.example.com,direct).",
    )
    gosumdb: Annotated[str, AfterValidator(fields.check_gosumdb)] | None = Field(
        None,
        description="GOSUMDB for Go tool installs inside the build: a checksum database's name "
        "('sum.golang.google.cn'), 'name+publickey https://url' for one served elsewhere, or 'off' (no checksum "
        "verification).",
    )
    alpine: Annotated[str, AfterValidator(fields.check_alpine)] | None = Field(
        None,
        description="Alpine package mirror (https://mirrors.example.com/alpine) for the packages the GitLab "
        "docker-in-docker jobs add to the docker:cli image (make, bash, coreutils).",
    )
    pypi: Annotated[str, AfterValidator(fields.check_pypi)] | None = Field(
        None,
        description="PyPI index (https://mirrors.example.com/pypi/simple) from which the check job installs mobyci "
        "and the dev image's pip3 installs (PIP_INDEX_URL).",
    )
    ubuntu: UbuntuMirrors | None = Field(
        None,
        description="Ubuntu archives for the package images of deb ubuntu-* targets (their apt sources are "
        "rewritten after the FROM of the distro image).",
    )
    raspbian: Url | None = Field(
        None,
        description="Raspbian archive root (https://mirrors.example.com/raspbian/raspbian) for the package images "
        "of deb raspbian-* targets, instead of archive.raspbian.org/raspbian. Raspbian is its own archive (armhf "
        "builds, suites with an rpi component): a Debian mirror does not serve it.",
    )
    fedora: Url | None = Field(
        None,
        description="Fedora mirror, the directory that holds releases/ and updates/ "
        "(https://mirrors.example.com/fedora, the equivalent of dl.fedoraproject.org/pub/fedora/linux), for the "
        "package images of rpm fedora-* targets instead of the metalink service.",
    )
    centos_stream: Url | None = Field(
        None,
        description="CentOS Stream mirror, the directory that holds 9-stream/ and 10-stream/ "
        "(https://mirrors.example.com/centos-stream, like mirror.stream.centos.org), for the package images of "
        "rpm centos-9 and centos-10 targets instead of the metalink service.",
    )


class Proxy(_Model):
    """HTTP proxies for the build. Values are CI variable references; the values stay in your CI settings."""

    http: ProxyValue | None = Field(
        None,
        description="HTTP proxy: a CI variable reference ($CORP_HTTP_PROXY or ${CORP_HTTP_PROXY}) or a URL "
        "without credentials.",
    )
    https: ProxyValue | None = Field(None, description="HTTPS proxy, same forms as http.")
    no_proxy: list[NoProxyEntry] = Field(
        default_factory=list,
        description="Hosts reached without the proxy (host, .domain, IP, CIDR). The pipeline adds the "
        "docker-in-docker service and localhost itself.",
    )
    mode: Literal["build-args", "dockerfile-env"] = Field(
        "build-args",
        description="build-args (default): proxies reach the build as predefined build args, never stored in "
        "the image. dockerfile-env: the patch also writes ENV http_proxy into the Dockerfile, as the manual "
        "procedure did; the proxy then persists in the dev image.",
    )


class Target(_Model):
    """One thing to build."""

    name: TargetName = Field(
        description="binary (static dockerd), dynbinary, cross (other platforms), rpm or deb packages."
    )
    platforms: list[NonEmpty] | None = Field(
        None,
        description="cross only: platforms to build (linux/arm64, linux/arm/v7, windows/amd64…); defaults to "
        "every platform the family supports.",
    )
    distros: list[NonEmpty] | None = Field(
        None, description="rpm and deb only: distros to package for (centos-9, debian-bookworm…)."
    )


Arch = Literal["amd64", "arm64", "arm"]
_RUNNERS = (
    "Keyed by architecture (amd64, arm64, arm): the same keys in ci.gitlab, ci.buildkite and ci.github. Jobs "
    "whose image needs that architecture run there (raspbian-* packages need arm: a 32-bit arm runner, or an "
    "arm64 one whose CPU runs 32-bit code); every other job uses the default."
)


class GitLab(_Model):
    """GitLab CI settings."""

    tags: list[Name] = Field(
        default_factory=list, description="Runner tags for build jobs (e.g. saas-linux-medium-amd64)."
    )
    runners: dict[Arch, Annotated[list[Name], Field(min_length=1)]] = Field(
        default_factory=dict,
        description="Runner tags per architecture, e.g. {arm: [my-arm-runner]}, for the jobs that need it. " + _RUNNERS,
    )
    docker_version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$"), WrapValidator(fields.release_version)] = Field(
        "27.5.1", description="Version of the docker:<v>-cli image and docker:<v>-dind service (dind runner)."
    )
    runner: Literal["dind", "shell"] = Field(
        "dind",
        description="dind: docker executor with a docker-in-docker service (GitLab.com hosted runners). "
        "shell: self-managed shell executor with a local Docker engine.",
    )
    image_prefix: Annotated[str, AfterValidator(fields.check_image_prefix)] | None = Field(
        None,
        description="Where jobs pull their images (docker:<v>-cli, docker:<v>-dind, python:3.12-slim) from "
        "instead of Docker Hub: a registry path (registry.example.com/dockerhub; a Harbor proxy cache needs "
        "its /library) or GitLab's dependency proxy, $CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX.",
    )


class Buildkite(_Model):
    """Buildkite settings."""

    queue: Name | None = Field(None, description="Agent queue for build steps (agents: {queue: …}).")
    runners: dict[Arch, Name] = Field(
        default_factory=dict,
        description="Agent queue per architecture, e.g. {arm: arm-agents}, for the jobs that need it. " + _RUNNERS,
    )
    concurrency_group: bool = Field(
        False, description="Limit builds of the same ref to one at a time with a concurrency group."
    )
    cache: Annotated[str, AfterValidator(fields.check_cache_repository)] | None = Field(
        None,
        description="Registry repository for the BuildKit cache of bake jobs (23.0+), e.g. "
        "registry.example.com/ci/moby-cache: one tag per family, target and architecture. The agents must be "
        "logged in to it. Unset: no build cache.",
    )


class GitHub(_Model):
    """GitHub Actions settings."""

    runs_on: Name | Annotated[list[Name], Field(min_length=1)] = Field(
        "ubuntu-24.04",
        description="runs-on of the jobs without an architecture of their own: one label (ubuntu-24.04) or a list "
        "of labels, as runners takes them ([self-hosted, linux, X64]).",
    )
    runners: dict[Arch, Annotated[list[Name], Field(min_length=1)]] = Field(
        default_factory=dict,
        description="runs-on labels per architecture, e.g. {arm: [self-hosted, linux, ARM]}, for the jobs that need "
        "it. " + _RUNNERS,
    )


OutputPath = Annotated[str, AfterValidator(fields.check_output_path)]


CaCert = Annotated[str, AfterValidator(fields.check_ca_cert)]


class Tls(_Model):
    """TLS inspection: the corporate CA that re-signs every certificate the build sees."""

    ca_certs: list[CaCert] = Field(
        default_factory=list,
        max_length=8,
        description="CA certificates (PEM) that every TLS client of the build trusts: the docker-in-docker "
        "daemon, BuildKit builders, git and pip in the jobs, every Debian stage of moby's Dockerfile and the "
        "package images of rpm/deb targets. Each is "
        "a CI variable reference ($CORP_CA_CERT) whose value at run time is a file path (GitLab file variable, "
        "Buildkite agent environment) or the PEM text (GitHub secret), or a path inside this repository, "
        "relative to the spec's directory, for a CA that is public.",
    )


# The outputs: keys and the ci.<system> blocks come from the format registry (mobyci/formats.py), so a CI system
# added there gets both; its settings block is the class its entry names, declared above.
def _output(description: str) -> Any:
    return (OutputPath | None, Field(None, description=description))


# The CI systems' own pipelines, the patch script, then the drop-in forms (the order `render --all` writes them).
_OUTPUTS: dict[str, Any] = {
    e.outputs_key: _output(e.output_description) for e in FORMATS.values() if e.name == e.system
}
_OUTPUTS["patch"] = _output("The patch script alone, e.g. ci/mobyci-patch.sh.")
_OUTPUTS |= {e.outputs_key: _output(e.output_description) for e in FORMATS.values() if e.name != e.system}
Outputs = create_model(
    "Outputs",
    __base__=_Model,
    __doc__="""Files `mobyci render --all` writes and `--all --check` keeps current, relative to the repository root
    (the spec's git top-level, else the spec's directory).""",
    __module__=__name__,
    **_OUTPUTS,
)


class _CISettings(_Model):
    """Settings shared by every CI system, then one block per system."""

    timeout: Duration = Field("2h", description="Time limit of each build job ('2h', '1h 30m').")
    retry: Annotated[int, Field(ge=0, le=fields.MAX_RETRY), WrapValidator(fields.retries)] = Field(
        2, description="Retries of a job that failed for infrastructure reasons (0-2)."
    )
    artifacts_expire_in: Annotated[str, AfterValidator(fields.check_expire)] = Field(
        "1 week", description="How long build artifacts are kept ('1 week', '30 days', 'never')."
    )
    mobyci_requirement: Annotated[str, AfterValidator(fields.check_mobyci_requirement)] | None = Field(
        None,
        description="Set it for the full check job (mobyci validate and render --check): where the job installs "
        "mobyci from, as pip reads it: mobyci==VERSION (from PyPI, or mirrors.pypi when set), a VCS URL "
        "(git+https://git.example.com/tools/mobyci.git@v0.1.0), the https URL of a wheel, or a wheel committed in "
        "the repository (tools/mobyci-0.1.0-py3-none-any.whl). Unset: the job checks the committed files by their "
        "headers with sed and sha256sum, and the spec against the committed mobyci.schema.json with "
        "check-jsonschema. The check re-renders, so install the version you render with.",
    )


_SETTINGS: dict[str, Any] = {
    e.settings: (globals()[e.settings_model], Field(default_factory=globals()[e.settings_model]))
    for e in FORMATS.values()
}
CI = create_model("CI", __base__=_CISettings, __doc__=_CISettings.__doc__, __module__=__name__, **_SETTINGS)


class Spec(_Model):
    """mobyci.yaml: how to build moby in CI behind mirrors and proxies."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        json_schema_extra={"$comment": "Generated by `mobyci schema`; do not edit."},
    )

    version: Annotated[int, BeforeValidator(fields.version_first)] = Field(
        description="Spec format version; must be 1."
    )
    moby: Moby
    mirrors: Mirrors = Field(default_factory=Mirrors)
    proxy: Proxy = Field(default_factory=Proxy)
    targets: Annotated[
        list[Annotated[Target, BeforeValidator(fields.target_shorthand, json_schema_input_type=TargetName | Target)]],
        Field(min_length=1),
    ] = Field(description="What to build: a target name, or a mapping with name and options. No duplicates.")
    tls: Tls = Field(default_factory=Tls)
    ci: CI = Field(default_factory=CI)
    outputs: Outputs = Field(default_factory=Outputs)
