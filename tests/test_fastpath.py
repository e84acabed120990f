"""The argv fast path calls exactly what the typer CLI calls, and spares validate/render the heavy imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mobyci import commands, fastpath
from mobyci.cli import app

_COMMANDS = ("version", "init", "validate", "schema", "patch", "render", "plan")


def _typer_call(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any]] | int:
    """What the typer CLI calls in commands.py for argv, or its exit code when it calls nothing."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for name in _COMMANDS:
        monkeypatch.setattr(commands, name, lambda _name=name, **kwargs: calls.append((_name, kwargs)))
    result = CliRunner().invoke(app, argv, catch_exceptions=False)
    return calls[0] if calls else result.exit_code


def _fast_call(argv: list[str]) -> tuple[str, dict[str, Any]] | None:
    call = fastpath.parse(argv)
    return None if call is None else (call[0].__name__, call[1])


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["validate"],
        ["validate", "a.yaml"],
        ["validate", "a.yaml", "b/c.yaml"],
        ["render"],
        ["render", "spec.yaml"],
        ["render", "spec.yaml", "--format", "buildkite", "-o", "out.yml"],
        ["render", "--output", "x/.gitlab-ci.yml", "spec.yaml", "--check"],
        ["render", "--all", "--check"],
        ["render", "--all", "--force", "s.yaml"],
        ["render", "s.yaml", "--format", "gitlab-include", "-o", ".gitlab/mobyci.yml", "--force"],
        ["render", "--format=github"],
        ["render", "s.yaml", "--output=out.yml", "--format=buildkite"],
        ["plan"],
        ["plan", "spec.yaml"],
        ["plan", "--format", "json", "spec.yaml"],
        ["plan", "--format=mermaid"],
        ["plan", "--fetches", "--strict", "--for", "github", "--format=json"],
        ["plan", "--for=buildkite", "s.yaml"],
        ["patch"],
        ["patch", "s.yaml", "-o", "ci/p.sh", "--force"],
        ["patch", "--apply", "../moby"],
        ["patch", "--check=../moby", "s.yaml"],
    ],
)
def test_fast_path_takes_plain_invocations_and_calls_what_typer_calls(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _fast_call(argv)
    assert fast is not None
    assert fast == _typer_call(argv, monkeypatch)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["--version", "validate"],
        ["validate", "--version"],
        ["validate", "--help"],
        ["validate", "-"],
        ["validate", "--", "-odd.yaml"],
        ["render", "--format=GitLab"],
        ["render", "--format="],
        ["render", "--all=yes"],
        ["render", "--format", "GitLab"],
        ["render", "--format", "jenkins"],
        ["render", "-o"],
        ["render", "-o", "--all"],
        ["render", "-oout.yml"],
        ["render", "a.yaml", "b.yaml"],
        ["render", "--check", "--check"],
        # Options that cannot apply: typer reports them as usage errors.
        ["render", "--all", "--format", "github"],
        ["render", "--all", "-o", "out.yml"],
        ["render", "--check", "--force"],
        ["render", "--force"],
        ["render", "--all", "--format=github"],
        ["patch", "--check", "../moby", "-o", "x.sh"],
        ["patch", "--force"],
        ["render", "--no-such-option"],
        ["render", ""],
        ["plan", "--format", "gitlab"],
        ["plan", "-o", "x"],
        ["patch", "--apply", "a", "--check", "b"],
        ["patch", "--apply"],
        ["schema"],
        ["init"],
    ],
)
def test_everything_else_goes_to_typer(argv: list[str]) -> None:
    assert fastpath.parse(argv) is None


_TOKENS = ["--version", "validate", "render", "plan", "patch", "a.yaml", "b.yaml", "-o", "--output", "out.yml",
           "--format", "gitlab", "github", "buildkite", "jenkins", "json", "text", "--all", "--check", "--force",
           "--apply", "--help", "-x", "--format=github", "--format=json", "--output=o.yml", "--check=dir", "-",
           "--", "", "--for", "--fetches", "--strict", "--for=gitlab"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=7))
def test_whenever_the_fast_path_answers_typer_agrees(argv: list[str]) -> None:
    fast = _fast_call(argv)
    if fast is None:
        return  # typer handles it, by definition the same way it always did
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert fast == _typer_call(argv, monkeypatch)


def _modules_after(argv: list[str]) -> set[str]:
    probe = (
        "import runpy, sys\nsys.argv = ['mobyci', *sys.argv[1:]]\n"
        # The fast path ends the process with os._exit; end it with SystemExit instead, to look around afterwards.
        "import mobyci.fastpath as fp; fp._exit_now = sys.exit\n"
        "try:\n    runpy.run_module('mobyci', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True)
    return set(done.stderr.strip().splitlines()[-1].split())


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_no_heavy_module(flag: str) -> None:
    loaded = _modules_after([flag])
    assert {name.split(".")[0] for name in loaded} & {"pydantic", "ruamel", "jinja2"} == set()


def test_validate_imports_neither_typer_nor_pydantics_model_layer_nor_jinja2(tmp_path: Path, base_spec: str) -> None:
    spec = tmp_path / "mobyci.yaml"
    spec.write_text(base_spec)
    loaded = _modules_after(["validate", str(spec)])
    assert "mobyci.specmodel.compiled" in loaded  # it did validate
    assert {"typer", "pydantic.main", "jinja2", "rich"} & loaded == set()


def test_render_imports_neither_typer_nor_pydantics_model_layer(tmp_path: Path, base_spec: str) -> None:
    spec = tmp_path / "mobyci.yaml"
    spec.write_text(base_spec)
    loaded = _modules_after(["render", str(spec)])
    assert "mobyci.emit.gitlab" in loaded
    # Rendering writes the sh script; running it on a tree (mobyci.patch.apply) is for --apply/--check only.
    assert {"typer", "pydantic.main", "rich", "mobyci.patch.apply"} & loaded == set()


def test_fast_path_exit_codes_and_messages(tmp_path: Path, base_spec: str) -> None:
    good = tmp_path / "mobyci.yaml"
    good.write_text(base_spec)
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "mobyci", "validate", str(good), str(bad)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert done.stdout == f"{good}: ok (moby v19.03.12, family 19.03, 1 target)\n"
    assert done.stderr.splitlines()[0] == f"{bad}:1:1: moby: required key is missing"


@pytest.mark.parametrize("argv", [["render"], ["plan", "--format", "json"]])  # the fast path, and typer's
def test_a_reader_that_went_away_is_not_an_internal_error(tmp_path: Path, base_spec: str, argv: list[str]) -> None:
    spec = tmp_path / "mobyci.yaml"
    spec.write_text(base_spec)
    read, write = os.pipe()
    os.close(read)  # `mobyci render | head` after head has exited: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mobyci", *argv, str(spec)], stdout=write, stderr=subprocess.PIPE, check=False
        )
    finally:
        os.close(write)
    assert done.returncode == commands.EXIT_BROKEN_PIPE
    assert done.stderr == b""
