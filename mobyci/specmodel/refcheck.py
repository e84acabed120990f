"""moby.ref and moby.family: the release a spec builds, checked against the facts table (a known release, a
pre-release of moby's, a tag newer than the table, a misspelled tag, a branch or commit with its family)."""

from __future__ import annotations

import re

from mobyci.families import Release, family_names, resolve, resolve_family
from mobyci.families.versions import Version, tag_version
from mobyci.specmodel.compiled import Spec

Loc = tuple[str | int, ...]
Finding = tuple[Loc, str]

# Release-looking refs that are not spelled as moby spells its tags.
# A pre-release keeps its suffix as written (moby's are -rc.1, -rc1, -beta.1, -beta1: the facts table's PRERELEASES).
_BARE_VERSION = re.compile(r"^(?:docker-)?v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.]+)?$")


def _known() -> str:
    return ", ".join(family_names())


def check_family(spec: Spec) -> tuple[Release | None, list[Finding], list[Finding]]:
    ref, family = spec.moby.ref, spec.moby.family
    version = tag_version(ref)
    if version is not None:
        release = resolve(ref, None)
        if release is None:
            return (
                None,
                [
                    (
                        ("moby", "ref"),
                        f"{ref} is not in a supported release family (supported: {_known()}): "
                        "pick a release from 19.03 on",
                    )
                ],
                [],
            )
        findings, warnings = _check_release(ref, version, release)
        if family is not None:
            given = resolve_family(family)
            if given is None or given.family != release.family or not _is_prefix(family, str(version)):
                findings.append(
                    (
                        ("moby", "family"),
                        f"'{family}' does not match ref {ref} (family {release.family.name}): "
                        "remove moby.family (it is derived from the tag) or correct it",
                    )
                )
            else:
                warnings = []  # the user said which family the unknown release builds like
        return release, findings, warnings
    misspelled = _misspelled_tag(ref)
    if misspelled is not None:
        return None, [(("moby", "ref"), misspelled)], []
    if family is None:
        kind = "commit" if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref) else "branch"
        return (
            None,
            [
                (
                    ("moby", "family"),
                    f"required: the ref '{ref}' is a {kind}, so mobyci cannot tell which release it builds like. "
                    f"Add moby.family (one of {_known()}, or a version such as 26.1)",
                )
            ],
            [],
        )
    release = resolve_family(family)
    if release is None:
        return (
            None,
            [
                (
                    ("moby", "family"),
                    f"unknown family '{family}': use one of {_known()}, or a version such as 26.1",
                )
            ],
            [],
        )
    return release, [], []


def _misspelled_tag(ref: str) -> str | None:
    """A ref written like a release but not as moby tags it (27.5.1, v29.0.0, docker-v27.5.1, v29.0.0-rc.1): what
    to write."""
    match = _BARE_VERSION.match(ref)
    if match is None:
        return None
    major, minor, patch = (int(g) for g in match.groups()[:3])
    minor_text = f"{minor:02d}" if major < 20 else str(minor)
    tag = f"{'docker-' if major >= 29 else ''}v{major}.{minor_text}.{patch}{match[4] or ''}"
    why = "from 29.0 the engine's tags are docker-vX.Y.Z" if major >= 29 else "moby tags releases vX.Y.Z"
    release = resolve(tag, None)
    # The checks of a release tag, run once on the tag as moby would spell it (None: no family takes it).
    refused = None if release is None else _check_release(tag, Version(major, minor, patch), release)[0]
    if match[4] and refused:
        # A pre-release moby never tagged: the refusal of the tag as moby would spell it names moby's own.
        return f"'{ref}' is not a moby tag ({why}), and {refused[0][1]}"
    if refused is None or refused:
        # Suggest only a tag that, pasted, validates: a tag the facts table refuses would be refused in turn.
        from mobyci.families import facts

        near = facts.nearest(Version(major, minor, patch))
        hint = f"; the nearest releases mobyci knows: {' or '.join(near)}" if near else ""
        return f"'{ref}' is not a moby tag ({why}), and {tag} is not a release mobyci knows{hint}"
    return f"'{ref}' is not a moby tag ({why}); did you mean {tag}?"


def _line(version: Version) -> str:
    # 19.03 and 20.10 are release lines of their own; from 23.0 a line is a major version.
    return str(Version(version.major, version.minor)) if version.major < 23 else str(version.major)


def _check_release(ref: str, version: Version, release: Release) -> tuple[list[Finding], list[Finding]]:
    """A release tag against the facts table: known, refused (not a release), or new (a warning)."""
    if release.facts is not None:
        return [], []  # a known release
    from mobyci.families import facts

    made = facts.table().made
    if "-" in ref.removeprefix("docker-"):
        if ref in facts.table().prereleases:
            return [], []  # one of moby's pre-releases (the table's rows are releases only)
        refused = _unknown_prerelease(ref, version, made)
        if refused is not None:
            return [(("moby", "ref"), refused)], []
    line = facts.same_major(version)
    at: Loc = ("moby", "ref")
    if line and not facts.is_newer(version, line[-1]):
        near = " or ".join(facts.nearest(version))
        return [(at, f"{ref} is not a moby release (facts table of {made}); did you mean {near}?")], []
    if line and not facts.line_is_open(line[-1]):
        newest = line[-1]
        return [
            (
                at,
                f"{ref} is not a moby release: the {_line(version)} line's newest is {newest.tag} of {newest.date}, "
                f"and it had no release in the year before the facts table was made ({made}); "
                f"did you mean {newest.tag}?",
            )
        ], []
    newest_text = f" (newest of its line: {line[-1].tag})" if line else ""
    return [], [
        (
            at,
            f"{ref} is newer than every release in mobyci's facts table of {made}{newest_text}: taken for family "
            f"{release.family.name} with that family's defaults; if its tree differs, set moby.family, and "
            "a newer mobyci may know the release",
        )
    ]


def _unknown_prerelease(ref: str, version: Version, made: str) -> str | None:
    """Why a pre-release tag is not one of moby's (facts table's PRERELEASES), with a real tag to use instead; None
    when it is moby's, or newer than every tag of its line the table knows (then checked like a new release)."""
    from mobyci.families import facts

    known = facts.table().prereleases
    same = [tag for tag in known if tag_version(tag) == version]
    release = next((r.tag for r in facts.same_major(version) if r.version == version), None)
    line = [r.tag for r in facts.same_major(version)]
    line += [tag for tag in known if (v := tag_version(tag)) is not None and v.major == version.major]
    keys = [_version_key(tag) for tag in line]
    if not same and release is None and (not keys or _version_key(ref) > max(keys)):
        return None
    if same:
        hint = f"{same[-1]}? ({version}'s pre-releases: {', '.join(same)})"
    elif release is not None:
        hint = f"{release}, its release?"
    else:
        hint = f"{' or '.join(facts.nearest(version))}?"
    return f"{ref} is not a moby tag (facts table of {made}); did you mean {hint}"


def _version_key(tag: str) -> tuple[int, int, int]:
    version = tag_version(tag)
    assert version is not None
    return (version.major, version.minor or 0, version.patch or 0)


def _is_prefix(family: str, version: str) -> bool:
    """A family written as a version must be a prefix of the tag's version ("23.0" of "23.0.18")."""
    if not family[:1].isdigit() or "-" in family:
        return True
    want = family.removesuffix(".x").split(".")
    have = version.split(".")
    return [int(p) for p in want] == [int(p) for p in have[: len(want)]]
