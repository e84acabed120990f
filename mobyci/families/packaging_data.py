"""docker/docker-ce-packaging, branch by branch: what a package job must provide (see docs/packaging.md).

Read from the branches 19.03, 20.10, 23.0, 24.0, 27.x, 28.x, 29.4 and master (Makefile, common.mk,
rpm/Makefile, deb/Makefile, rpm/*/Dockerfile). Which branch a release uses is in data.py (`Packaging`).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from mobyci.families import ARCHIVED_DEBIAN, distros
from mobyci.families.distros import RASPBIAN_HOSTS, Distro, DistroArchive

__all__ = ["RASPBIAN_HOSTS", "DistroArchive"]

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


# --- the package images' own package managers -------------------------------------------------------------------
#
# Every deb/<distro>/Dockerfile and rpm/<distro>/Dockerfile of the branches builds its image `FROM ${BUILD_IMAGE}`
# (the distro image; rhel-* name that stage `subscribed-image`) and then runs apt-get or dnf/yum against the
# distro's own archives. Which spec key points them at a mirror, and which hosts they reach without one, is in
# distros.py (one row per vendor).


def _distro(distro_id: str) -> Distro:
    found = distros.distro(distro_id)
    if found is None:
        raise ValueError(f"{distro_id}: not a distro of docker-ce-packaging (families/distros.py)")
    return found


def distro_archive(distro_id: str) -> DistroArchive:
    return _distro(distro_id).archive


def build_image(distro_id: str, branch: str) -> str:
    """The image a package Dockerfile of `branch` builds FROM (distros.Distro.image)."""
    return _distro(distro_id).image(branch)


# The package Makefiles make each source tarball in `docker run … alpine tar …` (28.x `deb/Makefile:97-102`
# sources/engine.tgz, `rpm/Makefile:112`; 20.10 `deb/Makefile:83`; 19.03 `deb/Makefile:78`), on every branch.
TAR_IMAGE = "alpine"
# Branches whose package Dockerfiles start with `# syntax=docker/dockerfile:1` (every one from 23.0 on, e.g. 28.x
# `rpm/centos-9/Dockerfile:1`; none on 19.03 and 20.10): BuildKit pulls that frontend first.
PACKAGE_FRONTEND = "docker/dockerfile:1"
FRONTEND_BRANCHES = ("23.0", "24.0", "27.x", "28.x", "29.4", "master")


Arch = Literal["amd64", "arm64", "arm"]  # runner architectures, the keys of ci.<system>.runners
ARM: Arch = "arm"  # what raspbian package images need


def needs_arm(distro_id: str) -> bool:
    """Whether the distro's package image exists only for 32-bit arm (balenalib/rpi-raspbian)."""
    found = distros.distro(distro_id)
    return found is not None and found.vendor.arm_only


def serving_mirror(mirrors: Any, distro_id: str) -> str | None:
    """The URL of the mirror of `mirrors` (spec.mirrors) that `distro_id`'s package image reaches instead of its
    archive, or None when none serves it."""
    found = _distro(distro_id)
    if found.vendor.debian_archive:
        # 'archive' (archive.debian.org) serves archived releases only; a mirror host, the live ones.
        from mobyci.specmodel.apt import apt_sources_for

        sources = apt_sources_for(mirrors, archived=found.release in ARCHIVED_DEBIAN)
        return sources.debian if sources is not None else None
    return setting_value(mirrors, found.archive.setting)


def setting_value(mirrors: Any, setting: str | None) -> str | None:
    """The value of a `mirrors.…` key (spec.mirrors), None where it or a key above it is unset."""
    if setting is None:
        return None
    value: Any = mirrors
    for part in setting.split(".")[1:]:
        value = getattr(value, part) if value is not None else None
    return value if isinstance(value, str) else None


# Debian, Ubuntu and Raspbian package images have no CA bundle before their Dockerfile's own first
# `RUN apt-get update && apt-get install -y curl devscripts equivs …` (every branch: 28.x
# deb/ubuntu-noble/Dockerfile:20, deb/debian-bookworm/Dockerfile:14; 19.03 deb/debian-stretch/Dockerfile:11), and
# stretch's and xenial's apt has no https method at all without apt-transport-https. So without tls.ca_certs their
# apt reaches an https mirror in its http form: apt verifies the signed Release files (InRelease) against the
# image's own archive keyring, not the transport.
PACKAGE_HTTPS_CITE = "docker-ce-packaging 28.x deb/ubuntu-noble/Dockerfile:20"


def http_form(url: str) -> str | None:
    """http://… for an https://… URL without an explicit port (a port is the https one); None otherwise."""
    if not url.startswith("https://"):
        return None
    from urllib.parse import urlsplit

    return None if urlsplit(url).port is not None else "http://" + url.removeprefix("https://")


def plain_http_apt(distro_id: str, *, ca: bool) -> bool:
    """Whether `distro_id`'s package image reaches an https mirror over http: a deb image (distros.Vendor
    no_ca_before_apt), and no tls.ca_certs bundle."""
    found = distros.distro(distro_id)
    return not ca and found is not None and found.vendor.no_ca_before_apt


def package_image_mirror(mirrors: Any, distro: str, *, ca: bool) -> str | None:
    """The mirror URL `distro`'s package image really uses (serving_mirror, in its http form where plain_http_apt)."""
    url = serving_mirror(mirrors, distro)
    if url is None or not plain_http_apt(distro, ca=ca):
        return url
    return http_form(url) or url


def serving_setting(mirrors: Any, distro: str) -> str | None:
    """The spec key of `mirrors` (spec.mirrors) that points `distro`'s package image at a mirror, or None."""
    return distro_archive(distro).setting if serving_mirror(mirrors, distro) is not None else None


def mirrors_in_use(mirrors: Any) -> bool:
    """Whether the spec points anything at a mirror: the sign of a build behind a firewall."""
    return any(value not in (None, {}, True, False) for value in mirrors.as_dict().values())
