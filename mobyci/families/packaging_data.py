"""docker/docker-ce-packaging, branch by branch: what a package job must provide (see docs/packaging.md).

Read from the branches 19.03, 20.10, 23.0, 24.0, 27.x, 28.x, 29.4 and master (Makefile, common.mk,
rpm/Makefile, deb/Makefile, rpm/*/Dockerfile). Which branch a release uses is in data.py (`Packaging`).
"""

from __future__ import annotations

from typing import NamedTuple

PACKAGING_REPO = "https://github.com/docker/docker-ce-packaging.git"
CLI_REPO = "https://github.com/docker/cli.git"


class Component(NamedTuple):
    """A source the branch packages next to the engine and the CLI, cloned by its own `make checkout-<x>`.

    The branch pins the ref (DOCKER_BUILDX_REF … in common.mk); only the repository URL is overridden, so
    the clone goes through the git mirror.
    """

    checkout: str  # top-level make target
    repo_var: str  # make variable holding the repository URL
    repo: str  # the branch's default for repo_var


_BUILDX = Component("checkout-buildx", "DOCKER_BUILDX_REPO", "https://github.com/docker/buildx.git")
_COMPOSE = Component("checkout-compose", "DOCKER_COMPOSE_REPO", "https://github.com/docker/compose.git")
_MODEL_CLI = Component("checkout-model", "DOCKER_MODEL_REPO", "https://github.com/docker/model-cli.git")
# master moved the model plugin to docker/model-runner (still checked out into src/…/model-cli).
_MODEL_RUNNER = Component("checkout-model", "DOCKER_MODEL_REPO", "https://github.com/docker/model-runner.git")

# Branches before 27.x package only the engine and the CLI.
EXTRA_SOURCES: dict[str, tuple[Component, ...]] = {
    "27.x": (_BUILDX, _COMPOSE),
    "28.x": (_BUILDX, _COMPOSE, _MODEL_CLI),
    "29.4": (_BUILDX, _COMPOSE, _MODEL_CLI),
    "master": (_BUILDX, _COMPOSE, _MODEL_RUNNER),
}

# The make variable that runs the package build container, where a branch's Makefile has no RUN_FLAGS in it.
# 19.03's rpm/Makefile runs `$(RPMBUILD) image flags` with RPMBUILD a plain `=` variable: it is given again on
# the command line, with the same options plus $(RUN_FLAGS) (make expands $(CURDIR) and $(RUN_FLAGS) there).
RUN_FLAGS_HOOK: dict[tuple[str, str], str] = {
    ("19.03", "rpm"): "RPMBUILD=docker run --privileged --rm -i -e PLATFORM"
    " -v $(CURDIR)/rpmbuild/SOURCES:/root/rpmbuild/SOURCES"
    " -v $(CURDIR)/rpmbuild/RPMS:/root/rpmbuild/RPMS"
    " -v $(CURDIR)/rpmbuild/SRPMS:/root/rpmbuild/SRPMS"
    " $(RUN_FLAGS)",
}

# Distros whose build image can no longer install its build dependencies: the packaging Dockerfiles point
# yum/dnf/apt at the distro's own repositories, and docker-ce-packaging has no knob to point them elsewhere.
_EOL: dict[str, str] = {
    "centos-7": "CentOS Linux 7 reached end of life on 2024-06-30 and mirrorlist.centos.org is shut down: the "
    "package image's `yum install` fails (the packages survive only on vault.centos.org, which the "
    "docker-ce-packaging Dockerfile cannot be pointed at)",
    "centos-8": "CentOS Stream 8 reached end of life on 2024-05-31 and its repositories moved to vault.centos.org: "
    "the package image's `dnf install` fails (docker-ce-packaging has no knob to point it at the vault)",
    "rhel-7": "rhel-7 builds from dockereng/rhel:7-s390x, an s390x-only image, and RHEL 7 left maintenance on "
    "2024-06-30",
    "debian-stretch": "Debian 9 stretch moved to archive.debian.org: the package image's `apt-get update` against "
    "deb.debian.org fails",
    "raspbian-stretch": "Raspbian 9 stretch is archived: the package image's `apt-get update` fails",
    "ubuntu-kinetic": "Ubuntu 22.10 kinetic is end-of-life and moved to old-releases.ubuntu.com: the package image's "
    "`apt-get update` fails",
    "ubuntu-lunar": "Ubuntu 23.04 lunar is end-of-life and moved to old-releases.ubuntu.com: the package image's "
    "`apt-get update` fails",
    "ubuntu-mantic": "Ubuntu 23.10 mantic is end-of-life and moved to old-releases.ubuntu.com: the package image's "
    "`apt-get update` fails",
    "ubuntu-oracular": "Ubuntu 24.10 oracular is end-of-life and moved to old-releases.ubuntu.com: the package "
    "image's `apt-get update` fails",
}


def eol_problem(distro: str) -> str | None:
    """Why packages for `distro` cannot be built any more, or None when they can."""
    reason = _EOL.get(distro)
    if reason is None:
        return None
    return f"'{distro}' cannot be built: {reason}; choose a supported release of the distribution"
