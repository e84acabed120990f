"""What a real first run behind the seed's mirrors needs: the archive mirror, criu's tarball, PyPI in the dev image,
no dev image for package-only specs, containers removed, the short commit, GitLab's firewall settings."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobyci.cli import app
from mobyci.emit.render import make_plan, render_pipeline
from mobyci.load.reader import load_file, load_text
from tests.helpers import EXAMPLES
from tests.helpers import pipeline_tools as pc

SEED = EXAMPLES / "seed-19.03" / "mobyci.yaml"
TUNA_ARCHIVE = "https://mirrors.tuna.tsinghua.edu.cn/debian-archive"
CRIU = "https://github.com/checkpoint-restore/criu/archive/"
PROXIED = "proxy: {http: $CORP_HTTP_PROXY, https: $CORP_HTTPS_PROXY, no_proxy: [.corp.example]}\n"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("source", ["example", "preset"])
def test_seed_plan_shows_the_archive_mirror_criu_mapping_and_pypi(
    runner: CliRunner, tmp_path: Path, source: str
) -> None:
    spec = SEED
    if source == "preset":
        spec = tmp_path / "mobyci.yaml"
        runner.invoke(app, ["init", str(spec), "--preset", "seed"], catch_exceptions=False)
        # The preset's one placeholder (the registry accelerator's id), replaced as its comment asks.
        spec.write_text(spec.read_text().replace("YOUR-ID", "corp123"))
    validated = runner.invoke(app, ["validate", str(spec)], catch_exceptions=False)
    assert validated.exit_code == 0, validated.output
    plan = json.loads(runner.invoke(app, ["plan", str(spec), "--format", "json"], catch_exceptions=False).stdout)
    titles = {rewrite["id"]: rewrite["title"] for rewrite in plan["rewrites"]}
    assert f"{TUNA_ARCHIVE}/debian and {TUNA_ARCHIVE}/debian-security" in titles["apt-base"]
    assert "PIP_INDEX_URL" in titles["pypi"]
    loaded = load_file(str(spec))
    assert loaded.spec.mirrors.downloads[CRIU] == CRIU
    assert loaded.spec.mirrors.pypi == "https://pypi.tuna.tsinghua.edu.cn/simple"


def test_criu_tarball_is_not_sent_to_the_git_mirror(tmp_path: Path) -> None:
    """In the patched v19.03.12 Dockerfile (fixture tree) the criu URL keeps its downloads mapping; clones move."""
    from mobyci.patch.apply import apply_patch

    tree = tmp_path / "moby"
    import shutil

    shutil.copytree(Path(__file__).parent / "fixtures" / "trees" / "19.03", tree)
    apply_patch(load_file(str(SEED)), tree, check=False)
    dockerfile = (tree / "Dockerfile").read_text()
    assert f"curl -sSL {CRIU}v${{CRIU_VERSION}}.tar.gz" in dockerfile
    assert "https://gitee.com/checkpoint-restore/criu/archive/" not in dockerfile
    assert 'ENV PIP_INDEX_URL="https://pypi.tuna.tsinghua.edu.cn/simple"' in dockerfile


def test_a_git_prefix_alone_on_criu_warns_with_the_key_and_the_fix(runner: CliRunner, tmp_path: Path) -> None:
    spec = tmp_path / "mobyci.yaml"
    spec.write_text(
        "version: 1\nmoby: {ref: v20.10.27}\nmirrors:\n  git: {'https://github.com/': 'https://gitee.com/'}\n"
        "targets: [binary]\nci: {gitlab: {image_prefix: harbor.example.com/hub/library}}\n"
    )
    result = runner.invoke(app, ["validate", str(spec)], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f'{spec}:4:32: mirrors.git["https://github.com/"]: warning: would rewrite the download '
        "https://github.com/checkpoint-restore/criu/archive/v${CRIU_VERSION}.tar.gz (Dockerfile, criu stage) to "
        "https://gitee.com/checkpoint-restore/criu/archive/v${CRIU_VERSION}.tar.gz: GitHub's /archive/ and "
        "/releases/download/ layouts are not served by git mirrors (GitLab uses /-/archive/); map it in "
        "mirrors.downloads (a longer prefix wins), e.g. 'https://github.com/checkpoint-restore/criu/archive/': "
        "your file mirror, or the same URL to keep it at GitHub through the proxy"
    ]


_PREFIX_WARNING = (
    "warning: mirrors are set but ci.gitlab.image_prefix is not: GitLab runners pull docker:27.5.1-cli, "
    "docker:27.5.1-dind and python:3.12-slim from Docker Hub; behind a firewall set image_prefix to your registry's "
    "Docker Hub proxy (or $CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX)\n"
)


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ("", "3:10: mirrors"),  # the mirrors that make it fire, not the top of the file
        ("ci:\n  gitlab: {runner: dind}\n", "6:11: ci.gitlab"),  # where image_prefix would go
        ("outputs: {gitlab_include: .gitlab/mobyci.yml}\n", "3:10: mirrors"),
        ("outputs: {github: .github/workflows/mobyci.yml}\n", None),  # no GitLab file: no GitLab warning
        ("outputs: {buildkite: .buildkite/pipeline.yml, patch: ci/mobyci-patch.sh}\n", None),
    ],
    ids=["no-outputs", "gitlab-block", "gitlab-include", "github-only", "buildkite-only"],
)
def test_mirrors_without_an_image_prefix_warn_that_gitlab_pulls_from_docker_hub(
    runner: CliRunner, tmp_path: Path, extra: str, where: str | None
) -> None:
    spec = tmp_path / "mobyci.yaml"
    spec.write_text(
        "version: 1\nmoby: {ref: v27.5.1}\nmirrors: {goproxy: https://goproxy.cn}\ntargets: [binary]\n" + extra
    )
    result = runner.invoke(app, ["validate", str(spec)], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stderr == (f"{spec}:{where}: {_PREFIX_WARNING}" if where else "")


def test_package_only_19_03_builds_no_dev_image() -> None:
    loaded = load_text(
        "version: 1\nmoby: {ref: v19.03.12}\nmirrors: {apt: archive}\ntargets: [{name: deb, distros: [ubuntu-focal]}]\n"
    )
    prepare = make_plan(loaded).job("prepare")
    assert not any(" build" in line or "docker push" in line for line in prepare.script)
    assert not prepare.registry_login
    assert "moby-src.tar.gz" in prepare.artifacts
    doc = pc.load_yaml(render_pipeline(loaded, "gitlab"))
    assert "MOBYCI_DEV_IMAGE" not in doc["variables"]


def test_dev_image_containers_are_removed_and_stamped_with_the_short_commit() -> None:
    plan = make_plan(load_file(str(SEED)))
    runs = [line for line in plan.job("binary").script if line.startswith("docker run")]
    assert len(runs) == 1
    assert runs[0].startswith("docker run --rm ")
    # moby's Makefile: DOCKER_GITCOMMIT := $(shell git rev-parse --short HEAD || echo unsupported)
    assert "git -C moby rev-parse --short HEAD > mobyci-gitcommit" in plan.job("prepare").script
    # The prepare job's source and commit outlive a retry of a build job as long as the bundles do.
    assert plan.job("prepare").artifacts_kept is None


def test_dind_no_proxy_entries_are_gitlab_only() -> None:
    loaded = load_text(f"version: 1\nmoby: {{ref: v27.5.1}}\n{PROXIED}targets: [binary]\n")
    gitlab = pc.load_yaml(render_pipeline(loaded, "gitlab"))["variables"]["NO_PROXY"]
    assert gitlab.split(",") == [
        "docker", "docker:2375", "docker:2376", "localhost", "127.0.0.1", ".corp.example",
        "$CI_SERVER_HOST", "$CI_REGISTRY",
    ]  # fmt: skip
    for fmt in ("buildkite", "github"):
        text = render_pipeline(loaded, fmt)
        assert "docker:2375" not in text, fmt
        assert "docker:2376" not in text, fmt
        assert "localhost,127.0.0.1,.corp.example" in text, fmt


@pytest.mark.parametrize("value", [None, ""])
def test_gitlab_jobs_stop_at_once_when_a_proxy_variable_is_missing(value: str | None) -> None:
    loaded = load_text(f"version: 1\nmoby: {{ref: v27.5.1}}\n{PROXIED}targets: [binary]\n")
    doc = pc.load_yaml(render_pipeline(loaded, "gitlab"))
    first = doc["binary"]["script"][0]
    env = {"PATH": "/usr/bin:/bin", "CORP_HTTPS_PROXY": "http://proxy.corp.example:3128"}
    if value is not None:
        env["CORP_HTTP_PROXY"] = value
    script = "\n".join([*doc["binary"]["script"][:2], "echo reached"])
    done = subprocess.run([pc.tool("dash"), "-c", script], env=env, capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "reached" not in done.stdout
    assert "set the CI/CD variable CORP_HTTP_PROXY" in done.stderr
    assert "CORP_HTTP_PROXY" in first
    # The apk add of the docker-in-docker jobs runs before the script: it is guarded too.
    assert doc[".mobyci-docker"]["before_script"][0] == first
    env["CORP_HTTP_PROXY"] = "http://proxy.corp.example:3128"
    done = subprocess.run([pc.tool("dash"), "-c", script], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout == "reached\n"
