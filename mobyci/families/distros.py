"""The distros docker-ce-packaging builds packages for, as typed facts: one `Vendor` row per distribution, and every
distro of every packaging branch read from the generated facts table (releases.py, `python -m mobyci.facts`).

A distro's id is docker-ce-packaging's directory name under deb/ or rpm/ (`debian-bookworm`, `centos-9`): the
vendor, a dash, the release (Debian, Ubuntu and Raspbian codenames, or a number). `distro()` is the one place that
splits it; code reads the vendor's and the distro's fields, never the name. A new release of a known vendor comes
with the generated table (plus a dated row in lifecycle.py); a new vendor is one `Vendor` row here.

Sources (docker/docker-ce-packaging, `git show BRANCH:path`): the `ARG BUILD_IMAGE` defaults are cited in
`Distro.image`; the package managers: 28.x `deb/debian-bookworm/Dockerfile` runs apt-get, `rpm/fedora-42/Dockerfile`
and `rpm/centos-9/Dockerfile` run dnf, `rpm/centos-7/Dockerfile` (20.10) yum (counted as dnf: the same repositories).
"""

from __future__ import annotations

import functools
from typing import Literal, NamedTuple

PackageFormat = Literal["deb", "rpm"]
PackageManager = Literal["apt", "dnf"]


class DistroArchive(NamedTuple):
    """Where a package image gets its packages, and the spec key that mirrors it (None: no key can)."""

    setting: str | None
    hosts: tuple[str, ...]  # reached without a mirror
    tls: bool = False  # whether the image's package manager reaches them over https (the metalinks, UBI's CDN)


class Vendor(NamedTuple):
    """A distribution: how every release of it is packaged, unless a `ReleaseOverride` says otherwise."""

    name: str  # the directory prefix: deb/<name>-<release> or rpm/<name>-<release>
    format: PackageFormat
    manager: PackageManager  # what its package image installs with (the client in `mobyci plan --fetches`)
    archive: DistroArchive
    image: str  # the package Dockerfile's BUILD_IMAGE, `{release}` standing for the release
    # The image exists only for 32-bit arm (balenalib/rpi-raspbian): its jobs run on an arm runner.
    arm_only: bool = False
    # The image has no CA bundle before its Dockerfile's first apt-get (packaging_data.plain_http_apt): without
    # tls.ca_certs it reaches an https mirror in its http form.
    no_ca_before_apt: bool = False
    # mirrors.apt serves it: Debian's own archive, with archived releases on archive.debian.org.
    debian_archive: bool = False
    # The spec key of a second archive its image reaches on other architectures (Ubuntu's ports).
    ports_setting: str | None = None


class ReleaseOverride(NamedTuple):
    """Where one release differs from its vendor's row."""

    archive: DistroArchive | None = None
    image: str | None = None
    image_on: tuple[tuple[str, str], ...] = ()  # (packaging branch, image) where a branch's default differs


# Raspbian's archive has three names; the balenalib images' sources use one of them.
RASPBIAN_HOSTS = ("archive.raspbian.org", "raspbian.raspberrypi.org", "mirrordirector.raspbian.org")
_CENTOS_LINUX = DistroArchive(None, ("mirrorlist.centos.org",))

VENDORS: tuple[Vendor, ...] = (
    Vendor(
        "debian",
        "deb",
        "apt",
        DistroArchive("mirrors.apt", ("deb.debian.org", "security.debian.org")),
        "debian:{release}",
        no_ca_before_apt=True,
        debian_archive=True,
    ),
    # balenalib images also carry the Raspberry Pi Foundation's own repository next to Raspbian's.
    Vendor(
        "raspbian",
        "deb",
        "apt",
        DistroArchive("mirrors.raspbian", (RASPBIAN_HOSTS[0], "archive.raspberrypi.org")),
        "balenalib/rpi-raspbian:{release}",
        arm_only=True,
        no_ca_before_apt=True,
    ),
    Vendor(
        "ubuntu",
        "deb",
        "apt",
        DistroArchive("mirrors.ubuntu.archive", ("archive.ubuntu.com", "security.ubuntu.com")),
        "ubuntu:{release}",
        no_ca_before_apt=True,
        ports_setting="mirrors.ubuntu.ports",
    ),
    # Fedora and CentOS Stream: a metalink service, which sends dnf on to mirrors it picks.
    Vendor(
        "centos",
        "rpm",
        "dnf",
        DistroArchive("mirrors.centos_stream", ("mirrors.centos.org",), tls=True),
        "quay.io/centos/centos:stream{release}",
    ),
    Vendor(
        "fedora",
        "rpm",
        "dnf",
        DistroArchive("mirrors.fedora", ("mirrors.fedoraproject.org",), tls=True),
        "fedora:{release}",
    ),
    # Red Hat's UBI repositories (registry.access.redhat.com/ubiN/ubi); no public mirror layout to point at.
    Vendor(
        "rhel",
        "rpm",
        "dnf",
        DistroArchive(None, ("cdn-ubi.redhat.com",), tls=True),
        "registry.access.redhat.com/ubi{release}/ubi",
    ),
)

# 20.10 (10945a2) `rpm/centos-7/Dockerfile:4` `${DISTRO}:${SUITE}`, `rpm/rhel-7/Dockerfile:4`
# `dockereng/${DISTRO}:${SUITE}-s390x`; 19.03 (edff587) `rpm/centos-8/Dockerfile` `${DISTRO}:${SUITE}` (before
# CentOS Stream). CentOS Linux 7 and 8 reached their repositories through mirrorlist.centos.org.
_OVERRIDES: dict[str, ReleaseOverride] = {
    "centos-7": ReleaseOverride(_CENTOS_LINUX, "centos:7"),
    "centos-8": ReleaseOverride(_CENTOS_LINUX, image_on=(("19.03", "centos:8"),)),
    "rhel-7": ReleaseOverride(image="dockereng/rhel:7-s390x"),
}


class Distro(NamedTuple):
    id: str  # docker-ce-packaging's directory name: debian-bookworm, centos-9
    vendor: Vendor
    release: str  # bookworm, 9

    @property
    def format(self) -> PackageFormat:
        return self.vendor.format

    @property
    def archive(self) -> DistroArchive:
        override = _OVERRIDES.get(self.id)
        return override.archive if override is not None and override.archive is not None else self.vendor.archive

    def image(self, branch: str) -> str:
        """The image a package Dockerfile of `branch` builds FROM: its `ARG BUILD_IMAGE` default, DISTRO and SUITE
        expanded. 28.x (a7ea496) `deb/debian-bookworm/Dockerfile:7` `${DISTRO}:${SUITE}` (Debian, Ubuntu, Fedora),
        `deb/raspbian-bookworm/Dockerfile:7` `balenalib/rpi-raspbian:${SUITE}`, `rpm/centos-9/Dockerfile:6`
        `quay.io/centos/${DISTRO}:stream${SUITE}`, `rpm/rhel-9/Dockerfile:6` `registry.access.redhat.com/ubi9/ubi`."""
        override = _OVERRIDES.get(self.id, ReleaseOverride())
        on_branch = dict(override.image_on).get(branch)
        if on_branch is not None:
            return on_branch
        return override.image or self.vendor.image.format(release=self.release)


def vendor_names(fmt: PackageFormat) -> tuple[str, ...]:
    """The vendors whose packages are of `fmt`: the directory prefixes under deb/ or rpm/."""
    return tuple(v.name for v in VENDORS if v.format == fmt)


def distro(distro_id: str) -> Distro | None:
    """The distro of an id (`debian-bookworm`), or None when its vendor is not one of VENDORS."""
    name, _, release = distro_id.partition("-")
    vendor = next((v for v in VENDORS if v.name == name), None)
    return Distro(distro_id, vendor, release) if vendor is not None and release else None


def _order(distro_id: str) -> tuple[str, int, str]:
    """Vendor, then numbered releases by number (centos-9 before centos-10), codenames by name."""
    name, _, release = distro_id.partition("-")
    return (name, int(release), "") if release.isdigit() else (name, -1, release)


@functools.cache
def branch_distros(branch: str, fmt: PackageFormat) -> tuple[str, ...]:
    """The distros docker-ce-packaging `branch` has a directory for under `fmt`/ (the generated facts table)."""
    from mobyci.families.facts import table

    facts = table().packaging.get(branch)
    listed = () if facts is None else facts.deb if fmt == "deb" else facts.rpm
    return tuple(sorted(listed, key=_order))


@functools.cache
def all_distros() -> dict[str, Distro]:
    """Every distro any packaging branch of the facts table builds for, by id."""
    from mobyci.families.facts import table

    found: dict[str, Distro] = {}
    for branch in table().packaging.values():
        for distro_id in sorted((*branch.deb, *branch.rpm), key=_order):
            known = distro(distro_id)
            if known is not None:
                found[distro_id] = known
    return found
