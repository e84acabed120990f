"""A Python reference of the patch engine, for tests only: the generated sh script is the engine.

It follows the steps written down in mobyci/patch/apply.py, in Python; tests/test_patch_property.py
compares the script's results (under dash and busybox) with this one's for arbitrary rules and files, and
tests/test_patch.py does on every family's fixture tree. The packaging patch runs the same engine on
docker-ce-packaging's Dockerfiles: run_packaging is its reference (tests/test_packaging_engine.py).
Nothing in mobyci imports it.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from mobyci.errors import MobyciError
from mobyci.families.detect import holds_in
from mobyci.families.touchpoints import DETECTION, DETECTION_HINT, TREE_MARKERS, Condition
from mobyci.patch.rules import (
    CA_FILE_ENV,
    MARKER_PREFIX,
    EnvValue,
    Rule,
    build_rules,
    check_rule,
    dockerfile_dq,
    patterns_of,
)
from mobyci.patch.script import MISMATCH, MISS, NOT_A_TREE, UNKNOWN_FAMILY, miss_values, spec_description

if TYPE_CHECKING:
    from mobyci.load.reader import LoadedSpec
    from mobyci.patch.packaging import PatchedDockerfile

# Characters that can continue a URL path: an exact source followed by one of them is another URL.
PATH_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~/-")
_MARKER = MARKER_PREFIX.encode()
_BLANKS = re.compile(rb"[ \t]+")
_FILE_PATTERN = re.compile(r"^[A-Za-z0-9._/*-]+$")


@dataclass
class PatchReport:
    lines: list[str] = field(default_factory=list)  # the summary a person reads
    changed: bool = False  # whether anything changed (or, with check, would change)


# ------------------------------------------------------------------------------------- the tree and its family


def check_tree(tree: Path) -> None:
    """Raise MobyciError unless `tree` looks like the root of a moby checkout (as the script's first lines do)."""
    if not tree.is_dir():
        raise MobyciError(f"{tree}: no such directory")
    for marker in TREE_MARKERS:
        if not (tree / marker).is_file():
            raise MobyciError(NOT_A_TREE.format(tree=tree, missing=marker))


def _holds(tree: Path, condition: Condition) -> bool:
    path = tree / condition.path
    return holds_in(path.read_bytes() if path.is_file() else None, condition)


def detect_family(tree: Path) -> str | None:
    """The family of the moby tree in `tree` by touchpoints.DETECTION, or None when no rule matches."""
    for family, conditions in DETECTION:
        if all(_holds(tree, c) for c in conditions):
            return family
    return None


# ---------------------------------------------------------------------------------------------- the engine


class _Resolved(NamedTuple):
    """A rule with its values as bytes and its environment values read."""

    rule: Rule
    reps: tuple[tuple[bytes, bytes, bool], ...]
    stage: bytes
    body: tuple[bytes, ...]
    image: bytes = b""  # when set, the anchor is `FROM <image>` (docker-ce-packaging's), not the stage's line

    def anchored(self, line: bytes) -> bool:
        """Whether `line` is this insertion's anchor."""
        fields = _BLANKS.split(line.strip(b" \t"))
        if fields[0].upper() != b"FROM":
            return False
        if self.image:
            plain = len(fields) == 2 or (len(fields) == 4 and fields[2].upper() == b"AS")
            return plain and fields[1] == self.image
        return len(fields) >= 4 and fields[-2].upper() == b"AS" and fields[-1].lower() == self.stage

    @property
    def id(self) -> str:
        return self.rule.id


@dataclass
class _FileResult:
    rel: str
    before: list[bytes]
    after: list[bytes]
    hits: dict[int, list[int]] = field(default_factory=dict)  # rule position -> hits per replacement
    seen: dict[int, int] = field(default_factory=dict)  # rule position -> targets found already in place
    inserts: dict[int, tuple[str, int]] = field(default_factory=dict)  # rule position -> (state, anchors)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.after != self.before


def env_problem(value: EnvValue, environ: Mapping[str, str]) -> str | None:
    text = environ.get(value.name, "")
    if not text:
        return (
            f"{value.setting}: the CI variable {value.name} is not set or empty: define it for the job that runs "
            "the patch"
        )
    if "\n" in text:
        return f"{value.setting}: the CI variable {value.name} contains a newline"
    return None


def _resolve(rules: Sequence[Rule], environ: Mapping[str, str]) -> list[_Resolved]:
    problems = [p for rule in rules for v in rule.env if (p := env_problem(v, environ)) is not None]
    if problems:
        raise MobyciError("\n".join(dict.fromkeys(problems)))
    resolved = []
    for rule in rules:
        check_rule(rule)
        reps = tuple((r.source.encode(), r.target.encode(), r.exact) for r in rule.replacements)
        body: tuple[bytes, ...] = ()
        stage = image = b""
        if rule.insertion is not None:
            stage = rule.insertion.stage.lower().encode()
            image = rule.insertion.image.encode()
            body = tuple(
                "".join(p if isinstance(p, str) else dockerfile_dq(environ[p.name]) for p in line).encode()
                for line in rule.insertion.lines
            )
        resolved.append(_Resolved(rule, reps, stage, body, image))
    return resolved


def rewrite_line(
    line: bytes,
    reps: Sequence[tuple[bytes, bytes, bool]],
    hits: list[int] | None = None,
    seen: list[int] | None = None,
) -> bytes:
    """One left-to-right pass of one rule's replacements over `line` (see the module docstring)."""
    out = bytearray()
    pos, end = 0, len(line)
    while pos < end:
        first = -1
        for source, target, _ in reps:
            found = line.find(source, pos)
            if found >= 0 and (first < 0 or found < first):
                first = found
            if target:
                found = line.find(target, pos)
                if found >= 0 and (first < 0 or found < first):
                    first = found
        if first < 0:
            break
        skip = 0
        for _, target, _ in reps:
            if target and len(target) > skip and line.startswith(target, first):
                skip = len(target)
        if skip:
            out += line[pos : first + skip]
            pos = first + skip
            if seen is not None:
                seen[0] += 1
            continue
        best, best_len = -1, 0
        for index, (source, _, exact) in enumerate(reps):
            if exact and len(source) > best_len and line.startswith(source, first):
                after = first + len(source)
                if after >= end or line[after] not in PATH_CHARS:
                    best, best_len = index, len(source)
        if best < 0:
            for index, (source, _, exact) in enumerate(reps):
                if not exact and len(source) > best_len and line.startswith(source, first):
                    best, best_len = index, len(source)
        if best >= 0:
            out += line[pos:first] + reps[best][1]
            pos = first + best_len
            if hits is not None:
                hits[best] += 1
            continue
        out += line[pos : first + 1]
        pos = first + 1
    out += line[pos:]
    return bytes(out)


@dataclass
class _Blocks:
    """What step 1 found in a file: applied blocks, anchors per insertion rule, lines inside blocks."""

    present: set[int] = field(default_factory=set)
    anchors: dict[int, int] = field(default_factory=dict)
    lines: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def _scan_blocks(rel: str, lines: list[bytes], inserts: list[tuple[int, _Resolved]]) -> _Blocks:
    by_id = {r.id.encode(): (pos, r) for pos, r in inserts}
    found = _Blocks(anchors=dict.fromkeys((pos for pos, _ in inserts), 0))
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith(_MARKER):
            rule = by_id.get(line[len(_MARKER) :])
            text = line.decode("utf-8", "replace")
            if rule is None:
                found.errors.append(
                    f"{rel}:{index + 1}: '{text}' was not written by this spec: the tree was patched with a "
                    "different spec; start from a clean checkout"
                )
            elif tuple(lines[index + 1 : index + 1 + len(rule[1].body)]) != rule[1].body:
                found.errors.append(
                    f"{rel}:{index + 1}: the block under '{text}' differs from this spec: the tree was patched "
                    "with a different spec; start from a clean checkout"
                )
            else:
                found.present.add(rule[0])
                found.lines.update(range(index, index + len(rule[1].body) + 1))
                index += len(rule[1].body) + 1
                continue
            index += 1
            continue
        for pos, r in inserts:
            if r.anchored(line):
                found.anchors[pos] += 1
        index += 1
    return found


def _insert_state(blocks: _Blocks, pos: int) -> str:
    if pos in blocks.present:
        return "applied"
    count = blocks.anchors[pos]
    return "missing" if count == 0 else "ambiguous" if count > 1 else "inserted"


def _transform(
    rel: str, lines: list[bytes], active: list[tuple[int, _Resolved]], result: _FileResult | None
) -> list[bytes] | None:
    """Steps 1-3 over one file; None on an error (recorded in `result` when given)."""
    inserts = [(pos, r) for pos, r in active if r.rule.insertion is not None]
    blocks = _scan_blocks(rel, lines, inserts)
    if blocks.errors:
        if result is not None:
            result.errors.extend(blocks.errors)
        return None
    out: list[bytes] = []
    for index, line in enumerate(lines):
        if index in blocks.lines:
            out.append(line)
            continue
        new = line
        for pos, rule in active:
            if rule.rule.whole_line:
                ((prefix, whole, _),) = rule.reps
                if new.startswith(prefix) and result is not None:
                    if new == whole:
                        result.seen[pos] += 1
                    else:
                        result.hits[pos][0] += 1
                new = whole if new.startswith(prefix) else new
            elif rule.reps:
                seen = [0]
                new = rewrite_line(new, rule.reps, result.hits[pos] if result else None, seen)
                if result is not None:
                    result.seen[pos] += seen[0]
        out.append(new)
        for pos, rule in inserts:
            if rule.anchored(line) and _insert_state(blocks, pos) == "inserted":
                out.append(_MARKER + rule.id.encode())
                out.extend(rule.body)
    if result is not None:
        for pos, _ in inserts:
            result.inserts[pos] = (_insert_state(blocks, pos), blocks.anchors[pos])
    return out


def _split(data: bytes) -> list[bytes]:
    if not data:
        return []
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    return lines


def process_file(rel: str, data: bytes, active: list[tuple[int, _Resolved]]) -> _FileResult:
    lines = _split(data)
    result = _FileResult(rel, lines, lines)
    for pos, rule in active:
        if rule.reps:
            result.hits[pos] = [0] * len(rule.reps)
            result.seen[pos] = 0
    out = _transform(rel, lines, active, result)
    if out is None:
        return _failed(result)
    again = _transform(rel, out, active, None)
    if again != out:
        differs = len(out) + 1
        if again is not None:
            differs = next(
                (i + 1 for i in range(max(len(out), len(again))) if out[i : i + 1] != again[i : i + 1]), differs
            )
        result.errors.append(
            f"{rel}:{differs}: a second run would change this line again (a mirror target holds a text the rules "
            "replace): fix the mirrors in the spec"
        )
        return _failed(result)
    result.after = out
    return result


def _failed(result: _FileResult) -> _FileResult:
    """A file with errors reports nothing else (as the script's awk does)."""
    result.hits = {pos: [0] * len(hits) for pos, hits in result.hits.items()}
    result.seen = dict.fromkeys(result.seen, 0)
    result.inserts = {}
    return result


# ------------------------------------------------------------------------------------------- files and report


def expand(tree: Path, pattern: str) -> list[str]:
    """Files matching `pattern` under `tree`, as the script's shell globbing finds them (C locale order)."""
    parent, _, name = pattern.rpartition("/")
    if not any(c in name for c in "*?["):
        return [pattern] if (tree / pattern).is_file() else []
    directory = tree / parent if parent else tree
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = [n for n in names if not n.startswith(".") and fnmatch.fnmatchcase(n, name) and (directory / n).is_file()]
    return [f"{parent}/{n}" if parent else n for n in sorted(found, key=os.fsencode)]


def _row(rule_id: str, rel: str, status: str) -> str:
    return f"  {rule_id:<18} {rel:<44} {status}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _collect(tree: Path, rules: Sequence[Rule], resolved: list[_Resolved]) -> list[_FileResult]:
    results: list[_FileResult] = []
    seen_files: set[str] = set()
    for pattern in patterns_of(rules):
        for rel in expand(tree, pattern):
            if rel in seen_files:
                continue
            seen_files.add(rel)
            active = [
                (pos, r) for pos, r in enumerate(resolved) if any(fnmatch.fnmatchcase(rel, p) for p in r.rule.files)
            ]
            if active:
                results.append(process_file(rel, (tree / rel).read_bytes(), active))
    return results


def _rule_errors(resolved: list[_Resolved], results: list[_FileResult], family: str) -> list[str]:
    errors = []
    for pos, r in enumerate(resolved):
        rule = r.rule
        if rule.insertion is not None:
            states = [res.inserts[pos] for res in results if pos in res.inserts]
            state, count = states[0] if states else ("missing", 0)
            if state == "ambiguous":
                ins = rule.insertion
                anchor = f"FROM {ins.image}" if ins.image else f"FROM … AS {ins.stage}"
                errors.append(f"rule {rule.id}: {rule.files[0]}: {count} lines match '{anchor}'; expected exactly one")
            elif state == "missing" and rule.required:
                errors.append(MISS.format(**miss_values(rule), family=family))
        else:
            hits = sum(sum(res.hits.get(pos, [])) for res in results)
            seen = sum(res.seen.get(pos, 0) for res in results)
            if hits == 0 and seen == 0 and rule.required:
                errors.append(MISS.format(**miss_values(rule), family=family))
    return errors


def _summary(resolved: list[_Resolved], results: list[_FileResult], *, check: bool) -> list[str]:
    lines = []
    for res in results:
        for pos, r in enumerate(resolved):
            if pos in res.hits:
                count = sum(res.hits[pos])
                if count:
                    lines.append(_row(r.id, res.rel, _plural(count, "replacement") + (" to make" if check else "")))
                elif res.seen[pos]:
                    lines.append(_row(r.id, res.rel, "already applied"))
            elif pos in res.inserts:
                state = res.inserts[pos][0]
                if state == "inserted":
                    lines.append(_row(r.id, res.rel, "to insert" if check else "inserted"))
                elif state == "applied":
                    lines.append(_row(r.id, res.rel, "already applied"))
    for pos, r in enumerate(resolved):
        per_key = [sum(res.hits[pos][j] for res in results if pos in res.hits) for j in range(len(r.reps))]
        if sum(per_key):
            lines.extend(
                f"note: rule {r.id}: '{r.rule.replacements[j].source}' matched nothing"
                for j, count in enumerate(per_key)
                if count == 0
            )
    return lines


def run_rules(
    rules: Sequence[Rule],
    tree: Path,
    *,
    family: str,
    spec_desc: str,
    check: bool,
    environ: Mapping[str, str],
) -> PatchReport:
    """The reference engine: check the tree, run every rule on every file, then write all or nothing."""
    check_tree(tree)
    detected = detect_family(tree)
    if detected is None:
        raise MobyciError(UNKNOWN_FAMILY.format(tree=tree, hint=DETECTION_HINT))
    if detected != family:
        raise MobyciError(MISMATCH.format(tree=tree, detected=detected, expected=family, spec=spec_desc))
    resolved = _resolve(rules, environ)
    copies = _tree_copies(rules, tree, environ, check=check)
    results = _collect(tree, rules, resolved)
    errors = [e for res in results for e in res.errors] or _rule_errors(resolved, results, detected)
    if errors:
        raise MobyciError("\n".join([*errors, "nothing was changed"]))

    lines = [f"moby family {detected} (detected from the tree)", *_summary(resolved, results, check=check)]
    for rule_id, rel, data, current in copies:
        if data is None:  # --check without the CA file: the copy is reported, not compared
            status = (
                f"present (not compared: {CA_FILE_ENV} is not set)"
                if current
                else (f"to copy from {CA_FILE_ENV} in the pipeline")
            )
        else:
            status = "already applied" if current else ("to copy" if check else "copied")
        lines.append(_row(rule_id, rel, status))
    changed: list[object] = [res for res in results if res.changed]
    changed += [copy for copy in copies if not copy[3]]
    if not rules:
        lines.append("the spec maps no mirror into the tree: nothing to change")
    elif not changed:
        lines.append("already applied: nothing to change")
    elif check:
        lines.append(f"{_plural(len(changed), 'file')} would change")
    else:
        for res in results:
            if res.changed:
                _write_keep_mode(tree / res.rel, b"".join(line + b"\n" for line in res.after))
        for _, rel, data, current in copies:
            if not current and data is not None:
                _write_new(tree / rel, data)
        lines.append(f"patched {_plural(len(changed), 'file')}")
    return PatchReport(lines, bool(changed))


def _tree_copies(
    rules: Sequence[Rule], tree: Path, environ: Mapping[str, str], *, check: bool
) -> list[tuple[str, str, bytes | None, bool]]:
    """(rule id, path in the tree, content, already in place) of every file a rule copies into the tree; content
    None for --check without the CA file (already in place then means: a file is there)."""
    copies: list[tuple[str, str, bytes | None, bool]] = []
    for rule in rules:
        if not rule.tree_file:
            continue
        source = environ.get(CA_FILE_ENV, "")
        if not source and check:
            copies.append((rule.id, rule.tree_file, None, (tree / rule.tree_file).is_file()))
            continue
        if not source:
            raise MobyciError(
                f"tls.ca_certs: {CA_FILE_ENV} is not set: set it to the PEM file of the CA certificates "
                "(the generated pipelines do)"
            )
        try:
            data = Path(source).read_bytes()
        except OSError:
            raise MobyciError(f"tls.ca_certs: {CA_FILE_ENV} names no readable file: {source}") from None
        if b"PRIVATE KEY-----" in data:
            raise MobyciError(f"tls.ca_certs: {source} holds a private key, not a certificate")
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise MobyciError(f"tls.ca_certs: {source} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        dest = tree / rule.tree_file
        current = dest.is_file() and dest.read_bytes() == data
        copies.append((rule.id, rule.tree_file, data, current))
    return copies


def _write_new(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".mobyci-tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_keep_mode(path: Path, data: bytes) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    import tempfile  # only --apply writes files; a render never pays for it

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".mobyci-tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_spec(loaded: LoadedSpec, tree: Path, *, check: bool, environ: Mapping[str, str]) -> PatchReport:
    """The reference on a spec's rules, as `mobyci patch --apply/--check` runs the script on them."""
    return run_rules(
        build_rules(loaded),
        tree,
        family=loaded.release.family.name,
        spec_desc=spec_description(loaded),
        check=check,
        environ=environ,
    )


# ------------------------------------------------------------------------------- docker-ce-packaging's patch


def run_packaging(files: Sequence[PatchedDockerfile], tree: Path, branch: str) -> tuple[int, list[str], str]:
    """The reference of the packaging patch (mobyci/patch/packaging.py) for Dockerfile blocks alone (no CA context,
    no installer): (exit code, standard output lines, standard error). Every Dockerfile is checked first; on a
    problem nothing is written."""
    me = "mobyci-packaging-patch"
    if not (tree / "common.mk").is_file():
        return 1, [], f"{me}: {tree}: not a docker-ce-packaging checkout (no common.mk)\n"
    problems: list[str] = []
    results: list[tuple[PatchedDockerfile, _FileResult]] = []
    for file in files:
        path = tree / file.dockerfile
        if not path.is_file():
            problems.append(
                f"{file.dockerfile}: missing: the checkout is not branch {branch}, or it has no {file.distro}"
            )
            continue
        active = list(enumerate(_resolve(file.rules, {}), 1))
        result = process_file(file.dockerfile, path.read_bytes(), active)
        problems += result.errors
        # In rule order; the script reports the last rule's (they share one anchor: only an applied one differs).
        bad = [state for state, _ in result.inserts.values() if state in ("missing", "ambiguous")]
        if bad:
            what = "no FROM line" if bad[-1] == "missing" else "more than one FROM line"
            problems.append(f"{file.dockerfile}: {what} of the distro image (BUILD_IMAGE)")
        results.append((file, result))
    if problems:
        return 1, [], f"{me}: nothing changed:{''.join(f' {p};' for p in problems)}\n"
    out = []
    for file, result in results:
        if result.changed:
            _write_keep_mode(tree / file.dockerfile, b"".join(line + b"\n" for line in result.after))
            out.append(f"{me}: {file.dockerfile}: {file.setting}")
        else:
            out.append(f"{me}: {file.dockerfile}: already applied")
    return 0, out, ""
