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
# docker/docker-ce-packaging branches (their distros: the generated facts table, distros.branch_distros).
_PKG_1903 = Packaging(branch="19.03", monorepo=True)
_PKG_2010 = Packaging(branch="20.10")
_PKG_230 = Packaging(branch="23.0")
_PKG_240 = Packaging(branch="24.0")
# No 25.0/26.x branch exists; 27.x is the oldest surviving branch that takes ENGINE_DIR/CLI_DIR for them.
_PKG_27X = Packaging(branch="27.x")
_PKG_28X = Packaging(branch="28.x")
_PKG_294 = Packaging(branch="29.4")
_PKG_MASTER = Packaging(branch="master")

FAMILIES: tuple[Family, ...] = (
    Family(
        name="19.03",
        first=Version(19, 3),
        last=Version(19, 3),
        debian="buster",
        build_style="make-run",
        gopath=True,
        bundles="classic",
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
        bundles="classic",
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
        bundles="bake",
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
        bundles="bake",
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
        bundles="bake",
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
        bundles="bake",
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
