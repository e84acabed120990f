"""The real build: moby v20.10.27 `binary`, through the GitLab pipeline mobyci renders (runner profile `shell`)
from a spec a user behind a firewall would write, run unedited by gitlab-ci-local in the Lab's runner
namespace, where only the corp mirrors answer (tests/helpers/realengine).

What is real: moby's tree at v20.10.27 and every source its `make binary` clones (shallow copies from
../shared/upstream, served by the corp git server), the Go modules rootlesskit's `go install` downloads (the
static Go proxy tree there), Debian's packages (apt-cacher-ng in front of deb.debian.org), Debian's dockerd.
What is stood in (tests/helpers/realengine/standins.py): `golang:1.20.10-bullseye` (Debian's Go 1.21),
`docker/dockerfile:1` (built from buildkit's source), `djs55/vpnkit:0.5.0` (a stub file).

Asserted: the pipeline passes; dockerd reports the release and its commit, is static, SHA256SUMS verify, the
installers' products are there; what the corp servers served is what `mobyci plan --fetches` lists, by the
route it lists; the unpatched tree fails naming an upstream host; a spec without `mirrors.goproxy` fails at
the first `go install`. Each run's wall time goes to the report (realengine/report.py; the path is printed).

Needs root, Debian's docker.io & co. and ../shared/upstream (MOBYCI_UPSTREAM_DIR); skipped without them unless
MOBYCI_REQUIRE_REHEARSAL=1 (set by .ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import pipeline_tools as pc
from tests.helpers import realengine
from tests.helpers.realengine import corp as corpmod
from tests.helpers.realengine import inventory_check, netns, observed, report, standins, upstream
from tests.helpers.realengine import pipeline as runpipe
from tests.helpers.realengine.lab import Lab

pytestmark = [pytest.mark.engine, pytest.mark.rehearsal]

REF = "v20.10.27"
COMMIT = "81ebe71"  # `git rev-parse --short v20.10.27^{commit}` in the upstream tarball
# Dockerfile:5,10-13 at v20.10.27 (ARG GO_VERSION=1.20.10, BASE_DEBIAN_DISTRO="bullseye", FROM ${GOLANG_IMAGE}).
GOLANG_TAG = "1.20.10-bullseye"
GIT_MIRROR = f"{corpmod.HTTP}/{upstream.GIT_PREFIX}/"
GOPROXY = f"{corpmod.HTTP}/{upstream.GOPROXY_PREFIX}"
# What a user behind this firewall writes: the corp mirrors for Docker Hub, GitHub, Go modules and Debian,
# the corporate proxy for the rest. The checksum database cannot be mirrored offline: gosumdb off.
SPEC = f"""\
version: 1
moby: {{repo: "{corpmod.HTTPS}/{upstream.GIT_PREFIX}/moby/moby.git", ref: {REF}}}
mirrors:
  apt: "{corpmod.APT}"
  git: {{"https://github.com/": "{GIT_MIRROR}"}}
  goproxy: "{GOPROXY}"
  gosumdb: "off"
  registry: "https://{corpmod.REGISTRY}"
  registry_tokens: false
proxy: {{http: $CORP_HTTP_PROXY, https: $CORP_HTTP_PROXY, no_proxy: ["{netns.CORP}"]}}
targets: [binary]
ci: {{gitlab: {{runner: shell}}}}
"""
# hack/dockerfile/install/*.installer at v20.10.27 install these into /build, which Dockerfile:374-379 copies to
# /usr/local/bin of the binary stage, and hack/make/binary-daemon:16-17 copies next to dockerd.
INSTALLED = ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "docker-init", "docker-proxy", "rootlesskit")
UPSTREAM_HOSTS = ("github.com", "deb.debian.org", "proxy.golang.org", "registry-1.docker.io")


@dataclass
class Build:
    done: subprocess.CompletedProcess[str]
    artifacts: Path
    fetches: list[observed.Fetch]
    seconds: float
    workdir: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tools = (*realengine.REHEARSAL_TOOLS, "file", "apt-get", "dpkg-deb")
    realengine.require("the real build", tools, strict_var="MOBYCI_REQUIRE_REHEARSAL")
    root = upstream.require_upstream("the real build")
    started = time.monotonic()
    workdir = tmp_path_factory.mktemp("realbuild")
    lab = Lab(workdir, images={})
    with lab:
        assert lab.corp is not None
        assert lab.dockerd is not None
        upstream.serve_git(lab.corp, root)
        upstream.serve_goproxy(lab.corp, root)
        docker, registry = lab.dockerd.docker, corpmod.REGISTRY
        standins.publish_golang(docker, registry, GOLANG_TAG, release="bullseye", go="1.21")
        standins.publish_frontend(docker, registry, root)
        corp = lab.corp
        standins.publish_vpnkit(
            lambda args: subprocess.run([*corp.hosts.exec_args(corp.hosts.corp), *args], check=True),
            registry,
            corp.ca,
        )
        print(f"\n[real build] network, mirrors, engine and stand-ins ready in {time.monotonic() - started:.0f}s")
        yield lab
    leftovers = lab.host_leftovers()
    assert not leftovers, leftovers


def _unmirror(url: str) -> str:
    """The URL the tree names for one the build asked the corp host for (the spec's mirrors.git undone)."""
    return "https://github.com/" + url.removeprefix(GIT_MIRROR) if url.startswith(GIT_MIRROR) else url


@pytest.fixture(scope="module")
def build(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Build:
    assert lab.corp is not None
    workdir = tmp_path_factory.mktemp("binary")
    marks = observed.mark(lab.corp)
    started = time.monotonic()
    done, artifacts = runpipe.run(lab, workdir, SPEC)
    seconds = time.monotonic() - started
    fetches = observed.fetches(lab.corp, marks, unmirror=_unmirror)
    (workdir / "observed.json").write_text(json.dumps(observed.as_json(fetches), indent=2))
    paths = report.record(
        f"{REF} binary",
        {
            "passed": done.returncode == 0,
            "seconds": round(seconds, 1),
            "jobs": runpipe.job_seconds(done.stdout + done.stderr),
            "runner": "gitlab shell profile, gitlab-ci-local, Debian dockerd 20.10",
            "observed_fetches": len(fetches),
        },
    )
    print(f"\n[real build] {REF} pipeline: {seconds:.0f}s; log {workdir / 'pipeline.log'}; report {paths[0]}")
    print(paths[1].read_text())
    return Build(done, artifacts, fetches, seconds, workdir)


def _bundle(build: Build) -> Path:
    return build.artifacts / "binary" / "moby" / "bundles" / "binary-daemon"


def _dynamic(path: Path) -> bool:
    """Whether the ELF file asks for a program interpreter (PT_INTERP): a dynamically linked executable does."""
    data = path.read_bytes()
    assert data[:5] == b"\x7fELF\x02", path  # ELF64
    phoff = int.from_bytes(data[0x20:0x28], "little")
    size, count = int.from_bytes(data[0x36:0x38], "little"), int.from_bytes(data[0x38:0x3A], "little")
    return any(int.from_bytes(data[phoff + i * size : phoff + i * size + 4], "little") == 3 for i in range(count))


def test_v20_10_27_binary_builds_behind_the_firewall(lab: Lab, build: Build) -> None:
    assert build.done.returncode == 0, build.done.stdout[-8000:] + build.done.stderr[-3000:]
    assert pc.passed_jobs(build.done.stdout) == ["prepare", "binary", "checksums"]
    names = pc.checked_sums(build.artifacts)  # every SHA256SUMS line verified against the uploaded file
    bundle = _bundle(build)
    dockerd = bundle / "dockerd"
    assert dockerd.is_file(), names
    # VERSION comes from the tag (the pipeline's VERSION variable), DOCKER_GITCOMMIT from moby's Makefile
    # (`git rev-parse --short HEAD`, Makefile:28 at v20.10.27) in the patched checkout.
    version = lab.runner([str(dockerd), "--version"])
    assert version.stdout.strip() == f"Docker version 20.10.27, build {COMMIT}", version
    assert not _dynamic(dockerd.resolve())
    described = subprocess.run(["file", "-L", str(dockerd)], capture_output=True, text=True, check=True).stdout
    assert "statically linked" in described or "static-pie linked" in described, described
    for name in INSTALLED:
        assert (bundle / name).is_file(), (name, sorted(p.name for p in bundle.iterdir()))
        assert f"bundles/binary-daemon/{name}" in names
    assert not _dynamic((bundle / "containerd").resolve())
    # binary-daemon:24-29 copies vpnkit.$(uname -m) as vpnkit: here the stand-in's stub, and says so.
    assert (bundle / "vpnkit").read_bytes() == standins.VPNKIT_STUB


# Why an inventory entry of a stage that ran was not observed, or an observed fetch has no entry of its own.
RULES = [
    inventory_check.SUMDB_OFF,
    inventory_check.Rule(
        "apt-sources-list",
        "an apt entry stands for the image's whole sources.list: golang:*-bullseye's names deb.debian.org's debian "
        "and debian-security archives, and the inventory's `via` names the mirror of both",
        fetch=lambda f, everything: (
            f.kind == "apt"
            and f.key == "http://deb.debian.org/debian-security"
            and any(g.kind == "apt" and g.key == "http://deb.debian.org/debian" for g in everything)
        ),
    ),
    inventory_check.go_install_dependencies("github.com/rootless-containers/"),
]


def test_what_was_fetched_is_what_the_inventory_says(build: Build, tmp_path: Path) -> None:
    assert build.done.returncode == 0, "the build failed: see test_v20_10_27_binary_builds_behind_the_firewall"
    dockerfile = upstream.git_output("moby/moby", REF, "show", f"{REF}:Dockerfile")
    entries, ran = inventory_check.inventory(SPEC, dockerfile, "binary", tmp_path)
    assert {"binary", "rootlesskit", "containerd"} <= set(ran), ran
    assert "frozen-images" not in ran, ran
    failed = [f for f in build.fetches if f.status >= 400 and f.kind != "module"]
    assert not failed, failed
    served = [f for f in build.fetches if f.status < 400]
    result = inventory_check.compare(served, entries, {*ran, "prepare"}, RULES)
    lines = [f"{rule}: {what}" for rule, what in result.explained]
    (build.workdir / "inventory-check.txt").write_text(
        "\n".join([*(f"matched: {f.kind} {f.key} -> {e['source']}" for f, e in result.matched), *lines, ""])
        + "\n".join(result.problems())
    )
    print(f"\n[real build] inventory check: {build.workdir / 'inventory-check.txt'}")
    assert not result.problems(), "\n".join(result.problems())
    # Every rule explained something: a rule that explains nothing hides nothing, and goes.
    assert {rule for rule, _ in result.explained} == {rule.name for rule in RULES}
    # The fetches the issue names are there, each by its route.
    keys = {(f.kind, f.key, f.route) for f in served}
    assert ("image", "docker/dockerfile:1", "mirror") in keys
    assert ("image", f"golang:{GOLANG_TAG}", "mirror") in keys
    assert ("module", "github.com/rootless-containers/rootlesskit@v0.14.4", "mirror") in keys
    for repo in ("containerd/containerd", "opencontainers/runc", "krallin/tini", "moby/libnetwork"):
        assert ("clone", f"https://github.com/{repo}.git", "mirror") in keys, repo
    assert ("clone", f"{corpmod.HTTPS}/github/moby/moby.git", "internal") in keys
    assert ("apt", "http://deb.debian.org/debian-security", "mirror") in keys
    assert not [f for f in served if f.route == "proxy"], "nothing needed the corporate proxy"


def _failures_naming(output: str, host: str) -> list[str]:
    # BuildKit's and apt's error lines, git's `fatal:`, and the go command's `go: <module>: …` errors.
    marker = re.compile(r"ERROR|Err:|Failed to fetch|fatal:|unable to access|\bgo: |proxyconnect", re.IGNORECASE)
    return [line for line in output.splitlines() if host in line and marker.search(line)]


# After the build: the engine's cache then holds the stages before the first fetch, so the controls fail fast.
@pytest.mark.usefixtures("build")
def test_unpatched_tree_fails_naming_an_upstream_host(lab: Lab, tmp_path: Path) -> None:
    """The negative control: the same tree as moby ships it, built as the binary job builds it."""
    env = {
        **runpipe.runner_env(lab, tmp_path / "home"),
        **dict.fromkeys(("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"), corpmod.PROXY),
        "NO_PROXY": netns.CORP,
        "no_proxy": netns.CORP,
        "DOCKER_BUILDKIT": "1",
        "VERSION": "20.10.27",
        "DOCKER_BUILD_APT_MIRROR": corpmod.APT,
        "DOCKER_BUILD_ARGS": "--build-arg HTTP_PROXY --build-arg HTTPS_PROXY --build-arg NO_PROXY "
        "--build-arg http_proxy --build-arg https_proxy --build-arg no_proxy",
    }
    tree = tmp_path / "moby"
    clone = lab.runner(
        ["git", "clone", "-q", "-b", REF, f"{corpmod.HTTPS}/github/moby/moby.git", str(tree)], env=env, timeout=300
    )
    assert clone.returncode == 0, clone.stderr
    started = time.monotonic()
    done = lab.runner(["make", "-C", str(tree), "binary"], env=env, timeout=1800)
    (tmp_path / "make.log").write_text(done.stdout + done.stderr)
    report.record(
        f"{REF} binary, unpatched (negative control)",
        {"passed": done.returncode == 0, "expected": "failure", "seconds": round(time.monotonic() - started, 1)},
    )
    assert done.returncode != 0, done.stdout[-3000:]
    output = done.stdout + done.stderr
    assert any(_failures_naming(output, host) for host in UPSTREAM_HOSTS), output[-5000:]


@pytest.mark.usefixtures("build")
def test_without_goproxy_the_first_go_install_fails(lab: Lab, tmp_path: Path) -> None:
    """No `mirrors.goproxy`: rootlesskit's `go install` (rootlesskit.installer:30 at v20.10.27) asks Go's default
    proxy, proxy.golang.org, which only the corporate proxy could reach, and it cannot."""
    spec = re.sub(r"^  (goproxy|gosumdb): .*\n", "", SPEC, flags=re.MULTILINE)
    assert "goproxy" not in spec
    started = time.monotonic()
    done, _ = runpipe.run(lab, tmp_path, spec)
    report.record(
        f"{REF} binary, no mirrors.goproxy (negative control)",
        {
            "passed": done.returncode == 0,
            "expected": "failure",
            "seconds": round(time.monotonic() - started, 1),
            "jobs": runpipe.job_seconds(done.stdout + done.stderr),
        },
    )
    assert done.returncode != 0
    assert pc.passed_jobs(done.stdout) == ["prepare"]
    # BuildKit's step output reaches gitlab-ci-local's stderr, its summary stdout.
    failing = _failures_naming(done.stdout + done.stderr, "proxy.golang.org")
    assert failing, (done.stdout + done.stderr)[-5000:]
    assert all("rootless-containers/rootlesskit" in line for line in failing), failing
