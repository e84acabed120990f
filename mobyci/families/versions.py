"""Moby version strings: release tags, family names, and the version a ref stands for.

Kept free of pydantic and jinja2 so that `validate` and the patch script share it cheaply.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Release tags: v19.03.12, v25.0.0-rc.1, and from 29.0 docker-v29.7.2 (the repository became a monorepo of
# several Go modules, so the engine's tags gained a prefix).
_TAG_RE = re.compile(r"^(?:docker-)?v(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.]+)?$")
# What a user may write in moby.family: a family name ("19.03", "25-28") or a version prefix ("26.1", "23.0.6").
_FAMILY_VERSION_RE = re.compile(r"^(\d+)(?:\.(\d+)(?:\.(\d+))?)?(?:\.x)?$")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


class Version(NamedTuple):
    """A moby release version; `patch` is None when only the release line is known (a branch)."""

    major: int
    minor: int | None = None
    patch: int | None = None

    def __str__(self) -> str:
        parts = [str(self.major)]
        if self.minor is not None:
            parts.append(f"{self.minor:02d}" if self.major < 20 else str(self.minor))
        if self.patch is not None:
            parts.append(str(self.patch))
        return ".".join(parts)


def tag_version(ref: str) -> Version | None:
    """The version of a release tag, or None when `ref` is not one (a branch or a commit)."""
    match = _TAG_RE.match(ref)
    if match is None:
        return None
    major, minor, patch = (int(g) for g in match.groups())
    if ref.startswith("docker-") != (major >= 29):
        # docker-v19.03.0 or v29.1.0 do not exist: treat as a branch name so the user must say the family.
        return None
    return Version(major, minor, patch)


def parse_family_version(text: str) -> Version | None:
    """A version prefix written as a family ("26.1", "23.0.6", "29"), or None if it is not one."""
    match = _FAMILY_VERSION_RE.match(text)
    if match is None:
        return None
    major, minor, patch = (None if g is None else int(g) for g in match.groups())
    assert major is not None  # the pattern requires it
    return Version(major, minor, patch)
