"""The `shell` runner profile, executed end to end by gitlab-ci-local against a synthetic moby repository.

`docker` and `make` are recording stand-ins (tests/fixtures/standins): they log what reached them and leave
behind what moby's own build would. Asserts the job order, that the patch was applied to the tree the build
saw, the build args and environment, and the bundles and SHA256SUMS passed from job to job.
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT
from tests.helpers import pipeline_tools as pc

FIXTURES = ROOT / "tests" / "fixtures"
SPEC = """\
version: 1
moby: {ref: REF}
mirrors:
  apt: deb.mirror.test
  git: {"https://github.com/": "https://git.mirror.test/github/"}
proxy: {http: $CORP_HTTP_PROXY, https: $CORP_HTTPS_PROXY, no_proxy: [.corp.test]}
targets: [binary, {name: cross, platforms: [PLATFORMS]}]
ci: {gitlab: {runner: shell}}
"""
BUILD_ARGS = (
    "--build-arg HTTP_PROXY --build-arg HTTPS_PROXY --build-arg NO_PROXY "
    "--build-arg http_proxy --build-arg https_proxy --build-arg no_proxy"
)
# gitlab-ci-local's own $CI_SERVER_HOST and $CI_REGISTRY, which the pipeline adds: the instance and its registry.
NO_PROXY = (
    "docker,docker:2375,docker:2376,localhost,127.0.0.1,.corp.test,gitlab.example.com,local-registry.gitlab.example.com"
)


def _run(
    tmp_path: Path, ref: str, tree: str, platforms: str
) -> tuple[subprocess.CompletedProcess[str], list[Any], Path]:
    spec_text = SPEC.replace("REF", ref).replace("PLATFORMS", platforms)
    if ref == "v19.03.12":  # Debian buster is archived: validation insists on an archive mirror
        spec_text = spec_text.replace("apt: deb.mirror.test", "apt: archive")
    # The pipeline clones through the git mirror; here the mirror is the local fixture repository.
    return pc.run_shell_pipeline(
        tmp_path,
        spec_text,
        git_mirrors={
            "https://git.mirror.test/github/moby/moby.git": pc.fixture_moby_repo(
                tmp_path, FIXTURES / "trees" / tree, ref
            )
        },
        standins=FIXTURES / "standins",
        variables={"CI_REGISTRY_PASSWORD": "registry-t0ken"},
    )


def _no_secret_in_log(done: subprocess.CompletedProcess[str]) -> None:
    for secret in ("s3cr3t-http", "s3cr3t-https", "registry-t0ken"):
        assert secret not in done.stdout + done.stderr


@pytest.mark.parametrize(("ref", "tree"), [("v20.10.27", "20.10")])
def test_buildkit_family_pipeline_runs(tmp_path: Path, ref: str, tree: str) -> None:
    done, calls, artifacts = _run(tmp_path, ref, tree, "linux/arm64, windows/amd64")
    assert done.returncode == 0, done.stdout + done.stderr
    assert pc.passed_jobs(done.stdout) == [
        "prepare",
        "binary",
        "cross: [linux/arm64]",
        "cross: [windows/amd64]",
        "checksums",
    ]
    assert "git-host" in done.stdout  # the patch script's summary is in the prepare log
    makes = [c for c in calls if c["tool"] == "make"]
    assert sorted(tuple(c["args"]) for c in makes) == [
        ("-C", "moby", "binary"),
        ("-C", "moby", "cross"),
        ("-C", "moby", "cross"),
    ]
    for call in makes:
        # Proxies as predefined build args read from the environment, DOCKER_BUILD_ARGS in the environment.
        assert call["env"]["DOCKER_BUILD_ARGS"] == BUILD_ARGS
        assert call["env"]["HTTP_PROXY"] == call["env"]["http_proxy"] == pc.HTTP_PROXY
        assert call["env"]["HTTPS_PROXY"] == call["env"]["https_proxy"] == pc.HTTPS_PROXY
        assert call["env"]["NO_PROXY"] == NO_PROXY
        assert call["env"]["DOCKER_BUILD_APT_MIRROR"] == "deb.mirror.test"
        assert call["env"]["VERSION"] == "20.10.27"
        # The tree the build saw was patched: fetch URLs point at the mirror.
        assert "https://git.mirror.test/github/" in call["dockerfile"]
        left = [line for line in call["dockerfile"].splitlines() if "https://github.com/" in line]
        assert left
        assert all("insteadOf" in line for line in left)
    assert sorted(c["env"].get("DOCKER_CROSSPLATFORMS", "") for c in makes) == ["", "linux/arm64", "windows/amd64"]
    assert all("PLATFORM" not in c["env"] for c in makes)  # moby's product name, not the matrix's platform
    names = pc.checked_sums(artifacts)
    assert names == [
        "bundles/binary-daemon/docker-proxy",
        "bundles/binary-daemon/dockerd-dev",
        "bundles/cross/linux/arm64/dockerd",
        "bundles/cross/windows/amd64/dockerd",
    ]
    _no_secret_in_log(done)


def _git_out(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _check_bake_calls(calls: list[Any], family: str, expected_commit: str, version: str) -> None:
    """Each bake job's calls: its builder, the bake the Makefile made, the cache flags, the builder removed."""
    bakes = [c for c in calls if c["tool"] == "docker" and c["args"][:2] == ["buildx", "bake"]]
    creates = [c for c in calls if c["tool"] == "docker" and c["args"][:2] == ["buildx", "create"]]
    assert len(bakes) == len(creates) == 3
    arch = platform.machine()
    for bake in bakes:
        target = bake["args"][-1]
        sets = [bake["args"][i + 1] for i, a in enumerate(bake["args"]) if a == "--set"]
        # Called by the Makefile (make exported DOCKER_GITCOMMIT), on the job's own docker-container builder.
        assert bake["env"]["DOCKER_GITCOMMIT"] == expected_commit
        assert bake["env"]["VERSION"] == version
        assert bake["builder"] == bake["env"]["BUILDX_BUILDER"]
        assert bake["builder"].startswith("mobyci-")
        # Proxies reach the build as bake args read from the environment: names only on the command line.
        assert {f"*.args.{name}" for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy")} <= set(sets)
        assert bake["env"]["HTTP_PROXY"] == pc.HTTP_PROXY
        assert bake["env"]["NO_PROXY"] == NO_PROXY
        key = {"binary": "binary", "dynbinary": "dynbinary", "binary-cross": "cross-linux-arm64"}[target]
        registry = next(s for s in sets if s.startswith("*.cache-to=")).split("ref=", 1)[1].split(":", 1)[0]
        assert registry.endswith("/mobyci-cache")
        own = f"type=registry,ref={registry}:{family}-{key}-{arch}"
        assert f"*.cache-to={own},mode=max,ignore-error=true" in sets
        assert f"*.cache-from={own}" in sets
        if target != "binary":
            # The stages every target shares (golang, xx, apt, clang) come from the binary job's cache too.
            assert f"*.cache-from=type=registry,ref={registry}:{family}-binary-{arch}" in sets
        if target == "binary-cross":
            assert "*.platform=linux/arm64" in sets
            assert bake["env"]["DESTDIR"] == "bundles/cross/linux/arm64"
        # No moby variable is shadowed by the matrix: PLATFORM is moby's product name.
        assert "PLATFORM" not in bake["env"]
    for create in creates:
        args = create["args"]
        assert args[args.index("--driver") + 1] == "docker-container"
        opts = [args[i + 1] for i, a in enumerate(args) if a == "--driver-opt"]
        # The builder container gets the proxies (values from the CI variables, at run time).
        assert f'"env.http_proxy={pc.HTTP_PROXY}"' in opts
        assert f'"env.no_proxy={NO_PROXY}"' in opts
    removed = [c["args"][2] for c in calls if c["tool"] == "docker" and c["args"][:2] == ["buildx", "rm"]]
    assert sorted(removed) == sorted(c["builder"] for c in bakes)  # every job removes its builder


@pytest.mark.parametrize(
    ("ref", "tree", "commit_format"),
    [
        # What each family's Makefile exports: `git rev-parse --short HEAD` on 23.0 (Makefile line 14 at
        # v23.0.18), the full `git rev-parse HEAD` from 24.0 on (line 4 at v28.5.2).
        ("v27.5.1", "25-28", "full"),
        ("v23.0.18", "23.0", "short"),
        ("release/23.0-corp", "23.0", "short"),
        ("COMMIT", "23.0", "short"),
    ],
)
def test_bake_family_pipeline_runs(tmp_path: Path, ref: str, tree: str, commit_format: str) -> None:
    origin = pc.fixture_moby_repo(tmp_path, FIXTURES / "trees" / tree, ref if ref.startswith("v") else "v0.0.0-fixture")
    commit = _git_out(origin, "rev-parse", "HEAD")
    if ref == "COMMIT":
        ref = commit
    elif not ref.startswith("v"):
        pc.git(origin, "branch", ref)
    spec_text = SPEC.replace("REF", ref).replace("PLATFORMS", "linux/arm64")
    spec_text = spec_text.replace("targets: [binary,", "targets: [binary, dynbinary,")
    if not ref.startswith("v"):
        spec_text = spec_text.replace("moby: {ref: ", f"moby: {{family: '{tree}', ref: ")
    done, calls, artifacts = pc.run_shell_pipeline(
        tmp_path,
        spec_text,
        git_mirrors={"https://git.mirror.test/github/moby/moby.git": origin},
        standins=FIXTURES / "standins",
        variables={"CI_REGISTRY_PASSWORD": "registry-t0ken"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert pc.passed_jobs(done.stdout) == ["prepare", "binary", "dynbinary", "cross: [linux/arm64]", "checksums"]
    makes = [c for c in calls if c["tool"] == "make"]
    assert sorted(c["args"][-1] for c in makes) == ["binary", "cross", "dynbinary"]
    for make in makes:
        assert "DOCKER_BUILD_ARGS" not in make["env"]  # bake ignores it
        # 25+ have no apt knob: the patch injected the mirror into the Dockerfile instead; 23.0 has APT_MIRROR.
        assert "deb.mirror.test" in make["dockerfile"] or make["env"].get("APT_MIRROR") == "deb.mirror.test"
    assert (
        not (tmp_path / "home" / ".docker" / "config.json").exists()
        or "proxies" not in (tmp_path / "home" / ".docker" / "config.json").read_text()
    )
    expected_commit = commit[:7] if commit_format == "short" else commit
    if ref.startswith("v"):
        version = ref.removeprefix("v")
    elif ref == commit:
        version = f"dev-{commit[:7]}"
    else:
        version = f"release-23.0-corp-{commit[:7]}"
    _check_bake_calls(calls, tree, expected_commit, version)
    assert pc.checked_sums(artifacts) == [
        "bundles/binary/docker-proxy",
        "bundles/binary/dockerd",
        "bundles/cross/linux/arm64/dockerd",
        "bundles/dynbinary/docker-proxy",
        "bundles/dynbinary/dockerd",
    ]
    _no_secret_in_log(done)


def test_dev_image_family_pipeline_runs(tmp_path: Path) -> None:
    done, calls, artifacts = _run(tmp_path, "v19.03.12", "19.03", "linux/arm64")
    assert done.returncode == 0, done.stdout + done.stderr
    assert pc.passed_jobs(done.stdout) == ["prepare", "binary", "cross: [linux/arm64]", "checksums"]
    build = next(c for c in calls if c["tool"] == "make")
    assert build["args"][-1] == "build"
    assert build["args"][:2] == ["-C", "moby"]
    # The layer cache is this architecture's own, pulled before the build and pushed after it.
    docker = [c["args"] for c in calls if c["tool"] == "docker"]
    cache = next(args[1] for args in docker if args[0] == "pull")
    assert cache.endswith(f"/moby-dev:cache-{platform.machine()}")
    assert build["env"]["DOCKER_BUILD_ARGS"] == f"{BUILD_ARGS} --cache-from {cache} --build-arg BUILDKIT_INLINE_CACHE=1"
    assert docker.index(["push", cache]) > docker.index(["pull", cache])
    assert build["env"]["DOCKER_CROSSPLATFORMS"] == "linux/arm64"  # the dev image gets the cross toolchains
    logins = [c for c in calls if c["args"][:1] == ["login"]]
    assert logins
    assert all(c["stdin"] == "registry-t0ken" for c in logins)
    runs = [c for c in calls if c["args"][:1] == ["run"]]
    # Removed when they exit (--rm), the bundle streamed out as a tar.
    assert all(c["args"][:2] == ["run", "--rm"] for c in runs)
    assert {c["args"][-1].split()[1] for c in runs} == {"binary", "cross"}
    for run in runs:
        passed = [run["args"][i + 1] for i, a in enumerate(run["args"]) if a == "-e"]
        assert {"HTTP_PROXY", "https_proxy", "DOCKER_GITCOMMIT", "VERSION"} <= set(passed)
    assert pc.checked_sums(artifacts) == [
        "bundles/binary-daemon/docker-proxy",
        "bundles/binary-daemon/dockerd-dev",
        "bundles/cross/linux/arm64/dockerd",
    ]
    _no_secret_in_log(done)
