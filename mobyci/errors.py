"""One exception family for every problem a user can fix; commands.py turns it into its message and exit
code 1.

Nothing here does IO: exceptions carry data, the CLI decides how to print it.
"""

from __future__ import annotations

from typing import NamedTuple


class Problem(NamedTuple):
    """One located problem in a user's file: `file:line:col: key.path: message`."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        key = f" {self.path}:" if self.path else ""
        # One problem, one line: a newline inside a quoted value must not forge another problem line.
        return one_line(f"{where}:{key} {self.message}")


def one_line(text: str) -> str:
    """`text` with its newlines and tabs written as escapes: a value quoted in a message cannot forge a line."""
    return text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


class MobyciError(Exception):
    """A problem in the user's input or environment that the user can fix (exit code 1)."""


class SpecError(MobyciError):
    """A spec failed to load or validate; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = sorted(problems)
