"""rpm/deb package jobs through docker/docker-ce-packaging.

The `packaging-sources` job fetches everything the distro jobs share once, next to `prepare`: the packaging branch
(its Dockerfiles patched for the distro mirrors), the CLI at the matching ref and the plugins, as one archive. Each
distro job then puts the patched engine tree from moby-src.tar.gz where the branch expects it (the docker-ce
monorepo's engine/ and cli/ next to the packaging checkout on 19.03, src/github.com/docker/{docker,cli} from
20.10) and only builds, through `make -C rpm|deb <distro>`. The top-level `make rpm` / `make centos-9` is never
used: it runs scripts/checkout.sh, which fetches the engine again from origin and would replace the patched tree.

The CLI ref and the Go version come from the release facts table (families/releases.py): docker/cli has no
tag for some engine releases (v23.0.16-18, v25.0.8-17), and the Go must be the highest of the engine's (v25.0.17:
1.26.5, above 27.x's 1.22.12), the branch's own GO_VERSION and what every plugin the branch pins needs (v26.1.5's
1.21.12 is below compose v2.32.4's go 1.22.10; docs/packaging.md). Every branch's rpm/Makefile and deb/Makefile
include ../common.mk, whose `GO_VERSION:=…` names the golang image
(`GO_IMAGE?=$(GO_BASE_IMAGE):$(GO_VERSION)-<debian>`), from which the package Dockerfiles copy /usr/local/go;
GO_VERSION and GO_IMAGE on make's command line override both.

Proxies reach the package image builds as predefined build args (BUILD_IMAGE_FLAG, which every branch's BUILD
expands) and the package build containers through RUN_FLAGS (`-e NAME`, value from the environment), with the
Go proxy mirror as `-e GOPROXY=…` overriding the Dockerfiles' hard-coded `ENV GOPROXY`.
"""

from __future__ import annotations

import re
import shlex
from typing import NamedTuple

from mobyci.families import distros
from mobyci.families.facts import ComponentFacts
from mobyci.families.packaging_data import (
    ARM,
    CLI_REPO,
    EXTRA_SOURCES,
    FRONTEND_BRANCHES,
    PACKAGE_FRONTEND,
    PACKAGING_REPO,
    RUN_FLAGS_HOOK,
    TAR_IMAGE,
    build_image,
    needs_arm,
)
from mobyci.families.pins import go_key
from mobyci.families.targets import TARGETS, TargetName, is_package
from mobyci.families.versions import tag_version
from mobyci.load.reader import LoadedSpec
from mobyci.patch.packaging import InstallerRepo, render_packaging_patch
from mobyci.plan.distromirrors import PATCH_FILE, distro_mirrors, dockerfile_blocks
from mobyci.plan.mirrors import rewrite_url
from mobyci.plan.model import (
    MAKE_TOOLS,
    PACKAGES_DIR,
    SOURCE_ARCHIVE,
    SOURCE_DIR,
    FetchArtifacts,
    Fetched,
    Job,
    Run,
    retention,
    trust_ca,
)
from mobyci.plan.shell import clone_lines, git_auth_lines, sums_line, write_heredoc

__all__ = ["WORK_DIR", "Toolchain", "cli_ref", "packaging_jobs", "run_flags", "toolchain"]

WORK_DIR = "mobyci-pkg"  # the packaging checkout and, for 19.03, engine/ and cli/ next to it
SOURCES_JOB = "packaging-sources"
SOURCES_ARCHIVE = "mobyci-pkg.tar.gz"  # WORK_DIR as the sources job leaves it
CLI_REF_VAR = "MOBYCI_CLI_REF"  # a CI variable that overrides the CLI ref chosen here
# moby's release branches (20.10, 25.0, 27.x, 28.x; from 29 docker-29.x) and docker/cli's of the same line (29.x).
_RELEASE_BRANCH = re.compile(r"^(?:docker-)?\d+\.(\d+|x)$")


def packaging_jobs(loaded: LoadedSpec, build_args: tuple[str, ...], ca_lines: tuple[str, ...]) -> list[Job]:
    """The sources job, then one job per distro of every rpm and deb target, named `<kind>-<distro>`."""
    packaging = loaded.release.packaging
    targets = [t for t in loaded.spec.targets if is_package(t.name)]
    if not targets:
        return []
    jobs = [_sources_job(loaded, [(t.name, d) for t in targets for d in t.distros or ()], ca_lines)]
    for target in targets:
        jobs += [
            Job(
                name=f"{target.name}-{distro}",
                stage="build",
                title=f"{target.name} packages for {distro} (docker-ce-packaging {packaging.branch})",
                steps=(
                    FetchArtifacts(("prepare", SOURCES_JOB)),
                    Run(
                        tuple(_script(loaded, target.name, distro, build_args)),
                        _package_fetches(loaded, target.name, distro),
                    ),
                ),
                needs=("prepare", SOURCES_JOB),
                artifacts=(f"{PACKAGES_DIR}/{distro}/",),
                arch=ARM if needs_arm(distro) else None,
                tools=MAKE_TOOLS,
            )
            for distro in target.distros or ()
        ]
    return jobs


def _package_fetches(loaded: LoadedSpec, kind: str, distro: str) -> tuple[Fetched, ...]:
    """What a package job pulls and where its image's package manager goes (packaging_data.py has the sources)."""
    branch = loaded.release.packaging.branch
    dockerfile = f"docker-ce-packaging {branch} {kind}/{distro}/Dockerfile"
    images = [Fetched("image", build_image(distro, branch), "build", f"{dockerfile} ARG BUILD_IMAGE")]
    if branch in FRONTEND_BRANCHES:
        images.insert(0, Fetched("image", PACKAGE_FRONTEND, "build", f"{dockerfile}:1 # syntax="))
    go_image = toolchain(loaded).go_image
    if go_image is not None:
        images.append(Fetched("image", go_image, "build", f"GO_IMAGE ({toolchain(loaded).go_image_from})"))
    images.append(Fetched("image", TAR_IMAGE, "run", f"docker-ce-packaging {branch} {kind}/Makefile sources/*.tgz"))
    found = distros.distro(distro)
    assert found is not None, distro  # validated: a distro of the branch
    archives = [Fetched(found.vendor.manager, host, distro) for host in found.archive.hosts]
    # 19.03 and 20.10: plugins/*.installer clone inside the package container (pointed at mirrors.git by the patch).
    clones = [
        Fetched("git", c.repo, "", f"docker-ce-packaging {branch} {c.pinned_at} (in the package container)")
        for c in _installer_components(loaded)
    ]
    return (*images, *archives, *clones)


class Toolchain(NamedTuple):
    """What package jobs build the engine with, and where each value came from (for `mobyci plan`)."""

    cli_ref: str
    cli_from: str
    go_version: str | None  # None: the packaging branch's own GO_VERSION
    go_from: str
    # The golang image of that Go: the engine's own build image when the engine's Go wins (it existed when the
    # release was made, unlike golang:<go>-<the branch's Debian>: no golang:1.19.5-bookworm for v23.0.0), else the
    # branch's own GO_IMAGE variant.
    go_image: str | None = None
    go_image_from: str = ""
    # Every Go the job must reach: (what, Go, where it is read), the engine's first.
    go_needs: tuple[tuple[str, str, str], ...] = ()


def toolchain(loaded: LoadedSpec) -> Toolchain:
    release, ref = loaded.release, loaded.spec.moby.ref
    facts = release.facts
    from mobyci.families.facts import table

    made = table().made
    branch = table().packaging.get(release.packaging.branch)
    # The package image builds the engine, the CLI and every plugin the branch pins with the one Go of GO_IMAGE,
    # and from 24.0 its Dockerfiles set GOTOOLCHAIN=local: Go refuses a module whose go line is newer than itself
    # (families/pins.py). So the job's Go is the highest of the engine's, the branch's own GO_VERSION (what the
    # branch is tested with) and every component's need.
    needs: list[tuple[str, str, str]] = []
    if facts is not None:
        needs.append((f"moby {facts.tag}", facts.go_version, f"Dockerfile:{facts.go_line} ARG GO_VERSION"))
    if branch is not None:
        needs.append(
            (f"docker-ce-packaging {branch.branch}", branch.go_version, f"common.mk:{branch.go_line} GO_VERSION")
        )
        needs += [(f"{c.name} {c.ref} ({c.pinned_at})", c.go, c.go_from) for c in branch.components if c.go is not None]
    winner = max(needs, key=lambda n: go_key(n[1])) if needs else None
    summary = "; ".join(f"{what}: {go} ({where})" for what, go, where in needs)
    if facts is not None:
        if facts.cli_ref_how == "same tag":
            cli_from = f"docker/cli tag of the same release (facts table of {made})"
        else:
            cli_from = (
                f"docker/cli has no v{facts.version} tag; {facts.cli_ref} is its newest "
                f"{facts.version.major}.{facts.version.minor} tag at or below (facts table of {made})"
            )
        cli = facts.cli_ref
    else:
        cli, cli_from = cli_ref(loaded), _cli_rule(ref)
    if winner is None or (facts is None and branch is not None and winner[0].startswith("docker-ce-packaging")):
        # A ref the facts table does not know, on a branch whose own Go builds everything it pins.
        where = release.packaging.branch
        go_from = f"docker-ce-packaging {where}: its common.mk GO_VERSION (the ref is not in the facts table)"
        # Not passed to make (the branch's own default), but pulled all the same.
        image = f"golang:{branch.go_version}-{branch.go_image_debian}" if branch is not None else None
        image_from = f"docker-ce-packaging {where}'s own default ({branch.go_image_at})" if branch is not None else ""
        return Toolchain(cli, cli_from, None, go_from, image, image_from, tuple(needs))
    what, go, where = winner
    go_from = f"the highest Go the package build needs, {what}: {where} (facts table of {made}); needs: {summary}"
    if facts is not None and winner is needs[0]:
        image, image_from = f"golang:{go}-{facts.debian}", "the engine's own build image, for /usr/local/go"
    else:
        assert branch is not None
        image = f"golang:{go}-{branch.go_image_debian}"
        image_from = (
            f"golang image of that Go, in the {branch.go_image_debian} variant of docker-ce-packaging "
            f"{branch.branch}'s own GO_IMAGE ({branch.go_image_at}), for /usr/local/go"
        )
    return Toolchain(cli, cli_from, go, go_from, image, image_from, tuple(needs))


def _cli_rule(ref: str) -> str:
    if tag_version(ref) is not None:
        return "docker/cli tag named like the engine's (the release is not in the facts table)"
    if _RELEASE_BRANCH.match(ref):
        return "docker/cli branch of the same release line (moby's docker-29.x is its 29.x)"
    return "docker/cli branch of the packaging line"


def _platform_flag(branch: str) -> bool:
    """Whether the packaging branch's Makefiles build and run with --platform linux/$(ARCH): from 27.x (27.x
    deb/Makefile:25,37; 24.0 and older have none)."""
    return branch == "master" or int(branch.split(".", maxsplit=1)[0]) >= 27


def cli_ref(loaded: LoadedSpec) -> str:
    """The docker/cli ref that goes with the engine ref.

    A release tag in the facts table takes the CLI tag the table names (the same tag, or the newest CLI tag of
    the line at or below: v25.0.17 → v25.0.7). Another release tag maps to the CLI's tag of the same version
    (from 29.0 the engine's docker-v29.7.2 → v29.7.2). A release branch name (27.x, 20.10) is the same name in
    docker/cli, without moby's `docker-` of 29 (docker-29.x → 29.x). Anything else (a fork's branch, a commit)
    takes the CLI's branch of the packaging line: set MOBYCI_CLI_REF to choose.
    """
    ref = loaded.spec.moby.ref
    if loaded.release.facts is not None:
        return loaded.release.facts.cli_ref
    if tag_version(ref) is not None:
        return "v" + ref.removeprefix("docker-").removeprefix("v")
    if _RELEASE_BRANCH.match(ref):
        return ref.removeprefix("docker-")  # moby's docker-29.x is docker/cli's 29.x
    branch = loaded.release.packaging.branch
    if branch == "master":
        return "master"
    # 29.4 packages the 29 line, whose CLI branch is 29.x.
    return f"{branch.split('.')[0]}.x" if int(branch.split(".")[0]) >= 27 else branch


def run_flags(loaded: LoadedSpec, build_args: tuple[str, ...]) -> list[str]:
    """`docker run` options for the package build container, as words for the recipe's shell."""
    words = [f"-e {name}" for name in build_args]
    mirrors = loaded.spec.mirrors
    # Values are quoted for the recipe shell that make hands the line to (a GOPROXY list may contain `|`).
    if mirrors.goproxy is not None:
        words.append("-e " + shlex.quote(f"GOPROXY={mirrors.goproxy}"))
    if mirrors.gosumdb is not None:
        words.append("-e " + shlex.quote(f"GOSUMDB={mirrors.gosumdb}"))
    return words


def _make_arg(name: str, value: str) -> str:
    """NAME=value as one make command-line argument: `$` doubled for make, then quoted for the job shell."""
    return shlex.quote(f"{name}={value.replace('$', '$$')}")


def _layout(loaded: LoadedSpec) -> tuple[str, str, str]:
    """The packaging checkout, and where the engine and the CLI go for its branch."""
    root = f"{WORK_DIR}/packaging"
    if loaded.release.packaging.monorepo:
        # 19.03: rpm/ and deb/ take ENGINE_DIR and CLI_DIR from ../../engine and ../../cli.
        return root, f"{WORK_DIR}/engine", f"{WORK_DIR}/cli"
    return root, f"{root}/src/github.com/docker/docker", f"{root}/src/github.com/docker/cli"


def _sources_job(loaded: LoadedSpec, targets: list[tuple[str, str]], ca_lines: tuple[str, ...]) -> Job:
    """Every source the distro jobs share, fetched once: the packaging branch (its Dockerfiles pointed at the distro
    mirrors), the CLI at its ref and, from 27.x, the plugins at the refs the branch pins. Independent of prepare,
    so the needs chain stays prepare|sources -> distro job -> checksums."""
    spec, packaging = loaded.spec, loaded.release.packaging
    git_mirrors = spec.mirrors.git
    root, _, cli = _layout(loaded)
    default_ref = cli_ref(loaded)
    if shlex.quote(default_ref) != default_ref:
        raise ValueError(f"unexpected characters in the CLI ref {default_ref!r}")
    script = [
        *git_auth_lines(loaded),
        f"rm -rf {WORK_DIR} {SOURCES_ARCHIVE}",
        *clone_lines(root, rewrite_url(PACKAGING_REPO, git_mirrors), shlex.quote(packaging.branch)),
        f'cli_ref="${{{CLI_REF_VAR}:-{default_ref}}}"',
        *clone_lines(cli, rewrite_url(CLI_REPO, git_mirrors), '"$cli_ref"'),
    ]
    extras = EXTRA_SOURCES.get(packaging.branch, ())
    if extras:
        # The branch's own checkout targets, at the refs it pins, from the mirrored URLs; none of them
        # touches src/github.com/docker/docker.
        overrides = " ".join(_make_arg(c.repo_var, rewrite_url(c.repo, git_mirrors)) for c in extras)
        script.append(f"make -C {root} {overrides} {' '.join(c.checkout for c in extras)}")
    mirrored_blocks = distro_mirrors(spec.mirrors, targets, ca=bool(spec.tls.ca_certs))
    # With tls.ca_certs, the CA goes into every package image through the same patch: copied from the file
    # ca_lines assembled above into each build context (deb/, rpm/), which the archive carries to the distro
    # jobs as the prepare job's archive carries moby's .mobyci/ca.crt.
    contexts = tuple(dict.fromkeys(kind for kind, _ in targets)) if spec.tls.ca_certs else ()
    blocks = dockerfile_blocks(spec.mirrors, targets, ca=bool(contexts)) if contexts else mirrored_blocks
    installers = installer_repos(loaded)
    if blocks or installers:
        patch = render_packaging_patch(blocks, packaging.branch, contexts, installers)
        script += [write_heredoc(PATCH_FILE, patch, "MOBYCI_PKG_PATCH_EOF"), f"sh {PATCH_FILE} {root}"]
    script.append(f"tar -czf {SOURCES_ARCHIVE} {WORK_DIR}")
    settings = dict.fromkeys(b.setting for b in mirrored_blocks)
    mirrored = f", package images pointed at {', '.join(settings)}" if settings else ""
    if installers:
        mirrored += f", plugin installers at {installers[0].setting}"
    if contexts:
        mirrored += ", the CA trusted in them" if settings else ", the CA trusted in the package images"
    return Job(
        name=SOURCES_JOB,
        stage="prepare",
        title=f"Fetch docker-ce-packaging {packaging.branch}, the CLI"
        + (" and the plugins" if extras else "")
        + f" once for every package job{mirrored}",
        steps=(
            # Its clones go through the git mirror like prepare's: behind TLS inspection, git trusts the CA the
            # same way.
            *trust_ca(ca_lines),
            Run(
                tuple(script),
                tuple(Fetched("git", repo) for repo in (PACKAGING_REPO, CLI_REPO, *(c.repo for c in extras))),
            ),
        ),
        artifacts=(SOURCES_ARCHIVE,),
        artifacts_kept=retention("1 day"),
        docker=bool(extras),  # make, for the branch's checkout targets, comes with the docker job image
        tools=("make",) if extras else (),
    )


def _installer_components(loaded: LoadedSpec) -> list[ComponentFacts]:
    """The components the branch builds with plugins/*.installer (19.03, 20.10), from the facts table."""
    from mobyci.families.facts import table

    branch = table().packaging.get(loaded.release.packaging.branch)
    return [c for c in branch.components if c.pinned_at.startswith("plugins/")] if branch is not None else []


def installer_repos(loaded: LoadedSpec) -> list[InstallerRepo]:
    """The plugins/*.installer (19.03, 20.10) whose clone the git mirror serves: the package build runs them inside
    the package container (deb/common/rules, rpm SPECS), which clones REPO from github.com."""
    found = []
    for component in _installer_components(loaded):
        mirrored = rewrite_url(component.repo, loaded.spec.mirrors.git)
        if mirrored != component.repo:
            found.append(InstallerRepo(component.pinned_at.rsplit(":", 1)[0], mirrored))
    return found


def _script(loaded: LoadedSpec, kind: TargetName, distro: str, build_args: tuple[str, ...]) -> list[str]:
    packaging = loaded.release.packaging
    root, engine, _ = _layout(loaded)
    out = f"{PACKAGES_DIR}/{distro}"
    script = [
        *(
            f'test -f {archive} || {{ echo "{archive} missing: the {job} job must archive {what} for package jobs" '
            ">&2; exit 1; }"
            for archive, job, what in (
                (SOURCE_ARCHIVE, "prepare", "the patched tree"),
                (SOURCES_ARCHIVE, SOURCES_JOB, "the packaging sources"),
            )
        ),
        f"rm -rf {SOURCE_DIR} {WORK_DIR} {out}",
        f"tar -xzf {SOURCE_ARCHIVE}",
        f"tar -xzf {SOURCES_ARCHIVE}",
        f"mkdir -p {engine.rsplit('/', 1)[0]}",
        # The patched tree itself, with its .git: the Makefiles read the engine commit from it.
        f"mv {SOURCE_DIR} {engine}",
    ]
    make = [f"make -C {root}/{kind}"]
    tools = toolchain(loaded)
    if tools.go_version is not None and tools.go_image is not None:
        # The highest Go of the engine and of what the branch builds (toolchain()). The package Dockerfiles only
        # copy /usr/local/go out of GO_IMAGE, so one golang image serves every distro.
        make += [_make_arg("GO_VERSION", tools.go_version), _make_arg("GO_IMAGE", tools.go_image)]
    if needs_arm(distro):
        # The image exists only for 32-bit arm; from 27.x the Makefiles build and run with --platform
        # linux/$(ARCH), ARCH being `uname -m`, which an arm64 runner reports as aarch64.
        make.append(f"ARCH={ARM}")
        if not _platform_flag(packaging.branch):
            # Older Makefiles pass no --platform (24.0 deb/Makefile:21,36): on an arm64 runner docker would take
            # the arm64 variant of GO_IMAGE into the 32-bit image. The docker CLI reads DOCKER_DEFAULT_PLATFORM,
            # and make exports a command-line variable to its recipes (GNU make manual, "Communicating
            # Variables to a Sub-make"): the platform 27.x's Makefiles name themselves.
            make.append(f"DOCKER_DEFAULT_PLATFORM=linux/{ARM}")
    if build_args:
        # Every branch's BUILD expands $(BUILD_IMAGE_FLAG) (set only when BUILD_IMAGE is): the predefined
        # proxy args, read by the docker CLI from the environment, reach yum/dnf/apt in the image build.
        make.append(_make_arg("BUILD_IMAGE_FLAG", " ".join(f"--build-arg {name}" for name in build_args)))
    flags = run_flags(loaded, build_args)
    if flags:
        make.append(_make_arg("RUN_FLAGS", " ".join(flags)))
        hook = RUN_FLAGS_HOOK.get((packaging.branch, kind))
        if hook is not None:
            # `$(CURDIR)` and `$(RUN_FLAGS)` are make's to expand: single-quoted on purpose.
            script.append("# shellcheck disable=SC2016")
            make.append(shlex.quote(hook))
    make.append(distro)
    output = TARGETS[kind].output
    assert output is not None, kind  # a package target
    directory, pattern = output
    script += [
        " ".join(make),
        f"mkdir -p {out}",
        f"find {root}/{kind}/{directory} -name '{pattern}' -exec cp {{}} {out}/ ';'",
        f'ls {out}/{pattern} >/dev/null 2>&1 || {{ echo "no {pattern} built for {distro}" >&2; exit 1; }}',
        sums_line(out),
    ]
    return script
