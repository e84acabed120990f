"""Hostile and broken specs: a corpus of files, each with the exact problems a user sees, and the look-alikes that
are valid, which must load and render exactly as written.

The corpus is `tests/hostile/<case>.yaml` (the bytes of the file, NULs and invalid UTF-8 included) next to
`<case>.expected` (one problem per line, as `mobyci validate` prints them for a file named mobyci.yaml). To add a
case, write both files; messages are the user interface, so read the expected file before committing it.
"""

from __future__ import annotations

import shutil
import time
import tracemalloc
from pathlib import Path

import pytest

from mobyci.emit.render import make_plan
from mobyci.errors import SpecError
from mobyci.load.reader import LoadedSpec, load_file, load_text
from tests.helpers.outputs import FORMATS, meaning, render_all, shell_lines, strings, words_under_dash

CORPUS = Path(__file__).parent / "hostile"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))
BASE = "version: 1\nmoby: {ref: v20.10.27}\ntargets: [binary]\n"


def _problems(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.chdir(path.parent)
    with pytest.raises(SpecError) as caught:
        load_file(path.name)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("case", CASES)
def test_hostile_spec_reports_exact_problems(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "mobyci.yaml"
    shutil.copyfile(CORPUS / f"{case}.yaml", spec)
    expected = (CORPUS / f"{case}.expected").read_text().splitlines()
    assert _problems(spec, monkeypatch) == expected


def test_corpus_is_complete() -> None:
    assert len(CASES) >= 60
    assert sorted(p.stem for p in CORPUS.glob("*.expected")) == CASES
    for case in CASES:
        lines = (CORPUS / f"{case}.expected").read_text().splitlines()
        assert lines, case
        assert all(line.startswith("mobyci.yaml:") for line in lines), case


# --- bounds: refused fast, in bounded memory ---------------------------------------------------------------------


def _bounded(text: str, *, seconds: float = 2.0, mib: int = 30) -> str:
    """The problem `text` is refused with; asserts it is found within `seconds`, and within `mib` of memory
    (measured in a second run: tracemalloc slows Python down several times)."""
    started = time.perf_counter()
    with pytest.raises(SpecError) as caught:
        load_text(text)
    elapsed = time.perf_counter() - started
    assert elapsed < seconds, f"took {elapsed:.2f}s"
    tracemalloc.start()
    try:
        with pytest.raises(SpecError):
            load_text(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < mib * 1024 * 1024, f"peak {peak / 1024 / 1024:.1f} MiB"
    return str(caught.value)


def test_billion_laughs_is_refused_fast_in_bounded_memory() -> None:
    # 10^9 values once expanded.
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    message = _bounded("\n".join(lines) + "\n" + BASE)
    assert message.endswith("the document expands to more than 10000 values (an alias bomb?)")


def test_deep_nesting_is_refused_fast() -> None:
    assert _bounded("a: " + "[" * 50_000 + "]" * 50_000 + "\n").endswith(
        "nesting too deep: a spec needs only a few levels"
    )


def test_ten_megabyte_file_is_refused_by_size_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "mobyci.yaml"
    with spec.open("wb") as out:
        out.write(BASE.encode())
        out.write(b"#" * (10 * 1024 * 1024 - len(BASE)) + b"\n")
    tracemalloc.start()
    try:
        problems = _problems(spec, monkeypatch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problems == ["mobyci.yaml: is 10485761 bytes; a spec is limited to 1048576 bytes"]
    assert peak < 1024 * 1024  # the size comes from stat(); the file is never read


def test_ten_megabyte_text_is_refused_by_size() -> None:
    with pytest.raises(SpecError) as caught:
        load_text(BASE + "#" * (10 * 1024 * 1024) + "\n")
    assert str(caught.value) == "mobyci.yaml: a spec is limited to 1048576 bytes"


# --- valid look-alikes: accepted, and rendered exactly ------------------------------------------------------------


def _spec(moby: str = "{ref: v20.10.27}", extra: str = "") -> str:
    return f"version: 1\nmoby: {moby}\ntargets: [binary]\n{extra}"


def _render(text: str) -> tuple[LoadedSpec, dict[str, str]]:
    loaded = load_text(text)
    return loaded, render_all(loaded)


def _fetched(loaded: LoadedSpec, outputs: dict[str, str]) -> None:
    """Every pipeline fetches exactly the spec's ref from exactly the clone URL, as dash reads the lines."""
    clone = make_plan(loaded).clone_url
    for fmt in FORMATS:
        lines = shell_lines(fmt, outputs[fmt])
        remote = next(line for line in lines if line.startswith("git -C moby remote add origin "))
        fetch = next(line for line in lines if line.startswith("git -C moby fetch "))
        assert words_under_dash(remote, "git")[-1] == clone, fmt
        assert words_under_dash(fetch, "git")[-1] == loaded.spec.moby.ref, fmt


def test_utf8_bom_and_crlf_line_endings_are_accepted() -> None:
    assert load_text("\ufeff" + BASE.replace("\n", "\r\n")).spec.moby.ref == "v20.10.27"


@pytest.mark.parametrize("ref", ["yes", "no", "on", "off", "null", "0o17", "1e3", "feature/a+b@c,d=e"])
def test_yaml_special_refs_quoted_are_branch_names(ref: str) -> None:
    loaded, outputs = _render(_spec(f"{{ref: '{ref}', family: '29'}}"))
    assert loaded.spec.moby.ref == ref
    _fetched(loaded, outputs)


def test_unquoted_yes_and_no_stay_strings_in_yaml_1_2() -> None:
    loaded = load_text(_spec("{ref: no, family: '29'}", "mirrors: {apt: yes}\n"))
    assert loaded.spec.moby.ref == "no"
    assert loaded.spec.mirrors.apt == "yes"


def test_explicit_str_tag_keeps_a_number_as_text() -> None:
    loaded = load_text(_spec("{ref: master, family: !!str 19.03}", "mirrors: {apt: archive}\n"))
    assert loaded.spec.moby.family == "19.03"


@pytest.mark.parametrize(
    "registry", ["https://hub.example.com:5000", "https://[2001:db8::1]:5000", "https://10.0.0.7", "https://[::1]"]
)
def test_registry_with_port_or_ip_literal_is_accepted_and_written_as_is(registry: str) -> None:
    _, outputs = _render(_spec(extra=f"mirrors: {{registry: '{registry}'}}\n"))
    service = meaning("gitlab", outputs["gitlab"])[".mobyci-docker"]["services"][0]
    assert service["command"] == [f"--registry-mirror={registry}"]


@pytest.mark.parametrize(
    "repo",
    [
        "https://[2001:db8::1]/moby/moby.git",
        "https://git.example.com:8443/moby/moby.git",
        "git@git.example.com:moby/moby.git",
        "ssh://git@git.example.com:2222/moby/moby.git",
        "https://git.example.com/mo%62y/moby.git",
        "https://xn--gthub-2ib.example/moby.git",
    ],
)
def test_repository_urls_that_need_quoting_reach_git_intact(repo: str) -> None:
    loaded, outputs = _render(_spec(f"{{ref: v20.10.27, repo: '{repo}'}}"))
    assert make_plan(loaded).clone_url == repo
    _fetched(loaded, outputs)


@pytest.mark.parametrize("proxy", ["http://[2001:db8::1]:3128", "http://proxy.corp:3128", "socks5h://10.0.0.1:1080"])
def test_literal_proxy_urls_without_credentials_are_passed_on_exactly(proxy: str) -> None:
    _, outputs = _render(_spec(extra=f"proxy: {{http: '{proxy}'}}\n"))
    gitlab = meaning("gitlab", outputs["gitlab"])
    assert gitlab["variables"]["HTTP_PROXY"] == proxy
    for fmt in FORMATS:
        assert any(proxy in s for s in strings(meaning(fmt, outputs[fmt]))), fmt


def test_no_proxy_entries_that_look_like_other_types_stay_text() -> None:
    entries = ["yes", "::1", "[::1]", "10.0.0.0/8", ".corp.example:8080", "*"]
    listed = ", ".join(f"'{e}'" for e in entries)
    _, outputs = _render(_spec(extra=f"proxy: {{http: $CORP_PROXY, no_proxy: [{listed}]}}\n"))
    no_proxy = meaning("gitlab", outputs["gitlab"])["variables"]["NO_PROXY"]
    # GitLab adds the instance and its registry after the user's entries.
    assert no_proxy.endswith(",".join([*entries, "$CI_SERVER_HOST", "$CI_REGISTRY"]))


def test_anchors_and_aliases_in_small_numbers_are_fine() -> None:
    loaded = load_text(_spec(extra="proxy: {http: &p $CORP_PROXY, https: *p}\n"))
    assert loaded.spec.proxy.https == "$CORP_PROXY"


def test_percent_and_plus_in_a_mirror_url_reach_the_patch_script_and_clone_url() -> None:
    target = "https://mirror.example.com/a%2Bb+c/"
    loaded, outputs = _render(_spec(extra=f"mirrors: {{git: {{'https://github.com/': '{target}'}}}}\n"))
    assert loaded.spec.mirrors.git == {"https://github.com/": target}
    assert target in outputs["patch"]
    assert make_plan(loaded).clone_url == target + "moby/moby.git"
    _fetched(loaded, outputs)
