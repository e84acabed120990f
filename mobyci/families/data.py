"""Moby's release families, read from the real trees (see docs/families.md for the tags checked)."""

from __future__ import annotations

from mobyci.families.model import Family, Packaging, Variant
from mobyci.families.versions import Version

_BAKE_CROSS = (
    "linux/amd64",
    "linux/arm/v5",
    "linux/arm/v6",
    "linux/arm/v7",
    "linux/arm64",
    "linux/ppc64le",
    "linux/s390x",
    "windows/amd64",
)
_BAKE_BUNDLES = {
    "binary": "bundles/binary",
    "dynbinary": "bundles/dynbinary",
    "cross": "bundles/cross",
}
_CLASSIC_BUNDLES = {
    "binary": "bundles/binary-daemon",
    "dynbinary": "bundles/dynbinary-daemon",
    "cross": "bundles/cross",
}

# docker/docker-ce-packaging branches and the distro directories under rpm/ and deb/ on each.
_PKG_1903 = Packaging(
    branch="19.03",
    rpm=("centos-7", "centos-8", "fedora-32", "rhel-7"),
    deb=(
        "debian-buster",
        "debian-stretch",
        "raspbian-buster",
        "raspbian-stretch",
        "ubuntu-bionic",
        "ubuntu-focal",
        "ubuntu-xenial",
    ),
    monorepo=True,
)
_PKG_2010 = Packaging(
    branch="20.10",
    rpm=("centos-7", "centos-8", "centos-9", "fedora-36", "fedora-37", "rhel-7"),
    deb=(
        "debian-bullseye",
        "debian-buster",
        "raspbian-bullseye",
        "raspbian-buster",
        "ubuntu-bionic",
        "ubuntu-focal",
        "ubuntu-jammy",
        "ubuntu-kinetic",
    ),
)
_PKG_230 = Packaging(
    branch="23.0",
    rpm=("centos-7", "centos-8", "centos-9", "fedora-37", "fedora-38", "rhel-7"),
    deb=(
        "debian-bookworm",
        "debian-bullseye",
        "debian-buster",
        "raspbian-bookworm",
        "raspbian-bullseye",
        "raspbian-buster",
        "ubuntu-focal",
        "ubuntu-jammy",
        "ubuntu-lunar",
    ),
)
_PKG_240 = Packaging(
    branch="24.0",
    rpm=("centos-7", "centos-8", "centos-9", "fedora-38", "fedora-39", "rhel-7"),
    deb=(
        "debian-bookworm",
        "debian-bullseye",
        "debian-buster",
        "raspbian-bookworm",
        "raspbian-bullseye",
        "raspbian-buster",
        "ubuntu-focal",
        "ubuntu-jammy",
        "ubuntu-mantic",
    ),
)
# No 25.0/26.x branch exists; 27.x is the oldest surviving branch that takes ENGINE_DIR/CLI_DIR for them.
_PKG_27X = Packaging(
    branch="27.x",
    rpm=("centos-9", "centos-10", "fedora-40", "fedora-41", "rhel-8", "rhel-9"),
    deb=(
        "debian-bookworm",
        "debian-bullseye",
        "raspbian-bookworm",
        "raspbian-bullseye",
        "ubuntu-focal",
        "ubuntu-jammy",
        "ubuntu-noble",
        "ubuntu-oracular",
    ),
)
_PKG_28X = Packaging(
    branch="28.x",
    rpm=("centos-9", "centos-10", "fedora-41", "fedora-42", "fedora-43", "rhel-8", "rhel-9", "rhel-10"),
    deb=(
        "debian-bookworm",
        "debian-bullseye",
        "debian-trixie",
        "raspbian-bookworm",
        "raspbian-bullseye",
        "ubuntu-jammy",
        "ubuntu-noble",
        "ubuntu-plucky",
        "ubuntu-questing",
    ),
)
_PKG_294 = Packaging(
    branch="29.4",
    rpm=("centos-9", "centos-10", "fedora-42", "fedora-43", "fedora-44", "rhel-8", "rhel-9", "rhel-10"),
    deb=(
        "debian-bookworm",
        "debian-bullseye",
        "debian-trixie",
        "raspbian-bookworm",
        "raspbian-bullseye",
        "ubuntu-jammy",
        "ubuntu-noble",
        "ubuntu-questing",
        "ubuntu-resolute",
    ),
)
_PKG_MASTER = Packaging(
    branch="master",
    rpm=("centos-9", "centos-10", "fedora-43", "fedora-44", "rhel-8", "rhel-9", "rhel-10"),
    deb=(
        "debian-bookworm",
        "debian-bullseye",
        "debian-trixie",
        "raspbian-bookworm",
        "raspbian-bullseye",
        "ubuntu-jammy",
        "ubuntu-noble",
        "ubuntu-resolute",
    ),
)

FAMILIES: tuple[Family, ...] = (
    Family(
        name="19.03",
        first=Version(19, 3),
        last=Version(19, 3),
        debian="buster",
        build_style="make-run",
        gopath=True,
        bundles=_CLASSIC_BUNDLES,
        # hack/make/cross splits GOOS/GOARCH on the first "/" only: no arm/vN variants before 20.10.
        cross_platforms=("linux/amd64", "linux/arm", "linux/arm64", "windows/amd64"),
        packaging=((Version(19, 3), _PKG_1903),),
        apt_build_arg="DOCKER_BUILD_APT_MIRROR",
    ),
    Family(
        name="20.10",
        first=Version(20, 10),
        last=Version(20, 10),
        debian="bullseye",
        build_style="buildkit",
        gopath=True,
        bundles=_CLASSIC_BUNDLES,
        cross_platforms=_BAKE_CROSS,
        packaging=((Version(20, 10), _PKG_2010),),
        apt_build_arg="DOCKER_BUILD_APT_MIRROR",
    ),
    Family(
        name="23.0",
        first=Version(23, 0),
        last=Version(23, 0),
        debian="bookworm",
        build_style="bake",
        gopath=False,
        bundles=_BAKE_BUNDLES,
        cross_platforms=_BAKE_CROSS,
        packaging=((Version(23, 0), _PKG_230),),
        apt_build_arg="APT_MIRROR",
    ),
    Family(
        name="24.0",
        first=Version(24, 0),
        last=Version(24, 0),
        debian="bullseye",
        build_style="bake",
        gopath=False,
        bundles=_BAKE_BUNDLES,
        cross_platforms=_BAKE_CROSS,
        packaging=((Version(24, 0), _PKG_240),),
        apt_build_arg="APT_MIRROR",
    ),
    Family(
        name="25-28",
        first=Version(25, 0),
        last=Version(28, 99),
        debian="bookworm",
        build_style="bake",
        gopath=False,
        bundles=_BAKE_BUNDLES,
        cross_platforms=_BAKE_CROSS,
        packaging=((Version(25, 0), _PKG_27X), (Version(28, 0), _PKG_28X)),
        apt_build_arg=None,
    ),
    Family(
        name="29",
        first=Version(29, 0),
        last=Version(29, 99),
        debian="bookworm",
        build_style="bake",
        gopath=False,
        bundles=_BAKE_BUNDLES,
        cross_platforms=_BAKE_CROSS,
        packaging=((Version(29, 0), _PKG_294), (Version(29, 5), _PKG_MASTER)),
        apt_build_arg=None,
        variants=(
            Variant(
                since=Version(29, 4, 1),
                note="sources are fetched with BuildKit `ADD https://…git?ref=`, outside any build arg",
                buildkit_git_sources=True,
            ),
        ),
    ),
)
