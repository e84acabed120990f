"""Tell a moby tree's release family from its own files (no VERSION file exists in any release).

The generated patch script runs the decision list (touchpoints.DETECTION) in sh on a checkout; the facts
generator runs it here on files read from git objects. Change the data, not the code.
"""

from __future__ import annotations

from mobyci.families.touchpoints import (
    DETECTION,
    Condition,
    Contains,
    Exists,
    HasLine,
    LineStarts,
)


def holds_in(data: bytes | None, condition: Condition) -> bool:
    """Whether `condition` holds for a file whose content is `data` (None: no such file).

    The facts generator reads the files from git objects; tests' reference patch engine from a tree on disk."""
    if isinstance(condition, Exists):
        return data is not None
    if data is None:
        return False
    if isinstance(condition, HasLine):
        return condition.text.encode() in data.split(b"\n")
    if isinstance(condition, LineStarts):
        prefix = condition.prefix.encode()
        return any(line.startswith(prefix) for line in data.split(b"\n"))
    assert isinstance(condition, Contains)
    return condition.text.encode() in data


def condition_key(condition: Condition) -> str:
    """A condition as a short stable text, as the facts table records which conditions held at a tag."""
    rest = getattr(condition, "text", None) or getattr(condition, "prefix", None)
    name = type(condition).__name__
    return f"{name}:{condition.path}" + (f":{rest}" if rest is not None else "")


def detect_from(holds: dict[str, bool] | set[str]) -> str | None:
    """The family the decision list picks, given the keys (condition_key) of the conditions that hold."""
    for family, conditions in DETECTION:
        if all(condition_key(c) in holds for c in conditions):
            return family
    return None
