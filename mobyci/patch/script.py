"""moby's patch as a self-contained POSIX sh script, rendered from templates/patch.sh.j2 around the one patch engine
(engine.py).

CI runs the script; `mobyci patch --apply/--check DIR` runs it too (patch.py), so every message a user sees
from the patch is written here or in the template. tests/test_patch_property.py holds its awk to the Python
reference in tests/reference_patch.py.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mobyci.committed.header import OutputFile, regenerate_command, with_header
from mobyci.families.touchpoints import DETECTION, DETECTION_HINT, TREE_MARKERS, Contains, Exists, HasLine, LineStarts
from mobyci.formats import PATCH_OUTPUT
from mobyci.patch.engine import engine_awk, rule_data
from mobyci.patch.rules import (
    CA_FILE_ENV,
    Insertion,
    Rule,
    build_rules,
    ca_file_checks,
    check_rule,
    patterns_of,
)
from mobyci.patch.template import sh_dq

if TYPE_CHECKING:
    from mobyci.load.reader import LoadedSpec


ME = "mobyci-patch"  # the script's name before each of its messages ("mobyci-patch: …")

# What the script says when it refuses a tree. Fields in _RUN_TIME are shell expressions the script expands as it
# runs; the others are filled in when it is rendered. (tests/reference_patch.py formats the same texts.)
NOT_A_TREE = "{tree}: not a moby source tree (no {missing}): run the patch in the root of a moby checkout"
UNKNOWN_FAMILY = "{tree}: cannot tell the moby release family of this tree ({hint})"
MISMATCH = (
    "{tree}: the tree is moby family {detected}, but the spec is for family {expected} ({spec}): "
    "check out the spec's moby.ref in this tree, or fix moby.ref / moby.family"
)
MISS = "rule {rule}: expected {expected} in {files}; found none (detected family {family})"
_RUN_TIME = {"tree": "$mobyci_dir", "missing": "$mobyci_m", "detected": "$mobyci_family"}


def miss_values(rule: Rule) -> dict[str, str]:
    return {"rule": rule.id, "expected": rule.expected, "files": ", ".join(rule.files)}


def _pieces(message: str, values: dict[str, str]) -> list[tuple[str, bool]]:
    """(text, is a shell expression) pieces of `message`, render-time fields filled in from `values`."""
    pieces: list[tuple[str, bool]] = []
    for literal, name, _, _ in string.Formatter().parse(message):
        pieces.append((literal, False))
        if name is not None:
            pieces.append((_RUN_TIME[name], True) if name in _RUN_TIME else (values[name], False))
    return pieces


def _sh_word(message: str, **values: str) -> str:
    """`message` as one sh word: double-quoted up to its last shell expression, the literal rest single-quoted."""
    pieces = _pieces(message, values)
    last = max(i for i, (_, expr) in enumerate(pieces) if expr)
    head = "".join(text if expr else sh_dq(text) for text, expr in pieces[: last + 1])
    tail = "".join(text for text, _ in pieces[last + 1 :])
    return f'"{head}"' + (shlex.quote(tail) if tail else "")


def _miss_head(rule: Rule) -> str:
    """The rule's "found none" message up to the family, which the script detects and follows with _MISS_TAIL."""
    return MISS.partition("{family}")[0].format(**miss_values(rule))


_MISS_TAIL = MISS.partition("{family}")[2]


def spec_description(loaded: LoadedSpec) -> str:
    return f"{loaded.path}, moby.ref {loaded.spec.moby.ref}"


def _sh_regex(prefix: str) -> str:
    """A grep -E pattern for a line starting with `prefix` literally."""
    return "^" + re.sub(r"([\\.\[\]()*+?{}|^$])", r"\\\1", prefix)


def _detect_tests() -> list[tuple[str, str]]:
    """DETECTION as sh conditions, in order."""
    tests = []
    for family, conditions in DETECTION:
        parts = []
        for c in conditions:
            path = '"$mobyci_dir"/' + shlex.quote(c.path)
            if isinstance(c, Exists):
                parts.append(f"[ -f {path} ]")
            elif isinstance(c, HasLine):
                parts.append(f"grep -Fqx -e {shlex.quote(c.text)} {path} 2>/dev/null")
            elif isinstance(c, LineStarts):
                parts.append(f"grep -Eq -e {shlex.quote(_sh_regex(c.prefix))} {path} 2>/dev/null")
            else:
                assert isinstance(c, Contains)
                parts.append(f"grep -Fq -e {shlex.quote(c.text)} {path} 2>/dev/null")
        tests.append((family, " && ".join(parts)))
    return tests


def _comment(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def render_script(
    rules: Sequence[Rule],
    *,
    family: str,
    spec_path: str,
    spec_desc: str,
    command: str | None = None,
    spec_digest: str = "",
) -> str:
    """The self-contained POSIX sh patch script for `rules` (deterministic bytes). `command` is how to
    regenerate it, for the header (default: `mobyci patch SPEC -o mobyci-patch.sh`)."""
    from mobyci.patch.template import patch_template

    for rule in rules:
        check_rule(rule)
    env_checks: list[tuple[str, str]] = []
    for rule in rules:
        for value in rule.env:
            if value.name not in [name for name, _ in env_checks]:
                env_checks.append((value.name, value.setting))
    patterns = patterns_of(rules)
    template = patch_template()
    body = template.render(
        family=family,
        spec_desc=spec_desc,
        rules=[
            {
                "n": pos + 1,
                "id": rule.id,
                "kind": rule.kind,
                "title": _comment(rule.title),
                "files": ", ".join(rule.files),
                "cases": "|".join(rule.files),
                "required": rule.required,
                "miss": _miss_head(rule),
                "anchor": Insertion(rule.insertion.stage.lower(), (), rule.insertion.image).anchor
                if rule.insertion
                else "",
                "reps": [(r.source, r.target, int(r.exact)) for r in rule.replacements],
            }
            for pos, rule in enumerate(rules)
        ],
        rule_data=rule_data(rules),
        awk=engine_awk(),
        env_checks=env_checks,
        copies=[(rule.id, rule.tree_file) for rule in rules if rule.tree_file],
        ca_env=CA_FILE_ENV,
        ca_checks=ca_file_checks("mobyci_src", "mobyci_die"),
        patterns=patterns,
        markers=TREE_MARKERS,
        detect=_detect_tests(),
        me=ME,
        not_a_tree=_sh_word(NOT_A_TREE),
        unknown=_sh_word(UNKNOWN_FAMILY, hint=DETECTION_HINT),
        mismatch=_sh_word(MISMATCH, expected=family, spec=spec_desc),
        miss_tail=_MISS_TAIL,
    )
    output = OutputFile(
        "patch",
        None,
        _comment(spec_path),
        _comment(command or regenerate_command(spec_path, "patch", PATCH_OUTPUT)),
        spec_digest,
    )
    return with_header(body, output, notes=(f"moby family {family}",), shebang="#!/bin/sh")


def build_patch_script(loaded: LoadedSpec, *, command: str | None = None, rules: list[Rule] | None = None) -> str:
    """The patch script for a spec; `command` (how to regenerate the file) goes into its header (default: the
    command for its `outputs:` entry, else mobyci-patch.sh)."""
    if command is None:
        listed = loaded.spec.outputs.as_dict().get("patch")
        command = regenerate_command(loaded.path, "patch", listed or PATCH_OUTPUT)
    return render_script(
        build_rules(loaded) if rules is None else rules,
        family=loaded.release.family.name,
        spec_path=loaded.path,
        spec_desc=spec_description(loaded),
        command=command,
        spec_digest=loaded.digest,
    )
