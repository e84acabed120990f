"""A registry mirror on the runner's loopback: the engine reaches it, a docker-container builder does not.

The firewall rehearsal's real v28.5.2 build showed it: buildx's docker-container builder is a container on the
daemon's default network, whose 127.0.0.1 is its own. validate warns, at the key, where such a builder pulls
through the mirror, and only there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobyci.cli import app


def _validate(tmp_path: Path, ref: str, registry: str, extra: str = "") -> tuple[int, list[str], Path]:
    spec = tmp_path / "mobyci.yaml"
    spec.write_text(
        f"version: 1\nmoby: {{ref: {ref}}}\nmirrors:\n  registry: {registry}\ntargets: [binary]\n"
        f"ci: {{gitlab: {{runner: shell}}}}\n{extra}"
    )
    result = CliRunner().invoke(app, ["validate", str(spec)], catch_exceptions=False)
    lines = [line for line in result.stderr.splitlines() if "mirrors.registry" in line]
    return result.exit_code, lines, spec


@pytest.mark.parametrize("registry", ["https://127.0.0.1:5000", "https://localhost:5000", "https://[::1]:5000"])
def test_a_loopback_mirror_warns_where_a_bake_job_builds_in_a_container(tmp_path: Path, registry: str) -> None:
    code, lines, spec = _validate(tmp_path, "v28.5.2", registry, "outputs: {gitlab: .gitlab-ci.yml}\n")
    assert code == 0
    host = registry.split("://")[1].rsplit(":", 1)[0].strip("[]")
    assert lines == [
        f"{spec}:4:13: mirrors.registry: warning: {host} is a loopback address: the runner's Docker daemon "
        "reaches it, but the gitlab build jobs pull (the FROM images, the Dockerfile frontend) in a "
        "docker-container BuildKit builder, a container whose loopback is its own: give the mirror an address or "
        "name that containers on the runner reach (the host's name or LAN address, or the docker0 bridge address)"
    ]


def test_a_routable_mirror_does_not_warn(tmp_path: Path) -> None:
    code, lines, _ = _validate(tmp_path, "v28.5.2", "https://10.1.2.3:5000", "outputs: {gitlab: .gitlab-ci.yml}\n")
    assert (code, lines) == (0, [])


def test_the_engine_own_builder_reaches_a_loopback_mirror(tmp_path: Path) -> None:
    # 20.10 builds with `docker build` on the shell runner's daemon, which reaches its own loopback.
    code, lines, _ = _validate(tmp_path, "v20.10.27", "https://127.0.0.1:5000", "outputs: {gitlab: .gitlab-ci.yml}\n")
    assert (code, lines) == (0, [])


def test_buildkite_builds_in_a_container_only_with_a_cache(tmp_path: Path) -> None:
    outputs = "outputs: {buildkite: .buildkite/pipeline.yml}\n"
    code, lines, spec = _validate(tmp_path, "v28.5.2", "https://127.0.0.1:5000", outputs)
    assert (code, lines) == (0, [])
    cached = "ci: {buildkite: {cache: registry.example.com/ci/moby-cache}}\n"
    spec.write_text(spec.read_text().replace("ci: {gitlab: {runner: shell}}\n", cached))
    result = CliRunner().invoke(app, ["validate", str(spec)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "the buildkite build jobs pull" in result.stderr


def test_without_outputs_every_system_that_builds_in_a_container_is_named(tmp_path: Path) -> None:
    code, lines, _ = _validate(tmp_path, "v20.10.27", "https://127.0.0.1:5000")
    assert code == 0
    # GitHub jobs always build on setup-buildx-action's docker-container builder; GitLab's 20.10 job does not.
    assert len(lines) == 1
    assert "the github build jobs pull" in lines[0]
