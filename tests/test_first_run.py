"""A first run where mobyci is published nowhere: the README's first screen and GitLab section, verbatim.

A clone of this working tree, a user's fresh virtual environment, and no network (`unshare -rn`) but a local
package index: a directory of wheels holding mobyci's dependencies, its build backend and check-jsonschema, and
not mobyci (pip-downloaded once into $MOBYCI_CI_CACHE). The README's commands build mobyci's wheel in the clone and
install it; in a new git repository `mobyci init`, `validate`, `render --all` and the commit; then the pipeline's
`mobyci-check` job runs as a runner runs it (its script lines, one `sh -e`, with python3 but no mobyci on PATH)
and passes, and fails on a hand edit, a stale pipeline and a spec the schema refuses. The README's pre-commit
configuration, pasted, passes and then catches the hand edit and the stale pipeline.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.helpers import ROOT, copy_worktree

README = (ROOT / "README.md").read_text()
GIT_ENV = {
    "GIT_AUTHOR_NAME": "A User",
    "GIT_AUTHOR_EMAIL": "user@example.com",
    "GIT_COMMITTER_NAME": "A User",
    "GIT_COMMITTER_EMAIL": "user@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}
_STRICT = "MOBYCI_REQUIRE_EXTERNAL"


def _cache() -> Path:
    base = os.environ.get("MOBYCI_CI_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path(os.environ.get("HOME") or "/root") / ".cache") / "mobyci-ci"
    )
    return Path(base)


def _unavailable(message: str) -> None:
    if os.environ.get(_STRICT) == "1":
        pytest.fail(f"{message} ({_STRICT}=1)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def wheels() -> Path:
    """The local package index: mobyci's dependencies, its build backend and check-jsonschema; never mobyci."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = sorted([*project["project"]["dependencies"], *project["build-system"]["requires"], "check-jsonschema"])
    directory = _cache() / "first-run-wheels"
    stamp = directory / ".requirements"
    if not stamp.is_file() or stamp.read_text() != "\n".join(wanted):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "-d",
                str(directory),
                "-c",
                ".ci/constraints.txt",
                *wanted,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            _unavailable(f"cannot fill the local package index: {done.stderr.strip().splitlines()[-1:]}")
        stamp.write_text("\n".join(wanted))
    assert not list(directory.glob("mobyci-*")), "the local index must not have mobyci"
    return directory


@pytest.fixture(scope="module")
def offline() -> list[str]:
    """The prefix that runs a command with no network: a new network namespace holding only a down loopback."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rn", "true"], check=False).returncode != 0:
        _unavailable("needs unshare -rn (a user and network namespace) to take the network away")
    return ["unshare", "-rn"]


def _readme_block(after: str) -> str:
    """The first fenced block after the heading or text `after`."""
    found = re.search(r"```(?:sh|yaml)\n(.*?)```", README[README.index(after) :], re.S)
    assert found is not None, f"the README has no block after {after!r}"
    return found.group(1)


def _commands(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


class _User:
    """A shell as the user has it: their venv first on PATH (its python3 and mobyci), pip reading only the local
    index, pre-commit from the test environment, and no network."""

    def __init__(self, offline: list[str], venv: Path, wheels: Path, home: Path) -> None:
        self.offline = offline
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV"))},
            **GIT_ENV,
            "PATH": f"{venv / 'bin'}:{Path(sys.executable).parent}:/usr/bin:/bin",
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(wheels),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PRE_COMMIT_HOME": str(home),
        }

    def run(self, command: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.offline, "sh", "-c", command],
            cwd=cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )

    def ok(self, command: str, cwd: Path, env: dict[str, str] | None = None) -> str:
        done = self.run(command, cwd, env)
        assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr


def _runner_path(tmp: Path) -> str:
    """A runner's python image: python3 (with venv and pip), sh, sed, sha256sum; no mobyci."""
    bin_dir = tmp / "runner-bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(Path(getattr(sys, "_base_executable", sys.executable)).resolve())
    path = f"{bin_dir}:/usr/bin:/bin"
    assert shutil.which("mobyci", path=path) is None
    return path


def _check_job(repo: Path) -> str:
    """The mobyci-check job's script as a runner hands it to the shell: its lines, in order, in one shell."""
    pipeline = YAML(typ="safe").load((repo / ".gitlab-ci.yml").read_text())
    return "\n".join(pipeline["mobyci-check"]["script"])


def test_the_readme_s_first_screen_and_gitlab_section_work_with_mobyci_published_nowhere(
    tmp_path: Path, wheels: Path, offline: list[str]
) -> None:
    clone = copy_worktree(tmp_path / "mobyci")
    venv = tmp_path / "user-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    user = _User(offline, venv, wheels, tmp_path / "pre-commit-home")

    repo = _first_screen(user, clone, venv, tmp_path / "project")

    # The check job, as the runner runs it: no mobyci, python3 for check-jsonschema from the runner's index.
    runner = {"PATH": _runner_path(tmp_path)}
    script = _check_job(repo)
    passed = user.run(f"sh -e -c {_quote(script)}", repo, runner)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.startswith(".gitlab-ci.yml: current\n"), passed.stdout
    assert "not checked against its schema" not in passed.stdout + passed.stderr

    def check_fails_with(message: str) -> None:
        failed = user.run(f"sh -e -c {_quote(script)}", repo, runner)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert message in failed.stdout + failed.stderr
        user.ok("git checkout -q -- .", repo)

    with (repo / ".gitlab-ci.yml").open("a") as handle:
        handle.write("# a hand edit\n")
    check_fails_with(
        ".gitlab-ci.yml: edited by hand (its content no longer matches its mobyci-hash); regenerate it with: "
        "mobyci render mobyci.yaml --all --force\n"
    )
    spec_text = (repo / "mobyci.yaml").read_text()
    (repo / "mobyci.yaml").write_text(spec_text.replace("  - binary\n", "  - binary\n  - dynbinary\n"))
    check_fails_with(".gitlab-ci.yml: out of date with the spec; regenerate it with: mobyci render mobyci.yaml --all\n")
    # A spec the schema refuses, its pipeline "current" (re-stamped by hand, as a careless merge could leave it).
    (repo / "mobyci.yaml").write_text(spec_text.replace("  - binary\n", "  - binray\n"))
    pipeline = (repo / ".gitlab-ci.yml").read_text()
    fresh = user.ok("sha256sum < mobyci.yaml", repo).split()[0]
    (repo / ".gitlab-ci.yml").write_text(
        re.sub(r"(?m)^# mobyci-spec: sha256:\w+$", f"# mobyci-spec: sha256:{fresh}", pipeline)
    )
    check_fails_with("$.targets[0]: 'binray' is not valid under any of the given schemas")

    _pre_commit_catches(user, repo, spec_text, runner)


def _pre_commit_catches(user: _User, repo: Path, spec_text: str, runner: dict[str, str]) -> None:
    # The README's pre-commit configuration (its first form), pasted.
    (repo / ".pre-commit-config.yaml").write_text(_readme_block("**pre-commit**"))
    user.ok("pre-commit install", repo)
    user.ok("git add .pre-commit-config.yaml && git commit -qm 'Check mobyci files before each commit'", repo)
    with (repo / ".gitlab-ci.yml").open("a") as handle:
        handle.write("# a hand edit\n")
    refused = user.run("git commit -qam 'Tweak the pipeline' 2>&1", repo)
    assert refused.returncode == 1
    assert ".gitlab-ci.yml: edited by hand" in refused.stdout
    user.ok("git checkout -q -- .", repo)
    (repo / "mobyci.yaml").write_text(spec_text.replace("  - binary\n", "  - binary\n  - dynbinary\n"))
    refused = user.run("git commit -qam 'Add dynbinary' 2>&1", repo)
    assert refused.returncode == 1
    assert ".gitlab-ci.yml: out of date with the spec; regenerate it with: mobyci render mobyci.yaml --all" in (
        refused.stdout
    )
    user.ok("mobyci render --all", repo)
    user.ok("git commit -qam 'Add dynbinary'", repo)
    assert user.run(f"sh -e -c {_quote(_check_job(repo))}", repo, runner).returncode == 0


def _first_screen(user: _User, clone: Path, venv: Path, repo: Path) -> Path:
    # Quick start, first block: build the wheel in the clone and install it (dependencies from the local index).
    install = _commands(_readme_block("## Quick start"))
    assert install[0].startswith("python3 -m pip wheel --no-deps . -w dist")
    for command in install:
        user.ok(command, clone)
    assert shutil.which("mobyci", path=user.env["PATH"]) == str(venv / "bin" / "mobyci")

    # Second block, in a new repository; GitLab section step 1: uncomment outputs: and the gitlab line.
    repo.mkdir()
    user.ok("git init -q -b main", repo)
    first_screen = _commands(_readme_block("Then, in your repository:"))
    assert [c.split("  #")[0].strip() for c in first_screen[:3]] == [
        "mobyci init",
        "mobyci validate",
        "mobyci render --all",
    ]
    assert "uncomment `outputs:` and its `gitlab: .gitlab-ci.yml` line" in README
    for command in first_screen:
        user.ok(command, repo)
        if command.startswith("mobyci init"):
            spec = (repo / "mobyci.yaml").read_text()
            assert spec.startswith("# yaml-language-server: $schema=mobyci.schema.json\n")
            uncommented = spec.replace("\n# outputs:\n", "\noutputs:\n").replace(
                "#   gitlab: .gitlab-ci.yml", "  gitlab: .gitlab-ci.yml"
            )
            assert uncommented != spec
            (repo / "mobyci.yaml").write_text(uncommented)
    assert user.ok("git status --porcelain", repo) == ""

    return repo


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
