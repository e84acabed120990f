"""Playing the user: temporary git repositories, the README's commands verbatim, real pre-commit and git commits.

The hooks come from this working tree: a module fixture commits its files (tracked and new, as `pre-commit
try-repo` does) into a scratch repository, and each user repository's `.pre-commit-config.yaml` is the README's,
with `repo:` and `rev:` pointing there. The hooks are `language: python`, so pre-commit pip-installs that
repository into its own environment, once per test run (hatchling, the build backend, from the configured index).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, copy_worktree
from tests.helpers.pipeline_tools import load_yaml

README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "A User",
    "GIT_AUTHOR_EMAIL": "user@example.com",
    "GIT_COMMITTER_NAME": "A User",
    "GIT_COMMITTER_EMAIL": "user@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def readme(command: str) -> str:
    """A command the README shows, checked to be there word for word."""
    assert f"`{command}`" in README or f"\n{command}" in README, f"the README does not show `{command}`"
    return command


def sh(command: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`command` as typed into a shell, with this venv's `mobyci` and `pre-commit` first on PATH."""
    return subprocess.run(  # noqa: S602  (the README's commands, as a user types them)
        command,
        shell=True,
        cwd=cwd,
        env={**os.environ, **GIT_ENV, "PATH": f"{BIN}:{os.environ['PATH']}", **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def ok(command: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = sh(command, cwd, env)
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", README, re.S)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This working tree committed into a scratch repository: (path, commit) for `repo:` and `rev:`."""
    shadow = copy_worktree(tmp_path_factory.mktemp("hook-repo"))
    ok("git init -q -b main && git add -A && git commit -qm 'this working tree'", shadow)
    return shadow, ok("git rev-parse HEAD", shadow).strip()


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {"PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home"))}


def pre_commit_config(hook_repo: tuple[Path, str], spec: str) -> str:
    """The README's .pre-commit-config.yaml (with its `args:` for a spec elsewhere), pointed at the hook repo."""
    config = next(b for b in _yaml_blocks() if b.startswith("repos:\n  - repo: https://"))
    if spec != "mobyci.yaml":
        fragment = next(b for b in _yaml_blocks() if "args: [ci/mobyci.yaml]" in b)
        assert spec == "ci/mobyci.yaml"
        config = re.sub(r" *- id: mobyci-check[^\n]*\n", fragment, config)
    path, rev = hook_repo
    assert "repo: https://github.com/mobyci/mobyci\n" in config
    assert "rev: v0.1.0\n" in config
    return config.replace("https://github.com/mobyci/mobyci", str(path)).replace("rev: v0.1.0", f"rev: {rev}")


def uncomment_outputs(spec: Path, key: str) -> str:
    """What the README tells the user to do with the spec `mobyci init` wrote: uncomment outputs: and one line."""
    text = spec.read_text()
    line = re.search(rf"^#   {key}: (\S+)", text, re.M)
    assert line is not None, f"mobyci init offers no outputs.{key}"
    text = text.replace("\n# outputs:\n", "\noutputs:\n").replace(line.group(0), f"  {key}: {line.group(1)}")
    spec.write_text(text)
    return line.group(1)


SETUPS = [
    # (CI system's outputs key, spec path, the file the README names for it)
    pytest.param("gitlab", "mobyci.yaml", ".gitlab-ci.yml", id="gitlab"),
    pytest.param("buildkite", "mobyci.yaml", ".buildkite/pipeline.yml", id="buildkite"),
    pytest.param("github", "mobyci.yaml", ".github/workflows/mobyci.yml", id="github"),
    pytest.param("gitlab", "ci/mobyci.yaml", ".gitlab-ci.yml", id="gitlab-spec-in-ci"),
]


@pytest.mark.parametrize(("key", "spec", "expected_output"), SETUPS)
def test_commits_pass_when_current_and_fail_when_the_spec_or_an_output_changes(
    tmp_path: Path,
    hook_repo: tuple[Path, str],
    pre_commit_home: dict[str, str],
    key: str,
    spec: str,
    expected_output: str,
) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    ok("git init -q -b main", repo)
    in_ci = spec != "mobyci.yaml"
    ok(readme("mobyci init ci/mobyci.yaml" if in_ci else "mobyci init"), repo)
    output = uncomment_outputs(repo / spec, key)
    assert output == expected_output
    ok(readme("mobyci validate ci/mobyci.yaml" if in_ci else "mobyci validate"), repo)
    render_all = readme("mobyci render ci/mobyci.yaml --all" if in_ci else "mobyci render --all")
    assert ok(render_all, repo) == f"{output}: written\n"
    (repo / ".pre-commit-config.yaml").write_text(pre_commit_config(hook_repo, spec))
    ok(readme("pre-commit install"), repo, pre_commit_home)

    def commit(message: str) -> subprocess.CompletedProcess[str]:
        return sh(f"git add -A && git commit -qm {shlex.quote(message)} 2>&1", repo, pre_commit_home)

    first = commit("Build moby with mobyci")
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.search(r"mobyci validate\.+Passed", first.stdout), first.stdout
    assert re.search(r"mobyci render --all --check\.+Passed", first.stdout), first.stdout

    # The spec changes, the output is not regenerated: refused, with the command that fixes it.
    text = (repo / spec).read_text()
    (repo / spec).write_text(text.replace("targets:\n  - binary\n", "targets:\n  - binary\n  - dynbinary\n"))
    refused = commit("Add dynbinary")
    assert refused.returncode == 1
    fix = re.search(
        rf"^{re.escape(output)}: out of date with the spec; regenerate it with: (.+)$", refused.stdout, re.M
    )
    assert fix is not None, refused.stdout
    ok(fix.group(1), repo)  # pasted as printed
    assert commit("Add dynbinary").returncode == 0

    # Only the output changes (edited by hand): refused too, and nothing is committed.
    head = ok("git rev-parse HEAD", repo)
    with (repo / output).open("a") as handle:
        handle.write("# a hand edit\n")
    refused = commit("Tweak the pipeline")
    assert refused.returncode == 1
    assert f"{output}: edited by hand" in refused.stdout
    assert ok("git rev-parse HEAD", repo) == head
    ok("git reset -q --hard", repo)

    # The output is deleted: refused.
    ok(f"git rm -q {output}", repo)
    refused = commit("Remove the pipeline")
    assert refused.returncode == 1
    assert f"{output}: missing" in refused.stdout
    ok("git reset -q --hard", repo)
    # An unrelated change, with every output current: the hooks pass.
    (repo / "README.md").write_text("# project\n")
    passed = commit("Add a README")
    assert passed.returncode == 0, passed.stdout


# --- one canonical form per output file ----------------------------------------------------------------------

KINDS = {
    "gitlab": ".gitlab-ci.yml",
    "buildkite": ".buildkite/pipeline.yml",
    "github": ".github/workflows/build-moby.yml",
    "gitlab-include": ".gitlab/mobyci.yml",
    "buildkite-group": ".buildkite/mobyci.yml",
    "patch": "ci/mobyci-patch.sh",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository with its spec in ci/ listing every kind of output."""
    repo = tmp_path / "project"
    (repo / "ci").mkdir(parents=True)
    (repo / "docs").mkdir()
    ok("git init -q -b main", repo)
    spec = (ROOT / "examples" / "release-27" / "mobyci.yaml").read_text()
    listed = "".join(f"  {kind.replace('-', '_')}: {path}\n" for kind, path in KINDS.items())
    (repo / "ci" / "mobyci.yaml").write_text(spec + "outputs:\n" + listed)
    return repo


def _command(kind: str, spec: str) -> str:
    if kind == "patch":
        return f"mobyci patch {spec}"
    return f"mobyci render {spec} --format {kind}"


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_way_of_writing_gives_the_same_bytes(project: Path, kind: str) -> None:
    path = KINDS[kind]
    from_root = ok(_command(kind, "ci/mobyci.yaml"), project)
    assert str(project) not in from_root
    assert "ci/mobyci.yaml" in from_root
    same = {
        "subdirectory": sh(_command(kind, "../ci/mobyci.yaml"), project / "docs").stdout,
        "spec's directory": sh(_command(kind, "mobyci.yaml"), project / "ci").stdout,
        "parent": sh(_command(kind, "project/ci/mobyci.yaml"), project.parent).stdout,
        "absolute path": sh(_command(kind, str(project / "ci" / "mobyci.yaml")), Path("/")).stdout,
    }
    assert {where: text == from_root for where, text in same.items()} == dict.fromkeys(same, True)
    # `> FILE`, `-o FILE` (from another directory) and `--all` write the same file, and --check accepts each.
    ok(f"{_command(kind, 'mobyci.yaml')} -o ../{path}", project / "ci")
    assert (project / path).read_text() == from_root
    (project / path).unlink()
    ok("mobyci render ci/mobyci.yaml --all", project)
    assert (project / path).read_text() == from_root
    ok(f"{_command(kind, 'ci/mobyci.yaml')} > {path}", project)
    assert ok("mobyci render ci/mobyci.yaml --all --check", project).count(": current\n") == len(KINDS)
    if kind == "patch":
        assert ok(f"mobyci patch ci/mobyci.yaml --check {path}", project) == f"{path}: current\n"
        assert ok(f"mobyci patch ../ci/mobyci.yaml --check ../{path}", project / "docs") == f"../{path}: current\n"
    else:
        assert ok(f"{_command(kind, 'ci/mobyci.yaml')} -o {path} --check", project) == f"{path}: current\n"
        checked = ok(f"mobyci render ../ci/mobyci.yaml --format {kind} -o ../{path} --check", project / "docs")
        assert checked == f"../{path}: current\n"


def test_the_gitlab_check_job_checks_the_file_it_lives_in(tmp_path: Path) -> None:
    # No outputs: the check job compares the file rendered with -o, not .gitlab-ci.yml.
    repo = tmp_path / "project"
    (repo / "ci").mkdir(parents=True)
    ok("git init -q -b main", repo)
    (repo / "ci" / "mobyci.yaml").write_text((ROOT / "examples" / "release-27" / "mobyci.yaml").read_text())
    ok("mobyci render ci/mobyci.yaml -o ci/pipeline.yml", repo)
    text = (repo / "ci" / "pipeline.yml").read_text()
    assert "\n    - mobyci_current ci/pipeline.yml\n" in text
    assert 'regenerate it with: mobyci render ci/mobyci.yaml -o ci/pipeline.yml"' in text
    changes = (
        "    - changes:\n        - ci/mobyci.yaml\n        - ci/mobyci.schema.json\n        - ci/pipeline.yml\n  needs"
    )
    assert changes in text
    # What the job does, run from the repository root like a CI job: it finds the file current.
    script = "\n".join(load_yaml(text)["mobyci-check"]["script"])
    proxies = {"CORP_HTTP_PROXY": "http://proxy.example:3128", "CORP_HTTPS_PROXY": "http://proxy.example:3128"}
    assert ok(f"sh -e -c {shlex.quote(script)}", repo, proxies).startswith("ci/pipeline.yml: current\n")
    assert ok("mobyci render ci/mobyci.yaml -o ci/pipeline.yml --check", repo) == "ci/pipeline.yml: current\n"


# --- safe writes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            "-o ci/mobyci.yaml --force",
            "ci/mobyci.yaml: is the spec itself; write the output to another file, e.g. -o .gitlab-ci.yml\n",
        ),
        ("-o ci", "ci: is a directory; name a file inside it, e.g. -o ci/.gitlab-ci.yml\n"),
        (
            "-o ci/mobyci.yaml/x.yml",
            "ci/mobyci.yaml/x.yml: ci/mobyci.yaml is a file, not a directory; choose another path for -o\n",
        ),
        (
            "-o /dev/full",
            "/dev/full: cannot write it: No space left on device; free space, fix the permissions or choose "
            "another path\n",
        ),
    ],
    ids=["over-the-spec", "into-a-directory", "under-a-file", "full-disk"],
)
def test_output_path_problems_exit_1_naming_the_path_and_the_fix(project: Path, args: str, message: str) -> None:
    spec_before = (project / "ci" / "mobyci.yaml").read_bytes()
    done = sh(f"mobyci render ci/mobyci.yaml {args}", project)
    assert (done.returncode, done.stderr, done.stdout) == (1, message, "")
    assert (project / "ci" / "mobyci.yaml").read_bytes() == spec_before


def test_a_full_disk_on_stdout_is_a_problem_not_a_crash(project: Path) -> None:
    done = sh("mobyci render ci/mobyci.yaml > /dev/full", project)
    assert done.returncode == 1
    assert (
        done.stderr == "mobyci: cannot write the output: No space left on device; free space or redirect it elsewhere\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--all --format buildkite", "--all renders each file listed under outputs: in its own format; drop --format"),
        ("--all -o x.yml", "--all writes the files listed under outputs:; drop -o, or drop --all to write one file"),
        ("--check --force", "--check writes nothing; drop --force"),
        ("--force", "--force overwrites a file written with -o (or --all); without them nothing is overwritten"),
    ],
)
def test_options_that_cannot_apply_are_usage_errors(project: Path, args: str, message: str) -> None:
    done = sh(f"mobyci render ci/mobyci.yaml {args}", project)
    assert done.returncode == 2
    assert message in done.stderr
    assert not (project / ".gitlab-ci.yml").exists()


def test_a_generated_file_edited_by_hand_is_refused_and_the_printed_fix_works(project: Path) -> None:
    ok("mobyci render ci/mobyci.yaml --all", project)
    pipeline = project / ".gitlab-ci.yml"
    pipeline.write_text(pipeline.read_text().replace("interruptible: true", "interruptible: false"))
    edited = pipeline.read_text()
    # From a subdirectory, as the user might be: the message says what changed and a command to paste there.
    done = sh("mobyci render ../ci/mobyci.yaml --all", project / "docs")
    assert done.returncode == 1
    assert "-  interruptible: false\n+  interruptible: true\n" in done.stderr
    fix = done.stderr.splitlines()[-1]
    assert fix == (
        "../.gitlab-ci.yml: edited by hand (its content no longer matches its mobyci-hash); the diff above is what "
        "would be lost; to overwrite it anyway: mobyci render ../ci/mobyci.yaml --all --force"
    )
    assert pipeline.read_text() == edited  # nothing written, not even the other outputs' refreshes
    ok(fix.split("to overwrite it anyway: ")[1], project / "docs")
    assert ok("mobyci render ci/mobyci.yaml --all --check", project).count(": current\n") == len(KINDS)
    # The fix --check prints for a hand-written file works when pasted too.
    pipeline.write_text("build:\n  script: [make]\n")
    done = sh("mobyci render ci/mobyci.yaml --all --check", project)
    assert done.returncode == 1
    fix = done.stderr.splitlines()[0].split("regenerate it with: ")[1]
    assert fix == "mobyci render ci/mobyci.yaml --all --force"
    ok(fix, project)
    ok("mobyci render ci/mobyci.yaml --all --check", project)


def test_two_outputs_on_one_file_are_refused_at_validate(tmp_path: Path) -> None:
    spec = tmp_path / "mobyci.yaml"
    text = (ROOT / "examples" / "release-27" / "mobyci.yaml").read_text()
    spec.write_text(text + "outputs:\n  gitlab: .gitlab-ci.yml\n  gitlab_include: ./.gitlab-ci.yml\n")
    line = len(text.splitlines()) + 3
    done = sh("mobyci validate", tmp_path)
    assert (done.returncode, done.stderr) == (
        1,
        f"mobyci.yaml:{line}:19: outputs.gitlab_include: './.gitlab-ci.yml' is already the file of outputs.gitlab: "
        "give each output its own file\n",
    )


def test_validating_a_generated_file_points_at_its_spec(project: Path) -> None:
    ok("mobyci render ci/mobyci.yaml --all", project)
    done = sh("mobyci validate .github/workflows/build-moby.yml", project)
    assert (done.returncode, done.stderr) == (
        1,
        ".github/workflows/build-moby.yml: generated by mobyci, not a spec: validate the spec it comes from, "
        "ci/mobyci.yaml (from the repository root)\n",
    )


def test_a_ca_certificate_the_spec_reads_is_never_overwritten(project: Path) -> None:
    ca = project / "ci" / "corp-ca.pem"
    pem = (ROOT / "tests" / "fixtures" / "public-ca.pem").read_text()
    ca.write_text(pem)
    spec = project / "ci" / "mobyci.yaml"
    spec.write_text(spec.read_text() + "tls:\n  ca_certs: [corp-ca.pem]\n")
    done = sh("mobyci render ci/mobyci.yaml -o ci/corp-ca.pem --force", project)
    assert (done.returncode, done.stderr) == (
        1,
        "ci/corp-ca.pem: is a CA certificate the spec names in tls.ca_certs; write the output elsewhere\n",
    )
    assert ca.read_text() == pem


def test_from_a_subdirectory_the_commands_find_the_repository_s_spec(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    (repo / "docs" / "deep").mkdir(parents=True)
    ok("git init -q -b main", repo)
    (repo / "mobyci.yaml").write_text((ROOT / "examples" / "release-27" / "mobyci.yaml").read_text())
    assert sh("mobyci validate", repo / "docs" / "deep").stdout.startswith("../../mobyci.yaml: ok (moby ")
    assert "# Generated by mobyci 0.1.0 from mobyci.yaml; do not edit." in ok("mobyci render", repo / "docs")
    # Outside any repository nothing above the working directory is read.
    alone = tmp_path / "alone"
    alone.mkdir()
    (tmp_path / "mobyci.yaml").write_text("version: 1\n")
    assert sh("mobyci validate", alone).stderr == (
        "mobyci.yaml: no such file: create one with `mobyci init` or name another\n"
    )


def test_a_mistyped_checkout_is_not_taken_for_a_script_to_write(project: Path) -> None:
    done = sh("mobyci patch ci/mobyci.yaml --check ../mobi", project)
    assert done.returncode == 1
    assert done.stderr == (
        "../mobi: no such directory; name a moby checkout (mobyci patch --check ../moby) or the committed patch "
        "script (mobyci patch --check ci/mobyci-patch.sh)\n"
    )
    assert not (project.parent / "mobi").exists()
    # A committed script that is missing is still reported as missing, with the command that writes it.
    missing = sh("mobyci patch ci/mobyci.yaml --check ci/mobyci-patch.sh", project)
    assert (
        missing.stderr
        == "ci/mobyci-patch.sh: missing; regenerate it with: mobyci patch ci/mobyci.yaml -o ci/mobyci-patch.sh\n"
    )


def test_an_output_over_the_spec_is_refused_with_a_fix_that_works(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    ok("git init -q -b main", repo)
    base = (ROOT / "examples" / "release-27" / "mobyci.yaml").read_text()
    (repo / "mobyci.yaml").write_text(base + "outputs: {gitlab: mobyci.yaml}\n")
    line = base.count("\n") + 1
    message = (
        f"mobyci.yaml:{line}:19: outputs.gitlab: 'mobyci.yaml' is the spec itself: name another file, e.g. "
        ".gitlab-ci.yml\n"
    )
    for command in ("mobyci validate", "mobyci render --all", "mobyci render --all --check"):
        done = sh(command, repo)
        assert (done.returncode, done.stderr) == (1, message), command
    # Without outputs, a --check of the spec itself names another file instead of suggesting --force.
    (repo / "mobyci.yaml").write_text(base)
    done = sh("mobyci render -o mobyci.yaml --check", repo)
    assert (done.returncode, done.stderr) == (
        1,
        "mobyci.yaml: is the spec itself; compare another file, e.g. -o .gitlab-ci.yml\n",
    )
    # The fix, pasted.
    (repo / "mobyci.yaml").write_text(base + "outputs: {gitlab: .gitlab-ci.yml}\n")
    ok("mobyci validate && mobyci render --all && mobyci render --all --check", repo)
