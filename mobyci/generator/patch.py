"""Patch rules applied to a moby tree: in-process (`--apply/--check`) and as a POSIX sh script.

PLACEHOLDER: being implemented (issue 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mobyci.schemas.load import LoadedSpec


@dataclass
class PatchReport:
    lines: list[str] = field(default_factory=list)  # the summary a person reads
    changed: bool = False  # whether anything changed (or, with check, would change)


def build_patch_script(loaded: LoadedSpec) -> str:
    raise NotImplementedError


def apply_patch(loaded: LoadedSpec, tree: Path, *, check: bool) -> PatchReport:
    raise NotImplementedError
