"""Checks that need several values of a spec at once: the family of the ref, and what that family supports."""

from __future__ import annotations

from urllib.parse import urlsplit

from mobyci.families import Release, family_names, resolve, resolve_family
from mobyci.families.versions import tag_version
from mobyci.schemas.spec import Spec

Loc = tuple[str | int, ...]
Finding = tuple[Loc, str]


def check_spec(spec: Spec) -> tuple[Release | None, list[Finding]]:
    """The release the spec builds, and every cross-field problem as (key path, message)."""
    release, findings = _check_family(spec)
    findings += _check_targets(spec, release)
    findings += _check_registry(spec)
    findings += _check_apt(spec, release)
    if not spec.mirrors.registry_tokens and spec.mirrors.registry is None:
        findings.append(
            (("mirrors", "registry_tokens"), "only applies with mirrors.registry: set the mirror or remove this key")
        )
    return release, findings


def _known() -> str:
    return ", ".join(family_names())


def _check_family(spec: Spec) -> tuple[Release | None, list[Finding]]:
    ref, family = spec.moby.ref, spec.moby.family
    version = tag_version(ref)
    if version is not None:
        release = resolve(ref, None)
        if release is None:
            return None, [
                (
                    ("moby", "ref"),
                    f"{ref} is not in a supported release family (supported: {_known()}): pick a release from 19.03 on",
                )
            ]
        if family is not None:
            given = resolve_family(family)
            if given is None or given.family != release.family or not _is_prefix(family, str(version)):
                return release, [
                    (
                        ("moby", "family"),
                        f"'{family}' does not match ref {ref} (family {release.family.name}): "
                        "remove moby.family (it is derived from the tag) or correct it",
                    )
                ]
        return release, []
    if family is None:
        kind = "commit" if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref) else "branch"
        return None, [
            (
                ("moby", "family"),
                f"required: the ref '{ref}' is a {kind}, so mobyci cannot tell which release it builds like. "
                f"Add moby.family (one of {_known()}, or a version such as 26.1)",
            )
        ]
    release = resolve_family(family)
    if release is None:
        return None, [
            (
                ("moby", "family"),
                f"unknown family '{family}': use one of {_known()}, or a version such as 26.1",
            )
        ]
    return release, []


def _is_prefix(family: str, version: str) -> bool:
    """A family written as a version must be a prefix of the tag's version ("23.0" of "23.0.18")."""
    if not family[:1].isdigit() or "-" in family:
        return True
    want = family.removesuffix(".x").split(".")
    have = version.split(".")
    return [int(p) for p in want] == [int(p) for p in have[: len(want)]]


def _check_targets(spec: Spec, release: Release | None) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for index, target in enumerate(spec.targets):
        at: Loc = ("targets", index)
        if target.name in seen:
            findings.append(((*at, "name"), f"target {target.name} is listed twice: merge the two entries"))
        seen.add(target.name)
        if target.platforms is not None and target.name != "cross":
            findings.append(((*at, "platforms"), f"only the cross target takes platforms, not {target.name}"))
        if target.distros is not None and target.name not in ("rpm", "deb"):
            findings.append(((*at, "distros"), f"only the rpm and deb targets take distros, not {target.name}"))
        if target.name in ("rpm", "deb") and not target.distros:
            findings.append(((*at, "distros"), f"required: list the distros to build {target.name} packages for"))
        if release is None:
            continue
        if target.name == "cross" and target.platforms:
            findings += _not_in(
                (*at, "platforms"),
                target.platforms,
                release.family.cross_platforms,
                f"family {release.family.name}",
            )
        if target.name in ("rpm", "deb") and target.distros:
            packaging = release.packaging
            valid = packaging.rpm if target.name == "rpm" else packaging.deb
            findings += _not_in(
                (*at, "distros"),
                target.distros,
                valid,
                f"docker-ce-packaging branch {packaging.branch} (family {release.family.name})",
            )
    return findings


def _not_in(at: Loc, values: list[str], valid: tuple[str, ...], what: str) -> list[Finding]:
    findings: list[Finding] = []
    for index, value in enumerate(values):
        if value not in valid:
            findings.append(((*at, index), f"'{value}' is not supported by {what}: use one of {', '.join(valid)}"))
        elif values.index(value) != index:
            findings.append(((*at, index), f"'{value}' is listed twice: remove one"))
    return findings


def _check_registry(spec: Spec) -> list[Finding]:
    registry = spec.mirrors.registry
    gitlab = spec.ci.gitlab
    if registry is None or urlsplit(registry).path in ("", "/") or gitlab.runner != "dind":
        return []
    if int(gitlab.docker_version.split(".")[0]) < 25:
        return [
            (
                ("mirrors", "registry"),
                f"docker {gitlab.docker_version} (ci.gitlab.docker_version) refuses a registry mirror with a "
                "path: give only https://host[:port], or use docker 25 or newer",
            )
        ]
    return []


def _check_apt(spec: Spec, release: Release | None) -> list[Finding]:
    if spec.mirrors.apt == "archive" and release is not None and release.family.debian != "buster":
        return [
            (
                ("mirrors", "apt"),
                f"'archive' serves Debian buster, but family {release.family.name} builds on Debian "
                f"{release.family.debian}, which is still on the regular mirrors: give a mirror host instead",
            )
        ]
    return []
