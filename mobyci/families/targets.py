"""What a spec can build (`targets:`), as typed facts: one `TargetFacts` row per target.

Bundle targets run moby's own `make <target>` (hack/make/binary, dynbinary, cross at every tag; bake's targets of
the same names from 23.0: docker-bake.hcl); package targets run docker-ce-packaging's `make -C <format> <distro>`
for every distro listed. Code reads these fields, never a target's name. `TargetName` is the spec's schema
(specmodel/model.py, compiled by `python -m mobyci.precompile`): a new target is a member there and a row here, in this
one file.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from mobyci.families import distros
from mobyci.families.distros import Distro, PackageFormat

TargetName = Literal["binary", "dynbinary", "cross", "rpm", "deb"]
# Where a tree's make leaves bundles (the facts table's `bundles` per release, a family's `bundles`): bake's bindir()
# is ./bundles/<target> (v24.0.9 docker-bake.hcl:59-61, 108-110); hack/make.sh's DEST is bundles/<bundle>
# (v20.10.27 hack/make.sh:161), and hack/make/binary and dynbinary add -daemon (v20.10.27 hack/make/binary:6).
BundleLayout = Literal["bake", "classic"]


class TargetFacts(NamedTuple):
    name: TargetName
    # deb or rpm: docker-ce-packaging builds it, one job per distro of `distros:`; None: a bundle of moby's make.
    package: PackageFormat | None = None
    # One job per platform of `platforms:` (cross): the platform in the job's matrix, its bundle and cache its own.
    per_platform: bool = False
    # The target whose build cache this one's bake build also imports (the static binary's: same sources).
    shares_cache_of: TargetName | None = None
    # Package targets: where the format's Makefile leaves packages (under <format>/) and their file pattern: 28.x
    # rpm/Makefile:62 `-v $(CURDIR)/rpmbuild/$@/RPMS:…`, deb/Makefile:52 `-v $(CURDIR)/debbuild/$@:/build` (19.03
    # rpm/Makefile:29, deb/Makefile:34 the same directories).
    output: tuple[str, str] | None = None
    # Bundle targets: the bundle's directory in the tree, per layout.
    bundles: tuple[tuple[BundleLayout, str], ...] = ()

    def bundle(self, layout: BundleLayout) -> str:
        """The directory of this target's bundle, relative to the tree, in a tree of `layout`."""
        return dict(self.bundles)[layout]


TARGETS: dict[TargetName, TargetFacts] = {
    "binary": TargetFacts("binary", bundles=(("bake", "bundles/binary"), ("classic", "bundles/binary-daemon"))),
    "dynbinary": TargetFacts(
        "dynbinary",
        shares_cache_of="binary",
        bundles=(("bake", "bundles/dynbinary"), ("classic", "bundles/dynbinary-daemon")),
    ),
    "cross": TargetFacts(
        "cross",
        per_platform=True,
        shares_cache_of="binary",
        bundles=(("bake", "bundles/cross"), ("classic", "bundles/cross")),
    ),
    "rpm": TargetFacts("rpm", package="rpm", output=("rpmbuild", "*.rpm")),
    "deb": TargetFacts("deb", package="deb", output=("debbuild", "*.deb")),
}


def is_package(name: TargetName) -> bool:
    """Whether `name` is a package target (rpm, deb)."""
    return TARGETS[name].package is not None


def taking(field: Literal["platforms", "distros"]) -> str:
    """`the cross target takes platforms`, `the rpm and deb targets take distros`: which targets take the field
    (per-platform ones take platforms:, package ones distros:), for messages, in table order."""
    if field == "platforms":
        names = [t.name for t in TARGETS.values() if t.per_platform]
    else:
        names = [t.name for t in TARGETS.values() if t.package is not None]
    if len(names) == 1:
        return f"the {names[0]} target takes {field}"
    return f"the {' and '.join(names)} targets take {field}"


def built_distros(name: TargetName, listed: list[str] | None) -> list[tuple[int, Distro]]:
    """The distros of a package target's `distros:` it builds, with their positions: those of its format (the
    others are refused by validation)."""
    fmt = TARGETS[name].package
    found = [(position, distros.distro(distro_id)) for position, distro_id in enumerate(listed or ())]
    return [(position, d) for position, d in found if d is not None and fmt is not None and d.format == fmt]
