"""The Plan: what a spec will do, CI-neutral. Emitters (gitlab.py, …) know their CI system; this knows moby.

The Plan is an emitter's only input: it carries the jobs with typed facts (writes the patch script, shares the
dev image, needs a Docker engine, the tools it needs), the patch script, the file being rendered and the spec's
settings block of that CI system. Emitters never read the spec (tests/test_formats.py checks their imports).
Every moby-specific decision is taken here from the family data, so the emitters never branch on a family.
Job scripts are POSIX sh lines run from the repository root; values from the spec reach them shell-quoted.
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Literal, NamedTuple

from mobyci.families import Release
from mobyci.families.packaging_data import Arch
from mobyci.families.versions import COMMIT_RE, tag_version
from mobyci.generator import ca
from mobyci.generator.mirrors import rewrite_url
from mobyci.schemas.fields import duration_seconds, var_ref_name
from mobyci.schemas.load import LoadedSpec

SOURCE_DIR = "moby"
SOURCE_ARCHIVE = "moby-src.tar.gz"
GITCOMMIT_FILE = "mobyci-gitcommit"
PATCH_SCRIPT = "mobyci-patch.sh"
PACKAGES_DIR = "packages"  # rpm/deb jobs leave packages/<distro>/*.rpm|*.deb and a SHA256SUMS there
# The engine a job reaches on its own host; the CI system's emitter adds the hosts of an engine it runs as a
# service (GitLab's docker-in-docker).
LOCAL_NO_PROXY = ("localhost", "127.0.0.1")
PROXY_ARGS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
# The dev image of families that build inside it; the emitter points this at its CI system's registry.
DEV_IMAGE_VAR = "MOBYCI_DEV_IMAGE"
# A tag unique to the pipeline run (the emitter sets it from its CI system's run id).
DEV_TAG_VAR = "MOBYCI_DEV_TAG"
_DEV_TAGGED = "${MOBYCI_DEV_IMAGE}:${MOBYCI_DEV_TAG}"
_DEV_CACHE_VAR = "MOBYCI_DEV_CACHE"  # the dev image's layer cache, kept across pipelines
# The cross matrix dimension. Not PLATFORM: moby reads that name as its product name (bake `variable "PLATFORM"`,
# `--build-arg PLATFORM`), so a job variable PLATFORM=linux/arm64 ends up in `docker version` as the platform.
PLATFORM_VAR = "MOBYCI_PLATFORM"
# What a job running moby's Makefiles needs besides git and the docker CLI: GNU make; bash, which moby's Makefile
# calls (v19.03.12 Makefile:11 `$(shell bash -c ...)`, v28.5.2 Makefile:164 `bash -c`); GNU date, which the
# packaging Makefiles call (docker-ce-packaging 28.x common.mk:15 `date -u -d ... --rfc-3339 ns`): coreutils.
MAKE_TOOLS = ("make", "bash", "coreutils")
# Set by the emitter of a job with a build cache: the cache ref or scope without its per-job key
# (`type=registry,ref=registry/image:` or `type=gha,scope=mobyci-`); unset: no cache flags.
CACHE_VAR = "MOBYCI_CACHE"
_BUNDLE_TARGETS = ("binary", "dynbinary", "cross")
_BUNDLE_TAR = "mobyci-bundles.tar"  # a make-run bundle, streamed out of the dev container


class Job(NamedTuple):
    name: str
    stage: str  # check | prepare | build | publish
    title: str
    script: tuple[str, ...]
    needs: tuple[str, ...] = ()
    artifacts: tuple[str, ...] = ()
    artifacts_expire_in: str | None = None  # None: the spec's ci.artifacts_expire_in
    variables: tuple[tuple[str, str], ...] = ()  # literal job variables (no secrets)
    matrix: tuple[tuple[str, tuple[str, ...]], ...] = ()
    docker: bool = True  # needs a Docker engine
    # The dev image shared through the CI system's registry: "push" builds and pushes it, "pull" runs in it.
    dev_image: Literal["push", "pull"] | None = None
    check_only: bool = False  # the spec-validation job, not part of the build
    # A bake job that imports and exports the BuildKit cache: the emitter sets CACHE_VAR and a docker-container
    # builder in BUILDX_BUILDER (the docker driver cannot export a cache).
    build_cache: bool = False
    arch: Arch | None = None  # needs a runner of this architecture (ci.<system>.runners); None: the default runners
    writes_patch: bool = False  # the emitter writes Plan.patch_script to PATCH_SCRIPT before the script runs
    tools: tuple[str, ...] = ()  # commands the job needs besides a shell, git, tar and the docker CLI
    watches: tuple[str, ...] = ()  # files whose change is reason enough to run the job (empty: every pipeline)

    @property
    def registry_login(self) -> bool:
        """Logs in to the CI system's registry to share the dev image."""
        return self.dev_image is not None


class Rewrite(NamedTuple):
    """One patch rule, as people read it in `mobyci plan`."""

    id: str
    title: str
    files: tuple[str, ...]


class Applied(NamedTuple):
    """One mirror or proxy of the spec and where the pipeline applies it, as people read it in `mobyci plan`."""

    key: str  # the spec key (mirrors.apt, proxy.http)
    value: str  # as written in the spec (a CI variable reference stays a reference)
    where: str


class Note(NamedTuple):
    """A caveat for the file's header and `mobyci plan`; `systems`: the CI systems it is about (empty: all)."""

    text: str
    systems: tuple[str, ...] = ()

    def applies_to(self, system: str) -> bool:
        return not self.systems or system in self.systems


class PackageImage(NamedTuple):
    """The image an rpm/deb job builds in: where it runs and where its package manager gets packages."""

    job: str
    arch: Arch | None  # the runner architecture it needs; None: the default runners
    mirror: str | None  # the spec key that points it at a mirror
    hosts: tuple[str, ...]  # hosts it reaches directly (none when mirrored)


class Plan(NamedTuple):
    spec_path: str
    repo: str
    clone_url: str  # repo through the git mirror
    ref: str
    release: Release
    jobs: tuple[Job, ...]
    # Pipeline-wide variables: name -> value as written (a CI variable reference or a literal).
    variables: tuple[tuple[str, str], ...]
    # CI variables the pipeline reads (never their values): proxy URLs.
    ci_variables: tuple[str, ...]
    build_args: tuple[str, ...]  # predefined build args passed from the environment
    registry_mirror: str | None
    rewrites: tuple[Rewrite, ...]
    timeout_seconds: int
    retry: int
    artifacts_expire_in: str
    notes: tuple[Note, ...] = ()
    # What package jobs build with: (what, value, where it came from); empty without rpm/deb targets.
    packages: tuple[tuple[str, str, str], ...] = ()
    # tls.ca_certs: the lines that assemble the CA in a job, the CI variables they read, and where it is trusted.
    ca_lines: tuple[str, ...] = ()
    ca_variables: tuple[str, ...] = ()
    ca_places: tuple[str, ...] = ()
    system: str = "gitlab"  # the CI system the plan is for (mobyci/formats.py SYSTEMS)
    applied: tuple[Applied, ...] = ()
    package_images: tuple[PackageImage, ...] = ()
    fmt: str = "gitlab"  # the format being written (mobyci/formats.py FORMATS)
    output: str = ".gitlab-ci.yml"  # where that file lives, relative to the repository root
    command: str = ""  # the command that regenerates it, for its header
    patch_script: str = ""  # the text the job that writes_patch writes to PATCH_SCRIPT
    settings: dict[str, Any] = {}  # noqa: RUF012  # the spec's ci.<system> block (formats.py names the key)
    alpine_mirror: str | None = None  # mirrors.alpine, for images that install packages with apk
    ca_files: tuple[str, ...] = ()  # tls.ca_certs entries that are files in the repository (not CI variables)

    def job(self, name: str) -> Job:
        return next(j for j in self.jobs if j.name == name)

    def system_notes(self) -> tuple[str, ...]:
        """The notes about this plan's CI system."""
        return tuple(note.text for note in self.notes if note.applies_to(self.system))

    def variable_refs(self) -> tuple[tuple[str, str], ...]:
        """(name, CI variable) for every pipeline variable whose value is a CI variable reference."""
        refs = ((name, var_ref_name(value)) for name, value in self.variables)
        return tuple((name, ref) for name, ref in refs if ref is not None)

    def literal_variables(self) -> tuple[tuple[str, str], ...]:
        """Every pipeline variable whose value is written as is (not a CI variable reference)."""
        return tuple((name, value) for name, value in self.variables if var_ref_name(value) is None)


def expire_seconds(expire_in: str) -> int | None:
    """An artifact expiry ('1 week') in seconds; None for 'never'."""
    return None if expire_in == "never" else duration_seconds(expire_in)


def build_plan(
    loaded: LoadedSpec,
    rewrites: tuple[Rewrite, ...] = (),
    system: str = "gitlab",
    *,
    fmt: str | None = None,
    output: str | None = None,
    command: str = "",
    patch_script: str = "",
) -> Plan:
    """The plan of the file of `fmt` (default: the system's own format) at `output` (default: its usual path)."""
    from mobyci.formats import FORMATS

    spec, release = loaded.spec, loaded.release
    family = release.family
    entry = FORMATS[fmt or system]
    output = output or entry.default_output
    variables, ci_variables = _proxy_variables(loaded)
    _login_variables(loaded, variables, ci_variables)
    version = tag_version(spec.moby.ref)
    if version is not None:
        # hack/make.sh and bake stamp binaries with VERSION; without it they say "dev" (23.0 on GitHub: the
        # CI repository's own GITHUB_REF). Branches and commits get theirs in the job (ref_version_line).
        variables.append(("VERSION", spec.moby.ref.removeprefix("docker-").removeprefix("v")))
    if family.build_style in ("make-run", "buildkit"):
        variables.append(("DOCKER_BUILDKIT", "1"))
    build_args = tuple(name for name in PROXY_ARGS if any(name == v for v, _ in variables))
    ca_lines = ca.job_lines(spec)
    jobs: list[Job] = [
        _check_job(loaded, ca_lines, entry.name, output),
        _prepare_job(loaded, build_args, ca_lines),
    ]
    for target in spec.targets:
        if target.name not in ("rpm", "deb"):
            jobs.append(_target_job(loaded, target.name, target.platforms, build_args))
    if any(target.name in ("rpm", "deb") for target in spec.targets):
        from mobyci.generator.packaging import packaging_jobs

        jobs += packaging_jobs(loaded, build_args)
    built = [j.name for j in jobs if j.stage == "build"]
    if built:
        from_packages = [
            bool(j.artifacts) and j.artifacts[0].startswith(PACKAGES_DIR) for j in jobs if j.stage == "build"
        ]
        jobs.append(_checksums_job(built, bundles=not all(from_packages), packages=any(from_packages)))
    notes = _notes(loaded)
    packages: tuple[tuple[str, str, str], ...] = ()
    if any(t.name in ("rpm", "deb") for t in spec.targets):
        from mobyci.generator.packaging import CLI_REF_VAR, toolchain

        tools = toolchain(loaded)
        packaging = release.packaging
        packages = (
            ("docker-ce-packaging", packaging.branch, "the release line's branch (families/data.py)"),
            ("cli", tools.cli_ref, f"{tools.cli_from}; the CI variable {CLI_REF_VAR} overrides it"),
            ("Go", tools.go_version or "of the branch", tools.go_from),
            *(
                (("Go image", tools.go_image, "the engine's own build image, for /usr/local/go"),)
                if tools.go_image
                else ()
            ),
        )
    return Plan(
        spec_path=loaded.path,
        repo=spec.moby.repo,
        clone_url=rewrite_url(spec.moby.repo, spec.mirrors.git),
        ref=spec.moby.ref,
        release=release,
        jobs=tuple(jobs),
        variables=tuple(variables),
        ci_variables=tuple(ci_variables),
        build_args=build_args,
        registry_mirror=spec.mirrors.registry,
        rewrites=rewrites,
        timeout_seconds=duration_seconds(spec.ci.timeout),
        retry=spec.ci.retry,
        artifacts_expire_in=spec.ci.artifacts_expire_in,
        notes=notes,
        packages=packages,
        ca_lines=ca_lines,
        ca_variables=ca.ca_variables(spec),
        ca_places=_ca_places(loaded),
        system=system,
        applied=_applied(loaded, system, {r.id for r in rewrites}),
        fmt=entry.name,
        output=output,
        command=command,
        patch_script=patch_script,
        settings=getattr(spec.ci, entry.settings).as_dict(),
        alpine_mirror=spec.mirrors.alpine,
        ca_files=ca.repo_files(spec),
        package_images=tuple(_package_images(loaded, jobs)),
    )


def _package_images(loaded: LoadedSpec, jobs: list[Job]) -> list[PackageImage]:
    from mobyci.families.packaging_data import distro_archive, serving_setting

    images = []
    for target in loaded.spec.targets:
        for distro in target.distros or ():
            job = next(j for j in jobs if j.name == f"{target.name}-{distro}")
            mirror = serving_setting(loaded.spec.mirrors, distro)
            images.append(PackageImage(job.name, job.arch, mirror, () if mirror else distro_archive(distro).hosts))
    return images


def _proxy_variables(loaded: LoadedSpec) -> tuple[list[tuple[str, str]], list[str]]:
    proxy = loaded.spec.proxy
    variables: list[tuple[str, str]] = []
    ci_variables: list[str] = []
    for upper, value in (("HTTP_PROXY", proxy.http), ("HTTPS_PROXY", proxy.https)):
        if value is None:
            continue
        variables += [(upper, value), (upper.lower(), value)]
        name = var_ref_name(value)
        if name is not None and name not in ci_variables:
            ci_variables.append(name)
    if variables:
        no_proxy = ",".join(dict.fromkeys([*LOCAL_NO_PROXY, *proxy.no_proxy]))
        variables += [("NO_PROXY", no_proxy), ("no_proxy", no_proxy)]
    return variables, ci_variables


# The names the job scripts read a login from; the pipeline assigns them from the spec's CI variables.
GIT_USERNAME_VAR, GIT_PASSWORD_VAR = "MOBYCI_GIT_USERNAME", "MOBYCI_GIT_PASSWORD"
REGISTRY_USERNAME_VAR, REGISTRY_PASSWORD_VAR = "MOBYCI_REGISTRY_USERNAME", "MOBYCI_REGISTRY_PASSWORD"


def _login_variables(loaded: LoadedSpec, variables: list[tuple[str, str]], ci_variables: list[str]) -> None:
    mirrors = loaded.spec.mirrors
    logins = (
        (mirrors.git_auth, GIT_USERNAME_VAR, GIT_PASSWORD_VAR),
        (mirrors.registry_auth, REGISTRY_USERNAME_VAR, REGISTRY_PASSWORD_VAR),
    )
    for login, user_var, password_var in logins:
        if login is None:
            continue
        variables += [(user_var, login.username), (password_var, login.password)]
        for value in (login.username, login.password):
            name = var_ref_name(value)
            if name is not None and name not in ci_variables:
                ci_variables.append(name)


def git_auth_lines(loaded: LoadedSpec) -> list[str]:
    """Lines that make every git command of the job send the git mirrors' login as an HTTP header.

    Through git's GIT_CONFIG_COUNT/KEY/VALUE environment (git 2.31+), the same as `git -c` but neither on a
    command line (visible in the process list) nor in a file, and inherited by clones that make runs. Each key
    is scoped to one mirror URL (http.<url>.extraHeader): no other host ever sees the header.
    """
    from mobyci.schemas.checks import git_auth_prefixes

    if loaded.spec.mirrors.git_auth is None:
        return []
    prefixes = git_auth_prefixes(loaded.spec)
    pairs = " ".join(
        f"GIT_CONFIG_KEY_{i}={shlex.quote(f'http.{url}.extraHeader')} "
        f'GIT_CONFIG_VALUE_{i}="Authorization: Basic $mobyci_git_auth"'
        for i, url in enumerate(prefixes)
    )
    return [
        f'mobyci_git_auth="$(printf \'%s:%s\' "${GIT_USERNAME_VAR}" "${GIT_PASSWORD_VAR}" | base64 | tr -d \'\\n\')"',
        f"export GIT_CONFIG_COUNT={len(prefixes)} {pairs}",
    ]


def registry_login_line(loaded: LoadedSpec) -> str | None:
    """`docker login` to the registry mirror, the password read from stdin (never an argument)."""
    registry = loaded.spec.mirrors.registry
    if loaded.spec.mirrors.registry_auth is None or registry is None:
        return None
    host = registry.split("://", 1)[1].split("/", 1)[0]
    return (
        f"printf '%s\\n' \"${REGISTRY_PASSWORD_VAR}\" | "
        f'docker login --username "${REGISTRY_USERNAME_VAR}" --password-stdin {shlex.quote(host)}'
    )


def _build_args_flags(build_args: tuple[str, ...]) -> str:
    # `--build-arg NAME` without a value makes the docker CLI read NAME from its environment: the value
    # never appears on a command line or in the job log, and predefined proxy args stay out of the image.
    return " ".join(f"--build-arg {name}" for name in build_args)


_CHECK_VENV = ".mobyci-venv"  # in the job's work tree: no shared /tmp path


def _check_job(loaded: LoadedSpec, ca_lines: tuple[str, ...], fmt: str, output: str) -> Job:
    from mobyci import __version__

    pypi = loaded.spec.mirrors.pypi
    index = f" --index-url {shlex.quote(pypi)}" if pypi else ""
    # By default the version that wrote the pipeline, so that a current pipeline renders to the same bytes.
    requirement = loaded.spec.ci.mobyci_requirement or f"mobyci=={__version__}"
    return Job(
        name="mobyci-check",
        stage="check",
        title="The spec validates and the committed pipeline is current",
        script=(
            *ca_lines,
            f"python3 -m venv {_CHECK_VENV}",
            f"{_CHECK_VENV}/bin/pip install --quiet{index} {shlex.quote(requirement)}",
            f"{_CHECK_VENV}/bin/mobyci validate {shlex.quote(loaded.path)}",
            _render_check_line(loaded, fmt, output),
        ),
        docker=False,
        check_only=True,
        # pip needs git for a VCS requirement.
        tools=("git",) if requirement.startswith("git+") else (),
        watches=tuple(_checked_files(loaded, output)),
    )


PATCH_EOF = "MOBYCI_PATCH_EOF"  # the heredoc delimiter that embeds the patch script in a prepare job


def write_patch_line(patch_script: str) -> str:
    """The prepare job's line that writes the embedded patch script to PATCH_SCRIPT (a quoted heredoc)."""
    if not patch_script.strip():
        raise ValueError("the plan has no patch script: make it with one to emit a pipeline")
    return write_heredoc(PATCH_SCRIPT, patch_script, PATCH_EOF)


def write_heredoc(path: str, text: str, delimiter: str) -> str:
    """A job line that writes `text` to `path` through a quoted heredoc (nothing in it is expanded)."""
    body = text.rstrip("\n")
    if delimiter in body:
        raise ValueError(f"the text for {path} contains {delimiter}")
    return f"cat > {path} <<'{delimiter}'\n{body}\n{delimiter}"


def _render_check_line(loaded: LoadedSpec, fmt: str, output: str) -> str:
    """The check job's last line: the committed files (all `outputs:`, or this pipeline at `output`) are current.

    Paths are relative to the repository root, where CI jobs start."""
    words = [f"{_CHECK_VENV}/bin/mobyci", "render", shlex.quote(loaded.path)]
    if any(loaded.spec.outputs.as_dict().values()):
        return " ".join([*words, "--all", "--check"])
    from mobyci.formats import DEFAULT

    if fmt != DEFAULT:
        words += ["--format", fmt]
    return " ".join([*words, "-o", shlex.quote(output), "--check"])


def _checked_files(loaded: LoadedSpec, output: str) -> list[str]:
    """The files the check job reads: the spec and every committed output (or this pipeline alone)."""
    listed = [path for path in loaded.spec.outputs.as_dict().values() if path is not None]
    return list(dict.fromkeys([loaded.path, *(listed or [output])]))


def _prepare_job(loaded: LoadedSpec, build_args: tuple[str, ...], ca_lines: tuple[str, ...]) -> Job:
    spec, family = loaded.spec, loaded.release.family
    clone = shlex.quote(rewrite_url(spec.moby.repo, spec.mirrors.git))
    ref = shlex.quote(spec.moby.ref)
    script = [
        *ca_lines,
        *git_auth_lines(loaded),
        f"rm -rf {SOURCE_DIR} && git init -q {SOURCE_DIR}",
        f"git -C {SOURCE_DIR} remote add origin {clone}",
        f"git -C {SOURCE_DIR} fetch -q --depth 1 origin {ref}",
        f"git -C {SOURCE_DIR} checkout -q FETCH_HEAD",
        # Short, as moby's own Makefile stamps DOCKER_GITCOMMIT (`git rev-parse --short HEAD`).
        f"git -C {SOURCE_DIR} rev-parse --short HEAD > {GITCOMMIT_FILE}",
        f"sh {PATCH_SCRIPT} {SOURCE_DIR}",
    ]
    artifacts = [GITCOMMIT_FILE]
    dev_image: Literal["push", "pull"] | None = None
    if family.build_style == "make-run" and any(t.name in _BUNDLE_TARGETS for t in spec.targets):
        # The dev image holds the source and the toolchain; every target runs inside it. Package jobs build
        # from the source archive with docker-ce-packaging's own images and never use it.
        dev_image = "push"
        env = [
            f'export DOCKER_BUILD_ARGS="{_build_args_flags(build_args)}'
            f' --cache-from ${_DEV_CACHE_VAR} --build-arg BUILDKIT_INLINE_CACHE=1"'
        ]
        cross = next((t for t in spec.targets if t.name == "cross"), None)
        if cross is not None:
            # Makes `make build` add the cross toolchains to the dev image.
            platforms = " ".join(cross.platforms or loaded.release.cross_platforms)
            env.append(f"export DOCKER_CROSSPLATFORMS={shlex.quote(platforms)}")
        script += [
            # One layer cache per architecture: runners of another architecture must not overwrite it.
            f'{_DEV_CACHE_VAR}="${DEV_IMAGE_VAR}:cache-$(uname -m)"',
            f'docker pull "${_DEV_CACHE_VAR}" || true',
            *env,
            *_apt_env(loaded),
            f'make -C {SOURCE_DIR} DOCKER_IMAGE="{_DEV_TAGGED}" build',
            f'docker push "${DEV_IMAGE_VAR}:$MOBYCI_DEV_TAG"',
            f'docker tag "${DEV_IMAGE_VAR}:$MOBYCI_DEV_TAG" "${_DEV_CACHE_VAR}"',
            f'docker push "${_DEV_CACHE_VAR}"',
        ]
    if family.build_style != "make-run" or any(t.name in ("rpm", "deb") for t in spec.targets):
        # Package jobs need the patched source itself, whatever the family.
        script.append(f"tar -czf {SOURCE_ARCHIVE} {SOURCE_DIR}")
        artifacts.append(SOURCE_ARCHIVE)
    return Job(
        name="prepare",
        stage="prepare",
        title="Check out moby, apply the mirror patch" + (", build the dev image" if dev_image else ""),
        script=tuple(script),
        # As long as the build jobs' own: a build job retried days later still finds the source archive.
        artifacts=tuple(artifacts),
        docker=dev_image is not None,
        dev_image=dev_image,
        writes_patch=True,
        tools=MAKE_TOOLS if dev_image else (),
    )


def _apt_env(loaded: LoadedSpec) -> list[str]:
    """The family's own APT_MIRROR knob, for a bare host only: its hook swaps the host name and keeps http://."""
    from mobyci.schemas.apt import apt_sources

    sources, knob = apt_sources(loaded.spec.mirrors, loaded.release), loaded.release.apt_build_arg
    if sources is None or not sources.host_only or not sources.debian.startswith("http://") or knob is None:
        return []
    host = sources.debian.removeprefix("http://").removesuffix("/debian")
    return [f"export {knob}={shlex.quote(host)}"]


def _target_job(loaded: LoadedSpec, target: str, platforms: list[str] | None, build_args: tuple[str, ...]) -> Job:
    family = loaded.release.family
    out = f"{SOURCE_DIR}/{family.bundles[target]}"
    matrix: tuple[tuple[str, tuple[str, ...]], ...] = ()
    if target == "cross":
        matrix = ((PLATFORM_VAR, tuple(platforms or loaded.release.cross_platforms)),)
        out = f"{out}/${PLATFORM_VAR}"
    version = ref_version_lines(loaded.spec.moby.ref)
    if family.build_style == "make-run":
        script = [*version, *_make_run_target(target, build_args)]
    else:
        script = [f"tar -xzf {SOURCE_ARCHIVE}", *_apt_env(loaded), *version]
        if family.build_style == "buildkit":
            script.append(f'export DOCKER_BUILD_ARGS="{_build_args_flags(build_args)}"')
            if target == "cross":
                script.append(f'export DOCKER_CROSSPLATFORMS="${PLATFORM_VAR}"')
            script.append(f"make -C {SOURCE_DIR} {target}")
        else:
            script += [*_registry_login_lines(loaded), *_bake_lines(loaded, target, build_args)]
    script.append(sums_line(out))
    return Job(
        name=target,
        stage="build",
        title=f"make {target}" + (" (one job per platform)" if matrix else ""),
        script=tuple(script),
        needs=("prepare",),
        artifacts=(f"{SOURCE_DIR}/{family.bundles[target]}/",),
        matrix=matrix,
        dev_image="pull" if family.build_style == "make-run" else None,
        build_cache=family.build_style == "bake",
        tools=MAKE_TOOLS,
    )


def _registry_login_lines(loaded: LoadedSpec) -> list[str]:
    """`docker login` to the registry mirror, in the client config where the job's other logins land (the CI
    registry's, for the build cache): buildx hands every login of that config to the builder, which uses the one
    of each registry host it talks to, the mirror's included."""
    login = registry_login_line(loaded)
    return [] if login is None else [login]


def ref_version_lines(ref: str) -> list[str]:
    """VERSION for a branch or a commit, which have no release number: `<branch>-<short commit>`, or
    `dev-<short commit>` for a commit (moby's own default is "dev"). Tags get theirs as a pipeline variable."""
    if tag_version(ref) is not None:
        return []
    slug = "dev" if COMMIT_RE.match(ref) else re.sub(r"[^A-Za-z0-9.]+", "-", ref).strip("-")
    # The short commit as `git rev-parse --short` prints it for a fresh clone: the first 7 digits.
    return [f'VERSION="{slug}-$(cut -c1-7 {GITCOMMIT_FILE})" && export VERSION']


def cache_key(loaded: LoadedSpec, target: str) -> str:
    """The per-job part of a cache ref or scope: one per family, target (and platform) and runner architecture,
    so that parallel jobs never overwrite each other's cache. Shell text, evaluated in the job."""
    platform = f'-$(printf %s "${PLATFORM_VAR}" | tr / -)' if target == "cross" else ""
    return f"{loaded.release.family.name}-{target}{platform}-$(uname -m)"


def _bake_lines(loaded: LoadedSpec, target: str, build_args: tuple[str, ...]) -> list[str]:
    """`make <target>` with BAKE_CMD given on make's command line, so the Makefile still computes and exports
    DOCKER_GITCOMMIT and creates bundles/ as for a plain `make`, while bake gets the proxies, the cache and,
    for cross, one platform.

    `--set '*.args.NAME'` without a value makes bake read NAME from its environment (as `--build-arg NAME`
    does for docker build): proxy values never appear on a command line or in a file.
    """
    family = loaded.release.family
    words = ["docker buildx bake", *(f"--set '*.args.{name}'" for name in build_args)]
    lines = []
    if target == "cross":
        # One platform per job: bake's own binary-cross would build all of them in one job.
        words.append(f"--set '*.platform=${PLATFORM_VAR}'")
        lines.append(f'DESTDIR="{family.bundles["cross"]}/${PLATFORM_VAR}" && export DESTDIR')
    lines.append(f'mobyci_bake="{" ".join(words)}"')
    key = cache_key(loaded, target)
    imports = [key] if target == "binary" else [key, cache_key(loaded, "binary")]
    cache = [f"--set '*.cache-from=${{{CACHE_VAR}}}{k}'" for k in imports]
    cache.append(f"--set '*.cache-to=${{{CACHE_VAR}}}{key},mode=max,ignore-error=true'")
    lines.append(f'if [ -n "${{{CACHE_VAR}:-}}" ]; then mobyci_bake="$mobyci_bake {" ".join(cache)}"; fi')
    make_target = {"binary": "binary", "dynbinary": "dynbinary", "cross": "cross"}[target]
    lines.append(f'make -C {SOURCE_DIR} BAKE_CMD="$mobyci_bake" {make_target}')
    return lines


def _make_run_target(target: str, build_args: tuple[str, ...]) -> list[str]:
    # Inside docker-in-docker the Makefile cannot bind-mount bundles/ (DOCKER_HOST is remote), so run
    # hack/make.sh in the dev image as `make binary` would, and stream the bundle out.
    steps = {"binary": "binary", "dynbinary": "dynbinary", "cross": "cross"}[target]
    envs = " ".join(f"-e {name}" for name in (*build_args, "DOCKER_GITCOMMIT", "VERSION"))
    cross = f' -e DOCKER_CROSSPLATFORMS="${PLATFORM_VAR}"' if target == "cross" else ""
    inside = shlex.quote(f"hack/make.sh {steps} >&2 && tar -C bundles -cf - .")
    return [
        f'DOCKER_GITCOMMIT="$(cat {GITCOMMIT_FILE})" && export DOCKER_GITCOMMIT',
        f'docker pull "${DEV_IMAGE_VAR}:$MOBYCI_DEV_TAG"',
        # --privileged as the Makefile's own `docker run`: the image's entrypoint, hack/dind, mounts filesystems.
        # --rm: a failed build must not leave its container (GBs) on a persistent runner, so the bundle leaves
        # the container as a tar stream on stdout (the build's own output goes to stderr).
        f'docker run --rm --privileged {envs}{cross} "{_DEV_TAGGED}" sh -c {inside} > {_BUNDLE_TAR}',
        f"mkdir -p {SOURCE_DIR}/bundles",
        f"tar -C {SOURCE_DIR}/bundles -xf {_BUNDLE_TAR} && rm -f {_BUNDLE_TAR}",
    ]


def sums_line(out: str) -> str:
    """The shell line that writes `out`/SHA256SUMS the same way for every job that produces files."""
    # The same SHA256SUMS for every family: 23.0+ write no checksums, older ones write .md5/.sha256 per file.
    # Written aside and moved in, so the listing never sees a half-written SHA256SUMS.
    return (
        f'(cd "{out}" && sums="$(mktemp)" && find . -type f ! -name SHA256SUMS ! -name "*.md5" ! -name "*.sha256" '
        '| LC_ALL=C sort | sed \'s|^\\./||\' | while IFS= read -r f; do sha256sum "$f"; done > "$sums" '
        '&& mv "$sums" SHA256SUMS)'
    )


def _checksums_job(targets: list[str], *, bundles: bool, packages: bool) -> Job:
    # Only directories some job fills: `find` fails on a missing one.
    dirs = [*([f"{SOURCE_DIR}/bundles"] if bundles else []), *([PACKAGES_DIR] if packages else [])]
    roots = " ".join(dirs)
    return Job(
        name="checksums",
        stage="publish",
        title="Verify every bundle against its SHA256SUMS and list them all",
        script=(
            f"find {roots} -name SHA256SUMS | LC_ALL=C sort > mobyci-sums.list",
            'test -s mobyci-sums.list || { echo "no SHA256SUMS from the build jobs" >&2; exit 1; }',
            'while IFS= read -r sums; do (cd "$(dirname "$sums")" && sha256sum -c SHA256SUMS); done < mobyci-sums.list',
            'while IFS= read -r sums; do d=$(dirname "$sums"); sed "s|  |  ${d#moby/}/|" "$sums"; done '
            "< mobyci-sums.list > SHA256SUMS",
            "cat SHA256SUMS",
        ),
        needs=tuple(targets),
        # The bundles and packages are the build jobs' own artifacts already: only the combined list is new.
        artifacts=("SHA256SUMS",),
        docker=False,
    )


def _ca_places(loaded: LoadedSpec) -> tuple[str, ...]:
    """Where the CA of tls.ca_certs is trusted, for `mobyci plan` (each CI system's own places are added by its
    emitter's notes)."""
    spec = loaded.spec
    if not spec.tls.ca_certs:
        return ()
    from mobyci.families.touchpoints import TOUCHPOINTS

    roots = TOUCHPOINTS[loaded.release.family.name].debian_roots
    return (
        f"prepare job: git (GIT_SSL_CAINFO={ca.TRUST_FILE}, the system roots plus the CA) and the patch "
        f"({ca.CA_FILE} copied into the tree as .mobyci/ca.crt)",
        f"check job: pip (PIP_CERT={ca.TRUST_FILE})",
        "moby's Dockerfile: stage"
        + ("s " if len(roots) > 1 else " ")
        + ", ".join(roots)
        + " (COPY + update-ca-certificates right after FROM) and every stage built on them",
        "GitLab dind: the docker-in-docker service (system bundle and /etc/docker/certs.d/<registry>/ca.crt)",
        "BuildKit builders mobyci creates: GitHub's docker/setup-buildx-action builder and the bake jobs' "
        "docker-container builder (buildkitd config ca = […] for Docker Hub and the mirror)",
        "GitLab shell runners, Buildkite agents, GitHub runners: the host's Docker daemon only through its own "
        "/etc/docker/certs.d/<registry>/ca.crt and system trust store (set by the runner's administrator)",
    )


def _applied(loaded: LoadedSpec, system: str, rules: set[str]) -> tuple[Applied, ...]:
    """Every mirror and proxy of the spec, and where this system's pipeline applies it."""
    spec, release = loaded.spec, loaded.release
    mirrors, proxy = spec.mirrors, spec.proxy
    out: list[Applied] = []

    def rule(rule_id: str) -> str:
        return f"patch rule {rule_id}" if rule_id in rules else ""

    def joined(*parts: str) -> str:
        return "; ".join(part for part in parts if part)

    if mirrors.apt:
        from mobyci.schemas.apt import describe

        knob = release.apt_build_arg
        out.append(
            Applied(
                "mirrors.apt",
                describe(mirrors, release),
                joined(
                    f"Debian {release.debian} packages in the dev image build",
                    f"{knob} in the build environment" if _apt_env(loaded) else "",
                    *(rule(r) for r in sorted(rules) if r.startswith("apt-")),
                    "package jobs' apt through RUN_FLAGS" if any(t.name == "deb" for t in spec.targets) else "",
                ),
            )
        )
    for source, target in mirrors.git.items():
        out.append(
            Applied(
                "mirrors.git",
                f"{source} -> {target}",
                joined("the prepare and package jobs' clones", rule("git-host"), rule("git-insteadof")),
            )
        )
    if mirrors.git_auth:
        out.append(
            Applied("mirrors.git_auth", mirrors.git_auth.password, "Authorization header of the pipeline's own clones")
        )
    for source, target in mirrors.downloads.items():
        out.append(Applied("mirrors.downloads", f"{source} -> {target}", rule("downloads")))
    if mirrors.registry:
        daemon = {
            "gitlab": "--registry-mirror of the docker-in-docker service"
            if spec.ci.gitlab.runner == "dind"
            else "not set: the shell runner's daemon.json must list it",
            "buildkite": "not set: each agent's daemon.json must list it",
            "github": "the BuildKit builder's config (buildkitd-config-inline)",
        }[system]
        out.append(Applied("mirrors.registry", mirrors.registry, joined(daemon, rule("registry"))))
    if mirrors.registry_auth:
        out.append(
            Applied(
                "mirrors.registry_auth",
                mirrors.registry_auth.password,
                "docker login in the build jobs" if release.family.build_style == "bake" else "not used (see validate)",
            )
        )
    if mirrors.goproxy:
        where = joined("GOPROXY of Go installs in the build", rule("goproxy"))
        out.append(Applied("mirrors.goproxy", mirrors.goproxy, where))
    if mirrors.alpine:
        where = "apk add in the docker-in-docker jobs' docker:cli image" if system == "gitlab" else "not used: no apk"
        out.append(Applied("mirrors.alpine", mirrors.alpine, where))
    if mirrors.pypi:
        dev_image = "the dev image's pip3 (PIP_INDEX_URL)" if "pypi" in rules else ""
        out.append(
            Applied("mirrors.pypi", mirrors.pypi, joined("pip index of the mobyci-check job", dev_image, rule("pypi")))
        )
    for key, value in (("proxy.http", proxy.http), ("proxy.https", proxy.https)):
        if value:
            carried = "build args of every build" if proxy.mode == "build-args" else "ENV in the Dockerfile"
            service = "; the docker-in-docker service's pulls" if system == "gitlab" else ""
            out.append(Applied(key, value, f"{carried}, the jobs' own clones and downloads{service}"))
    return tuple(out)


def _notes(loaded: LoadedSpec) -> tuple[Note, ...]:
    spec, release = loaded.spec, loaded.release
    notes: list[Note] = []
    if release.version is None:
        notes.append(
            Note(
                f"family {release.family.name} was given for ref {spec.moby.ref}; the patch script checks it "
                "against the checked-out tree"
            )
        )
    if release.buildkit_git_sources and spec.mirrors.git:
        notes.append(
            Note(
                "BuildKit `ADD …git` sources are fetched by the daemon: build-arg proxies do not reach them; the patch "
                "rewrites their URLs and the daemon needs the proxy (set in pipeline variables)"
            )
        )
    if spec.mirrors.registry and spec.ci.gitlab.runner == "shell":
        daemon_json = f'daemon.json ("registry-mirrors": ["{spec.mirrors.registry}"])'
        text = (
            "shell runner: the bake builds get the registry mirror through their own BuildKit builder; pulls by the "
            f"host daemon (the BuildKit image itself) use it only if the host daemon's {daemon_json} has it"
            if release.family.build_style == "bake"
            else f"shell runner: the registry mirror can only be set in the host daemon's {daemon_json}; the "
            "pipeline cannot set it"
        )
        notes.append(Note(text, ("gitlab",)))
    if release.family.build_style == "bake" and spec.ci.buildkite.cache is None:
        notes.append(
            Note(
                "Buildkite: no build cache for the bake jobs (ci.buildkite.cache is unset): every stage is built "
                "each time, on the agents' own builder",
                ("buildkite",),
            )
        )
    return tuple(notes)
