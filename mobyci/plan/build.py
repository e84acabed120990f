"""Builds the Plan (model.py) from a loaded spec: the jobs, their scripts and typed facts, the variables, notes.
Every moby-specific decision is taken here from the family data, so the emitters never branch on a family."""

from __future__ import annotations

import shlex
from typing import Literal

from mobyci.committed.header import output_file
from mobyci.families.targets import TARGETS, TargetName, is_package
from mobyci.families.versions import tag_version
from mobyci.formats import DEFAULT, FORMATS, ci_system
from mobyci.load.reader import LoadedSpec
from mobyci.plan import ca
from mobyci.plan.caveats import plan_notes
from mobyci.plan.checkjob import check_job
from mobyci.plan.mirrors import rewrite_url
from mobyci.plan.model import (
    CACHE_VAR,
    DEV_IMAGE_VAR,
    GIT_PASSWORD_VAR,
    GIT_USERNAME_VAR,
    GITCOMMIT_FILE,
    LOCAL_NO_PROXY,
    MAKE_TOOLS,
    PACKAGES_DIR,
    PATCH_SCRIPT,
    PLATFORM_VAR,
    PROXY_ARGS,
    REGISTRY_PASSWORD_VAR,
    REGISTRY_USERNAME_VAR,
    SOURCE_ARCHIVE,
    SOURCE_DIR,
    CreateBuilder,
    FetchArtifacts,
    Fetched,
    Job,
    PackageImage,
    Plan,
    Rewrite,
    Run,
    WritePatch,
    retention,
    trust_ca,
)
from mobyci.plan.network import Network, Target
from mobyci.plan.shell import (
    apt_env,
    build_args_flags,
    clone_lines,
    git_auth_lines,
    ref_version_lines,
    registry_login_lines,
    sums_line,
)
from mobyci.specmodel.fields import duration_seconds, var_ref_name

_DEV_TAGGED = "${MOBYCI_DEV_IMAGE}:${MOBYCI_DEV_TAG}"
_DEV_CACHE_VAR = "MOBYCI_DEV_CACHE"  # the dev image's layer cache, kept across pipelines
_BUNDLE_TAR = "mobyci-bundles.tar"  # a make-run bundle, streamed out of the dev container


def build_plan(
    loaded: LoadedSpec,
    rewrites: tuple[Rewrite, ...] = (),
    system: str = DEFAULT,
    *,
    fmt: str | None = None,
    output: str | None = None,
    patch_script: str = "",
) -> Plan:
    """The plan of the file of `fmt` (default: the system's own format) at `output` (default: its usual path)."""
    spec, release = loaded.spec, loaded.release
    ci = ci_system(system)
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
    ca_lines = ca.job_lines(spec, ca.spec_dir(loaded.path))
    jobs: list[Job] = []
    if ci.has_check_job(spec):
        jobs.append(check_job(loaded, ca_lines, entry.name, output))
    jobs.append(_prepare_job(loaded, build_args, ca_lines))
    packages_built = any(is_package(target.name) for target in spec.targets)
    for index, target in enumerate(spec.targets):
        if not is_package(target.name):
            jobs.append(_target_job(loaded, target.name, target.platforms, build_args, index))
    if packages_built:
        from mobyci.plan.packaging import packaging_jobs

        jobs += packaging_jobs(loaded, build_args, ca_lines)
    built = [j.name for j in jobs if j.stage == "build"]
    if built:
        from_packages = [
            bool(j.artifacts) and j.artifacts[0].startswith(PACKAGES_DIR) for j in jobs if j.stage == "build"
        ]
        jobs.append(_checksums_job(built, bundles=not all(from_packages), packages=any(from_packages)))
    notes = (*plan_notes(loaded), *ci.notes(loaded))
    packages: tuple[tuple[str, str, str], ...] = ()
    if packages_built:
        from mobyci.plan.packaging import CLI_REF_VAR, toolchain

        tools = toolchain(loaded)
        packaging = release.packaging
        packages = (
            ("docker-ce-packaging", packaging.branch, "the release line's branch (families/data.py)"),
            ("cli", tools.cli_ref, f"{tools.cli_from}; the CI variable {CLI_REF_VAR} overrides it"),
            ("Go", tools.go_version or "of the branch", tools.go_from),
            *((("Go image", tools.go_image, tools.go_image_from),) if tools.go_image else ()),
        )
    return Plan(
        output=output_file(entry.name, output, loaded.path, loaded.digest),
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
        artifacts_kept=retention(spec.ci.artifacts_expire_in),
        system=system,
        settings=ci.settings(spec),
        notes=notes,
        packages=packages,
        ca_lines=ca_lines,
        ca_variables=ca.ca_variables(spec),
        patch_script=patch_script,
        alpine_mirror=spec.mirrors.alpine,
        ca_files=ca.repo_files(spec, ca.spec_dir(loaded.path)),
        package_images=tuple(_package_images(loaded, jobs)),
        network=Network(
            mirrors=spec.mirrors,
            proxy=spec.proxy,
            ca_certs=tuple(spec.tls.ca_certs),
            targets=tuple(Target(t.name, tuple(t.distros or ())) for t in spec.targets),
            apt_env=tuple(apt_env(loaded)),
        ),
        builder=ci.builder(spec, family.build_style == "bake"),
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
        _read_ci_variable(value, ci_variables)
    if variables:
        no_proxy = ",".join(dict.fromkeys([*LOCAL_NO_PROXY, *proxy.no_proxy]))
        variables += [("NO_PROXY", no_proxy), ("no_proxy", no_proxy)]
    return variables, ci_variables


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
            _read_ci_variable(value, ci_variables)


def _read_ci_variable(value: str, ci_variables: list[str]) -> None:
    """Adds the CI variable `value` refers to (if it is a reference) to the ones the pipeline reads, once."""
    name = var_ref_name(value)
    if name is not None and name not in ci_variables:
        ci_variables.append(name)


def _prepare_job(loaded: LoadedSpec, build_args: tuple[str, ...], ca_lines: tuple[str, ...]) -> Job:
    spec, family = loaded.spec, loaded.release.family
    init, *clone = clone_lines(SOURCE_DIR, rewrite_url(spec.moby.repo, spec.mirrors.git), shlex.quote(spec.moby.ref))
    script = [
        *git_auth_lines(loaded),
        f"rm -rf {SOURCE_DIR} && {init}",  # a rerun on a shell runner finds the last run's checkout
        *clone,
        # Short, as moby's own Makefile stamps DOCKER_GITCOMMIT (`git rev-parse --short HEAD`).
        f"git -C {SOURCE_DIR} rev-parse --short HEAD > {GITCOMMIT_FILE}",
        f"sh {PATCH_SCRIPT} {SOURCE_DIR}",
    ]
    artifacts = [GITCOMMIT_FILE]
    dev_image: Literal["push", "pull"] | None = None
    if family.build_style == "make-run" and not all(is_package(t.name) for t in spec.targets):
        # The dev image holds the source and the toolchain; every target runs inside it. Package jobs build
        # from the source archive with docker-ce-packaging's own images and never use it.
        dev_image = "push"
        env = [
            f'export DOCKER_BUILD_ARGS="{build_args_flags(build_args)}'
            f' --cache-from ${_DEV_CACHE_VAR} --build-arg BUILDKIT_INLINE_CACHE=1"'
        ]
        cross = next((t for t in spec.targets if TARGETS[t.name].per_platform), None)
        if cross is not None:
            # Makes `make build` add the cross toolchains to the dev image.
            platforms = " ".join(cross.platforms or loaded.release.cross_platforms)
            env.append(f"export DOCKER_CROSSPLATFORMS={shlex.quote(platforms)}")
        script += [
            # One layer cache per architecture: runners of another architecture must not overwrite it.
            f'{_DEV_CACHE_VAR}="${DEV_IMAGE_VAR}:cache-$(uname -m)"',
            f'docker pull "${_DEV_CACHE_VAR}" || true',
            *env,
            *apt_env(loaded),
            f'make -C {SOURCE_DIR} DOCKER_IMAGE="{_DEV_TAGGED}" build',
            f'docker push "${DEV_IMAGE_VAR}:$MOBYCI_DEV_TAG"',
            f'docker tag "${DEV_IMAGE_VAR}:$MOBYCI_DEV_TAG" "${_DEV_CACHE_VAR}"',
            f'docker push "${_DEV_CACHE_VAR}"',
        ]
    if family.build_style != "make-run" or any(is_package(t.name) for t in spec.targets):
        # Package jobs need the patched source itself, whatever the family.
        script.append(f"tar -czf {SOURCE_ARCHIVE} {SOURCE_DIR}")
        artifacts.append(SOURCE_ARCHIVE)
    return Job(
        name="prepare",
        stage="prepare",
        title="Check out moby, apply the mirror patch" + (", build the dev image" if dev_image else ""),
        steps=(WritePatch(), *trust_ca(ca_lines), Run(tuple(script), (Fetched("git", loaded.spec.moby.repo),))),
        # As long as the build jobs' own: a build job retried days later still finds the source archive.
        artifacts=tuple(artifacts),
        docker=dev_image is not None,
        dev_image=dev_image,
        tools=MAKE_TOOLS if dev_image else (),
    )


def _target_job(
    loaded: LoadedSpec, target: TargetName, platforms: list[str] | None, build_args: tuple[str, ...], index: int
) -> Job:
    family = loaded.release.family
    bundle = TARGETS[target].bundle(loaded.release.bundles)
    out = f"{SOURCE_DIR}/{bundle}"
    matrix: tuple[tuple[str, tuple[str, ...]], ...] = ()
    per_platform = TARGETS[target].per_platform
    if per_platform:
        matrix = ((PLATFORM_VAR, tuple(platforms or loaded.release.cross_platforms)),)
        out = f"{out}/${PLATFORM_VAR}"
    version = ref_version_lines(loaded.spec.moby.ref)
    if family.build_style == "make-run":
        script = [*version, *_make_run_target(target, build_args)]
    else:
        script = [f"tar -xzf {SOURCE_ARCHIVE}", *apt_env(loaded), *version]
        if family.build_style == "buildkit":
            script.append(f'export DOCKER_BUILD_ARGS="{build_args_flags(build_args)}"')
            if per_platform:
                script.append(f'export DOCKER_CROSSPLATFORMS="${PLATFORM_VAR}"')
            script.append(f"make -C {SOURCE_DIR} {target}")
        else:
            script += [*registry_login_lines(loaded), *_bake_lines(loaded, target, build_args)]
    script.append(sums_line(out))
    return Job(
        name=target,
        stage="build",
        title=f"make {target}" + (" (one job per platform)" if matrix else ""),
        steps=(
            *((CreateBuilder(),) if family.build_style == "bake" else ()),
            FetchArtifacts(("prepare",)),
            Run(tuple(script)),
        ),
        needs=("prepare",),
        artifacts=(f"{SOURCE_DIR}/{bundle}/",),
        matrix=matrix,
        matrix_key=("targets", index, "platforms") if matrix else (),
        dev_image="pull" if family.build_style == "make-run" else None,
        tools=MAKE_TOOLS,
    )


def cache_key(loaded: LoadedSpec, target: TargetName) -> str:
    """The per-job part of a cache ref or scope: one per family, target (and platform) and runner architecture,
    so that parallel jobs never overwrite each other's cache. Shell text, evaluated in the job."""
    platform = f'-$(printf %s "${PLATFORM_VAR}" | tr / -)' if TARGETS[target].per_platform else ""
    return f"{loaded.release.family.name}-{target}{platform}-$(uname -m)"


def _bake_lines(loaded: LoadedSpec, target: TargetName, build_args: tuple[str, ...]) -> list[str]:
    """`make <target>` with BAKE_CMD given on make's command line, so the Makefile still computes and exports
    DOCKER_GITCOMMIT and creates bundles/ as for a plain `make`, while bake gets the proxies, the cache and,
    for cross, one platform.

    `--set '*.args.NAME'` without a value makes bake read NAME from its environment (as `--build-arg NAME`
    does for docker build): proxy values never appear on a command line or in a file.
    """
    words = ["docker buildx bake", *(f"--set '*.args.{name}'" for name in build_args)]
    lines = []
    if TARGETS[target].per_platform:
        # One platform per job: bake's own binary-cross would build all of them in one job.
        words.append(f"--set '*.platform=${PLATFORM_VAR}'")
        bundle = TARGETS[target].bundle(loaded.release.bundles)
        lines.append(f'DESTDIR="{bundle}/${PLATFORM_VAR}" && export DESTDIR')
    lines.append(f'mobyci_bake="{" ".join(words)}"')
    key = cache_key(loaded, target)
    shared = TARGETS[target].shares_cache_of
    imports = [key] if shared is None else [key, cache_key(loaded, shared)]
    cache = [f"--set '*.cache-from=${{{CACHE_VAR}}}{k}'" for k in imports]
    cache.append(f"--set '*.cache-to=${{{CACHE_VAR}}}{key},mode=max,ignore-error=true'")
    lines.append(f'if [ -n "${{{CACHE_VAR}:-}}" ]; then mobyci_bake="$mobyci_bake {" ".join(cache)}"; fi')
    lines.append(f'make -C {SOURCE_DIR} BAKE_CMD="$mobyci_bake" {target}')
    return lines


def _make_run_target(target: TargetName, build_args: tuple[str, ...]) -> list[str]:
    # Inside docker-in-docker the Makefile cannot bind-mount bundles/ (DOCKER_HOST is remote), so run
    # hack/make.sh in the dev image as `make binary` would, and stream the bundle out.
    envs = " ".join(f"-e {name}" for name in (*build_args, "DOCKER_GITCOMMIT", "VERSION"))
    cross = f' -e DOCKER_CROSSPLATFORMS="${PLATFORM_VAR}"' if TARGETS[target].per_platform else ""
    inside = shlex.quote(f"hack/make.sh {target} >&2 && tar -C bundles -cf - .")
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


def _checksums_job(targets: list[str], *, bundles: bool, packages: bool) -> Job:
    # Only directories some job fills: `find` fails on a missing one.
    dirs = [*([f"{SOURCE_DIR}/bundles"] if bundles else []), *([PACKAGES_DIR] if packages else [])]
    roots = " ".join(dirs)
    return Job(
        name="checksums",
        stage="publish",
        title="Verify every bundle against its SHA256SUMS and list them all",
        steps=(
            FetchArtifacts(tuple(targets)),
            Run(
                (
                    f"find {roots} -name SHA256SUMS | LC_ALL=C sort > mobyci-sums.list",
                    'test -s mobyci-sums.list || { echo "no SHA256SUMS from the build jobs" >&2; exit 1; }',
                    'while IFS= read -r sums; do (cd "$(dirname "$sums")" && sha256sum -c SHA256SUMS); done '
                    "< mobyci-sums.list",
                    'while IFS= read -r sums; do d=$(dirname "$sums"); sed "s|  |  ${d#moby/}/|" "$sums"; done '
                    "< mobyci-sums.list > SHA256SUMS",
                    "cat SHA256SUMS",
                )
            ),
        ),
        needs=tuple(targets),
        # The bundles and packages are the build jobs' own artifacts already: only the combined list is new.
        artifacts=("SHA256SUMS",),
        docker=False,
    )
