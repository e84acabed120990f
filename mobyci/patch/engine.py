"""The one patch engine: the awk program of patch/engine.awk and the sh lines that hand it its rules.

Both generated scripts run it: moby's patch script (templates/patch.sh.j2, for moby's Dockerfile, installers
and frozen-image script) and the packaging patch (patch/packaging.py, for docker-ce-packaging's Dockerfiles).
Rules are data (rules.py: a Rule is a rewrite or an insertion); rule_data() writes them as environment
variables, which the awk reads by number (MOBYCI_R<n>_*), so no rule text is ever part of the awk program.
The awk reads the file on stdin and the numbers of the rules that apply to it from MOBYCI_RULES; it writes the
new content to $MOBYCI_OUT when it changes, and a report on stdout, one line each:
`ERR <message>` (then nothing else), `ROW <rule id> <file> <status>`, `HIT <rule> <replacement> <count>`,
`SEEN <rule> <count>`, `INS <rule> inserted|applied|missing|ambiguous <anchors>`, `CHANGED 0|1`.
tests/helpers/reference_patch.py is an independent Python reference of the same steps.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Sequence
from pathlib import Path

from mobyci.patch.rules import EnvValue, Rule

_AWK = Path(__file__).with_name("engine.awk")


@functools.cache
def engine_awk() -> str:
    """The awk program, for the inside of an sh single-quoted word (it writes a quote as \\047)."""
    text = _AWK.read_text("utf-8")
    if "'" in text:
        raise AssertionError(f"{_AWK} must not contain a single quote")
    return text


def sh_line(line: tuple[str | EnvValue, ...]) -> str:
    """An sh word that evaluates to an inserted line, reading environment values at run time (through the
    script's mobyci_dq, which escapes them for a Dockerfile double-quoted word)."""
    words = []
    for piece in line:
        if isinstance(piece, str):
            words.append(shlex.quote(piece))  # '' for an empty piece
        else:
            words.append(f'"$(mobyci_dq "${{{piece.name}}}")"')
    return "".join(words)


def _q(value: str) -> str:
    return shlex.quote(value)  # '' for an empty value


def rule_data(rules: Sequence[Rule]) -> list[str]:
    """sh lines that export every rule for the awk, numbered from 1 in order."""
    out: list[str] = []
    for n, rule in enumerate(rules, 1):
        p = f"MOBYCI_R{n}_"
        out += [f"{p}ID={_q(rule.id)}", f"{p}KIND={rule.kind}"]
        if rule.insertion is None:
            out.append(f"{p}N={len(rule.replacements)}")
            for i, rep in enumerate(rule.replacements, 1):
                out += [
                    f"{p}S{i}={_q(rep.source)}",
                    f"{p}T{i}={_q(rep.target)}",
                    f"{p}X{i}={int(rep.exact)}",
                    f"export {p}S{i} {p}T{i} {p}X{i}",
                ]
        else:
            insertion = rule.insertion
            out.append(f"{p}STAGE={_q(insertion.stage.lower())}")
            if insertion.image:
                out.append(f"{p}IMAGE={_q(insertion.image)}")
            out.append(f"{p}N={len(insertion.lines)}")
            for i, line in enumerate(insertion.lines, 1):
                out += [f"{p}L{i}={sh_line(line)}", f"export {p}L{i}"]
            out.append(f"export {p}STAGE" + (f" {p}IMAGE" if insertion.image else ""))
        out.append(f"export {p}ID {p}KIND {p}N")
    return out
