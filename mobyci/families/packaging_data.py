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
