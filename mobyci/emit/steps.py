"""Shell the emitters share when they translate the Plan's typed job steps (each emitter's `_step_lines`)."""

from __future__ import annotations

from mobyci.plan import model as p
from mobyci.plan.shell import write_heredoc


def write_patch_line(patch_script: str) -> str:
    """The line that writes the embedded patch script to PATCH_SCRIPT (a quoted heredoc: nothing is expanded)."""
    if not patch_script.strip():
        raise ValueError("the plan has no patch script: make it with one to emit a pipeline")
    return write_heredoc(p.PATCH_SCRIPT, patch_script, p.PATCH_EOF)


def plain_lines(patch_script: str, step: p.Run | p.TrustCA | p.WritePatch) -> list[str]:
    """A step whose shell is the same on every system that takes job lines as written (GitLab's script, GitHub's
    run block): Run and TrustCA lines as they are, WritePatch as its quoted heredoc. Buildkite escapes the patch
    for its upload-time interpolation (buildkite.py)."""
    if isinstance(step, p.WritePatch):
        return [write_patch_line(patch_script)]
    return list(step.lines)
