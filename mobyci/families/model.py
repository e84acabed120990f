"""The shape of a moby release family: what a release line needs to build, as plain data.

Emitters read these fields and never branch on a family's name, so adding a family means adding a
`Family(...)` entry in data.py.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from mobyci.families.distros import PackageFormat
from mobyci.families.targets import BundleLayout
from mobyci.families.versions import Version

# How `make binary` turns the tree into binaries:
#   make-run  - `docker build` of the dev image, then `docker run … hack/make.sh binary` (19.03)
#   buildkit  - `docker build --output=bundles --target=binary` with DOCKER_BUILDKIT=1 (20.10)
#   bake      - `docker buildx bake binary`, output exported to the client (23.0+)
BuildStyle = Literal["make-run", "buildkit", "bake"]


class Packaging(NamedTuple):
    """A docker/docker-ce-packaging branch; the distros it can build for are the generated facts table's
    (distros.branch_distros)."""

    branch: str
    # 19.03's branch expects the docker-ce monorepo layout (engine/, cli/) instead of ENGINE_DIR/CLI_DIR.
    monorepo: bool = False

    def distros(self, fmt: PackageFormat) -> tuple[str, ...]:
        """The branch's directories under `fmt`/ (deb/debian-bookworm …), numbered releases in number order."""
        from mobyci.families.distros import branch_distros

        return branch_distros(self.branch, fmt)

    @property
    def rpm(self) -> tuple[str, ...]:
        return self.distros("rpm")

    @property
    def deb(self) -> tuple[str, ...]:
        return self.distros("deb")


class Variant(NamedTuple):
    """A stretch of patch releases inside a family where the tree differs (e.g. 23.0.7 lost an apt knob)."""

    since: Version
    note: str
    # Overrides of Family fields for releases from `since` on (only the ones that change).
    apt_build_arg: str | None = None
    buildkit_git_sources: bool | None = None


class Family(NamedTuple):
    name: str
    first: Version  # lowest release in the family (major, minor)
    last: Version  # highest release line in the family (major, minor)
    debian: str  # Debian release of the dev image
    build_style: BuildStyle
    # Where the checkout must live for the build: GOPATH-mode families need src/github.com/docker/docker.
    gopath: bool
    bundles: BundleLayout  # where make leaves bundles (targets.TargetFacts.bundle)
    cross_platforms: tuple[str, ...]
    packaging: tuple[tuple[Version, Packaging], ...]  # (first release using it, branch), ascending
    # How the apt mirror reaches `make binary` without a patch: the environment variable the build reads
    # (the Makefile's DOCKER_BUILD_APT_MIRROR, or bake's APT_MIRROR variable), or None where only a patch
    # can do it. Its value must be a bare host: moby's own sed replaces only the host name.
    apt_build_arg: str | None
    # docker-v29.4.1+ fetch sources with BuildKit `ADD https://…git?ref=`: only a Dockerfile rewrite helps.
    buildkit_git_sources: bool = False
    variants: tuple[Variant, ...] = ()

    def contains(self, version: Version) -> bool:
        key = (version.major, version.minor if version.minor is not None else 0)
        return (self.first.major, self.first.minor or 0) <= key <= (self.last.major, self.last.minor or 0)

    def packaging_for(self, version: Version | None) -> Packaging:
        """The packaging branch for a release; the newest of the family when the release is unknown."""
        chosen = self.packaging[-1][1]
        if version is None:
            return chosen
        for since, packaging in self.packaging:
            if (version.major, version.minor or 0) >= (since.major, since.minor or 0):
                chosen = packaging
        return chosen

    def distros(self, fmt: PackageFormat) -> tuple[str, ...]:
        """Every distro any packaging branch of the family knows, for `rpm` or `deb`."""
        seen: dict[str, None] = {}
        for _, packaging in self.packaging:
            for distro in packaging.distros(fmt):
                seen[distro] = None
        return tuple(seen)
