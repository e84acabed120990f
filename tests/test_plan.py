"""`mobyci plan` as a person and a script read it, and the command line around every command: stdin specs,
mobyci.yml, shell completion, help placeholders, usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobyci.cli import app
from mobyci.committed.header import OutputFile
from mobyci.emit.render import make_plan
from mobyci.load.reader import load_text
from mobyci.plan.model import Retention
from mobyci.report.view import plan_json, plan_text

SPEC = """\
version: 1
moby: {ref: v19.03.12}
mirrors:
  apt: {archive: https://mirrors.tuna.tsinghua.edu.cn/debian-archive}
  git: {"https://github.com/": "https://gitee.com/"}
  registry: https://docker.mirror.example.com
  alpine: https://mirrors.example.com/alpine
  pypi: https://mirrors.example.com/pypi/simple
proxy: {http: $CORP_HTTP_PROXY, https: $CORP_HTTPS_PROXY, no_proxy: [.corp.example]}
targets: [binary, {name: cross, platforms: [linux/arm64, windows/amd64]}]
"""


def _mobyci(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run(
        [sys.executable, "-m", "mobyci", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("width", [80, 100])
@pytest.mark.parametrize("system", ["gitlab", "buildkite", "github"])
def test_plan_text_fits_the_width_without_breaking_words(width: int, system: str) -> None:
    loaded = load_text(SPEC)
    plan = make_plan(loaded, system)
    text = plan_text(plan, width=width)
    for line in text.splitlines():
        assert line == line.rstrip(), line
        # Only a single word longer than the width (a URL) may stick out; it is never cut.
        assert len(line) <= width or " " not in line.strip(), line
    words = text.split()
    for job in plan.jobs:
        for word in job.title.split():
            assert word in words or any(word in w for w in words), word
    # Every job title reads whole once the lines are joined again.
    joined = " ".join(words)
    assert all(job.title in joined for job in plan.jobs)


def test_plan_shows_every_mirror_and_where_it_applies() -> None:
    text = " ".join(plan_text(make_plan(load_text(SPEC), "gitlab")).split())
    tuna = "https://mirrors.tuna.tsinghua.edu.cn/debian-archive"
    assert (
        f"mirrors.apt {tuna}/debian and {tuna}/debian-security: Debian buster packages in the dev image build" in text
    )
    # Archived Debian: moby's own hook (a host swap) cannot write these URLs, the patch's rule does.
    assert "patch rule apt-base" in text
    assert "DOCKER_BUILD_APT_MIRROR" not in text
    assert "https://docker.mirror.example.com: --registry-mirror of the docker-in-docker service" in text
    assert "https://mirrors.example.com/alpine: apk add in the docker-in-docker jobs' docker:cli image" in text
    assert "https://mirrors.example.com/pypi/simple: pip index of the mobyci-check job" in text
    assert "PLATFORM: linux/arm64, windows/amd64" in text
    assert "CI/CD variables to create (masked; names only, never values) CORP_HTTP_PROXY proxy.http" in text
    assert "stage build" in text
    assert "docker:2375" in text


def test_a_github_plan_has_no_gitlab_stages_or_dind_hosts() -> None:
    text = plan_text(make_plan(load_text(SPEC), "github"))
    assert text.startswith("Build (for GitHub Actions)\n")
    # GitLab's job stages read "(stage build; needs …)"; Dockerfile stages in patch rule titles are no GitLab stage.
    assert "(stage " not in text
    assert "docker:2375" not in text
    assert "Repository secrets to create" in text
    assert "the BuildKit builder's config (buildkitd-config-inline)" in " ".join(text.split())
    assert "apk add" not in text


def test_plan_for_picks_the_system_and_defaults_to_the_spec_outputs(tmp_path: Path) -> None:
    (tmp_path / "mobyci.yaml").write_text(SPEC + "outputs: {github: .github/workflows/mobyci.yml}\n")
    default = _mobyci("plan", "--format", "json", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout)["system"] == "github"
    chosen = _mobyci("plan", "--for", "buildkite", cwd=tmp_path)
    assert chosen.stdout.startswith("Build (for Buildkite)\n")
    assert "\nSteps\n" in chosen.stdout
    bad = _mobyci("plan", "--for", "jenkins", cwd=tmp_path)
    assert bad.returncode == 2
    assert "Invalid value for '--for': 'jenkins' is not one of: gitlab, buildkite, github" in bad.stderr
    # A drop-in format is not a CI system: refused as usage, not planned (it used to end in an internal error).
    dropin = _mobyci("plan", "--for", "gitlab-include", cwd=tmp_path)
    assert dropin.returncode == 2
    assert "'gitlab-include' is not one of: gitlab, buildkite, github" in dropin.stderr


def test_plan_piped_into_head_exits_zero_with_no_trailing_spaces(tmp_path: Path) -> None:
    (tmp_path / "mobyci.yaml").write_text(SPEC)
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{sys.executable} -m mobyci plan | head -1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "Build (for GitLab CI)\n")
    # The spec's warnings (criu's download, job images from Docker Hub) and nothing else: no broken-pipe error.
    assert all(": warning: " in line for line in done.stderr.splitlines()), done.stderr
    full = _mobyci("plan", cwd=tmp_path).stdout
    assert all(line == line.rstrip() and len(line) <= 80 for line in full.splitlines())


def test_dash_reads_the_spec_from_stdin(tmp_path: Path) -> None:
    done = _mobyci("validate", "-", cwd=tmp_path, stdin=SPEC)
    assert (done.returncode, done.stdout) == (0, "<stdin>: ok (moby v19.03.12, family 19.03, 2 targets)\n")
    assert "gitee.com" in _mobyci("plan", "-", cwd=tmp_path, stdin=SPEC).stdout
    # A generated file names its spec (header, regenerate command, check job); standard input has no name to give.
    render = (
        "<stdin>: render writes a pipeline that names its spec (in its header, its regenerate command and the check "
        "job that validates the spec in CI), and standard input has no name: save the spec to a file and give its "
        "path (mobyci render mobyci.yaml); `mobyci validate -` and `mobyci plan -` read standard input\n"
    )
    patch = (
        "<stdin>: patch writes a script that names its spec (in its header and its regenerate command), and standard "
        "input has no name: save the spec to a file and give its path (mobyci patch mobyci.yaml); "
        "`mobyci patch - --apply DIR` and `mobyci patch - --check DIR` read standard input\n"
    )
    (tmp_path / "ci").mkdir()
    for argv, message in (
        (("render", "-"), render),
        (("render", "-", "--all"), render),
        (("render", "-", "--check"), render),
        (("patch", "-"), patch),
        (("patch", "-", "-o", "ci/mobyci-patch.sh"), patch),
        (("patch", "-", "--check", "ci/mobyci-patch.sh"), patch),  # a committed script, not a tree
    ):
        refused = _mobyci(*argv, cwd=tmp_path, stdin=SPEC)
        assert (refused.returncode, refused.stdout, refused.stderr) == (1, "", message), argv
    assert not (tmp_path / "ci" / "mobyci-patch.sh").exists()
    broken = _mobyci("validate", "-", cwd=tmp_path, stdin="version: 1\nmoby:\n\tref: v27.5.1\n")
    assert broken.returncode == 1
    assert broken.stderr == (
        "<stdin>:3:1: a tab indents this line: YAML indents with spaces only; replace the tab with spaces\n"
    )


def test_patch_applies_and_checks_a_tree_with_the_spec_from_stdin(tmp_path: Path) -> None:
    import shutil

    from tests.helpers import ROOT

    tree = tmp_path / "moby"
    shutil.copytree(ROOT / "tests" / "fixtures" / "trees" / "19.03", tree)
    (tmp_path / "mobyci.yaml").write_text(SPEC)
    # --check DIR and --apply DIR write nothing that names the spec: standard input serves as well as the file.
    from_file = _mobyci("patch", "mobyci.yaml", "--check", "moby", cwd=tmp_path)
    from_stdin = _mobyci("patch", "-", "--check", "moby", cwd=tmp_path, stdin=SPEC)
    assert from_file.returncode == 1, from_file.stderr  # the fixture tree is not patched yet
    assert (from_stdin.returncode, from_stdin.stdout) == (1, from_file.stdout)
    assert from_stdin.stderr == from_file.stderr.replace("mobyci.yaml:", "<stdin>:")
    applied = _mobyci("patch", "-", "--apply", "moby", cwd=tmp_path, stdin=SPEC)
    assert applied.returncode == 0, applied.stderr
    assert _mobyci("patch", "mobyci.yaml", "--check", "moby", cwd=tmp_path).returncode == 0
    # Its problems are located in standard input.
    bad = _mobyci("patch", "-", "--apply", "moby", cwd=tmp_path, stdin=SPEC.replace("[binary,", "[binry,"))
    assert bad.returncode == 1
    assert bad.stderr == (
        "<stdin>:10:11: targets[0].name: 'binry' is not one of: binary, dynbinary, cross, rpm, deb; "
        "did you mean 'binary'?\n"
    )


def test_mobyci_yml_is_found_when_mobyci_yaml_is_absent(tmp_path: Path) -> None:
    (tmp_path / "mobyci.yml").write_text(SPEC)
    done = _mobyci("validate", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "mobyci.yml: ok (moby v19.03.12, family 19.03, 2 targets)\n")
    assert _mobyci("plan", cwd=tmp_path).returncode == 0
    (tmp_path / "mobyci.yaml").write_text(SPEC.replace("v19.03.12", "v27.5.1").replace("{archive:", "{debian:"))
    assert "v27.5.1" in _mobyci("validate", cwd=tmp_path).stdout  # mobyci.yaml wins when both exist


def test_help_uses_placeholders_and_offers_completion() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"]).stdout
    assert "--install-completion" in top
    assert "--show-completion" in top
    assert "Usage: mobyci validate [OPTIONS] [SPEC]..." in runner.invoke(app, ["validate", "--help"]).stdout
    patch = " ".join(runner.invoke(app, ["patch", "--help"]).stdout.split())
    assert "Usage: mobyci patch [OPTIONS] [SPEC]" in patch
    assert "-o, --output FILE" in patch
    assert "--apply DIR" in patch
    assert "--check DIR|FILE" in patch


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["render", "--format", "jenkins"], "'jenkins' is not one of: gitlab, buildkite, github"),
        (["plan", "--format", "yaml"], "'yaml' is not one of: text, json, mermaid"),
        (["init", "--preset", "corp"], "'corp' is not one of: seed, plain"),
    ],
)
def test_bad_choice_names_the_choices_only(argv: list[str], expected: str) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Value error" not in result.stderr


def test_the_screenshot_in_the_docs_is_the_plan_of_the_seed_example() -> None:
    from mobyci.load.reader import load_file
    from tests.helpers import EXAMPLES, ROOT

    doc = (ROOT / "docs" / "plan.md").read_text()
    shown = doc.split("$ mobyci plan\n", 1)[1].split("```", 1)[0]
    loaded = load_file(str(EXAMPLES / "seed-19.03" / "mobyci.yaml"))
    assert shown.rstrip("\n") == plan_text(make_plan(loaded, "gitlab"), width=80).rstrip("\n")


def test_a_rule_s_caveat_reaches_the_plan() -> None:
    # proxy.mode dockerfile-env writes the proxy as ENV: the rule's caveat is shown where the rule is listed.
    text = (
        "version: 1\nmoby: {ref: v20.10.27}\nproxy: {http: $CORP_HTTP_PROXY, mode: dockerfile-env}\ntargets: [binary]\n"
    )
    loaded = load_text(text)
    plan = make_plan(loaded)
    (rule,) = [r for r in plan.rewrites if r.id == "proxy-env"]
    assert rule.notes == ("the proxy persists in the dev image and its history",)
    shown = " ".join(plan_text(plan, width=200).split())
    assert "(note: the proxy persists in the dev image and its history)" in shown
    plain = make_plan(load_text(text.replace(", mode: dockerfile-env", "")))
    assert all(not r.notes for r in plain.rewrites)


def test_plan_says_a_builder_config_needs_buildx_0_13_where_the_host_brings_buildx() -> None:
    from mobyci.emit.render import make_plan
    from mobyci.load.reader import load_text
    from mobyci.plan.caveats import BUILDX_013
    from mobyci.report import view as planview

    base = "version: 1\nmoby: {ref: v28.5.2}\nmirrors: {registry: 'https://hub.example.test'}\ntargets: [binary]\n"
    shell = load_text(base + "ci: {gitlab: {runner: shell}, buildkite: {cache: registry.example.test/ci/cache}}\n")
    texts = set(make_plan(shell, "gitlab").notes)
    assert f"GitLab shell runner: {BUILDX_013}" in texts
    assert f"Buildkite agents: {BUILDX_013}" in make_plan(shell, "buildkite").notes
    assert "docker/buildx v0.13.0 commands/create.go:114" in " ".join(planview.plan_text(make_plan(shell)).split())
    # dind jobs run the docker:<v>-cli image's own buildx; a 20.10 tree is not built by bake.
    assert not [n for n in make_plan(load_text(base), "gitlab").notes if "buildx" in n and "0.13" in n]
    old = load_text(base.replace("v28.5.2", "v20.10.27") + "ci: {gitlab: {runner: shell}}\n")
    assert not [n for n in make_plan(old, "gitlab").notes if "0.13" in n]


@pytest.mark.parametrize(
    ("system", "extra", "title", "kind"),
    [
        (
            "gitlab",
            "",
            "CI/CD variables to create (masked; names only, never values)",
            "type Variable holding the PEM text, not File (the docker-in-docker service cannot read job files)",
        ),
        (
            "gitlab",
            "ci: {gitlab: {runner: shell}}\n",
            "CI/CD variables to create (masked; names only, never values)",
            "type File or Variable (the PEM text)",
        ),
        ("github", "", "Repository secrets to create", "a repository secret holding the PEM text"),
        (
            "buildkite",
            "",
            "Agent environment variables or Buildkite secrets to create",
            "a file path on the agent or the PEM text",
        ),
    ],
)
def test_the_ca_variable_is_among_the_variables_to_create(system: str, extra: str, title: str, kind: str) -> None:
    loaded = load_text(
        "version: 1\nmoby: {ref: v28.5.2}\nproxy: {https: $CORP_HTTPS_PROXY}\ntls: {ca_certs: [$CORP_CA_CERT]}\n"
        "targets: [binary]\n" + extra
    )
    plan = make_plan(loaded, system)
    text = plan_text(plan, width=400)
    assert f"{title}\n  CORP_HTTPS_PROXY  proxy.https\n  CORP_CA_CERT      tls.ca_certs: {kind}\n" in text
    data = json.loads(plan_json(plan))
    assert data["ci_variables"] == ["CORP_HTTPS_PROXY", "CORP_CA_CERT"]
    assert data["ca_variables"] == [{"name": "CORP_CA_CERT", "type": kind}]


def test_the_plan_records_the_file_it_is_rendered_into_and_how_long_artifacts_are_kept() -> None:
    loaded = load_text(SPEC.replace("targets:", "ci: {artifacts_expire_in: 2 weeks}\ntargets:"), "ci/my spec.yaml")
    plan = make_plan(loaded, "gitlab", fmt="gitlab-include", output="ci/mobyci.yml")
    command = "mobyci render 'ci/my spec.yaml' --format gitlab-include -o ci/mobyci.yml"
    assert plan.output == OutputFile("gitlab-include", "ci/mobyci.yml", "ci/my spec.yaml", command, loaded.digest)
    assert plan.artifacts_kept == Retention("2 weeks", 14 * 86400)
    never = make_plan(load_text(SPEC.replace("targets:", "ci: {artifacts_expire_in: never}\ntargets:")), "github")
    assert never.artifacts_kept == Retention("never", None)
