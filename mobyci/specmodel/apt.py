"""What `mirrors.apt` means: the two repository URLs apt reads, whatever form the spec wrote them in.

Forms: a host (`mirrors.example.com`: http://host/debian and http://host/debian-security, as moby's own
APT_MIRROR hook makes them), a URL without path (the same under that scheme and port), a URL with a path (the
root of a Debian archive; debian-security is its sibling), `archive` (archive.debian.org), or a mapping of
separate repositories `{debian, security, archive}` (`archive` mirrors archive.debian.org's layout).
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

from mobyci.families import Release
from mobyci.specmodel.compiled import AptMirrors, Mirrors

ARCHIVE_ROOT = "http://archive.debian.org"


class AptSources(NamedTuple):
    debian: str  # replaces http://deb.debian.org/debian
    security: str  # replaces http://deb.debian.org/debian-security and http://security.debian.org/debian-security
    archived: bool  # the release's Debian is archived: drop -updates suites, accept expired Release files
    host_only: bool  # a bare host (or scheme://host): moby's own APT_MIRROR hook gives exactly these URLs


def _sibling(url: str, name: str) -> str:
    head, _, _ = url.rstrip("/").rpartition("/")
    return f"{head}/{name}"


def _has_path(url: str) -> bool:
    return urlsplit(url).path not in ("", "/")


def apt_sources(mirrors: Mirrors, release: Release) -> AptSources | None:
    """The URLs apt must read for this release, or None when the spec sets no apt mirror or the form does not
    fit the release (checks.py reports that)."""
    return apt_sources_for(mirrors, archived=release.debian_archived)


def apt_sources_for(mirrors: Mirrors, *, archived: bool) -> AptSources | None:
    """The same for any Debian image (package images too): `archived` says whether its release is archived."""
    apt = mirrors.apt
    if apt is None:
        return None
    if isinstance(apt, AptMirrors):
        if archived:
            if apt.archive is None:
                return None
            return AptSources(f"{apt.archive}/debian", f"{apt.archive}/debian-security", True, False)
        if apt.debian is None:
            return None
        return AptSources(apt.debian, apt.security or _sibling(apt.debian, "debian-security"), False, False)
    if apt == "archive":
        if not archived:
            return None
        return AptSources(f"{ARCHIVE_ROOT}/debian", f"{ARCHIVE_ROOT}/debian-security", True, False)
    if archived:
        return None
    if "://" in apt and _has_path(apt):
        return AptSources(apt, _sibling(apt, "debian-security"), False, False)
    root = apt.rstrip("/") if "://" in apt else f"http://{apt}"
    return AptSources(f"{root}/debian", f"{root}/debian-security", False, True)


def describe(mirrors: Mirrors, release: Release) -> str:
    """The apt URLs as people read them in plan output: debian and security roots."""
    sources = apt_sources(mirrors, release)
    if sources is None:
        return str(mirrors.apt)
    return f"{sources.debian} and {sources.security}"


# Debian releases whose apt has no https method without the apt-transport-https package (apt 1.5, in buster, built
# it in), which the golang:<go>-stretch images moby v19.03.0 - v19.03.8 build FROM do not install before their first
# `apt-get update` (v19.03.8 Dockerfile:32 `FROM golang:${GO_VERSION}-stretch AS base`, :42 the first apt-get).
NO_HTTPS_APT = ("stretch",)
_ARCHIVE_EXAMPLE = "mirrors.tuna.tsinghua.edu.cn/debian-archive"


def apt_problem(mirrors: Mirrors, release: Release) -> str | None:
    """Why `mirrors.apt` (or its absence) cannot work for this release, with the fix; None when it can."""
    apt = mirrors.apt
    debian = release.debian
    scheme = "http" if debian in NO_HTTPS_APT else "https"
    fix = (
        "write `apt: archive` (archive.debian.org) or `apt: {archive: URL}` with a mirror of archive.debian.org, "
        f"e.g. {scheme}://{_ARCHIVE_EXAMPLE}"
    )
    https = _https_problem(mirrors, release)
    if https is not None:
        return https
    if release.debian_archived:
        if apt is None:
            return (
                f"required: family {release.family.name} builds on Debian {debian}, which is archived "
                f"(deb.debian.org answers 404 for it): {fix}"
            )
        if isinstance(apt, AptMirrors):
            if apt.archive is None:
                return (
                    f"family {release.family.name} builds on Debian {debian}, which is archived: debian and security "
                    f"mirrors no longer serve it; add archive: URL, a mirror of archive.debian.org "
                    f"(e.g. {scheme}://{_ARCHIVE_EXAMPLE})"
                )
            return None
        if apt != "archive":
            return (
                f"'{apt}' mirrors deb.debian.org, but family {release.family.name} builds on Debian {debian}, which "
                f"is archived there: {fix}"
            )
        return None
    if apt is None:
        return None
    if isinstance(apt, AptMirrors):
        if apt.debian is None:
            if apt.archive is not None and apt.security is None:
                return (
                    f"family {release.family.name} builds on Debian {debian}, which is not archived: archive: is "
                    "not used; add debian: URL (and security: URL)"
                )
            return "debian: URL is required (the root of a Debian archive, serving dists/<release>)"
        return None
    if apt == "archive":
        return (
            f"'archive' serves archived Debian releases, but family {release.family.name} builds on Debian "
            f"{debian}, which is still on the regular mirrors: give a mirror host or URL instead"
        )
    return None


def _https_problem(mirrors: Mirrors, release: Release) -> str | None:
    """An https apt mirror for a Debian whose apt cannot speak https (NO_HTTPS_APT): refused, with the http form."""
    if release.debian not in NO_HTTPS_APT:
        return None
    sources = apt_sources(mirrors, release)
    if sources is None or not sources.debian.startswith("https://"):
        return None
    apt = mirrors.apt
    written = (apt.archive if sources.archived else apt.debian) if isinstance(apt, AptMirrors) else apt
    which = release.facts.tag if release.facts is not None else f"family {release.family.name}"
    return (
        f"{which} builds FROM a golang:<go>-{release.debian} image, whose apt has no https method (it needs "
        "apt-transport-https, which the image lacks): write the mirror's http URL, "
        f"http://{str(written).removeprefix('https://')} (apt checks the signed Release files)"
    )
