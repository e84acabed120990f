"""A corpus of broken specs: each asserts the exact message a user sees, with its line and column."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mobyci.errors import Problem, SpecError
from mobyci.load.reader import load_file, load_text
from tests.helpers.spec_error_cases import CASES


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_spec_reports_exact_message(text: str, expected: list[str]) -> None:
    with pytest.raises(SpecError) as caught:
        load_text(text, "mobyci.yaml")
    assert [str(p) for p in caught.value.problems] == expected


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert len({c[0] for c in CASES}) == len(CASES)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_file(str(tmp_path / "nope.yaml"))
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: no such file: create one with `mobyci init` or name another"


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_file(str(tmp_path))
    assert str(caught.value) == f"{tmp_path}: is a directory: name the spec file inside it"


def test_not_utf8(tmp_path: Path) -> None:
    spec = tmp_path / "mobyci.yaml"
    spec.write_bytes(b"version: 1\nmoby: {ref: v19.03.12}\n# caf\xe9\ntargets: [binary]\n")
    with pytest.raises(SpecError) as caught:
        load_file(str(spec))
    assert str(caught.value) == f"{spec}:3:6: is not UTF-8 text: save it as UTF-8"


def test_too_large(tmp_path: Path) -> None:
    spec = tmp_path / "mobyci.yaml"
    spec.write_text("version: 1\n" + "#" * (1024 * 1024) + "\n")
    with pytest.raises(SpecError, match=r"is 1048588 bytes; a spec is limited to 1048576 bytes"):
        load_file(str(spec))


def test_bom_is_accepted(base_spec: str) -> None:
    loaded = load_text("\ufeff" + base_spec)
    assert loaded.spec.moby.ref == "v19.03.12"


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(SpecError, match=r"expands to more than 10000 values \(an alias bomb\?\)"):
        load_text("\n".join(lines) + "\n")


def test_nul_byte() -> None:
    with pytest.raises(SpecError) as caught:
        load_text("version: 1\nmoby: {ref: v1\x009}\n")
    assert str(caught.value) == "mobyci.yaml:2:15: unacceptable character '\\x00': remove it"


def test_logins_warn_what_moby_s_own_build_cannot_carry() -> None:
    text = (
        "version: 1\nmoby: {ref: REF}\nmirrors:\n  git: {'https://github.com/': 'https://git.example.com/gh/'}\n"
        "  git_auth: {username: ci-bot, password: $GIT_MIRROR_TOKEN}\n  registry: https://harbor.example.com\n"
        "  registry_auth: {username: $HARBOR_USER, password: $HARBOR_PASSWORD}\ntargets: [binary]\n"
    )
    git = (
        "mobyci.yaml:5:13: mirrors.git_auth: warning: used by the pipeline's own clones only; the git clones inside "
        "moby's Docker build (Dockerfile, hack/dockerfile/install/*.installer) cannot carry credentials without a "
        "build secret, so the mirror must serve those repositories without a login (docs/mirrors.md)"
    )
    registry = (
        "mobyci.yaml:7:18: mirrors.registry_auth: warning: the login is used {}; the frozen-image download inside "
        "moby's Docker build cannot carry it (no build secret), so the mirror must serve those images without a login "
        "(docs/mirrors.md)"
    )

    def logins(ref: str) -> tuple[str, ...]:  # other warnings (image_prefix, criu's download) are tested elsewhere
        return tuple(w for w in load_text(text.replace("REF", ref)).warnings if "_auth: warning:" in w)

    from mobyci.emit.gitlab_system import DIND_MIRROR_LOGIN

    dind = f"mobyci.yaml:7:18: mirrors.registry_auth: warning: {DIND_MIRROR_LOGIN}"
    assert logins("v27.5.1") == (git, registry.format("by BuildKit in the build jobs"), dind)
    assert logins("v20.10.27") == (
        git,
        registry.format(
            "nowhere in family 20.10: mobyci logs in only in the bake build jobs of families 23.0 and later"
        ),
    )


def test_family_unquoted_whole_number_is_the_family() -> None:
    loaded = load_text("version: 1\nmoby: {ref: master, family: 29}\ntargets: [binary]\n")
    assert loaded.spec.moby.family == "29"
    assert loaded.release.family.name == "29"


def test_scp_like_repository_with_an_absolute_path() -> None:
    loaded = load_text(
        "version: 1\nmoby: {ref: v20.10.27, repo: 'git@git.example.org:/srv/moby.git'}\ntargets: [binary]\n"
    )
    assert loaded.spec.moby.repo == "git@git.example.org:/srv/moby.git"


def test_one_run_reports_a_key_typo_a_bad_ref_and_an_unknown_distro() -> None:
    from mobyci.errors import SpecError
    from mobyci.load.reader import load_text

    text = "version: 1\nmoby: {ref: v27.5.99}\nmirors: {apt: x}\ntargets: [{name: deb, distros: [debian-nope]}]\n"
    with pytest.raises(SpecError) as caught:
        load_text(text)
    assert [str(problem) for problem in caught.value.problems] == [
        "mobyci.yaml:2:13: moby.ref: v27.5.99 is not a moby release: the 27 line's newest is v27.5.1 of 2025-01-22, "
        "and it had no release in the year before the facts table was made (2026-12-01); did you mean v27.5.1?",
        "mobyci.yaml:3:1: mirors: unknown key 'mirors'; did you mean 'mirrors'?",
        "mobyci.yaml:4:33: targets[0].distros[0]: 'debian-nope' is not supported by docker-ce-packaging branch 27.x "
        "(family 25-28): use one of debian-bookworm, debian-bullseye, raspbian-bookworm, raspbian-bullseye, "
        "ubuntu-focal, ubuntu-jammy, ubuntu-noble",
    ]


# A fix a message suggests, as the user pastes it: the token at the problem's line and column becomes the
# suggestion (a value quoted, a key or value renamed, a ref replaced).
_SUGGESTIONS = (
    re.compile(r': quote it \("(?P<fix>[^"]*)"\)$'),
    re.compile(r"did you mean '(?P<fix>[^']+)'\?"),
    re.compile(r"did you mean (?P<fix>v?[0-9][\w.+-]*|docker-v[\w.+-]+)\?"),
)
_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|[^\s,{}\[\]:]+(?::(?!\s)[^\s,{}\[\]]*)*""")


def _suggested(text: str, problem: Problem) -> tuple[str, str] | None:
    """The spec with the problem's suggested fix pasted in, and the fix; None when it suggests none."""
    fix = next((m.group("fix") for p in _SUGGESTIONS if (m := p.search(problem.message))), None)
    if fix is None or problem.line < 1:
        return None
    lines = text.split("\n")
    line = lines[problem.line - 1]
    token = _TOKEN.match(line, problem.col - 1)
    assert token is not None, f"nothing to replace at {problem.line}:{problem.col}: {line!r}"
    pasted = f'"{fix}"' if "quote it" in problem.message else fix
    lines[problem.line - 1] = line[: token.start()] + pasted + line[token.end() :]
    return "\n".join(lines), fix


def _suggesting_cases() -> list[tuple[str, str, Problem]]:
    found = []
    for name, text, _ in CASES:
        try:
            load_text(text, "mobyci.yaml")
        except SpecError as caught:
            found += [(name, text, p) for p in caught.problems if _suggested(text, p) is not None]
    return found


@pytest.mark.parametrize(
    ("text", "problem"), [c[1:] for c in _suggesting_cases()], ids=[c[0] for c in _suggesting_cases()]
)
def test_every_suggested_fix_pasted_clears_its_problem(text: str, problem: Problem) -> None:
    suggested = _suggested(text, problem)
    assert suggested is not None
    fixed, fix = suggested
    try:
        load_text(fixed, "mobyci.yaml")
    except SpecError as caught:
        left = [str(p) for p in caught.problems if (p.line, p.col) == (problem.line, problem.col)]
        assert left == [], f"pasting {fix!r} still gives: {left}"


def test_the_suggestions_are_found_where_the_corpus_makes_them() -> None:
    assert len(_suggesting_cases()) >= 10
