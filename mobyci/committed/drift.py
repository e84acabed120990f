"""Is a committed generated file current? Pure comparison; the CLI reads the files and prints."""

from __future__ import annotations

import difflib
from typing import Literal, NamedTuple

from mobyci.committed.header import read_header

Status = Literal["current", "missing", "stale", "edited", "foreign"]


class Drift(NamedTuple):
    status: Status
    diff: str = ""

    def message(self, label: str, command: str, *, action: str = "regenerate it with") -> str:
        why = {
            "current": "current",
            "missing": "missing",
            "stale": "out of date with the spec",
            "edited": "edited by hand (its content no longer matches its mobyci-hash)",
            "foreign": "not written by mobyci (it has no mobyci header)",
        }[self.status]
        if self.status == "current":
            return f"{label}: {why}"
        return f"{label}: {why}; {action}: {command}"


def drift(label: str, existing: str | None, fresh: str) -> Drift:
    if existing is None:
        return Drift("missing")
    if existing == fresh:
        return Drift("current")
    diff = "".join(
        difflib.unified_diff(
            existing.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            fromfile=f"{label} (committed)",
            tofile=f"{label} (from the spec)",
        )
    )
    header = read_header(existing)
    if header is None:
        return Drift("foreign", diff)
    return Drift("edited" if header.edited else "stale", diff)
