"""The real build's readers, on written samples (no engine): the corp logs become fetches, a Dockerfile's stage
closure and the stage of a source line, the comparison with the inventory flags each kind of mismatch, job times
from gitlab-ci-local's output, and the cost report.

The log lines have the shapes the corp servers write (docker-registry 2.8's access log, corp_http.py,
apt-cacher-ng's transfer log, tinyproxy at LogLevel Info); the Dockerfile is a small one of moby's shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.realengine import inventory_check, observed, report, stages
from tests.helpers.realengine import pipeline as runpipe
from tests.helpers.realengine.observed import Fetch

MIRROR = "http://10.203.0.1/github/"


def _unmirror(url: str) -> str:
    return "https://github.com/" + url.removeprefix(MIRROR) if url.startswith(MIRROR) else url


def test_registry_log_gives_images_pulled_by_tag() -> None:
    lines = [
        '10.203.0.2 - - [07/Dec/2026:01:40:00 +0000] "HEAD /v2/library/golang/manifests/1.20.10-bullseye?ns=docker.io'
        ' HTTP/1.1" 200 1234 "" "containerd/1.6.20"',
        '10.203.0.2 - - [07/Dec/2026:01:40:00 +0000] "GET /v2/library/golang/manifests/sha256:ab?ns=docker.io'
        ' HTTP/1.1" 200 1234 "" "containerd/1.6.20"',
        '10.203.0.2 - - [07/Dec/2026:01:40:01 +0000] "GET /v2/docker/dockerfile/blobs/sha256:cd HTTP/1.1" 200 9 "" "x"',
        '10.203.0.2 - - [07/Dec/2026:01:40:02 +0000] "PUT /v2/djs55/vpnkit/manifests/0.5.0 HTTP/1.1" 201 0 "" "y"',
        "time=2026-12-07 level=info msg=response completed",
    ]
    assert observed.registry_fetches(lines) == [
        Fetch("image", "golang:1.20.10-bullseye", "registry", "mirror", 200, lines[0].split('"')[1].split()[1])
    ]


def test_corp_http_log_gives_clones_modules_and_downloads() -> None:
    lines = [
        "mirror 10.203.0.2 GET /github/moby/moby.git/info/refs?service=git-upload-pack 200",
        "mirror 10.203.0.2 POST /github/moby/moby.git/git-upload-pack 200",
        "mirror-http 172.18.0.2 GET /github/containerd/containerd.git/info/refs?service=git-upload-pack 200",
        "mirror-http 172.18.0.2 GET /goproxy/github.com/!burnt!sushi/toml/@v/v0.3.1.mod 200",
        "mirror-http 172.18.0.2 GET /goproxy/github.com/!burnt!sushi/toml/@v/v0.3.1.zip 200",
        "mirror-http 172.18.0.2 GET /goproxy/github.com/@v/v0.14.4.info 404",
        "mirror-http 172.18.0.2 GET /github/checkpoint-restore/criu/archive/v3.14.tar.gz 200",
        "upstream 10.204.0.1 GET /gotestsum/gotestsum 200",
    ]
    found = observed.http_fetches(lines, _unmirror)
    assert [(f.kind, f.key, f.server, f.route) for f in found] == [
        ("clone", "https://10.203.0.1/github/moby/moby.git", "git", "internal"),
        ("clone", "https://github.com/containerd/containerd.git", "http", "mirror"),
        ("module", "github.com/BurntSushi/toml@v0.3.1", "http", "mirror"),
        ("download", "https://github.com/checkpoint-restore/criu/archive/v3.14.tar.gz", "http", "mirror"),
    ]


def test_apt_and_proxy_logs() -> None:
    apt = [
        "1765072800|I|5000|127.0.0.1|debrep/dists/bullseye/InRelease",
        "1765072800|O|5000|127.0.0.1|debrep/dists/bullseye/InRelease",
        "1765072801|O|70000|127.0.0.1|secdeb/dists/bullseye-security/InRelease",
        "1765072802|O|900|127.0.0.1|debrep/pool/main/c/cmake/cmake_3.18.4-2+deb11u1_amd64.deb",
    ]
    assert [f.key for f in observed.apt_fetches(apt)] == [
        "http://deb.debian.org/debian",
        "http://deb.debian.org/debian-security",
    ]
    proxy = ["CONNECT   Dec 07 01:40:00.123 [1234]: Request (file descriptor 7): CONNECT proxy.golang.org:443 HTTP/1.1"]
    assert observed.proxy_fetches(proxy) == [
        Fetch("proxy", "proxy.golang.org:443", "proxy", "proxy", 200, "CONNECT proxy.golang.org:443")
    ]


DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG CROSS="false"
FROM golang:1.20 AS base
RUN echo base
FROM base AS cross-false
FROM cross-${CROSS} AS dev-base
FROM dev-base AS containerd
RUN --mount=type=bind,src=hack/dockerfile/install,target=/tmp/install \\
        PREFIX=/build /tmp/install/install.sh containerd
FROM base AS unused
RUN /tmp/install/install.sh tini
COPY contrib/download-frozen-image-v2.sh /
FROM scratch AS vpnkit
FROM dev-base AS binary-base
COPY --from=containerd /build/ /usr/local/bin/
RUN --mount=type=cache,target=/x,from=vpnkit true
FROM scratch AS binary
COPY --from=binary-base /build/bundles/ /
"""


def test_stage_closure_follows_from_copy_and_mounts() -> None:
    parsed = stages.parse(DOCKERFILE)
    needed = ["base", "cross-false", "dev-base", "containerd", "vpnkit", "binary-base", "binary"]
    assert stages.closure(parsed, "binary") == needed


def test_a_mount_whose_first_option_is_from_is_a_dependency() -> None:
    # moby v28.5.2 Dockerfile:278: `RUN --mount=from=runc-src,src=/usr/src/runc,rw`: the runc stage needs the
    # stage that cloned runc, so a clone there belongs to every target that builds runc.
    dockerfile = (
        "FROM golang:1.24 AS base\n"
        "FROM base AS runc-src\n"
        "RUN git clone https://github.com/opencontainers/runc.git /usr/src/runc\n"
        "FROM base AS runc\n"
        "RUN --mount=from=runc-src,src=/usr/src/runc,rw make\n"
    )
    assert stages.closure(stages.parse(dockerfile), "runc") == ["base", "runc-src", "runc"]


def test_stage_of_a_source_line() -> None:
    parsed = stages.parse(DOCKERFILE)
    assert stages.stages_of(parsed, "Dockerfile:4") == ["base"]
    # Before the first FROM (the syntax line): every stage.
    assert stages.stages_of(parsed, "Dockerfile:1") == [s.name for s in parsed]
    assert stages.stages_of(parsed, "hack/dockerfile/install/containerd.installer:22") == ["containerd"]
    assert stages.stages_of(parsed, "hack/dockerfile/install/tini.installer:10") == ["unused"]
    assert stages.stages_of(parsed, "contrib/download-frozen-image-v2.sh:46") == ["unused"]


def test_a_global_arg_belongs_to_the_stages_that_declare_it_again() -> None:
    # v28.5.2's shape (Dockerfile:14,17): a global ARG with a URL, read only where a stage says `ARG NAME` again.
    dockerfile = (
        'ARG DOCKERCLI_REPOSITORY="https://github.com/docker/cli.git"\nARG OTHER=1\n'
        "FROM golang:1.24 AS base\nFROM base AS dockercli\nARG DOCKERCLI_REPOSITORY\nRUN git clone\n"
        "FROM base AS binary\n"
    )
    parsed = stages.parse(dockerfile)
    assert stages.global_arg_stages(dockerfile, parsed, "Dockerfile:1") == ["dockercli"]
    assert stages.global_arg_stages(dockerfile, parsed, "Dockerfile:2") == []  # no stage declares OTHER again
    assert stages.global_arg_stages(dockerfile, parsed, "Dockerfile:6") == []  # inside a stage: stages_of decides
    assert stages.global_arg_stages(dockerfile, parsed, "hack/x.sh:1") == []


def _entry(
    kind: str, endpoint: str, source: str, route: str = "mirror", stage: str = "containerd"
) -> dict[str, object]:
    return {"kind": kind, "endpoint": endpoint, "source": source, "route": route, "via": "", "stages": [stage]}


def test_comparison_flags_each_kind_of_mismatch() -> None:
    clone = Fetch("clone", "https://github.com/containerd/containerd.git", "http", "mirror")
    module = Fetch("module", "github.com/rootless-containers/rootlesskit@v0.14.4", "http", "mirror")
    dependency = Fetch("module", "golang.org/x/sys@v0.0.1", "http", "mirror")
    image = Fetch("image", "docker/dockerfile:1", "registry", "mirror")
    entries = [
        _entry("git", "https://github.com/containerd/containerd.git", "x.installer:22"),
        _entry("go-module", "github.com/rootless-containers/rootlesskit/cmd/rootlesskit@v0.14.4", "y:30"),
        _entry("image", "docker/dockerfile:1", "Dockerfile:1", route="proxy"),  # wrong route
        _entry("git", "https://github.com/krallin/tini.git", "t:10"),  # ran, never observed
        _entry("git", "https://github.com/BurntSushi/toml.git", "v:9", stage="tomlv"),  # did not run
    ]
    rule = inventory_check.Rule("deps", "dependencies", fetch=lambda f, _all: f.key.startswith("golang.org/"))
    result = inventory_check.compare([clone, module, dependency, image], entries, {"containerd"}, [rule])
    assert [f for f, _ in result.matched] == [clone, module]
    assert [f for f, _ in result.wrong_route] == [image]
    assert [e["endpoint"] for e in result.unobserved] == ["https://github.com/krallin/tini.git"]
    assert result.explained == [("deps", "module golang.org/x/sys@v0.0.1")]
    assert len(result.problems()) == 2
    # Without the rule, the dependency is a fetch the inventory does not list.
    bare = inventory_check.compare([dependency], entries, set(), [])
    assert bare.unlisted == [dependency]


def test_job_times_from_gitlab_ci_local_output() -> None:
    output = (
        "prepare      finished in 7.02 s\nbinary       finished in 24 min  FAIL 2 \n"
        "checksums    finished in 486 ms\npipeline finished in 25 min\n"
    )
    assert runpipe.job_seconds(output) == {"prepare": 7.0, "binary": 1440.0, "checksums": 0.5}


def test_report_keeps_other_runs_and_says_which_failures_were_wanted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBYCI_REPORT_DIR", str(tmp_path))
    report.record("b control", {"passed": False, "expected": "failure", "seconds": 7.0})
    json_path, text_path = report.record("a build", {"passed": True, "seconds": 60.0, "jobs": {"binary": 50.0}})
    assert set(json.loads(json_path.read_text())["runs"]) == {"a build", "b control"}
    assert text_path.read_text() == (
        "a build: passed, 60 s\n  job binary: 50.0 s\nb control: failed, as expected, 7 s\n"
    )
    report.record("a build", {"passed": False, "seconds": 61.0})
    assert text_path.read_text().startswith("a build: FAILED, 61 s\n")
