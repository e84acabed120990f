"""Where a spec lives: its repository root, and paths as generated files name them.

Generated files are committed, so every path inside them (the spec, the files a check job compares, the command
that regenerates them) is relative to the repository root -- the spec's git top-level, else the spec's directory
-- never to the directory mobyci happened to run from. CI jobs run from that same root.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path, PurePosixPath
from typing import NamedTuple

# The spec's JSON Schema, written by `mobyci init` beside the spec: editors read it through the spec's relative
# `yaml-language-server: $schema=` line, and the check job validates the spec against it.
SCHEMA_NAME = "mobyci.schema.json"


def schema_beside(spec: str) -> str:
    """The schema file next to `spec` (a path with `/` separators), as the spec's directory names it."""
    return posixpath.join(posixpath.dirname(spec), SCHEMA_NAME)


class Site(NamedTuple):
    root: Path  # absolute, symlinks resolved
    spec: Path  # the spec file, absolute

    @property
    def spec_rel(self) -> str:
        return self.rel(self.spec)

    def rel(self, path: Path) -> str:
        """`path` (absolute, or relative to the working directory) relative to the root, with `/` separators."""
        return PurePosixPath(os.path.relpath(_absolute(path), self.root)).as_posix()

    def under_root(self, relative: str) -> Path:
        """A path the spec names relative to the root (an `outputs:` entry), as an absolute path."""
        return self.root / relative


def _absolute(path: Path) -> Path:
    # Resolve the directory but not the file itself: a symlinked spec or output keeps its own name.
    path = path.absolute()
    return path.parent.resolve() / path.name


def locate(spec: Path) -> Site:
    """The site of `spec`: the nearest directory upwards holding `.git` (a directory, or the file a worktree or
    submodule has), else the spec's own directory."""
    spec = _absolute(spec)
    for directory in (spec.parent, *spec.parent.parents):
        if (directory / ".git").exists():
            return Site(directory, spec)
    return Site(spec.parent, spec)


def display(path: Path) -> str:
    """`path` as the user would type it from the working directory (for messages and commands to paste)."""
    return str(path) if not path.is_absolute() else os.path.relpath(path, Path.cwd())
