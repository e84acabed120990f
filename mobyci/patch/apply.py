"""The patch engine is the generated sh script; `mobyci patch --apply/--check DIR` runs it with `sh`.

So there is one engine: what a pipeline runs is what `--apply` runs, messages and exit codes included. The
script (script.py, templates/patch.sh.j2, around the awk of engine.awk, which docker-ce-packaging's patch runs
too: packaging.py) does, per file (lines split on "\\n", bytes, LC_ALL=C, in awk):
1. Marker blocks: a line `# mobyci:<id>` followed by the rule's lines is an insertion already applied.
   A marker of a rule this spec does not have here, or a block that differs, is an error (the tree was
   patched with another spec). Block lines are never rewritten.
2. Rewrites, rule after rule, each a single left-to-right pass over a line. At each position: a rule's
   target found there is copied as is (so a second run, or a target that contains its source, changes
   nothing); else the longest exact source whose next character cannot continue a URL path; else the
   longest prefix source; else the character is copied.
3. Insertions: after the only `FROM … AS <stage>` line (or `FROM <image>`), each missing block, in rule order.
4. The result must be a fixed point: running 1-3 on it again must change nothing.
Every rule is checked on every file before any file changes; changed files are moved into place whole.
tests/reference_patch.py is a Python reference of the same steps that the property tests compare it against.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from mobyci.errors import MobyciError

if TYPE_CHECKING:
    from mobyci.load.reader import LoadedSpec


class PatchReport(NamedTuple):
    lines: list[str]  # the summary a person reads (the script's standard output)
    pending: bool  # --check only: something would change (the script exits 1 without a message)
    notes: list[str]  # anything the script (or a tool it ran) wrote to standard error on success


def apply_patch(loaded: LoadedSpec, tree: Path, *, check: bool) -> PatchReport:
    """Run the spec's patch script on `tree` with the `sh` on PATH, in the current environment (which holds
    the CI variables the script reads). Raises MobyciError with the script's messages when it refuses."""
    from mobyci.patch.script import ME, build_patch_script

    shell = shutil.which("sh")
    if shell is None:
        raise MobyciError(
            "mobyci patch --apply/--check runs the patch script with sh: no sh on PATH; "
            "install a POSIX shell or run `mobyci patch -o mobyci-patch.sh` and the script where one is"
        )
    script = build_patch_script(loaded)
    with tempfile.TemporaryDirectory(prefix="mobyci-patch-") as tmp:
        path = Path(tmp, "mobyci-patch.sh")
        path.write_text(script, encoding="utf-8")
        # The script passes the tree's paths to grep, which would read a leading "-" as an option.
        where = os.fspath(tree)
        argv = [shell, str(path), *(["--check"] if check else []), "--", f"./{where}" if where[:1] == "-" else where]
        done = subprocess.run(argv, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    lines = _lines(done.stdout)
    messages = [line.removeprefix(f"{ME}: ") for line in _lines(done.stderr)]  # the CLI's own messages now
    if done.returncode == 0:
        return PatchReport(lines, False, messages)
    if done.returncode == 1 and messages:
        raise MobyciError("\n".join(messages))
    if done.returncode == 1 and check:
        return PatchReport(lines, True, [])
    raise MobyciError(
        "\n".join(
            [*messages, f"{tree}: the patch script stopped with exit code {done.returncode}; run the patch again"]
        )
    )


def _lines(data: bytes) -> list[str]:
    # File contents can reach a message (a marker line): shown as Python would, undecodable bytes replaced.
    text = data.decode("utf-8", errors="replace")
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n") if text else []
