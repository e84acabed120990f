"""What `mobyci render` refuses, `mobyci validate` refused first, located, for the CI systems a spec names.

One validation pass (specmodel/checks.py `system_findings`) serves both; past it the emitters are total: anything a
render of a valid spec raises besides a located SpecError is a bug (exit 3). So every valid spec of the corpora
(goldens, examples, the hostile corpus, generated specs) renders in every format with exit 0, or, for a system
its `outputs:` do not name, is refused with exit 1 at a line and column.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobyci import commands, formats
from mobyci.errors import SpecError
from mobyci.load.reader import load_file
from tests.helpers import EXAMPLES, ROOT
from tests.helpers.fuzz_specs import as_yaml, specs

_CORPUS = sorted(
    [
        *(ROOT / "tests" / "golden").glob("*/spec.yaml"),
        *EXAMPLES.glob("*/mobyci.yaml"),
        *(ROOT / "tests" / "hostile").glob("*.yaml"),
    ]
)
_LOCATED = re.compile(r"^[^:\n]+:\d+:\d+: ")


def _named_systems(path: Path) -> set[str]:
    listed = load_file(str(path)).spec.outputs.as_dict()
    return {entry.system for entry in formats.FORMATS.values() if listed.get(entry.outputs_key)}


def _render(spec: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = commands.run(commands.render, spec=spec, fmt=fmt, output=None, all_outputs=False, check=False, force=False)
    return code, capsys.readouterr().err


def _judge(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    named = _named_systems(spec)
    for fmt, entry in formats.FORMATS.items():
        code, err = _render(spec, fmt, capsys)
        if entry.system in named or code == 0:
            assert code == 0, (fmt, err)  # warnings may be printed
        else:
            assert code == 1, (fmt, err)
            assert all(_LOCATED.match(line) for line in err.splitlines() if line and not line.startswith(" ")), err


def _loads(path: Path) -> bool:
    try:
        load_file(str(path))
    except SpecError:
        return False
    return True


def test_the_corpora_hold_valid_specs() -> None:
    assert sum(_loads(path) for path in _CORPUS) >= 10


@pytest.mark.parametrize("path", _CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_valid_spec_renders_in_every_format(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(path.parent)
    if not _loads(Path(path.name)):
        return  # refused by validate: nothing is rendered
    _judge(Path(path.name), capsys)


_RESERVED_NAME_SPEC = """\
version: 1
moby: {ref: v28.5.2}
proxy: {http: $GITHUB_PROXY}
targets: [binary]
"""


def test_a_reserved_github_secret_is_refused_by_validate_when_the_spec_renders_for_github(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("mobyci.yaml").write_text(_RESERVED_NAME_SPEC + "outputs: {github: .github/workflows/mobyci.yml}\n")
    assert commands.run(commands.validate, specs=[Path("mobyci.yaml")]) == 1
    assert capsys.readouterr().err == (
        "mobyci.yaml:3:15: proxy.http: the CI variable GITHUB_PROXY cannot be a GitHub secret (names starting with "
        "GITHUB_ are reserved): rename it here and in the repository secrets\n"
    )


def test_a_reserved_github_secret_is_fine_for_gitlab_and_refused_located_for_github(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("mobyci.yaml").write_text(_RESERVED_NAME_SPEC + "outputs: {gitlab: .gitlab-ci.yml}\n")
    assert commands.run(commands.validate, specs=[Path("mobyci.yaml")]) == 0
    capsys.readouterr()
    assert _render(Path("mobyci.yaml"), "gitlab", capsys)[0] == 0
    code, err = _render(Path("mobyci.yaml"), "github", capsys)
    assert (code, err.split(" the CI variable")[0]) == (1, "mobyci.yaml:3:15: proxy.http:")


def test_a_reserved_github_secret_in_a_login_or_a_ca_is_located_too(tmp_path: Path) -> None:
    text = (
        "version: 1\nmoby: {ref: v28.5.2}\n"
        'mirrors: {git: {"https://github.com/": "https://git.example/"}, git_auth: {username: ci, password: '
        "$GITHUB_GIT_TOKEN}}\ntls: {ca_certs: [$CORP_CA, $github_ca]}\ntargets: [binary]\n"
        "outputs: {github: .github/workflows/mobyci.yml}\n"
    )
    (tmp_path / "mobyci.yaml").write_text(text)
    with pytest.raises(SpecError) as caught:
        load_file(str(tmp_path / "mobyci.yaml"))
    located = [str(problem).split(": the CI variable")[0] for problem in caught.value.problems]
    assert located == [
        f"{tmp_path / 'mobyci.yaml'}:3:100: mirrors.git_auth.password",
        f"{tmp_path / 'mobyci.yaml'}:4:28: tls.ca_certs[1]",
    ]


_PROXY_NAMED_SPEC = """\
version: 1
moby: {ref: v28.5.2}
proxy: {http: $HTTP_PROXY, no_proxy: [$no_proxy]}
targets: [binary]
"""
_PROXY_NAME_REFUSED = (
    "mobyci.yaml:3:15: proxy.http: the CI variable must not be called HTTP_PROXY: GitLab passes YAML variables to "
    "the docker-in-docker service only under a different name. Rename it in your CI settings (e.g. CORP_HTTP_PROXY)\n"
    "mobyci.yaml:3:39: proxy.no_proxy[0]: the CI variable must not be called no_proxy: GitLab passes YAML variables "
    "to the docker-in-docker service only under a different name. Rename it in your CI settings (e.g. CORP_NO_PROXY)\n"
)


def test_a_proxy_named_variable_is_refused_located_when_gitlab_is_in_play(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("mobyci.yaml").write_text(_PROXY_NAMED_SPEC + "outputs: {gitlab: .gitlab-ci.yml}\n")
    assert commands.run(commands.validate, specs=[Path("mobyci.yaml")]) == 1
    assert capsys.readouterr().err == _PROXY_NAME_REFUSED


def test_a_proxy_named_variable_is_accepted_with_only_github_in_play(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("mobyci.yaml").write_text(_PROXY_NAMED_SPEC + "outputs: {github: .github/workflows/mobyci.yml}\n")
    assert commands.run(commands.validate, specs=[Path("mobyci.yaml")]) == 0
    capsys.readouterr()
    code, _ = _render(Path("mobyci.yaml"), "github", capsys)
    assert code == 0
    # Rendered for GitLab after all (--format), the same refusal, located.
    assert _render(Path("mobyci.yaml"), "gitlab", capsys) == (1, _PROXY_NAME_REFUSED)


def test_a_spec_that_names_no_system_is_judged_for_the_one_rendered_or_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No `outputs:`: validate judges the default system (what `mobyci render` writes) and refuses GitLab's reserved
    # names; `render --format github` and `plan --for github` write or plan for GitHub alone, which takes them.
    monkeypatch.chdir(tmp_path)
    Path("mobyci.yaml").write_text(_PROXY_NAMED_SPEC)
    assert commands.run(commands.validate, specs=[Path("mobyci.yaml")]) == 1
    assert capsys.readouterr().err == _PROXY_NAME_REFUSED
    assert _render(Path("mobyci.yaml"), "github", capsys) == (0, "")
    assert _render(Path("mobyci.yaml"), "buildkite", capsys) == (0, "")
    assert _render(Path("mobyci.yaml"), "gitlab", capsys) == (1, _PROXY_NAME_REFUSED)
    assert commands.run(commands.plan, spec=Path("mobyci.yaml"), fmt="text", system="github") == 0
    assert capsys.readouterr().err == ""
    # With a key typo too, the problems reported beside it are the ones that system would report.
    Path("mobyci.yaml").write_text(_PROXY_NAMED_SPEC + "taregts: [binary]\n")
    assert _render(Path("mobyci.yaml"), "github", capsys) == (
        1,
        "mobyci.yaml:5:1: taregts: unknown key 'taregts'; did you mean 'targets'?\n",
    )


_SYSTEMS_NAMED = st.lists(st.sampled_from(list(formats.FORMATS.values())), max_size=2, unique=True)


@settings(deadline=None, max_examples=30)
@given(specs(), _SYSTEMS_NAMED, st.sampled_from(["$CORP_PROXY", "$GITHUB_PROXY", None]))
def test_generated_specs_render_in_every_format(spec: dict[str, Any], named: list[Any], proxy: str | None) -> None:
    if proxy is not None:
        spec.setdefault("proxy", {})["http"] = proxy
    if named:
        spec["outputs"] = {entry.outputs_key: entry.default_output for entry in named}
    with pytest.MonkeyPatch.context() as patch:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            patch.chdir(tmp)
            Path("mobyci.yaml").write_text(as_yaml(spec))
            if not _loads(Path("mobyci.yaml")):
                return
            for fmt, entry in formats.FORMATS.items():
                code = commands.run(
                    commands.render,
                    spec=Path("mobyci.yaml"),
                    fmt=fmt,
                    output=None,
                    all_outputs=False,
                    check=False,
                    force=False,
                )
                assert code in ((0,) if entry.system in {e.system for e in named} else (0, 1)), fmt
