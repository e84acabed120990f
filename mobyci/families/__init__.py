"""Moby release families as data, and how a ref or a family name resolves to one."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from mobyci.families.data import FAMILIES
from mobyci.families.model import Family, Packaging, Variant
from mobyci.families.targets import BundleLayout
from mobyci.families.versions import Version, parse_family_version, tag_version

if TYPE_CHECKING:
    from mobyci.families.facts import ReleaseFacts

# Debian releases moved to archive.debian.org: deb.debian.org answers 404 for their dists/ (buster checked
# 2026-12-01: http://deb.debian.org/debian/dists/buster/Release is 404).
ARCHIVED_DEBIAN = frozenset({"jessie", "stretch", "buster"})

__all__ = [
    "ARCHIVED_DEBIAN",
    "FAMILIES",
    "Family",
    "Packaging",
    "Release",
    "Variant",
    "Version",
    "family_names",
    "missing_data",
    "resolve",
]


class Release(NamedTuple):
    """A family with its variant applied: what one ref (or family name) builds like."""

    family: Family
    version: Version | None  # the release version when known (a tag, or a family like "23.0.6")
    variant: Variant | None
    # The release's row of the facts table (releases.py), when the ref is a release tag the table knows.
    facts: ReleaseFacts | None = None

    @property
    def cross_platforms(self) -> tuple[str, ...]:
        """What this release's tree can cross-build: its own, when the facts table knows the release."""
        return self.facts.cross if self.facts is not None else self.family.cross_platforms

    @property
    def bundles(self) -> BundleLayout:
        """Where the release's make leaves bundles: the release's own layout, else the family's."""
        return self.facts.bundles if self.facts is not None else self.family.bundles

    @property
    def debian(self) -> str:
        """Debian release of the build's base image: the release's own, else the family's."""
        return self.facts.debian if self.facts is not None else self.family.debian

    @property
    def apt_build_arg(self) -> str | None:
        if self.variant and self.variant.apt_build_arg is not None:
            return self.variant.apt_build_arg
        return self.family.apt_build_arg

    @property
    def debian_archived(self) -> bool:
        """Whether that Debian release is gone from deb.debian.org and its mirrors (served by archive.debian.org)."""
        return self.debian in ARCHIVED_DEBIAN

    @property
    def buildkit_git_sources(self) -> bool:
        if self.variant and self.variant.buildkit_git_sources is not None:
            return self.variant.buildkit_git_sources
        return self.family.buildkit_git_sources

    @property
    def packaging(self) -> Packaging:
        return self.family.packaging_for(self.version)


def family_names() -> list[str]:
    return [f.name for f in FAMILIES]


def missing_data(family: Family) -> list[str]:
    """The tables outside data.py that have no entry for `family` (none: every family is complete, and a test
    checks it). validate reports a gap as a problem of the spec's family, so that rendering never meets it."""
    from mobyci.families.touchpoints import DETECTION, TOUCHPOINTS

    missing = []
    if family.name not in TOUCHPOINTS:
        missing.append("touchpoints.TOUCHPOINTS (the files its patch rules work on)")
    if all(name != family.name for name, _ in DETECTION):
        missing.append("touchpoints.DETECTION (how the patch script recognises its tree)")
    return missing


def family_of(version: Version) -> Family | None:
    return next((f for f in FAMILIES if f.contains(version)), None)


def _variant_of(family: Family, version: Version | None) -> Variant | None:
    """The newest variant the release is at or past; the newest variant when the patch is unknown."""
    if version is None or version.patch is None:
        return family.variants[-1] if family.variants else None
    chosen = None
    for variant in family.variants:
        if (version.major, version.minor or 0, version.patch) >= (
            variant.since.major,
            variant.since.minor or 0,
            variant.since.patch or 0,
        ):
            chosen = variant
    return chosen


def resolve_family(text: str) -> Release | None:
    """A family as written in moby.family: a family name ("25-28") or a version prefix ("26.1")."""
    by_name = next((f for f in FAMILIES if f.name == text), None)
    if by_name is not None:
        return Release(by_name, None, _variant_of(by_name, None))
    version = parse_family_version(text)
    if version is None:
        return None
    family = family_of(version)
    if family is None:
        return None
    return Release(family, version, _variant_of(family, version))


def resolve(ref: str, family: str | None) -> Release | None:
    """The release a ref builds like: from the tag when it is one, else from the family given."""
    version = tag_version(ref)
    if version is not None:
        found = family_of(version)
        if found is None:
            return None
        from mobyci.families.facts import release

        return Release(found, version, _variant_of(found, version), release(ref))
    return None if family is None else resolve_family(family)
